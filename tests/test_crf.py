import itertools
import json
import unicodedata
from types import SimpleNamespace

import pytest

import pipeline
import pipeline.train
from pipeline.components import RULE_SPANS
from pipeline.errors import InputError
from pipeline.labels import LABEL_NAMES
from pipeline.recognize.crf import MODEL_FILE, example_text, model_attributes, shape, spans_to_tags, token_features
from pipeline.recognize.merge import SourcedSpan, merge_spans, merged_rule_labels, tags_to_spans
from pipeline.train import crf_grid, crf_sequences, read_examples, train_crf
from pipeline.training_data import Example, entity_labels, read_conll, tag_names, to_dataset_dict


def test_shape_collapses_runs():
    assert [shape(t) for t in ["Lào", "888.000", "iGate", "TT&TT"]] == ["Xx", "d.d", "xXx", "X&X"]


def test_tags_and_spans_round_trip():
    tags = ["B-AGENCY", "I-AGENCY", "O", "B-METRIC", "I-DATE", "O"]
    assert tags_to_spans(tags) == [(0, 2, "AGENCY"), (3, 4, "METRIC"), (4, 5, "DATE")]
    assert spans_to_tags([0, 5, 10], [4, 9, 14], [(0, 9, "LOCATION"), (2, 9, "DATE")]) == ["B-LOCATION", "I-LOCATION", "O"]


def test_features_see_word_segmentation_rule_tags_and_context():
    features = token_features(["Sở", "Y", "tế", "có"], [0, 1, 1, 2], ["B-AGENCY", "I-AGENCY", "I-AGENCY", "O"])
    assert "word=y_tế" in features[2] and "wpos=I" in features[2] and "rule=I-AGENCY" in features[2]
    assert "-1:w=y" in features[2] and "-2:edge" in features[0]


def test_features_are_the_same_from_the_memo_and_a_long_token_is_not_kept():
    from pipeline.recognize import crf

    tokens, word_ids, rule_tags = ["Sở", "Y", "tế", "x" * 200, "có", "Y"], [0, 1, 1, 2, 3, 4], ["O"] * 6
    crf.remembered_syllable_strings.cache_clear()
    first = token_features(tokens, word_ids, rule_tags)
    assert token_features(tokens, word_ids, rule_tags) == first
    assert crf.remembered_syllable_strings.cache_info().currsize == 4  # Sở, Y, tế, có
    assert first[1][1:9] == first[5][1:9] == ("w=y", "shape=X", "title=True", "upper=True", "digit=False", "p2=y",
                                               "s2=y", "s3=y")


@pytest.mark.parametrize("model", ["default", "underthesea"])
def test_model_attributes_are_the_attribute_dictionary_crfsuite_reads(model):
    import pycrfsuite

    from pipeline.recognize.crf import model_attributes
    from pipeline.segment import WORD_MODEL
    from pipeline.underthesea_files import underthesea_dir
    from tests.conftest import REPO

    path = (REPO / "models/default/vipie_crf_recognizer/crf.model" if model == "default"
            else underthesea_dir() / WORD_MODEL / "models.bin")
    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    assert model_attributes(path) == set(tagger.info().attributes)


def test_tagging_only_the_features_the_model_knows_changes_no_tag_or_marginal(nlp):
    from pipeline.training_data import paragraph_examples

    model = nlp.get_pipe("vipie_crf_recognizer").model
    with nlp.select_pipes(enable=["vipie_layout", "vipie_word_segmenter"]):
        doc = pipeline.process(nlp, "Sở Thông tin và Truyền thông tỉnh Lào Cai triển khai 1.234 chữ ký số năm 2023.")
    (example,) = paragraph_examples(doc)
    rule_tags = ["O"] * len(example.tokens)
    everything = token_features(example.tokens, example.word_ids, rule_tags)
    known = token_features(example.tokens, example.word_ids, rule_tags, model.attributes)
    # The known strings, as the bytes pycrfsuite reads without encoding them again; b"" for the others.
    assert known == [tuple(f.encode() if f in model.attributes else b"" for f in row) for row in everything]
    assert b"" in sum(known, ())
    assert model.tag(known) == model.tag(everything)


