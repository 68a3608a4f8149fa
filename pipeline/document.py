"""Reading inputs into documents: ids, NFC text, size limits and bad-input records.

A document that cannot be processed is still yielded, with empty text and a
human-readable reason in `errors`, so that every input comes out. What was
repaired on the way in is said in the document's `warnings`:

- Encodings: UTF-8 with or without a byte-order mark, and UTF-16 with one
  (a UTF-16 .jsonl file is read whole, not streamed).
- Lone surrogates (a `"\\ud800"` escape in JSON, or in UTF-16) become U+FFFD;
  NaN and Infinity in JSON become null.
- Ids are strings: a string id exactly as given, any other JSON value as its
  JSON text (`0` → "0"), and a missing, null or empty id `STEM:LINE`. A .txt
  file's id is its stem in NFC, with U+FFFD for bytes of a file name that are
  not UTF-8. An id used by an earlier document of the same run is reported;
  both documents are read.
- Metadata: `title`, `published`, `province` and `url` are text. A number or
  boolean there becomes its JSON text (2024 → "2024"), null means absent, and
  an array or object is dropped with a warning. Other keys are kept as given.
- More metadata, from the user: a sidecar `NAME.meta.json` next to `NAME.txt`
  (or `NAME.html`), and rows of a CSV file (`--meta`) matched by document id or
  by input file path. Later sources win: the input's own metadata, then the
  sidecar, then the CSV row of its file, then the CSV row of its id. A sidecar
  that cannot be used makes its document an error record; a bad CSV row stops
  the run before it starts.
- HTML pages and WARC archives: see `pipeline.web`.
"""

import codecs
import csv
import datetime
import json
import math
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError

DEFAULT_MAX_CHARS = 1_000_000
# Share of control characters above which a text is taken for binary content.
MAX_CONTROL_SHARE = 0.05
# Input kinds by file name ending, any case; a folder contributes the files with one of these endings.
KINDS = {".txt": "txt", ".jsonl": "jsonl", ".html": "html", ".htm": "html", ".warc": "warc", ".warc.gz": "warc"}
SIDECAR = ".meta.json"
INPUT_KINDS = ".txt, .jsonl, .html, .warc(.gz) files"
PUBLISHED = re.compile(r"\d{4}(-\d{2}-\d{2})?")
# The metadata CONTRACT.md gives a meaning to: the pipeline and the corpus tables read these values as text.
TEXT_META_KEYS = frozenset({"title", "published", "province", "url"})
SURROGATES = re.compile("[\ud800-\udfff]")
# Unicode's control characters (category Cc: U+0000-001F and U+007F-009F) but for line breaks and tabs.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What `bytes.strip()` strips: a line of only these is blank, whatever the file's encoding.
ASCII_SPACE = " \t\n\r\x0b\x0c"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
JSON_TYPES = {list: "an array", dict: "an object"}


@dataclass
class Document:
    id: str
    text: str
    meta: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def text_problems(text: str, max_chars: int) -> list[str]:
    """Return why `text` cannot be processed (empty, binary, too long), or [] when it can."""
    if not text.strip():
        return ["empty document"]
    if "\x00" in text:
        return ["not text: contains NUL bytes (binary content, or UTF-16 without a byte-order mark?)"]
    controls = len(CONTROLS.findall(text))
    if controls > MAX_CONTROL_SHARE * len(text):
        return [f"not text: {controls} control characters (binary content?)"]
    if len(text) > max_chars:
        return [f"over the size limit: {len(text)} characters > {max_chars} (raise --max-chars to accept it)"]
    return []


def make_document(doc_id: str, raw_text: str, meta: dict | None, max_chars: int,
                  warnings: list[str] | None = None) -> Document:
    """Build a document from text as read: NFC, and `errors` instead of text when unusable."""
    text = unicodedata.normalize("NFC", raw_text)
    problems = text_problems(text, max_chars)
    if problems and not problems[0].startswith("over the size limit"):
        text = ""
    return Document(id=doc_id, text=text, meta=dict(meta or {}), errors=problems, warnings=list(warnings or []))


