"""Bad inputs, pathological texts and untrusted model folders (issue 11): each case behaves as a user expects.

A bad document is read into a record (repaired with a warning, or rejected with an error) and the run goes on;
a pathological text is featurized and segmented in linear time; a model folder whose files differ from the
checksums of its card is a one-line error before any of it is loaded.
"""

import codecs
import json
import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import duckdb
import pytest

from pipeline.document import iter_documents, read_jsonl, read_txt
from pipeline.errors import ModelError
from pipeline.extract import run_extraction
from pipeline.model import CARD_FILE, file_checksums, read_card, sha256, verify_model_files, write_card
from pipeline.recognize.crf import MAX_FEATURE_CHARS, MODEL_FILE, token_features
from pipeline.segment import MAX_RUN, segment_words
from tests.conftest import REPO

VIPIE = str(Path(sys.executable).parent / "vipie")
CRF_MODEL = Path("vipie_crf_recognizer") / MODEL_FILE


def jsonl(path: Path, *records) -> Path:
    """Write records (dicts, or raw lines as str) one a line."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def strict_json(line: str):
    """Standard JSON only: NaN and Infinity are refused."""
    return json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} written: not standard JSON"))


# Metadata of any JSON type


@pytest.mark.parametrize("value, expected", [
    (2024, "2024"), (2024.0, "2024"), (2024.5, "2024.5"), (True, "true"), ("2022-03-01", "2022-03-01"),
])
def test_a_scalar_published_becomes_text(tmp_path, value, expected):
    doc, = read_jsonl(jsonl(tmp_path / "d.jsonl", {"id": "a", "text": "Năm 2022", "meta": {"published": value}}), 100)
    assert doc.meta == {"published": expected} and not doc.errors and not doc.warnings


@pytest.mark.parametrize("value, warned", [(None, False), ([2024], True), ({"year": 2024}, True)])
def test_a_null_or_nested_title_is_dropped(tmp_path, value, warned):
    doc, = read_jsonl(jsonl(tmp_path / "d.jsonl", {"id": "a", "text": "Năm 2022", "meta": {"title": value}}), 100)
    assert doc.meta == {} and not doc.errors
    assert bool(doc.warnings) == warned and all("meta.title" in w and "dropped" in w for w in doc.warnings)


def test_other_meta_keys_are_kept_as_given_and_a_meta_that_is_no_object_is_ignored(tmp_path):
    path = jsonl(tmp_path / "d.jsonl", {"id": "a", "text": "Một", "meta": {"tags": ["x", 1], "page": 3}},
                 {"id": "b", "text": "Hai", "meta": [1, 2]})
    kept, ignored = read_jsonl(path, 100)
    assert kept.meta == {"tags": ["x", 1], "page": 3} and not kept.warnings
    assert ignored.meta == {} and "meta is not an object" in ignored.warnings[0]


def test_odd_metadata_goes_through_the_pipeline_and_every_writer(nlp, tmp_path):
    metas = [{"published": 2022, "title": 7, "province": ["Lào Cai"]}, {"published": None, "title": {"x": 1}},
             {"published": True, "url": 3.5, "extra": {"deep": [None, {"a": "b"}]}}]
    text = "Năm 2022, tỉnh Lào Cai có 1.726 dịch vụ công."
    path = jsonl(tmp_path / "in.jsonl", *({"id": i, "text": text, "meta": m} for i, m in enumerate(metas)))
    outs = [tmp_path / "out.jsonl", tmp_path / "out.duckdb", tmp_path / "out.parquet"]
    run_extraction(nlp, [path], outs)
    records = [strict_json(line) for line in outs[0].read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["0", "1", "2"] and not any(r["errors"] for r in records)
    assert records[0]["meta"]["published"] == "2022" and records[0]["facts"][0]["year"] == 2022
    con = duckdb.connect(str(outs[1]), read_only=True)
    assert con.execute("SELECT id, published FROM documents ORDER BY id").fetchall() == [
        ("0", "2022"), ("1", None), ("2", "true")]
    con.close()
    assert (outs[2] / "documents.parquet").is_file()


# Encodings, surrogates, NaN


def test_lone_surrogates_become_replacement_characters_with_a_warning(tmp_path):
    line = '{"id": "x\\ud800", "text": "Lào Cai \\udc00 năm 2022", "meta": {"title": "\\ud83d"}}'
    doc, = read_jsonl(jsonl(tmp_path / "d.jsonl", line), 100)
    assert (doc.id, doc.text, doc.meta) == ("x\ufffd", "Lào Cai \ufffd năm 2022", {"title": "\ufffd"})
    assert doc.warnings == [f"{tmp_path / 'd.jsonl'}:1: 3 lone surrogates replaced by U+FFFD"]
    pair, = read_jsonl(jsonl(tmp_path / "p.jsonl", '{"id": "p", "text": "a \\ud83d\\ude00"}'), 100)
    assert pair.text == "a \U0001f600" and not pair.warnings


def test_nan_and_infinity_never_reach_the_output(nlp, tmp_path):
    path = jsonl(tmp_path / "in.jsonl", '{"id": NaN, "text": "Năm 2022", "meta": {"published": Infinity, "n": NaN}}')
    doc, = read_jsonl(path, 100)
    assert (doc.id, doc.meta) == ("in:1", {"n": None}) and "3 NaN/Infinity replaced by null" in doc.warnings[0]
    run_extraction(nlp, [path], [tmp_path / "out.jsonl"])
    record, = [strict_json(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert record["warnings"][0] == doc.warnings[0]


@pytest.mark.parametrize("bom, encoding", [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                                           (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_byte_order_marks_and_utf16_are_decoded(tmp_path, bom, encoding):
    text = "Tỉnh Lào Cai năm 2022 \U0001f600"
    (tmp_path / "a.txt").write_bytes(bom + text.encode(encoding))
    lines = "\r\n".join(json.dumps({"id": i, "text": text}, ensure_ascii=False) for i in range(2)) + "\r\n"
    (tmp_path / "b.jsonl").write_bytes(bom + lines.encode(encoding))
    docs = list(iter_documents([tmp_path]))
    assert [(d.id, d.text, d.errors) for d in docs] == [("a", text, []), ("0", text, []), ("1", text, [])]


@pytest.mark.parametrize("content, reason", [
    (codecs.BOM_UTF16_LE + "văn bản".encode("utf-16-le") + b"\x00", "not valid UTF-16"),
    (codecs.BOM_UTF8 + b"v\xff", "not valid UTF-8 at byte 4"),
    ("Lao Cai".encode("utf-16-le"), "UTF-16 without a byte-order mark"),
])
def test_undecodable_txt_is_a_record_with_the_reason(tmp_path, content, reason):
    (tmp_path / "bad.txt").write_bytes(content)
    doc = read_txt(tmp_path / "bad.txt", 100)
    assert doc.id == "bad" and reason in doc.errors[0]


def test_utf16_lone_surrogate_is_repaired(tmp_path):
    (tmp_path / "s.txt").write_bytes(codecs.BOM_UTF16_LE + "Lào ".encode("utf-16-le") + b"\x00\xd8")
    doc = read_txt(tmp_path / "s.txt", 100)
    assert doc.text == "Lào \ufffd" and "1 lone surrogates" in doc.warnings[0]


@pytest.mark.parametrize("line, reason", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"id": "n", "text": "x", "v": ' + "9" * 5000 + "}", "Exceeds the limit"),
])
def test_unusable_json_is_a_record_with_the_reason(tmp_path, line, reason):
    doc, = read_jsonl(jsonl(tmp_path / "d.jsonl", line), 100)
    assert doc.id == "d:1" and reason in doc.errors[0]


# File names and ids


def test_a_file_name_that_is_not_utf8_is_read_and_the_walk_goes_on(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    bad = os.path.join(os.fsencode(folder), b"bad\xff.txt")
    with open(bad, "wb") as fh:
        fh.write("Tỉnh Lào Cai".encode())
    (folder / "z.txt").write_text("Năm 2022", encoding="utf-8")
    (folder / "UPPER.TXT").write_text("Năm 2023", encoding="utf-8")
    nfd = unicodedata.normalize("NFD", "Lào")
    (folder / f"{nfd}.txt").write_text("Năm 2024", encoding="utf-8")
    docs = {d.id: d for d in iter_documents([folder])}
    assert set(docs) == {"bad\ufffd", "z", "UPPER", "Lào"} and not any(d.errors for d in docs.values())
    assert "not valid UTF-8" in docs["bad\ufffd"].warnings[0] and "\udcff" not in docs["bad\ufffd"].warnings[0]


@pytest.mark.parametrize("given, expected", [
    (0, "0"), (1.5, "1.5"), (False, "false"), ({"a": 1}, '{"a": 1}'), (["x"], '["x"]'), ("", "d:1"), (None, "d:1"),
    (" 7 ", " 7 "),
])
def test_ids_are_strings_as_given(tmp_path, given, expected):
    doc, = read_jsonl(jsonl(tmp_path / "d.jsonl", {"id": given, "text": "Năm 2022"}), 100)
    assert doc.id == expected


def test_a_duplicate_id_is_reported_and_both_documents_are_read(tmp_path):
    jsonl(tmp_path / "a.jsonl", {"id": "same", "text": "Một"}, {"id": "other", "text": "Hai"})
    (tmp_path / "sub").mkdir()
    jsonl(tmp_path / "sub" / "b.jsonl", {"id": "same", "text": "Ba"})
    docs = list(iter_documents([tmp_path]))
    assert [(d.id, d.text) for d in docs] == [("same", "Một"), ("other", "Hai"), ("same", "Ba")]
    assert [len(d.warnings) for d in docs] == [0, 0, 1] and "duplicate id 'same'" in docs[2].warnings[0]


# Pathological texts: linear featurization and segmentation


def test_crf_features_are_capped_only_for_absurd_tokens():
    normal = token_features(["Sở", "Y", "tế"], [0, 1, 1], ["O", "O", "O"])
    assert "word=y_tế" in normal[2] and "w=tế" in normal[2] and "shape=Xx" in normal[0]
    dashes = token_features(["-"] * 20_000, [0] * 20_000, ["O"] * 20_000)
    longest = max(len(f.split("=", 1)[1]) for feats in dashes for f in feats if "=" in f)
    assert longest == MAX_FEATURE_CHARS
    long_token = "1." * 5000 + "x"
    one_word = token_features(["a" * MAX_FEATURE_CHARS, long_token], [0, 1], ["O", "O"])
    assert f"w={'a' * MAX_FEATURE_CHARS}" in one_word[0] and f"w={long_token[:MAX_FEATURE_CHARS]}" in one_word[1]
    assert "s3=1.x" in one_word[1], "suffixes are taken from the whole token"


@pytest.mark.parametrize("text", ["1." * 10_000, "-" * 20_000, "12345" * 4000, "Lào Cai " + "a." * 300 + " năm 2022"])
def test_long_runs_reach_the_segmenter_in_bounded_pieces(text):
    seen = []

    def fake_segmenter(view: str) -> list[str]:
        seen.append(view)
        return view.split()

    spans = segment_words(text, [(0, len(text))], set(), fake_segmenter)
    assert max(len(v) for v in seen) <= MAX_RUN and "".join(seen) == text
    assert all(text[s:e] == text[s:e].strip() and s < e for s, e in spans)


def test_text_without_long_runs_is_segmented_in_one_piece():
    seen = []
    text = "Hệ thống quản lý văn bản và điều hành " * 50
    segment_words(text, [(0, len(text))], set(), lambda view: seen.append(view) or view.split())
    assert seen == [text]


@pytest.mark.parametrize("text", ["-" * 20_000, "1." * 10_000, "1234567890" * 2_000])
def test_pathological_texts_give_contract_records(nlp, text):
    import pipeline
    from pipeline.document import Document
    from pipeline.extract import to_record

    record = to_record(Document("p", text), pipeline.process(nlp, text))
    strict_json(json.dumps(record))  # a 20,000-digit number is no float: its value is null, not Infinity
    assert all(text[e["start"]:e["end"]] == e["text"] for e in record["entities"])


def test_sentence_starts_follow_the_sentence_spans(nlp):
    import pipeline

    doc = pipeline.process(nlp, "Câu một ở đây. Câu hai ở đây.\n\nĐoạn hai.")
    assert [t.i for t in doc if t.is_sent_start] == [s.start for s in doc.spans["sentences"]]
    assert all(t.is_sent_start is False for t in doc if t.i not in {s.start for s in doc.spans["sentences"]})


# Model folders: checksums, corrupt files, remote code


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """A copy of the shipped model with a card that lists its checksums."""
    folder = tmp_path / "model"
    shutil.copytree(REPO / "models" / "default", folder)
    write_card(folder, {k: v for k, v in read_card(folder).items() if k != "files"})
    return folder


def test_the_card_lists_every_file_but_itself_and_the_readme(model_copy):
    card = read_card(model_copy)
    expected = sorted(p.relative_to(model_copy).as_posix() for p in model_copy.rglob("*")
                      if p.is_file() and p.name not in (CARD_FILE, "README.md"))
    assert sorted(card["files"]) == expected and str(CRF_MODEL) in card["files"]
    assert card["files"][str(CRF_MODEL)] == sha256(model_copy / CRF_MODEL)
    (model_copy / "added.bin").write_bytes(b"x")
    write_card(model_copy, read_card(model_copy))
    files = read_card(model_copy)["files"]
    assert files == file_checksums(model_copy) and "added.bin" in files


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, message", [
    (truncate, "checksum differs"), (flip_a_byte, "checksum differs"), (Path.unlink, "missing"),
])
def test_a_damaged_model_file_is_a_one_line_error_before_loading(model_copy, damage, message):
    import pipeline

    damage(model_copy / CRF_MODEL)
    with pytest.raises(ModelError, match=message) as refused:
        pipeline.load(model_copy)
    assert str(refused.value).startswith(str(model_copy / CRF_MODEL)) and "\n" not in str(refused.value)


def test_vipie_extract_on_a_truncated_model_exits_2_with_one_line(model_copy, tmp_path):
    truncate(model_copy / CRF_MODEL)
    (tmp_path / "a.txt").write_text("Năm 2022", encoding="utf-8")
    run = subprocess.run([VIPIE, "extract", tmp_path / "a.txt", "--out", tmp_path / "out.jsonl", "--model", model_copy],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "checksum differs" in run.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_a_card_without_checksums_loads_with_a_warning_and_a_truncated_crf_is_still_refused(model_copy, capsys):
    import pipeline

    card = read_card(model_copy)
    del card["files"]
    (model_copy / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    assert "lists no checksums" in verify_model_files(model_copy)
    truncate(model_copy / CRF_MODEL)
    with pytest.raises(ModelError, match="not a whole CRFsuite model"):
        pipeline.load(model_copy)
    assert "vipie: warning:" in capsys.readouterr().err


@pytest.mark.parametrize("files, message", [({"../outside": "0"}, "outside the model folder"),
                                            (["config.cfg"], "not a map")])
def test_a_card_with_odd_files_is_refused(model_copy, files, message):
    card = read_card(model_copy)
    (model_copy / CARD_FILE).write_text(json.dumps({**card, "files": files}), encoding="utf-8")
    with pytest.raises(ModelError, match=message):
        verify_model_files(model_copy)


def test_transformer_folders_never_run_their_own_code(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from pipeline.recognize.transformer import INPUT_FILE, TransformerTagger

    ran = tmp_path / "ran"
    code = (f"open({str(ran)!r}, 'w').close()\n"
            "from transformers import PretrainedConfig\n"
            "class Evil(PretrainedConfig):\n    model_type = 'evil'\n")
    (tmp_path / "evil.py").write_text(code, encoding="utf-8")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "evil", "auto_map": {
        "AutoConfig": "evil.Evil", "AutoModelForTokenClassification": "evil.Evil"}}), encoding="utf-8")
    settings = {"view": "syllables", "max_length": 16, "stride": 4}
    (tmp_path / INPUT_FILE).write_text(json.dumps(settings), encoding="utf-8")
    monkeypatch.setattr("builtins.input", lambda *args: "y")  # a user who answers yes to transformers' prompt
    with pytest.raises((ModelError, ValueError)):
        TransformerTagger.load(tmp_path, torch.device("cpu"))
    assert not ran.exists(), "code from the model folder was run"