def test_entity_tags_carry_crfsuites_marginal_and_outside_tags_none(nlp):
    from pipeline.training_data import paragraph_examples

    model = nlp.get_pipe("vipie_crf_recognizer").model
    with nlp.select_pipes(enable=["vipie_layout", "vipie_word_segmenter", "vipie_rule_recognizer"]):
        doc = pipeline.process(nlp, "Sở Thông tin và Truyền thông tỉnh Lào Cai triển khai 1.234 chữ ký số năm 2023.")
    (example,) = paragraph_examples(doc)
    rule_spans = [(s.start_char, s.end_char, s.label_) for s in doc.spans[RULE_SPANS]]
    rule_tags = spans_to_tags(example.starts, example.ends, rule_spans)
    features = token_features(example.tokens, example.word_ids, rule_tags, model.attributes)
    tags, marginals = model.tag(features)
    assert "O" in tags and any(tag != "O" for tag in tags)
    for i, (tag, marginal) in enumerate(zip(tags, marginals)):
        assert marginal == (0.0 if tag == "O" else model.tagger.marginal(tag, i))
        assert tag == "O" or 0.0 < marginal <= 1.0


def test_example_text_keeps_offsets():
    example = Example("x", ["Sở", "Y", "tế", ","], ["O"] * 4, [0, 1, 1, 2], [10, 13, 15, 17], [12, 14, 17, 18])
    text, starts, ends = example_text(example)
    assert [text[s:e] for s, e in zip(starts, ends)] == ["Sở", "Y", "tế", ","]
    text, starts, ends = example_text(Example("y", ["Sở", "Y", "tế", ","], ["O"] * 4, [0, 1, 1, 2]))
    assert text == "Sở Y tế,"


def test_merge_is_deterministic_and_follows_precedence():
    rules = SourcedSpan(0, 10, "METRIC", 0.9, "rules")
    crf = SourcedSpan(0, 12, "METRIC", 0.8, "crf")
    name = SourcedSpan(20, 30, "AGENCY", 0.7, "crf")
    name_rule = SourcedSpan(20, 25, "AGENCY", 0.9, "rules")
    precedence = {"METRIC": ["rules", "crf"], "default": ["crf", "rules"]}
    merged = merge_spans([crf, name_rule, rules, name], precedence)
    assert merged == [rules, name]
    assert merge_spans([name, rules, name_rule, crf], precedence) == merged


def test_read_conll_splits_joined_words_into_syllables(tmp_path):
    path = tmp_path / "vlsp.conll"
    path.write_text("Ông\tO\nNguyễn_Văn_An\tB-PER\nđến\tO\nHà_Nội\tB-LOC\n\nUBND\tB-ORG\n", encoding="utf-8")
    first, second = read_conll(path, {"PER": "OFFICIAL", "LOC": "LOCATION", "ORG": "AGENCY"})
    assert first.tokens == ["Ông", "Nguyễn", "Văn", "An", "đến", "Hà", "Nội"]
    assert first.tags == ["O", "B-OFFICIAL", "I-OFFICIAL", "I-OFFICIAL", "O", "B-LOCATION", "I-LOCATION"]
    assert first.word_ids == [0, 1, 1, 1, 2, 3, 3]
    assert second.tags == ["B-AGENCY"]


def toy_gold(tmp_path, n=6):
    texts = [f"Giám đốc Sở Nội vụ Nguyễn Văn An{i} cho biết tỉnh Lào Cai có {i}00 hồ sơ trong năm 202{i}." for i in range(n)]
    docs = []
    for i, text in enumerate(texts):
        def span(label, part):
            start = text.index(part)
            return {"start": start, "end": start + len(part), "label": label, "text": part}
        docs.append({"id": f"g{i}", "text": text, "meta": {}, "errors": [], "facts": [], "entities": [
            span("TITLE", "Giám đốc"), span("AGENCY", "Sở Nội vụ"), span("OFFICIAL", f"Nguyễn Văn An{i}"),
            span("LOCATION", "tỉnh Lào Cai"), span("METRIC", f"{i}00"), span("DATE", f"năm 202{i}")]})
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n", encoding="utf-8")
    return path


def test_gold_examples_and_dataset_features(tmp_path):
    problems = []
    examples = read_examples([toy_gold(tmp_path, 2)], {}, problems)
    assert not problems and len(examples) == 2
    assert examples[0].tags[:4] == ["B-TITLE", "I-TITLE", "B-AGENCY", "I-AGENCY"]
    dataset = to_dataset_dict({"train": examples})
    assert dataset["train"].features["ner_tags"].feature.names[0] == "O"
    assert dataset["train"][0]["tokens"][0] == "Giám"


