"""The cross-encoder linker on a tiny, randomly initialised BERT built here: pair texts, training on a few gold
documents, saving and reloading, bad files, `vipie train --linker cross-encoder` end to end, and a feature linker
that never imports it. Nothing is downloaded: the network is refused for the whole module."""

import importlib.util
import json
import shutil
import socket
import subprocess
import sys

import pytest
import torch

import pipeline
from pipeline.errors import ModelError
from pipeline.facts.candidates import DocumentView, figure_view, province_candidates, year_candidates
from pipeline.facts.cross_encoder import GAP, SETTINGS_FILE, CrossEncoderRanker, excerpt, pair_text
from pipeline.facts.learned import (
    CROSS_ENCODER_FORMAT,
    LINKER_FILE,
    LearnedLinker,
    linker_files,
    train_linker,
    training_figures,
)
from pipeline.facts.link import EntitySpan, FactLinker, Resolved
from pipeline.provinces import default_resolver
from pipeline.train import layout_contexts
from tests.conftest import REPO
from tests.test_linker import GOLD_DOCS, document, refined

# A high learning rate: a tiny model overfits the three figures of GOLD_DOCS that have a wrong candidate.
TRAINING = {"epochs": 30, "learning_rate": 3e-3, "device": "cpu"}
GOLD = [("Lào Cai", 2022), ("Việt Nam", 2021), ("Cà Mau", 2023), (None, None)]


