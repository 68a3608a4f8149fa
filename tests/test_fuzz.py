"""Fuzzing the way in: JSONL lines with metadata and ids of any JSON type, texts with astral-plane and control
characters, lone surrogates, byte-order marks, UTF-16, and raw bytes, read and run through the shipped model.

Whatever the input, reading and processing raise nothing, no document fails inside the pipeline, and every
record, written as the JSONL output writes it, is standard JSON that passes the contract check, with each span's
text equal to the text at its offsets.
"""

import codecs
import importlib.util
import json
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.corpus import jsonl_line
from pipeline.document import iter_documents
from pipeline.extract import process_document
from tests.conftest import CHECK_CONTRACT

# derandomize: the same 500 examples on every run, so CI fails on a change in the code, never by chance.
FUZZ = settings(max_examples=500, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ODD_CHARACTERS = ["\ud800", "\udfff", "\ufeff", "\u2028", "\u2029", "\x85", "\x00", "\x1b", "\r", "\t", "\u200b",
                  "\U0001f600", "\U00020000", "\U0010ffff", "\u0301", "e\u0301", "\ufffd"]
# Fragments the recognizers and the fact linker act on, so that entities and facts come out of random text.
FRAGMENTS = ["Năm 2022, ", "tỉnh Lào Cai ", "có 1.726 dịch vụ công trực tuyến", " đạt 98,6%", "Sở Thông tin và ",
             "Truyền thông", ". ", "\n", "\n\n", "12/03/2021", "trên 888.000 hồ sơ", "-", "1.", "UBND ",
             "Thanh Hóa"]


def mostly(usual, rare):
    """`usual` nine times in ten, else `rare`: enough bad values, and enough documents that reach the pipeline."""
    return st.integers(0, 9).flatmap(lambda n: rare if n == 0 else usual)


any_characters = st.text(st.characters(exclude_categories=()), max_size=8)  # surrogates included
texts = st.lists(mostly(st.sampled_from(FRAGMENTS), st.one_of(st.sampled_from(ODD_CHARACTERS), any_characters)),
                 max_size=16).map("".join)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(), texts)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(texts, inner, max_size=3)), max_leaves=6)
metas = mostly(st.fixed_dictionaries({}, optional={key: json_values for key in
                                                   ("published", "title", "province", "url", "byline")}), json_values)
records = st.fixed_dictionaries({"text": mostly(texts, json_values)}, optional={"id": json_values, "meta": metas})


def encoded_line(record: dict, ensure_ascii: bool) -> bytes:
    """A JSONL line as a careless writer makes it: NaN allowed, lone surrogates written raw (invalid UTF-8)."""
    return json.dumps(record, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")


json_lines = st.tuples(records, mostly(st.just(True), st.just(False))).map(lambda args: encoded_line(*args))
jsonl_files = st.tuples(st.lists(mostly(json_lines, st.binary(max_size=40)), min_size=1, max_size=4),
                        st.sampled_from([b"", codecs.BOM_UTF8, "utf-16"]), st.sampled_from([b"\n", b"\r\n"]))


def jsonl_bytes(lines: list[bytes], bom, newline: bytes) -> bytes:
    content = newline.join(lines) + newline
    if bom == "utf-16":  # UTF-16 holds text only: bytes that are not UTF-8 become U+FFFD first
        return content.decode("utf-8", "replace").encode("utf-16")
    return bom + content


@pytest.fixture(scope="module")
def check_doc():
    spec = importlib.util.spec_from_file_location("check_contract", CHECK_CONTRACT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check_doc


def run_file(nlp, check_doc, name: str, content: bytes) -> None:
    """Read one input file and process its documents; assert everything the module docstring promises."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        documents = list(iter_documents([path]))
    assert documents or name.endswith(".jsonl"), "a .txt file always gives a record"
    for document in documents:
        record = process_document(nlp, document)
        assert not any(e.startswith("processing failed") for e in record["errors"]), record["errors"]
        line = jsonl_line(record)
        written = json.loads(line.encode("utf-8"), parse_constant=lambda name: pytest.fail(f"{name} written"))
        problems: list[str] = []
        check_doc(written, problems)
        assert not problems, problems
        assert isinstance(written["id"], str) and all(isinstance(w, str) for w in written.get("warnings", []))
        assert written["text"] == unicodedata.normalize("NFC", written["text"])
        text = written["text"]
        for entity in written["entities"]:
            assert text[entity["start"]:entity["end"]] == entity["text"]
        for fact in written["facts"]:
            assert text[fact["metric"]["start"]:fact["metric"]["end"]] == fact["metric"]["text"]


@FUZZ
@given(file=jsonl_files)
def test_fuzzed_jsonl_files(nlp, check_doc, file):
    run_file(nlp, check_doc, "fuzz.jsonl", jsonl_bytes(*file))


@FUZZ
@given(content=st.one_of(st.binary(max_size=200), texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
                         st.tuples(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE]),
                                   st.binary(max_size=200)).map(b"".join)),
       suffix=st.sampled_from([".txt", ".jsonl"]))
def test_fuzzed_raw_bytes(nlp, check_doc, content, suffix):
    run_file(nlp, check_doc, f"raw{suffix}", content)