@pytest.mark.slow
def test_train_crf_writes_a_model_that_extracts(tmp_path):
    problems = []
    examples = read_examples([toy_gold(tmp_path)], {}, problems)
    metrics = train_crf(examples[:5], examples[5:], tmp_path / "model", crf_grid([0.05], [0.01], [50]),
                        {"data_hash": "x"})
    assert metrics["dev_crf_tags"]["f1"] > 0.5
    nlp = pipeline.load(tmp_path / "model")
    assert "vipie_crf_recognizer" in nlp.pipe_names
    doc = pipeline.process(nlp, "Giám đốc Sở Nội vụ Nguyễn Văn Bình cho biết tỉnh Lào Cai có 700 hồ sơ.")
    assert ("OFFICIAL", "Nguyễn Văn Bình") in [(e.label_, e.text) for e in doc.ents]
    assert all(e._.source for e in doc.ents)
    card = json.loads((tmp_path / "model" / "card.json").read_text(encoding="utf-8"))
    assert card["backend"] == "crf" and card["labels"][0] == "AGENCY"


@pytest.mark.slow
def test_refit_keeps_the_held_out_choice_and_learns_from_dev_too(tmp_path):
    examples = read_examples([toy_gold(tmp_path, 8)], {}, [])
    train, dev = examples[:6], examples[6:]
    grid = crf_grid([0.0], [0.01, 1.0], [30])
    held = train_crf(train, dev, tmp_path / "held", grid, {})
    refit = train_crf(train, dev, tmp_path / "refit", grid, {}, refit=True)
    assert refit == held  # the scores and the choice are those of the settings fitted on train alone

    def attributes(folder):
        return model_attributes(folder / "vipie_crf_recognizer" / MODEL_FILE)

    dev_only = {a for a in attributes(tmp_path / "refit") - attributes(tmp_path / "held") if "an7" in a.lower()}
    assert dev_only  # "An7" is written in a dev document only
    card = json.loads((tmp_path / "refit" / "card.json").read_text(encoding="utf-8"))
    assert (card["fit_on"], card["params"]) == ("train+dev", held["selection"]["chosen"])
    assert json.loads((tmp_path / "held" / "card.json").read_text(encoding="utf-8"))["fit_on"] == "train"


@pytest.mark.slow
def test_training_twice_writes_the_same_model_folder_byte_for_byte(tmp_path, monkeypatch):
    """DVC tracks the model folder by its hashes: a folder that changed with the clock (the grid's timings in the
    card) would make every `dvc repro` record a new model. The second run's clock runs 100 times faster."""
    examples = read_examples([toy_gold(tmp_path, 6)], {}, [])
    grid = crf_grid([0.05], [0.01], [1, 20])
    folders = [tmp_path / "first", tmp_path / "second"]
    train_crf(examples[:4], examples[4:], folders[0], grid, {})
    fast_clock = itertools.count(step=100.0)
    monkeypatch.setattr(pipeline.train, "time", SimpleNamespace(perf_counter=lambda: next(fast_clock)))
    train_crf(examples[:4], examples[4:], folders[1], grid, {})

    def files(folder):
        return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}

    first, second = map(files, folders)
    assert len(first) >= 4 and first == second


@pytest.mark.parametrize("options, message", [
    (["--fit-on", "all"], "--fit-on 'all': choose train or train+dev"),
    (["--fit-on", "train+dev"], "--fit-on train+dev and no dev examples"),
    (["--fit-on", "train+dev", "--backend", "transformer"], "--fit-on train+dev is for the CRF backend"),
])
def test_fit_on_is_checked_in_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys, options, message):
    from pipeline.cli import main

    monkeypatch.setattr("sys.argv", ["vipie", "train", "--train", str(toy_gold(tmp_path)), "--out",
                                     str(tmp_path / "model"), *options])
    with pytest.raises(SystemExit) as exit_status:
        main()
    lines = capsys.readouterr().err.splitlines()
    assert exit_status.value.code == 2 and lines[-1].startswith(f"vipie: error: {message}")
    assert not (tmp_path / "model").exists()


def test_conll_word_ids_come_from_the_segmentation_extraction_reads(tmp_path):
    path = tmp_path / "syllables.conll"
    path.write_text("Sở\tB-ORG\nY\tI-ORG\ntế\tI-ORG\ncó\tO\n.\tO\n", encoding="utf-8")
    assert read_conll(path)[0].word_ids == [0, 1, 2, 3, 4]  # the file: one word per syllable
    (example,) = read_examples([path], {}, [], tokenize_words=lambda view: ["Sở", "Y tế", "có", "."])
    assert example.word_ids == [0, 1, 1, 2, 3]
    assert "word=y_tế" in token_features(example.tokens, example.word_ids, ["O"] * 5)[1]