@pytest.fixture(scope="module", autouse=True)
def no_network_one_thread():
    def refuse(*args, **kwargs):
        raise OSError("the cross-encoder tests must not touch the network")

    # A tiny model gains nothing from threads, and on a shared 2-core machine torch's OpenMP threads spin
    # against the other processes: a training step took up to 100 times longer with two threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny BERT whose WordPiece vocabulary is learnt from the builtin sentences and GOLD_DOCS."""
    spec = importlib.util.spec_from_file_location("build_tiny_models", REPO / "scripts" / "build_tiny_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    texts = module.BUILTIN_TEXTS + [doc["text"] for doc in GOLD_DOCS]
    return module.build_bert(texts, tmp_path_factory.mktemp("base") / "tiny-bert", seed=13)


@pytest.fixture(scope="module")
def trained(base, tmp_path_factory):
    folder = tmp_path_factory.mktemp("linker")
    linker = FactLinker(default_resolver())
    learned = train_linker(layout_contexts(GOLD_DOCS), linker, folder, cross_encoder={"base_model": str(base),
                                                                                      **TRAINING})
    return folder, linker, learned


def choices(learned: LearnedLinker, linker: FactLinker) -> list[tuple]:
    """(province, its probability, year, its probability) the linker's rankers give each gold figure."""
    found = []
    for inputs, _ in training_figures(layout_contexts(GOLD_DOCS), linker):
        province, p_province = learned.province.choose(inputs.province, inputs.document, inputs.figure)
        year, p_year = learned.year.choose(inputs.year, inputs.document, inputs.figure)
        found.append((province.value, p_province, year.value, p_year))
    return found


def figure_of(text: str, spans: list[tuple[str, str]], figure: str, meta: dict | None = None):
    gold, context = layout_contexts([document(text, spans, meta)])[0]
    entities = [EntitySpan(e["start"], e["end"], e["label"], e["text"]) for e in gold["entities"]]
    view = DocumentView(text, entities, context, FactLinker(default_resolver()))
    return view, figure_view(view, next(e for e in entities if e.text == figure))


def test_excerpt_marks_spans_and_keeps_only_their_surroundings():
    text = "Năm 2021, " + "các sở đã kết nối hệ thống, " * 20 + "tỉnh đạt 12,4% hồ sơ trực tuyến."
    year, figure = (0, 8), (text.index("12,4%"), text.index("12,4%") + 5)
    marks = [(*figure, ("[F]", "[/F]")), (*year, ("[C]", "[/C]"))]
    cut = excerpt(text, (0, len(text)), marks, reach=30)
    assert cut.startswith("[C] Năm 2021 [/C] , các sở") and cut.endswith("tỉnh đạt [F] 12,4% [/F] hồ sơ trực tuyến.")
    assert cut.count(GAP) == 1 and len(cut) < 2 * (30 + 8 + 30) + 40
    whole = excerpt(text, (0, len(text)), marks, reach=len(text))
    assert GAP not in whole and whole.replace("[C] ", "").replace(" [/C] ", "").replace("[F] ", "").replace(
        " [/F]", "") == " ".join(text.split())


def test_pair_text_brings_the_candidates_sentence_and_says_what_it_is():
    text = "Lào Cai: kết quả chuyển đổi số năm 2023\nTới nay, tỉnh có 120 tổ công nghệ số."
    view, fig = figure_of(text, [("LOCATION", "Lào Cai"), ("DATE", "năm 2023"), ("METRIC", "120")], "120",
                          {"published": "2024-01-10"})
    years = {c.kind: c for c in year_candidates(view, fig, Resolved())}
    figure_sentence = "Tới nay, tỉnh có [F] 120 [/F] tổ công nghệ số."
    assert pair_text(view, fig, years["mention"], 120) == (
        f"Lào Cai: kết quả chuyển đổi số [C] năm 2023 [/C]{GAP}{figure_sentence}", "năm 2023")
    assert pair_text(view, fig, years["published"], 120) == (figure_sentence, "năm đăng bài 2024")
    assert pair_text(view, fig, years["null"], 120) == (figure_sentence, "không có")
    provinces = {c.kind: c for c in province_candidates(view, fig, Resolved())}
    assert pair_text(view, fig, provinces["own"], 120)[1] == "Lào Cai (tỉnh của bài)"
    view, fig = figure_of("Cả nước có 500 tài khoản.", [("METRIC", "500")], "500")
    national = next(c for c in province_candidates(view, fig, Resolved()) if c.kind == "national")
    assert pair_text(view, fig, national, 120) == ("Cả nước có [F] 500 [/F] tài khoản.", "Việt Nam (cả nước)")


@pytest.mark.slow
def test_trained_cross_encoders_fit_their_gold_and_reload_to_the_same_scores(trained):
    folder, linker, learned = trained
    for ranker in (learned.province, learned.year):
        assert ranker.training["figures"] == 3
        assert ranker.training["train_loss_last"] < ranker.training["train_loss_first"]
    before = refined(learned, linker)
    assert [(f["province"], f["year"]) for facts in before for f in facts] == GOLD
    data = json.loads((folder / LINKER_FILE).read_text(encoding="utf-8"))
    assert data["format"] == CROSS_ENCODER_FORMAT
    assert {data[role]["kind"] for role in ("province", "year")} == {"cross-encoder"}
    assert {"model.safetensors", "config.json", SETTINGS_FILE} <= set(data["province"]["files"])
    again = LearnedLinker.load(folder)
    assert refined(again, linker) == before
    reloaded, trained_choices = choices(again, linker), choices(learned, linker)
    assert [(p, y) for p, _, y, _ in reloaded] == [(p, y) for p, _, y, _ in trained_choices] == GOLD
    # The same weights; float sums may differ in their last bits between the two model objects.
    assert [p for _, pp, _, py in reloaded for p in (pp, py)] == pytest.approx(
        [p for _, pp, _, py in trained_choices for p in (pp, py)], abs=1e-6)


@pytest.mark.slow
def test_a_corrupt_or_missing_cross_encoder_file_is_a_one_line_model_error(trained, tmp_path):
    folder = tmp_path / "linker"
    shutil.copytree(trained[0], folder)
    weights = folder / "province_cross_encoder" / "model.safetensors"
    original = weights.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="model.safetensors: its checksum differs from linker.json") as error:
        LearnedLinker.load(folder)
    assert "\n" not in str(error.value)
    # Without the linker's checksums in the way, transformers' own refusal is one line too.
    weights.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ModelError, match="transformers cannot load the cross-encoder") as error:
        CrossEncoderRanker.load(folder / "province_cross_encoder", "cpu")
    assert "\n" not in str(error.value)
    weights.write_bytes(original)
    (folder / "year_cross_encoder" / "config.json").unlink()
    with pytest.raises(ModelError, match="config.json: missing"):
        LearnedLinker.load(folder)


@pytest.mark.slow
@pytest.mark.parametrize("entry", [{"kind": "cross-encoder", "folder": "province_cross_encoder",
                                    "files": {"../linker.json": "0"}},
                                   {"kind": "cross-encoder", "folder": "..", "files": {"config.json": "0"}},
                                   {"kind": "other"}])
def test_a_foreign_ranker_entry_is_refused(trained, tmp_path, entry):
    folder = tmp_path / "linker"
    shutil.copytree(trained[0], folder)
    data = json.loads((folder / LINKER_FILE).read_text(encoding="utf-8"))
    (folder / LINKER_FILE).write_text(json.dumps({**data, "province": entry}), encoding="utf-8")
    with pytest.raises(ModelError, match=r"linker.json \(province\): not .*rebuild it with `vipie train`"):
        LearnedLinker.load(folder)


