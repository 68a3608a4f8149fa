import json

import pytest

import pipeline
from pipeline.recognize.crf import example_text, shape, spans_to_tags, token_features
from pipeline.recognize.merge import SourcedSpan, merge_spans, tags_to_spans
from pipeline.train import crf_grid, read_examples, train_crf
from pipeline.training_data import Example, read_conll, to_dataset_dict


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
    metrics = train_crf(examples[:5], examples[5:], tmp_path / "model", crf_grid([0.05], [0.01], [50]), {"data_hash": "x"})
    assert metrics["dev_crf_tags"]["f1"] > 0.5
    nlp = pipeline.load(tmp_path / "model")
    assert "vipie_crf_recognizer" in nlp.pipe_names
    doc = pipeline.process(nlp, "Giám đốc Sở Nội vụ Nguyễn Văn Bình cho biết tỉnh Lào Cai có 700 hồ sơ.")
    assert ("OFFICIAL", "Nguyễn Văn Bình") in [(e.label_, e.text) for e in doc.ents]
    assert all(e._.source for e in doc.ents)
    card = json.loads((tmp_path / "model" / "card.json").read_text(encoding="utf-8"))
    assert card["backend"] == "crf" and card["labels"][0] == "AGENCY"
