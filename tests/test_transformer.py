"""The transformer backend on tiny, randomly initialised base models built here: label alignment with a slow
tokenizer, windows over long sequences, fine-tuning, saving and reloading, and spans on both input views.
Nothing is downloaded: the network is refused for the whole module."""

import importlib.util
import json
import socket

import pytest
import torch

import pipeline
from pipeline.errors import InputError, ModelError
from pipeline.recognize.transformer import (
    IGNORE,
    SYLLABLES,
    WORDS,
    InputSettings,
    TransformerEntityRecognizer,
    TransformerTagger,
    align_labels,
    choose_windows,
    encode_windows,
    example_units,
    merge_windows,
    resolve_device,
    split_windows,
    syllable_tags,
    train_transformer,
    unit_subwords,
)
from pipeline.train import structure_pipeline, tag_scores
from pipeline.training_data import Example, doc_examples
from tests.conftest import REPO

RECOGNIZER = "vipie_transformer_recognizer"


def gold(doc_id: str, text: str, *entities: tuple[str, str]) -> dict:
    """A gold document (CONTRACT.md format) with each (label, surface) entity at its first occurrence."""
    found = []
    for label, surface in entities:
        start = text.index(surface)
        found.append({"start": start, "end": start + len(surface), "label": label, "text": surface})
    return {"id": doc_id, "text": text, "meta": {}, "entities": found}


DOCS = [
    gold("t1", "Phó Chủ tịch UBND tỉnh Lê Văn Tùng chủ trì hội nghị tại Sở Thông tin và Truyền thông.",
         ("TITLE", "Phó Chủ tịch"), ("AGENCY", "UBND tỉnh"), ("OFFICIAL", "Lê Văn Tùng"),
         ("AGENCY", "Sở Thông tin và Truyền thông")),
    gold("t2", "Năm 2022, tỉnh Bình Định cung cấp 1.726 dịch vụ công trực tuyến.\n\nTỷ lệ hồ sơ đúng hạn đạt 98,6%.",
         ("DATE", "Năm 2022"), ("LOCATION", "tỉnh Bình Định"), ("METRIC", "1.726"), ("METRIC", "98,6%")),
    gold("t3", "Hệ thống thông tin giải quyết thủ tục hành chính tỉnh đã kết nối với nền tảng LGSP của tỉnh Lào Cai.",
         ("SYSTEM", "Hệ thống thông tin giải quyết thủ tục hành chính tỉnh"), ("SYSTEM", "LGSP"),
         ("LOCATION", "tỉnh Lào Cai")),
    gold("t4", "Giám đốc Sở Thông tin và Truyền thông Đỗ Thanh Tâm cho biết, theo Quyết định số 42/2022/QĐ-UBND, "
               "UBND tỉnh Thanh Hóa giao chỉ tiêu đạt 55%.",
         ("TITLE", "Giám đốc"), ("AGENCY", "Sở Thông tin và Truyền thông"), ("OFFICIAL", "Đỗ Thanh Tâm"),
         ("DOCUMENT", "Quyết định số 42/2022/QĐ-UBND"), ("AGENCY", "UBND tỉnh Thanh Hóa"), ("METRIC", "55%")),
]
# Few steps at a high learning rate: a tiny model learns the frequent tags of four short documents.
TRAINING = {"epochs": 100.0, "learning_rate": 3e-3, "max_length": 512, "stride": 16, "batch_size": 8, "seed": 13,
            "device": "cpu", "max_steps": 40}