def test_the_feature_linker_never_imports_the_cross_encoder(monkeypatch):
    # None in sys.modules makes any import of the module fail: the shipped linker must load and link without it.
    monkeypatch.setitem(sys.modules, "pipeline.facts.cross_encoder", None)
    folder = REPO / "models" / "default" / "vipie_fact_linker"
    assert linker_files(folder) == ["linker.json", "indicator.crfsuite"]
    facts = refined(LearnedLinker.load(folder), FactLinker(default_resolver()))
    assert [f["province"] for f in facts[0]] == ["Lào Cai"]
    # Loading the linker imports neither torch nor transformers (underthesea and spaCy import them on their own).
    code = ("import sys; from pathlib import Path; from pipeline.facts.learned import LearnedLinker; "
            f"LearnedLinker.load(Path({str(folder)!r})); "
            "print([m for m in ('torch', 'transformers', 'pipeline.facts.cross_encoder') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def run_vipie(monkeypatch, capsys, *args) -> tuple[int, list[str]]:
    """`vipie ARGS` in this process (the network is refused here): its exit status and stderr lines."""
    from pipeline.cli import main

    monkeypatch.setattr("sys.argv", ["vipie", *args])
    with pytest.raises(SystemExit) as exit_status:
        main()
    return exit_status.value.code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("options, message", [
    (["--linker", "cross-encoder"], "--linker cross-encoder and --linker-base-model DIR_OR_HUB_ID go together"),
    (["--linker", "cross-encoder", "--linker-base-model", "/nonexistent/dir"],
     "--linker-base-model /nonexistent/dir: no such folder, nor a model of that name in the Hugging Face cache"),
    (["--linker-base-model", "/nonexistent/dir"], "--linker cross-encoder and --linker-base-model"),
])
def test_cross_encoder_options_are_checked_before_training(tmp_path, monkeypatch, capsys, options, message):
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps(GOLD_DOCS[0], ensure_ascii=False) + "\n", encoding="utf-8")
    status, lines = run_vipie(monkeypatch, capsys, "train", "--train", str(train), "--out", str(tmp_path / "model"),
                              *options)
    assert status == 2 and len(lines) == 1 and lines[0].startswith(f"vipie: error: {message}")
    assert not (tmp_path / "model").exists()


@pytest.mark.slow
def test_vipie_train_ships_cross_encoders_that_load_and_link(base, tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.cli import train as _train  # noqa: F401  (registers `vipie train`)

    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in GOLD_DOCS), encoding="utf-8")
    model = tmp_path / "model"
    result = CliRunner().invoke(app, [
        "train", "--train", str(gold), "--dev", str(gold), "--out", str(model), "--max-iterations", "20",
        "--linker", "cross-encoder", "--linker-base-model", str(base), "--linker-epochs", str(TRAINING["epochs"]),
        "--linker-learning-rate", str(TRAINING["learning_rate"]), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    summary = card["metrics"]["linker"]
    assert summary["mode"] == "learned" and summary["cross_encoder"]["base_model"] == str(base)
    assert (summary["dev_oracle"]["learned"]["province"], summary["dev_oracle"]["learned"]["year"]) == (1.0, 1.0)
    assert "vipie_fact_linker/province_cross_encoder/model.safetensors" in card["files"]
    assert "vipie_fact_linker/year_cross_encoder/tokenizer_config.json" in card["files"]

    nlp = pipeline.load(model)
    texts = [doc["text"] for doc in GOLD_DOCS]
    facts = [pipeline.process(nlp, text, doc["meta"])._.facts for text, doc in zip(texts, GOLD_DOCS)]
    assert (facts[0][0]["province"], facts[0][0]["year"]) == GOLD[0]
    assert all(0 < fact["score"] <= 1 for found in facts for fact in found)
    # Saved again from the loaded pipeline, the folder carries the cross-encoders and links the same.
    nlp.to_disk(tmp_path / "again", exclude=["vocab"])
    again = pipeline.load(tmp_path / "again")
    assert [pipeline.process(again, text, doc["meta"])._.facts for text, doc in zip(texts, GOLD_DOCS)] == facts

    weights = model / "vipie_fact_linker" / "year_cross_encoder" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(ModelError, match="model.safetensors: its checksum differs from card.json"):
        pipeline.load(model)