def printable(name: str | Path) -> str:
    """A file name as text that can be written out: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(name).decode("utf-8", "replace")


def repaired(value, counts: Counter | None = None):
    """A JSON value that standard JSON in UTF-8 can hold: lone surrogates become U+FFFD (one character for one, so
    offsets into a repaired text still hold) and NaN/Infinity null, in nested lists and dicts too; `counts`, when
    given, tallies both repairs. The reader repairs what it reads and the writers what they write."""
    counts = Counter() if counts is None else counts
    if isinstance(value, str):
        fixed, replaced = SURROGATES.subn("\ufffd", value)
        counts["lone surrogates replaced by U+FFFD"] += replaced
        return fixed
    if isinstance(value, float) and not math.isfinite(value):
        counts["NaN/Infinity replaced by null"] += 1
        return None
    if isinstance(value, list | tuple):
        return [repaired(item, counts) for item in value]
    if isinstance(value, dict):
        return {repaired(key, counts): repaired(item, counts) for key, item in value.items()}
    return value


def repair_warnings(counts: Counter, where: str) -> list[str]:
    return [f"{where}: {count} {what}" for what, count in counts.items() if count]


def document_id(value, fallback: str) -> str:
    """A string id exactly as given, any other JSON value as its JSON text (0 → "0"); `fallback` when the id is
    missing, null or empty."""
    if value is None or value == "":
        return fallback
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def text_meta(meta: dict, where: str, warnings: list[str]) -> dict:
    """`meta` with the values of TEXT_META_KEYS as text (see the module docstring); other keys as given."""
    result = {}
    for key, value in meta.items():
        if key not in TEXT_META_KEYS or isinstance(value, str):
            result[key] = value
        elif isinstance(value, bool | int):
            result[key] = json.dumps(value)
        elif isinstance(value, float):
            result[key] = str(int(value)) if value.is_integer() else repr(value)
        elif value is not None:
            warnings.append(f"{where}: meta.{key} is {JSON_TYPES[type(value)]}, not text: dropped")
    return result


def line_document(line: str, where: str, fallback_id: str, max_chars: int) -> Document:
    """The document of one JSONL line (CONTRACT.md), or a record with `errors` that says why it cannot be one."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return Document(id=fallback_id, text="", errors=[f"{where}: not valid JSON ({exc.msg})"])
    except ValueError as exc:  # an integer past Python's digit limit
        return Document(id=fallback_id, text="", errors=[f"{where}: not usable JSON ({str(exc).split(':')[0]})"])
    except RecursionError:
        return Document(id=fallback_id, text="", errors=[f"{where}: not usable JSON (nested too deeply)"])
    if not isinstance(record, dict):
        return Document(id=fallback_id, text="", errors=[f"{where}: a line must be a JSON object"])
    counts: Counter = Counter()
    try:
        raw_id, text, meta = (repaired(record.get(key), counts) for key in ("id", "text", "meta"))
    except RecursionError:  # nesting that JSON parsing just allowed, one level deeper here
        return Document(id=fallback_id, text="", errors=[f"{where}: not usable JSON (nested too deeply)"])
    warnings = repair_warnings(counts, where)
    if not isinstance(meta, dict):
        if meta is not None:
            warnings.append(f"{where}: meta is not an object: ignored")
        meta = {}
    doc_id, meta = document_id(raw_id, fallback_id), text_meta(meta, where, warnings)
    if not isinstance(text, str):
        return Document(id=doc_id, text="", meta=meta, errors=[f"{where}: no string 'text' field"], warnings=warnings)
    return make_document(doc_id, text, meta, max_chars, warnings)


def decode_text(raw: bytes) -> tuple[str, str]:
    """`raw` decoded by its byte-order mark (UTF-16 or UTF-8), else as UTF-8; returns the text and the encoding.
    Lone surrogates of UTF-16 are kept, for the caller to repair.

    Raises:
        UnicodeDecodeError: the bytes are not valid in that encoding (`start` counts from the file's first byte).
    """
    if raw.startswith(UTF16_BOMS):
        return raw.decode("utf-16", "surrogatepass"), "UTF-16"
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8):].decode("utf-8"), "UTF-8"
        except UnicodeDecodeError as exc:
            exc.start += len(codecs.BOM_UTF8)
            raise
    return raw.decode("utf-8"), "UTF-8"