def test_the_label_set_comes_from_the_data():
    examples = [Example("a", ["x", "y", "z"], ["B-PATIENT_ID", "O", "B-DATE"], [0, 1, 2])]
    assert entity_labels(examples) == ["DATE", "PATIENT_ID"]
    assert tag_names(examples) == ["O", "B-DATE", "I-DATE", "B-PATIENT_ID", "I-PATIENT_ID"]
    assert merged_rule_labels(["OFFICIAL", "AGENCY"], LABEL_NAMES) == list(LABEL_NAMES)
    assert merged_rule_labels(["DATE", "PATIENT_ID"], LABEL_NAMES) == []


def test_without_rule_features_every_rule_tag_is_o():
    examples = [Example("a", ["Sở", "Nội", "vụ"], ["B-AGENCY", "I-AGENCY", "I-AGENCY"], [0, 1, 1])]
    ((features, tags),) = crf_sequences(None, examples)
    assert tags == examples[0].tags and all("rule=O" in f for f in features)


@pytest.fixture(scope="module")
def other_labels(tmp_path_factory):
    """A CRF trained on toy gold relabelled into another label set (no rule features), chosen on dev among two
    settings, one of them a single L-BFGS iteration."""
    folder = tmp_path_factory.mktemp("other_labels")
    examples = read_examples([toy_gold(folder)], {}, [])
    renamed = {"OFFICIAL": "NAME", "AGENCY": "ORGANIZATION", "METRIC": "AMOUNT"}
    for example in examples:
        example.tags = [tag[:2] + renamed.get(tag[2:], tag[2:]) if tag != "O" else tag for tag in example.tags]
    progress = []
    metrics = train_crf(examples[:4], examples[4:], folder / "model", crf_grid([0.05], [0.01], [1, 50]), {},
                        rule_features=False, report=progress.append)
    return folder / "model", metrics, progress


@pytest.mark.slow
def test_model_selection_keeps_the_best_dev_setting_and_says_so(other_labels):
    model, metrics, progress = other_labels
    selection = metrics["selection"]
    assert [row["max_iterations"] for row in selection["grid"]] == [1, 50]
    assert selection["chosen"]["max_iterations"] == 50
    assert selection["grid"][1]["dev_f1"] > selection["grid"][0]["dev_f1"]
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    assert card["params"]["max_iterations"] == 50 and card["metrics"]["selection"] == selection
    assert any("CRF 2/2" in line and "dev F1" in line for line in progress) and "chosen on dev" in progress[-1]


def test_a_grid_without_dev_examples_is_refused(tmp_path):
    examples = [Example("a", ["x"], ["O"], [0])]
    with pytest.raises(InputError, match="no dev examples"):
        train_crf(examples, [], tmp_path / "m", crf_grid([0.05, 0.1], [0.01], [10]), {})


@pytest.mark.slow
def test_a_model_of_another_label_set_merges_no_rule_labels(other_labels):
    model, _, _ = other_labels
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    assert card["labels"] == ["TITLE", "DATE", "LOCATION", "AMOUNT", "NAME", "ORGANIZATION"]
    assert card["rule_labels_merged"] == [] and card["rule_features"] is False
    nlp = pipeline.load(model)
    assert nlp.get_pipe("vipie_crf_recognizer").rule_labels == []
    doc = pipeline.process(nlp, "Giám đốc Sở Nội vụ Nguyễn Văn Bình cho biết tỉnh Lào Cai có 700 hồ sơ trong năm 2024.")
    labels = {e.label_ for e in doc.ents}
    # The rules would add AGENCY, OFFICIAL and METRIC, labels this model does not know.
    assert labels and labels <= set(card["labels"])
    assert {s.label_ for s in doc.spans["rule_ents"]} & {"AGENCY", "OFFICIAL", "METRIC"}


def test_conll_sentences_are_read_in_nfc_and_in_vipies_tokens(tmp_path):
    path = tmp_path / "covid.conll"
    text = "ở\tO\nTP.\tB-LOCATION\nHCM\tI-LOCATION\n,\tO\nN.H.N.\tB-NAME\nhoà\tO\n"
    path.write_text(unicodedata.normalize("NFD", text), encoding="utf-8")
    assert read_conll(path)[0].tokens[-1] == unicodedata.normalize("NFC", "hoà")
    (example,) = read_examples([path], {}, [], tokenize_words=str.split)
    assert list(zip(example.tokens, example.tags)) == [
        ("ở", "O"), ("TP", "B-LOCATION"), (".", "I-LOCATION"), ("HCM", "I-LOCATION"), (",", "O"), ("N.H.N", "B-NAME"),
        (".", "I-NAME"), ("hoà", "O")]
    text, starts, ends = example_text(example)
    assert text == "ở TP. HCM, N.H.N. hoà" and text[starts[1]:ends[3]] == "TP. HCM"
