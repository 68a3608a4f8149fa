import json
import unicodedata

import pytest

from pipeline.document import iter_documents, read_jsonl, read_txt
from pipeline.errors import InputError


def test_txt_id_is_file_stem_and_text_is_nfc(tmp_path):
    path = tmp_path / "lao-cai-2022.txt"
    path.write_text(unicodedata.normalize("NFD", "Tỉnh Lào Cai"), encoding="utf-8")
    doc = read_txt(path, 1000)
    assert (doc.id, doc.text, doc.errors) == ("lao-cai-2022", "Tỉnh Lào Cai", [])


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty document"), (b"   \n\t ", "empty document"), (b"\x00\x01\x02binary", "not text"),
     (b"Ti\xe1\xbb\x83u \xff\xfe", "not valid UTF-8"), ("x" * 50, "over the size limit")],
)
def test_bad_txt_becomes_a_record_with_errors(tmp_path, content, reason):
    path = tmp_path / "bad.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    doc = read_txt(path, max_chars=20)
    assert doc.id == "bad" and reason in doc.errors[0]


def test_jsonl_reports_malformed_lines_with_their_number_and_goes_on(tmp_path):
    path = tmp_path / "docs.jsonl"
    lines = [json.dumps({"id": "a", "text": "Một", "meta": {"province": "Lào Cai"}}), "{not json", "",
             json.dumps({"id": "c"}), json.dumps(["list"]), json.dumps({"text": "không có id"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    docs = list(read_jsonl(path, 1000))
    assert [d.id for d in docs] == ["a", "docs:2", "c", "docs:5", "docs:6"]
    assert docs[0].meta == {"province": "Lào Cai"} and not docs[0].errors
    assert docs[1].errors == [f"{path}:2: not valid JSON (Expecting property name enclosed in double quotes)"]
    assert "no string 'text' field" in docs[2].errors[0]
    assert "JSON object" in docs[3].errors[0]
    assert docs[4].text == "không có id"


def test_folders_expand_to_sorted_txt_and_jsonl(tmp_path):
    (tmp_path / "b.txt").write_text("B văn bản", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.jsonl").write_text(json.dumps({"id": "j", "text": "J"}) + "\n", encoding="utf-8")
    (tmp_path / "ignored.md").write_text("x", encoding="utf-8")
    assert [d.id for d in iter_documents([tmp_path])] == ["b", "j"]


def test_missing_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(iter_documents([tmp_path / "nope.txt"]))