def txt_id(path: Path) -> str:
    return unicodedata.normalize("NFC", printable(path.stem))


def read_txt(path: Path, max_chars: int) -> Document:
    """Read one article file; its id is the file stem."""
    name, doc_id = printable(path), txt_id(path)
    warnings = [] if printable(path.stem) == path.stem else [
        f"{name}: the file name is not valid UTF-8; its id has U+FFFD for the bad bytes"]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Document(id=doc_id, text="", errors=[f"{name}: cannot be read ({exc.strerror})"], warnings=warnings)
    try:
        decoded, _ = decode_text(raw)
    except UnicodeDecodeError as exc:
        encoding = "UTF-16" if raw.startswith(UTF16_BOMS) else "UTF-8"
        return Document(id=doc_id, text="", errors=[f"{name}: not valid {encoding} at byte {exc.start}"],
                        warnings=warnings)
    counts: Counter = Counter()
    text = repaired(decoded, counts)
    return make_document(doc_id, text, None, max_chars, warnings + repair_warnings(counts, name))


def jsonl_lines(path: Path, start: int = 0, end: int | None = None,
                first_line: int = 1) -> Iterator[tuple[int, str | None, str | None]]:
    """Each line of a JSONL file as `(number, text, None)`, or `(number, None, why)` when it cannot be decoded.

    UTF-8 is decoded line by line, so one bad line costs only itself; a UTF-16 file (byte-order mark) is decoded
    whole, and a file that is not valid UTF-16 is one bad line. A UTF-8 file can be read in pieces: the lines from
    byte `start` (a line's first byte, numbered `first_line`) to byte `end`.
    """
    with path.open("rb") as fh:
        head = fh.read(len(codecs.BOM_UTF16_LE))
    if head in UTF16_BOMS:
        try:
            text, _ = decode_text(path.read_bytes())
        except UnicodeDecodeError as exc:
            yield 1, None, f"not valid UTF-16 at byte {exc.start} ({exc.reason})"
            return
        for line_no, line in enumerate(text.split("\n"), 1):
            yield line_no, line, None
        return
    with path.open("rb") as fh:
        fh.seek(start)
        position = start
        for line_no, raw_line in enumerate(fh, first_line):
            if end is not None and position >= end:
                return
            position += len(raw_line)
            if line_no == 1:
                raw_line = raw_line.removeprefix(codecs.BOM_UTF8)
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield line_no, None, f"not valid UTF-8 at byte {exc.start}"
                continue
            yield line_no, line, None


def read_jsonl(path: Path, max_chars: int, start: int = 0, end: int | None = None,
               first_line: int = 1) -> Iterator[Document]:
    """Yield one document per non-blank line (of the piece from byte `start` to `end`, see `jsonl_lines`); a
    malformed line becomes a record with `errors`.

    A line without an id gets `STEM:LINE` as its id, so the record can still be found.
    """
    name, stem = printable(path), printable(path.stem)
    try:
        for line_no, line, problem in jsonl_lines(path, start, end, first_line):
            where, fallback_id = f"{name}:{line_no}", f"{stem}:{line_no}"
            if problem:
                yield Document(id=fallback_id, text="", errors=[f"{where}: {problem}"])
            elif line.strip(ASCII_SPACE):
                yield line_document(line, where, fallback_id, max_chars)
    except OSError as exc:
        yield Document(id=stem, text="", errors=[f"{name}: cannot be read ({exc.strerror})"])