@pytest.fixture(scope="module", autouse=True)
def no_network():
    def refuse(*args, **kwargs):
        raise OSError("the transformer tests must not touch the network")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        yield


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict:
    spec = importlib.util.spec_from_file_location("build_tiny_models", REPO / "scripts" / "build_tiny_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_tiny_models(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    problems: list[str] = []
    structure = structure_pipeline()
    found = [ex for doc in DOCS for ex in doc_examples(structure, doc, problems)]
    assert not problems
    return found


@pytest.fixture(scope="module")
def trained(tiny_models, examples, tmp_path_factory) -> dict:
    """For each tiny base model: its model folder, train_transformer's metrics, and the dev predictions it made
    before saving (recorded by wrapping TransformerTagger.tag)."""
    results = {}
    original = TransformerTagger.tag
    for kind, base in tiny_models.items():
        before = []

        def recording(self, dev, batch_size):
            before.append(original(self, dev, batch_size))
            return before[-1]

        out = tmp_path_factory.mktemp(kind) / "model"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(TransformerTagger, "tag", recording)
            metrics = train_transformer(examples, examples, out, base_model=str(base), card={"seed": 13}, **TRAINING)
        results[kind] = {"out": out, "metrics": metrics, "before": before[0]}
    return results


def write_phobert_tokenizer(folder, pieces: list[str]):
    """A PhobertTokenizer (slow, fastBPE) whose vocabulary is `pieces` and which merges nothing."""
    from transformers import PhobertTokenizer

    (folder / "vocab.txt").write_text("".join(f"{p} 1\n" for p in pieces), encoding="utf-8")
    (folder / "bpe.codes").write_text("", encoding="utf-8")
    return PhobertTokenizer(str(folder / "vocab.txt"), str(folder / "bpe.codes"))


def test_align_labels_slow_tokenizer(tmp_path):
    # No merges: every word is read character by character, all but the last with "@@".
    tokenizer = write_phobert_tokenizer(tmp_path, ["U@@", "B@@", "N@@", "D", "t@@", "ỉ@@", "n@@", "h", "L@@", "à@@",
                                                   "o@@", "_@@", "C@@", "a@@", "i", "9@@", "8@@", "%"])
    assert not tokenizer.is_fast
    units, labels = ["UBND", "tỉnh", "Lào_Cai", "98%", "ờ"], [1, 2, 2, 3, 0]
    unit_ids = unit_subwords(tokenizer, units, max_subwords=510)
    assert [len(ids) for ids in unit_ids] == [4, 4, 7, 3, 1]
    assert tokenizer.convert_ids_to_tokens(unit_ids[4]) == ["<unk>"]
    input_ids, aligned = align_labels(tokenizer, unit_ids, labels)
    assert input_ids == [tokenizer.cls_token_id, *(i for ids in unit_ids for i in ids), tokenizer.sep_token_id]
    assert aligned == [IGNORE, 1, *[IGNORE] * 3, 2, *[IGNORE] * 3, 2, *[IGNORE] * 6, 3, IGNORE, IGNORE, 0, IGNORE]


def test_unit_subwords_dropped_unit_becomes_unknown(tiny_models):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models["bert"])
    assert tokenizer("\u200b", add_special_tokens=False)["input_ids"] == []
    assert unit_subwords(tokenizer, ["tỉnh", "\u200b"], 8)[1] == [tokenizer.unk_token_id]
    assert unit_subwords(tokenizer, [], 8) == []


def test_split_windows_covers_and_overlaps():
    lengths = [1, 3, 2, 1, 4, 1, 1, 2, 3, 1] * 12
    windows = split_windows(lengths, max_subwords=10, stride=4)
    assert windows[0][0] == 0 and windows[-1][1] == len(lengths)
    for first, last in windows:
        assert 0 < sum(lengths[first:last]) <= 10
    for (first, last), (next_first, next_last) in zip(windows, windows[1:]):
        assert first < next_first <= last < next_last
        assert sum(lengths[next_first:last]) <= 4
    assert split_windows([], 10, 4) == []
    assert split_windows([2, 2], 10, 4) == [(0, 2)]


def test_choose_windows_takes_most_context():
    lengths = [1, 2, 1, 3, 1, 1, 2, 1, 1, 2, 2, 1] * 8
    windows = split_windows(lengths, max_subwords=12, stride=5)
    chosen = choose_windows(windows, lengths)
    before = [sum(lengths[:u]) for u in range(len(lengths) + 1)]

    def margin(w, unit):
        first, last = windows[w]
        left = before[unit] - before[first] if first > 0 else float("inf")
        right = before[last] - before[unit + 1] if last < len(lengths) else float("inf")
        return min(left, right)

    for unit, w in enumerate(chosen):
        containing = [v for v, (first, last) in enumerate(windows) if first <= unit < last]
        assert w in containing
        assert margin(w, unit) == max(margin(v, unit) for v in containing)


def test_encode_windows_merges_back_a_long_sequence(tiny_models):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models["roberta"])
    units = ("UBND tỉnh Lào Cai tổ chức hội nghị sơ kết chuyển đổi số , tỷ lệ đạt 98,6% ".split()) * 25
    settings = InputSettings(SYLLABLES, max_length=24, stride=8)
    windows, chosen = encode_windows(tokenizer, units, list(range(len(units))), settings)
    assert len(windows) > 10
    assert all(len(ids) <= 24 and ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
               for ids, _ in windows)
    # A model that "predicts" its input ids: merging must give back each unit's first subword.
    merged = merge_windows([labels for _, labels in windows], [ids for ids, _ in windows], chosen)
    assert merged == [ids[0] for ids in unit_subwords(tokenizer, units, 22)]


def test_words_view_round_trip(examples):
    for example in examples:
        units, tags, unit_of = example_units(example, WORDS)
        assert len(units) == len(set(example.word_ids)) and len(unit_of) == len(example.tokens)
        assert units == ["_".join(t for t, w in zip(example.tokens, example.word_ids) if w == word)
                         for word in dict.fromkeys(example.word_ids)]
        # The gold entities of DOCS start and end on word edges, so words lose nothing.
        assert syllable_tags(tags, unit_of) == example.tags
    assert syllable_tags(["B-AGENCY", "O"], [0, 0, 0, 1]) == ["B-AGENCY", "I-AGENCY", "I-AGENCY", "O"]


