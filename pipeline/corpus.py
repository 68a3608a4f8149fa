"""Writers for extraction output: JSONL (the contract) and the structured corpus.

The corpus has the contract's three tables plus `officials` (one row per named
person: roles as the text states them, and their province).

Outputs are never lost or replaced unasked. Every OUT is checked before any is
touched (`check_outputs`), locked for the run (`OUT.lock`, so a second run on
it is refused rather than interleaved), and written to a working file next to
it that `commit` moves into place: `OUT.partial` for JSONL and DuckDB, and for
a `.parquet` OUT (a folder with one Parquet file per table) a staging DuckDB
file inside it, exported table by table at the end. An OUT that exists is
replaced only with `--overwrite`; `--resume` continues the working file an
interrupted run left, or else appends to OUT itself under the lock.

A sink takes output records (CONTRACT.md) one at a time. JSONL appends lines;
DuckDB inserts rows in batches, each batch in one transaction, so a killed run
leaves only whole documents behind. Every sink counts the document ids it
already holds, which is what `--resume` skips. Values are made safe for every
writer first: lone surrogates become U+FFFD, non-finite floats null, and
non-string metadata is stored in the corpus as its JSON text.
"""

import fcntl
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from pipeline.document import repaired
from pipeline.errors import OutputError

# The contract's columns first, in its order; what vipie adds so that a fact can be cited and audited without the
# JSONL (the text, the metadata, the evidence and its spans, the indicator's span, the entity's source) after them.
# Each column is its name and DuckDB type; `arrow_schema` gives the same table's Arrow schema.
TABLES: dict[str, list[tuple[str, str]]] = {
    "documents": [
        ("id", "VARCHAR"), ("title", "VARCHAR"), ("published", "VARCHAR"), ("province", "VARCHAR"),
        ("n_entities", "INTEGER"), ("n_facts", "INTEGER"), ("errors", "VARCHAR[]"),
        ("url", "VARCHAR"), ("meta", "VARCHAR"), ("text", "VARCHAR"), ("warnings", "VARCHAR[]"),
    ],
    "entities": [
        ("doc_id", "VARCHAR"), ("start", "INTEGER"), ("end", "INTEGER"), ("label", "VARCHAR"),
        ("text", "VARCHAR"), ("score", "DOUBLE"), ("source", "VARCHAR"),
    ],
    "facts": [
        ("doc_id", "VARCHAR"), ("metric_start", "INTEGER"), ("metric_end", "INTEGER"),
        ("metric_text", "VARCHAR"), ("value", "DOUBLE"), ("value_max", "DOUBLE"), ("unit", "VARCHAR"),
        ("qualifier", "VARCHAR"), ("indicator", "VARCHAR"), ("province", "VARCHAR"),
        ("province_2025", "VARCHAR"), ("year", "INTEGER"), ("status", "VARCHAR"), ("score", "DOUBLE"),
        ("sentence", "VARCHAR"), ("province_evidence", "VARCHAR"), ("year_evidence", "VARCHAR"),
        ("province_start", "INTEGER"), ("province_end", "INTEGER"), ("year_start", "INTEGER"),
        ("year_end", "INTEGER"), ("indicator_start", "INTEGER"), ("indicator_end", "INTEGER"),
    ],
    "officials": [
        ("doc_id", "VARCHAR"), ("name", "VARCHAR"), ("start", "INTEGER"), ("end", "INTEGER"),
        ("roles", "VARCHAR[]"), ("province", "VARCHAR"),
    ],
}


def arrow_schema(table: str):
    """The Arrow schema of corpus table `table`. pyarrow is imported here, when a DuckDB or Parquet output needs
    it: a JSONL-only run never loads it (a quarter of a second)."""
    import pyarrow as pa

    types = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "DOUBLE": pa.float64(), "VARCHAR[]": pa.list_(pa.string())}
    return pa.schema([(name, types[kind]) for name, kind in TABLES[table]])