def jsonl_pieces(path: Path, lines_per_piece: int) -> Iterator[tuple[int, int | None, int]]:
    """Split a JSONL file into pieces of `lines_per_piece` non-blank lines, as `(start, end, first_line)` for
    `read_jsonl`; a UTF-16 file is one piece (it is decoded whole). Reads only bytes: memory stays flat."""
    with path.open("rb") as fh:
        if fh.read(len(codecs.BOM_UTF16_LE)) in UTF16_BOMS:
            yield 0, None, 1
            return
        fh.seek(0)
        start, first_line, position, count = 0, 1, 0, 0
        for line_no, raw_line in enumerate(fh, 1):
            if count == lines_per_piece:
                yield start, position, first_line
                start, first_line, count = position, line_no, 0
            position += len(raw_line)
            count += bool(raw_line.strip(ASCII_SPACE.encode()))
        if count:
            yield start, position, first_line


def input_kind(path: Path) -> str | None:
    """`txt`, `jsonl`, `html` or `warc` by the file name's ending (any case), or None for another file."""
    name = path.name.lower()
    return next((kind for ending, kind in KINDS.items() if name.endswith(ending)), None)


def has_input_suffix(path: Path) -> bool:
    return input_kind(path) is not None


def expand_inputs(inputs: Iterable[Path]) -> list[Path]:
    """Files to read, in the order given; a folder contributes its .txt, .jsonl, .html/.htm and .warc/.warc.gz files
    (any case), sorted.

    Raises:
        InputError: an input does not exist or has another suffix.
    """
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if has_input_suffix(p) and p.is_file()))
        elif path.is_file() and has_input_suffix(path):
            files.append(path)
        elif not path.exists():
            raise InputError(f"{printable(path)}: no such file or folder; give {INPUT_KINDS} or folders")
        else:
            raise InputError(f"{printable(path)}: not an input file by its name; give {INPUT_KINDS} or folders")
    return files


def published_problem(value) -> str | None:
    """Why a user-given `published` is not the contract's YYYY-MM-DD or YYYY, or None."""
    if not isinstance(value, str) or not PUBLISHED.fullmatch(value):
        return f"published {value!r} is not YYYY-MM-DD or YYYY"
    try:
        if len(value) > 4:
            datetime.date.fromisoformat(value)
    except ValueError:
        return f"published {value!r} is not a date"
    return None


def user_meta(values: dict, where: str) -> tuple[dict, list[str]]:
    """User-given metadata as `meta` holds it (see `text_meta`), and its warnings.

    Raises:
        ValueError: `published` is not YYYY-MM-DD or YYYY (the message names `where`).
    """
    warnings: list[str] = []
    meta = text_meta(repaired(values), where, warnings)
    problem = "published" in meta and published_problem(meta["published"])
    if problem:
        raise ValueError(f"{where}: {problem}")
    return meta, warnings


def sidecar_path(path: Path) -> Path:
    """`NAME.meta.json` for `NAME.txt` or `NAME.html`: the file of metadata that goes with it."""
    return path.with_name(path.name[: -len(path.suffix)] + SIDECAR)


