"""Reading inputs into documents: ids, NFC text, size limits and bad-input records.

A document that cannot be processed is still yielded, with empty text and a
human-readable reason in `errors`, so that every input comes out.
"""

import json
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError

DEFAULT_MAX_CHARS = 1_000_000
# Share of control characters above which a text is taken for binary content.
MAX_CONTROL_SHARE = 0.05


@dataclass
class Document:
    id: str
    text: str
    meta: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def text_problems(text: str, max_chars: int) -> list[str]:
    """Return why `text` cannot be processed (empty, binary, too long), or [] when it can."""
    if not text.strip():
        return ["empty document"]
    if "\x00" in text:
        return ["not text: contains NUL bytes (binary content?)"]
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
    if controls > MAX_CONTROL_SHARE * len(text):
        return [f"not text: {controls} control characters (binary content?)"]
    if len(text) > max_chars:
        return [f"over the size limit: {len(text)} characters > {max_chars} (raise --max-chars to accept it)"]
    return []


def make_document(doc_id: str, raw_text: str, meta: dict | None, max_chars: int) -> Document:
    """Build a document from text as read: NFC, and `errors` instead of text when unusable."""
    text = unicodedata.normalize("NFC", raw_text)
    problems = text_problems(text, max_chars)
    if problems and not problems[0].startswith("over the size limit"):
        text = ""
    return Document(id=doc_id, text=text, meta=dict(meta or {}), errors=problems)


def read_txt(path: Path, max_chars: int) -> Document:
    """Read one article file; its id is the file stem."""
    raw = path.read_bytes()
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Document(id=path.stem, text="", errors=[f"{path}: not valid UTF-8 at byte {exc.start}"])
    if decoded.startswith("\ufeff"):
        decoded = decoded[1:]
    return make_document(path.stem, decoded, None, max_chars)


def read_jsonl(path: Path, max_chars: int) -> Iterator[Document]:
    """Yield one document per non-blank line; a malformed line becomes a record with `errors`.

    A line without an id gets `STEM:LINE` as its id, so the record can still be found.
    """
    with path.open("rb") as fh:
        for line_no, raw_line in enumerate(fh, 1):
            if not raw_line.strip():
                continue
            where = f"{path}:{line_no}"
            fallback_id = f"{path.stem}:{line_no}"
            try:
                record = json.loads(raw_line.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield Document(id=fallback_id, text="", errors=[f"{where}: not valid UTF-8 at byte {exc.start}"])
                continue
            except json.JSONDecodeError as exc:
                yield Document(id=fallback_id, text="", errors=[f"{where}: not valid JSON ({exc.msg})"])
                continue
            if not isinstance(record, dict):
                yield Document(id=fallback_id, text="", errors=[f"{where}: a line must be a JSON object"])
                continue
            doc_id = str(record.get("id") or fallback_id)
            meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
            text = record.get("text")
            if not isinstance(text, str):
                yield Document(id=doc_id, text="", meta=meta, errors=[f"{where}: no string 'text' field"])
                continue
            yield make_document(doc_id, text, meta, max_chars)


def expand_inputs(inputs: Iterable[Path]) -> list[Path]:
    """Files to read, in the order given; a folder contributes its .txt and .jsonl files, sorted.

    Raises:
        InputError: an input does not exist or has another suffix.
    """
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".txt", ".jsonl") and p.is_file()))
        elif path.is_file() and path.suffix in (".txt", ".jsonl"):
            files.append(path)
        elif not path.exists():
            raise InputError(f"{path}: no such file or folder; give .txt files, .jsonl files or folders")
        else:
            raise InputError(f"{path}: not a .txt or .jsonl file; give .txt files, .jsonl files or folders")
    return files


def iter_documents(inputs: Iterable[Path], max_chars: int = DEFAULT_MAX_CHARS) -> Iterator[Document]:
    """Stream the documents of all inputs in input order, one file open at a time."""
    for path in expand_inputs(inputs):
        if path.suffix == ".jsonl":
            yield from read_jsonl(path, max_chars)
        else:
            yield read_txt(path, max_chars)


def read_gold_documents(path: Path, required: tuple[str, ...] = ("id", "text", "entities")) -> list[dict]:
    """Documents of a gold or prediction JSONL file (CONTRACT.md format), strictly: one document a line.

    Raises:
        InputError: the file is missing, a line is not JSON, or a document lacks a `required` key.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a JSONL file of documents")
    documents = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from exc
            if not isinstance(doc, dict) or not set(required) <= doc.keys():
                raise InputError(f"{path}:{line_no}: a document needs {', '.join(required)}")
            documents.append(doc)
    return documents