SUFFIXES = (".jsonl", ".duckdb", ".parquet")
BATCH_DOCUMENTS = 200
STAGING = ".staging.duckdb"
# Bytes 8-11 of every DuckDB database file.
DUCKDB_MAGIC = b"DUCK"
# JSON allows these raw inside strings, but line readers (str.splitlines, JavaScript before ES2019) split on them.
LINE_BREAKS_TO_ESCAPE = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}
LINE_BREAKS = [chr(code) for code in LINE_BREAKS_TO_ESCAPE]


def jsonl_line(record: dict) -> str:
    """`record` as one line of standard JSON in valid UTF-8, ending in a newline."""
    try:  # almost every record needs no repair: find out from its JSON, which C writes, not by walking it
        line = json.dumps(record, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN or infinity
        line = None
    if line is None or not encodes_to_utf8(line):
        line = json.dumps(repaired(record), ensure_ascii=False, allow_nan=False)
    # One `in` per character: a regex scan of a line (an article's text and annotations) takes 100 times as long.
    if any(line_break in line for line_break in LINE_BREAKS):
        line = line.translate(LINE_BREAKS_TO_ESCAPE)
    return line + "\n"


def encodes_to_utf8(text: str) -> bool:
    """Whether `text` holds no lone surrogate, the one thing UTF-8 cannot encode (trying is five times faster
    than a regex scan for them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_text(value) -> str | None:
    """A metadata value as a corpus string column stores it: a string as given, anything else as its JSON text."""
    value = repaired(value)
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def span_columns(span: dict | None, name: str) -> dict:
    """A fact's `{start, end}` span as the columns NAME_start and NAME_end (null when the fact has none)."""
    span = span if isinstance(span, dict) else {}
    return {f"{name}_start": span.get("start"), f"{name}_end": span.get("end")}


def table_rows(record: dict) -> dict[str, list[dict]]:
    """The rows an output record contributes to each table of the structured corpus."""
    record = repaired(record)
    meta = record.get("meta") or {}
    doc_id = record["id"]
    return {
        "documents": [{
            "id": doc_id, "title": as_text(meta.get("title")), "published": as_text(meta.get("published")),
            "province": as_text(record.get("province", meta.get("province"))),
            "n_entities": len(record["entities"]), "n_facts": len(record["facts"]), "errors": record["errors"],
            "url": as_text(meta.get("url")), "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True),
            "text": record.get("text"), "warnings": [str(w) for w in record.get("warnings") or []],
        }],
        "entities": [
            {"doc_id": doc_id, **{k: e.get(k) for k in ("start", "end", "label", "text", "score", "source")}}
            for e in record["entities"]
        ],
        "facts": [
            {
                "doc_id": doc_id, "metric_start": f["metric"]["start"], "metric_end": f["metric"]["end"],
                "metric_text": f["metric"]["text"],
                **{k: f.get(k) for k in ("value", "value_max", "unit", "qualifier", "indicator", "province",
                                         "province_2025", "year", "status", "score", "sentence")},
                "province_evidence": (f.get("evidence") or {}).get("province"),
                "year_evidence": (f.get("evidence") or {}).get("year"),
                **span_columns(f.get("province_span"), "province"), **span_columns(f.get("year_span"), "year"),
                **span_columns(f.get("indicator_span"), "indicator"),
            }
            for f in record["facts"]
        ],
        "officials": [
            {"doc_id": doc_id, **{k: o.get(k) for k in ("name", "start", "end", "roles", "province")}}
            for o in record.get("officials", [])
        ],
    }


def partial_path(out: Path) -> Path:
    """Where a fresh run writes OUT until it is complete (a .parquet OUT stages inside its folder instead)."""
    return out / STAGING if out.suffix == ".parquet" else out.with_name(out.name + ".partial")


def lock_path(out: Path) -> Path:
    return out.with_name(out.name + ".lock")


def holds_output(out: Path) -> bool:
    """Whether OUT already holds output a run could lose: the file, or a table file of a .parquet folder."""
    if out.suffix == ".parquet":
        return out.is_dir() and any((out / f"{table}.parquet").exists() for table in TABLES)
    return out.exists()


def path_problem(out: Path, inputs: list[Path]) -> str | None:
    """Why OUT cannot be written at all, or None; `inputs` are resolved paths. Looks, never touches."""
    if out.suffix not in SUFFIXES:
        return "unknown output type; --out must end in .jsonl, .duckdb or .parquet"
    resolved = out.resolve()
    for source in inputs:
        if resolved == source:
            return "is also an input and would be overwritten; choose another --out"
        if source.is_dir() and resolved.is_relative_to(source):
            return f"is inside the input folder {source} and would be read back as input; choose an --out outside it"
    folder = next(p for p in resolved.parents if p.exists())
    if not folder.is_dir():
        return f"{folder} is a file, not a folder; choose another --out"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable; choose another --out"
    if not out.exists():
        return None
    if not os.access(out, os.R_OK | os.W_OK):
        return "exists and is not readable and writable; choose another --out"
    if out.suffix == ".parquet" and not out.is_dir():
        return "exists and is not a folder (a .parquet OUT is a folder of tables); choose another --out"
    if out.suffix != ".parquet" and not out.is_file():
        return "exists and is not a file; choose another --out"
    if out.suffix == ".duckdb" and not is_duckdb_file(out):
        return "exists and is not a DuckDB file; choose another --out"
    return None


def is_duckdb_file(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(12)[8:12] == DUCKDB_MAGIC


def replace_problem(out: Path, resume: bool, overwrite: bool) -> str | None:
    """Why writing OUT would lose what is there, or None: without --resume or --overwrite nothing is replaced."""
    if resume or overwrite:
        return None
    if holds_output(out):
        return "exists; add --resume to complete it, --overwrite to replace it, or choose another --out"
    if partial_path(out).exists():
        return (f"an interrupted run left {partial_path(out)}; add --resume to complete it "
                "or --overwrite to start again")
    return None


def check_outputs(outputs: list[Path], inputs: list[Path], resume: bool = False, overwrite: bool = False) -> None:
    """Refuse, before any output is touched, a set of outputs that cannot all be written or would lose data.

    Raises:
        OutputError: one line naming the first bad OUT and what to do.
    """
    if resume and overwrite:
        raise OutputError("--resume and --overwrite exclude each other: complete the outputs or replace them")
    sources = [path.resolve() for path in inputs]
    seen: set[Path] = set()
    for out in outputs:
        problem = path_problem(out, sources) or replace_problem(out, resume, overwrite)
        if out.resolve() in seen:
            problem = "is given twice; give each --out once"
        if problem:
            raise OutputError(f"{out}: {problem}")
        seen.add(out.resolve())


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold `OUT.lock` (an exclusive flock) while the block runs; the lock file is removed at the end.

    Raises:
        OutputError: another process holds it, or it cannot be created.
    """
    path = lock_path(out)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{out}: cannot create the lock file {path} ({exc.strerror}); choose another --out") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise OutputError(f"{out}: another vipie run (pid {holder}) is writing it; wait for it to end "
                              "or choose another --out") from None
        # The previous holder removes the file as it lets go: a lock on a removed file guards nothing.
        if path.exists() and os.path.samestat(os.fstat(fd), os.stat(path)):
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def write_error(out: Path, exc: Exception) -> OutputError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return OutputError(f"{out}: cannot write ({reason}); what was written is kept: fix it and run again with --resume")


def replace_file(source: Path, target: Path) -> None:
    """Move `source` onto `target` atomically, its data on disk first."""
    with source.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(source, target)


class JsonlSink:
    """One output document per line, in the order written."""

    def __init__(self, out: Path, resume: bool):
        self.out = out
        partial = partial_path(out)
        self.working = out if resume and out.exists() and not partial.exists() else partial
        self.done: Counter = Counter()
        self.fresh = not (resume and self.working.exists())
        if not self.fresh:
            self.done = self._complete_lines()
        self.fh = self.working.open("w" if self.fresh else "a", encoding="utf-8", newline="\n")

    def _complete_lines(self) -> Counter:
        """Ids already written; a last line cut off by a killed run is removed (a whole line ends in a newline)."""
        done, keep = Counter(), 0
        with self.working.open("rb") as fh:
            for line in fh:
                try:
                    doc_id = json.loads(line)["id"]
                except (ValueError, KeyError, TypeError):
                    break
                if not line.endswith(b"\n"):
                    break
                done[doc_id] += 1
                keep += len(line)
        if keep < self.working.stat().st_size:
            with self.working.open("r+b") as fh:
                fh.truncate(keep)
        return done

    def write(self, record: dict) -> None:
        try:
            self.fh.write(jsonl_line(record))
        except OSError as exc:
            raise write_error(self.out, exc) from exc

    def commit(self) -> None:
        """Move the complete output into place (an append in place only needs closing)."""
        try:
            self.fh.close()
            if self.working != self.out:
                replace_file(self.working, self.out)
        except OSError as exc:
            raise write_error(self.out, exc) from exc

    def close(self) -> None:
        """Stop without committing: what is written stays in the working file for --resume."""
        try:
            self.fh.close()
        except OSError:
            pass  # the data that did not reach the disk is redone by --resume

    def discard(self) -> None:
        """Close and remove the working file when this run started it: the run never began."""
        self.close()
        if self.fresh and self.working != self.out:
            self.working.unlink(missing_ok=True)


class TableWriter:
    """The corpus tables in one DuckDB file, filled in batches of whole documents, each batch one transaction."""

    def __init__(self, path: Path, out: Path):
        import duckdb

        self.out = out
        try:
            self.con = duckdb.connect(str(path))
            for table, columns in TABLES.items():
                cols = ", ".join(f'"{name}" {kind}' for name, kind in columns)
                self.con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols})')
                found = [row[0] for row in self.con.execute(f'DESCRIBE "{table}"').fetchall()]
                if found != [name for name, _ in columns]:
                    self.con.close()
                    raise OutputError(f"{out}: its table {table} has other columns than this vipie writes (an "
                                      f"older corpus?); extract again with --overwrite, or write a new --out")
            self.con.execute(
                "CREATE OR REPLACE VIEW facts_by_province_year AS SELECT province, year, count(*) AS n_facts, "
                "count(DISTINCT doc_id) AS n_documents FROM facts GROUP BY ALL ORDER BY ALL"
            )
        except (OSError, duckdb.Error) as exc:
            raise OutputError(f"{out}: cannot open {path} as a DuckDB file ({exc}); choose another --out") from exc
        self.pending: dict[str, list[dict]] = {table: [] for table in TABLES}
        self.pending_docs = 0

    def ids(self) -> Counter:
        return Counter(dict(self.con.execute("SELECT id, count(*) FROM documents GROUP BY id").fetchall()))

    def write(self, record: dict) -> None:
        for table, rows in table_rows(record).items():
            self.pending[table].extend(rows)
        self.pending_docs += 1
        if self.pending_docs >= BATCH_DOCUMENTS:
            self.flush()

    def flush(self) -> None:
        import duckdb
        import pyarrow as pa

        try:
            self.con.execute("BEGIN TRANSACTION")
            for table in TABLES:
                batch = pa.Table.from_pylist(self.pending[table], schema=arrow_schema(table))
                self.con.register("batch", batch)
                self.con.execute(f'INSERT INTO "{table}" SELECT * FROM batch')
                self.con.unregister("batch")
            self.con.execute("COMMIT")
        except (OSError, duckdb.Error) as exc:
            raise write_error(self.out, exc) from exc
        self.pending = {table: [] for table in TABLES}
        self.pending_docs = 0

    def close(self) -> None:
        self.con.close()


def remove_duckdb_file(path: Path) -> None:
    """Remove a DuckDB file and its write-ahead log (which DuckDB would otherwise replay onto a new file)."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


class DuckDBSink:
    """The corpus tables in a DuckDB file, plus a `facts_by_province_year` view."""

    def __init__(self, out: Path, resume: bool):
        self.out = out
        partial = partial_path(out)
        self.working = out if resume and out.exists() and not partial.exists() else partial
        self.fresh = not (resume and self.working.exists())
        if self.fresh:
            remove_duckdb_file(self.working)
        self.tables = TableWriter(self.working, out)
        self.done = self.tables.ids()

    def write(self, record: dict) -> None:
        self.tables.write(record)

    def commit(self) -> None:
        self.tables.flush()
        self.tables.close()
        if self.working != self.out:
            try:
                remove_duckdb_file(self.out)
                replace_file(self.working, self.out)
            except OSError as exc:
                raise write_error(self.out, exc) from exc

    def close(self) -> None:
        self.tables.close()

    def discard(self) -> None:
        self.close()
        if self.fresh and self.working != self.out:
            remove_duckdb_file(self.working)


class ParquetSink:
    """A folder with one Parquet file per table, exported from a staging DuckDB file inside it at the end."""

    def __init__(self, folder: Path, resume: bool):
        self.out = folder
        self.staging = partial_path(folder)
        restore = resume and not self.staging.exists() and all(self.table_path(t).exists() for t in TABLES)
        self.fresh = not (resume and self.staging.exists())
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(folder, exc) from exc
        if self.fresh:
            remove_duckdb_file(self.staging)
        self.tables = TableWriter(self.staging, folder)
        if restore:
            import duckdb

            for table in TABLES:
                try:
                    self.append_parquet(table, [self.table_path(table)])
                except duckdb.Error as exc:
                    self.tables.close()
                    raise OutputError(f"{folder}: cannot resume from {self.table_path(table).name} ({exc}); an older "
                                      f"corpus? extract again with --overwrite, or write a new --out") from exc
        self.done = self.tables.ids()

    def table_path(self, table: str) -> Path:
        return self.out / f"{table}.parquet"

    def write(self, record: dict) -> None:
        self.tables.write(record)

    def append_parquet(self, table: str, files: list[Path]) -> None:
        """Append the rows of Parquet files holding `table`'s columns, file after file in the order given.

        Raises:
            duckdb.Error: a file cannot be read or has other columns.
        """
        self.tables.con.execute(f'INSERT INTO "{table}" SELECT * FROM read_parquet(?)', [[str(f) for f in files]])

    def commit(self) -> None:
        """Export every table next to its final name, then move each into place and drop the staging file."""
        import duckdb

        self.tables.flush()
        try:
            for table in TABLES:
                exported = self.out / f".{table}.parquet.partial"
                self.tables.con.execute(f'COPY "{table}" TO ? (FORMAT parquet)', [str(exported)])
                replace_file(exported, self.table_path(table))
            self.tables.close()
            remove_duckdb_file(self.staging)
        except (OSError, duckdb.Error) as exc:
            raise write_error(self.out, exc) from exc

    def close(self) -> None:
        self.tables.close()

    def discard(self) -> None:
        self.close()
        if self.fresh:
            remove_duckdb_file(self.staging)


def open_sink(path: Path, resume: bool):
    """The sink for an OUT path, chosen by its suffix (the path is checked by `check_outputs`)."""
    sink = {".jsonl": JsonlSink, ".duckdb": DuckDBSink, ".parquet": ParquetSink}[path.suffix]
    try:
        return sink(path, resume)
    except OSError as exc:
        raise write_error(path, exc) from exc


@contextmanager
def open_outputs(outputs: list[Path], inputs: list[Path], resume: bool = False,
                 overwrite: bool = False) -> Iterator[list]:
    """Check, lock and open every output; commit them all when the block ends, or keep them resumable on error.

    An output that exists is replaced only with `overwrite`; with `resume` the
    sinks know what they hold (`sink.done`) and append. The block ends
    normally also when the run was interrupted: what is complete is committed.

    Raises:
        OutputError: an output cannot be written or is locked by another run; nothing was touched then.
    """
    check_outputs(outputs, inputs, resume, overwrite)
    with ExitStack() as locks:
        for out in outputs:
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_error(out, exc) from exc
            locks.enter_context(output_lock(out))
        check_outputs(outputs, inputs, resume, overwrite)  # again under the locks: a run may have ended meanwhile
        sinks = []
        try:
            for out in outputs:
                sinks.append(open_sink(out, resume))
        except OutputError:
            for sink in sinks:
                sink.discard()
            raise
        try:
            yield sinks
        except BaseException:
            for sink in sinks:
                sink.close()
            raise
        for committed, sink in enumerate(sinks):
            try:
                sink.commit()
            except OutputError:
                for later in sinks[committed + 1:]:
                    later.close()
                raise