@pytest.mark.slow
@pytest.mark.parametrize("kind, view", [("bert", SYLLABLES), ("roberta", SYLLABLES), ("phobert", WORDS)])
def test_train_transformer_writes_a_model_folder(trained, tiny_models, kind, view):
    result = trained[kind]
    metrics = result["metrics"]
    assert metrics["train_loss_last"] < metrics["train_loss_first"]
    assert set(metrics["dev_transformer_tags"]) == {"precision", "recall", "f1", "per_label_f1"}
    card = json.loads((result["out"] / "card.json").read_text(encoding="utf-8"))
    assert (card["backend"], card["base_model"], card["input_view"]) == ("transformer", str(tiny_models[kind]), view)
    assert card["params"]["max_length"] == (256 if kind == "phobert" else 512)
    component = result["out"] / RECOGNIZER
    assert {"config.json", "model.safetensors", "vipie_input.json"} <= {p.name for p in component.iterdir()}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bert", "roberta", "phobert"])
def test_reloaded_model_predicts_as_before_saving(trained, examples, kind):
    result = trained[kind]
    tagger = pipeline.load(result["out"]).get_pipe(RECOGNIZER).tagger
    after = tagger.tag(examples, batch_size=3)
    assert [tags for tags, _ in after] == [tags for tags, _ in result["before"]]
    for (_, probs_after), (_, probs_before) in zip(after, result["before"]):
        assert probs_after == pytest.approx(probs_before, abs=1e-5)
    assert tag_scores([ex.tags for ex in examples], [tags for tags, _ in after]) == \
        result["metrics"]["dev_transformer_tags"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bert", "phobert"])
def test_entities_are_spans_of_the_text(trained, tmp_path, kind):
    nlp = pipeline.load(trained[kind]["out"])
    # Empty, a zero-width space inside a syllable run, and a paragraph longer than a window.
    texts = [doc["text"] for doc in DOCS]
    texts += ["", "UBND tỉnh Lào\u200bCai họp.", "Ủy ban nhân dân tỉnh Lào Cai họp. " * 120]
    docs = [pipeline.process(nlp, text) for text in texts]
    sources = {ent._.source for doc in docs for ent in doc.ents}
    assert "transformer" in sources
    for doc in docs:
        for ent in doc.ents:
            assert 0 <= ent.start_char < ent.end_char <= len(doc.text)
            assert doc.text[ent.start_char : ent.end_char] == ent.text
            assert 0.0 <= ent._.score <= 1.0
            assert ent._.source == "transformer" or ent._.source.startswith("rule:")
    # Saved again from a loaded pipeline, the folder gives the same entities.
    nlp.to_disk(tmp_path / "again", exclude=["vocab"])
    again = pipeline.load(tmp_path / "again")
    for doc, text in zip(docs, texts):
        redone = pipeline.process(again, text)
        assert [(e.start_char, e.end_char, e.label_, e._.source, e._.score) for e in redone.ents] == \
            [(e.start_char, e.end_char, e.label_, e._.source, e._.score) for e in doc.ents]


def test_missing_model_is_a_model_error(nlp, tmp_path):
    recognizer = TransformerEntityRecognizer({}, "cpu", 8, [])
    with pytest.raises(ModelError, match="model.safetensors"):
        recognizer.from_disk(tmp_path)
    with pytest.raises(ModelError, match="no fine-tuned model"):
        recognizer(nlp.make_doc("UBND tỉnh"))


def test_auto_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(InputError, match="no CUDA device"):
        resolve_device("cuda")


@pytest.mark.parametrize("base_model, message", [
    ("/nonexistent/dir", "no such folder, nor a model of that name in the Hugging Face cache"),
    ("no-such-org/no-such-model", "no such folder, nor a model of that name in the Hugging Face cache"),
    ("{tmp}/empty", "transformers cannot load this folder"),
])
def test_unloadable_base_model_exits_2_with_one_line(tmp_path, monkeypatch, capsys, base_model, message):
    # `vipie train` in this process: the network is refused here, so a download attempt fails the test.
    from pipeline.cli import main

    (tmp_path / "empty").mkdir()
    base_model = base_model.format(tmp=tmp_path)
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps(DOCS[0], ensure_ascii=False) + "\n", encoding="utf-8")
    monkeypatch.setattr("sys.argv", ["vipie", "train", "--backend", "transformer", "--base-model", base_model,
                                     "--train", str(train), "--linker", "rules", "--out", str(tmp_path / "model")])
    with pytest.raises(SystemExit) as exit_status:
        main()
    assert exit_status.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vipie: error: --base-model {base_model}: {message}")
    assert "pass --base-model LOCAL_DIR, a folder with the model's config.json" in lines[0]
    assert not (tmp_path / "model").exists()