def sidecar_meta(path: Path) -> tuple[dict, list[str], str | None]:
    """The metadata of `path`'s sidecar (empty when there is none), its warnings, and why it cannot be used."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return {}, [], None
    name = printable(sidecar)
    try:
        values = json.loads(sidecar.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        return {}, [], f"{name}: cannot be read ({exc.strerror})"
    except UnicodeDecodeError as exc:
        return {}, [], f"{name}: not valid UTF-8 at byte {exc.start}; fix the metadata file or remove it"
    except ValueError as exc:
        return {}, [], f"{name}: not valid JSON ({getattr(exc, 'msg', exc)}); fix the metadata file or remove it"
    if not isinstance(values, dict):
        return {}, [], f"{name}: must hold a JSON object of metadata; fix it or remove it"
    try:
        meta, warnings = user_meta(values, name)
    except ValueError as exc:
        return {}, [], f"{exc}; fix the metadata file or remove it"
    return meta, warnings, None


@dataclass(frozen=True)
class MetaTable:
    """Metadata rows of a `--meta` CSV file, by document id and by input file (a resolved path)."""

    by_id: dict[str, dict] = field(default_factory=dict)
    by_path: dict[Path, dict] = field(default_factory=dict)


def read_meta_table(path: Path) -> MetaTable:
    """The rows of a metadata CSV: an `id` or a `path` column (a path relative to the CSV's folder), and any meta
    fields (published, province, url, title, ...); an empty cell gives nothing.

    Raises:
        InputError: one line naming the file and row: unreadable file, no id/path column, a row with neither or
        with a field count other than the header's, a key given twice, or a `published` that is not a date.
    """
    name = printable(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{name}: cannot read the metadata file ({exc.strerror}); check --meta") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not valid UTF-8 at byte {exc.start}; save the metadata CSV as UTF-8") from exc
    rows = csv.reader(text.splitlines())
    header = [column.strip() for column in next(rows, [])]
    if "id" not in header and "path" not in header:
        raise InputError(f"{name}:1: the header needs an 'id' or a 'path' column (then meta fields such as "
                         "published, province, url, title)")
    table, first_row = MetaTable(), {}
    for row_no, row in enumerate(rows, 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{name}:{row_no}: {len(row)} fields where the header has {len(header)}; fix the row")
        cells = {column: cell.strip() for column, cell in zip(header, row, strict=True) if cell.strip()}
        doc_id, file = cells.pop("id", None), cells.pop("path", None)
        if not (doc_id or file):
            raise InputError(f"{name}:{row_no}: neither an id nor a path; fill one of them or remove the row")
        key = ("id", doc_id) if doc_id else ("path", (path.parent / file).resolve())
        if key in first_row:
            raise InputError(f"{name}:{row_no}: {key[0]} {doc_id or file!r} is given again (row {first_row[key]}); "
                             "keep one row for it")
        first_row[key] = row_no
        try:
            meta, _ = user_meta(cells, f"{name}:{row_no}")
        except ValueError as exc:
            raise InputError(f"{exc}; fix the row") from exc
        (table.by_id if doc_id else table.by_path)[key[1]] = meta
    return table


def file_documents(path: Path, max_chars: int, sites, skipped: Counter) -> Iterable[Document]:
    """The documents of one input file, by its kind; a .txt or .html file's sidecar metadata merged in. `sites`
    (None: the shipped mapping, loaded only when a page comes) gives pages their province."""
    kind = input_kind(path)
    if kind == "jsonl":
        return read_jsonl(path, max_chars)
    if kind in ("html", "warc"):
        from pipeline.web import default_site_provinces, read_html, read_warc

        sites = sites if sites is not None else default_site_provinces()
        if kind == "warc":
            return read_warc(path, max_chars, sites, skipped)
        document = read_html(path, max_chars, sites)
    else:
        document = read_txt(path, max_chars)
    meta, warnings, problem = sidecar_meta(path)
    document.meta.update(meta)
    document.warnings.extend(warnings)
    if problem and not document.errors:
        document.errors, document.text = [problem], ""
    return [document]


def with_table_meta(documents: Iterable[Document], path: Path, meta_table: MetaTable) -> Iterator[Document]:
    """The `documents` of input file `path` with the `--meta` rows that match them merged in: the row of the file,
    then the row of the document's id."""
    file_meta = meta_table.by_path.get(path.resolve(), {}) if meta_table.by_path else {}
    for document in documents:
        document.meta.update(file_meta)
        document.meta.update(meta_table.by_id.get(document.id, {}))
        yield document


def iter_documents(inputs: Iterable[Path], max_chars: int = DEFAULT_MAX_CHARS, meta_table: MetaTable = MetaTable(),
                   sites=None, skipped: Counter | None = None) -> Iterator[Document]:
    """Stream the documents of all inputs in input order, one file open at a time; a document whose id an earlier
    one has gets a warning.

    Args:
        meta_table: metadata rows (`--meta`) merged into the documents they match.
        sites: the domain → province mapping for pages (`pipeline.web.SiteProvinces`); default: the shipped one.
        skipped: counts, by reason, the WARC records that are not pages.
    """
    skipped = Counter() if skipped is None else skipped
    seen: set[str] = set()
    for path in expand_inputs(inputs):
        for document in with_table_meta(file_documents(path, max_chars, sites, skipped), path, meta_table):
            if document.id in seen:
                document.warnings.append(f"duplicate id {document.id!r}: an earlier document has it too")
            seen.add(document.id)
            yield document


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
