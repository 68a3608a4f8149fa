"""Writers for extraction output: JSONL (the contract) and the structured corpus.

The corpus has the contract's three tables plus `officials` (one row per named
person: roles as the text states them, and their province).

A sink takes output records (CONTRACT.md) one at a time. JSONL appends lines;
DuckDB inserts rows in batches, each batch in one transaction, so an
interrupted run leaves only whole documents behind; a `.parquet` OUT is a
folder with one Parquet file per table, written from a DuckDB staging file
when the run ends. Every sink knows which document ids it already holds,
which is what `--resume` skips.
"""

import json
import shutil
from pathlib import Path

import pyarrow as pa

from pipeline.errors import OutputError

TABLES: dict[str, list[tuple[str, pa.DataType]]] = {
    "documents": [
        ("id", pa.string()), ("title", pa.string()), ("published", pa.string()), ("province", pa.string()),
        ("n_entities", pa.int32()), ("n_facts", pa.int32()), ("errors", pa.list_(pa.string())),
    ],
    "entities": [
        ("doc_id", pa.string()), ("start", pa.int32()), ("end", pa.int32()), ("label", pa.string()),
        ("text", pa.string()), ("score", pa.float64()),
    ],
    "facts": [
        ("doc_id", pa.string()), ("metric_start", pa.int32()), ("metric_end", pa.int32()),
        ("metric_text", pa.string()), ("value", pa.float64()), ("value_max", pa.float64()), ("unit", pa.string()),
        ("qualifier", pa.string()), ("indicator", pa.string()), ("province", pa.string()),
        ("province_2025", pa.string()), ("year", pa.int32()), ("status", pa.string()), ("score", pa.float64()),
        ("sentence", pa.string()),
    ],
    "officials": [
        ("doc_id", pa.string()), ("name", pa.string()), ("start", pa.int32()), ("end", pa.int32()),
        ("roles", pa.list_(pa.string())), ("province", pa.string()),
    ],
}
SQL_TYPES = {pa.string(): "VARCHAR", pa.int32(): "INTEGER", pa.float64(): "DOUBLE", pa.list_(pa.string()): "VARCHAR[]"}
BATCH_DOCUMENTS = 200


def table_rows(record: dict) -> dict[str, list[dict]]:
    """The rows an output record contributes to each table of the structured corpus."""
    meta = record.get("meta") or {}
    doc_id = record["id"]
    return {
        "documents": [{
            "id": doc_id, "title": meta.get("title"), "published": meta.get("published"),
            "province": record.get("province", meta.get("province")),
            "n_entities": len(record["entities"]), "n_facts": len(record["facts"]), "errors": record["errors"],
        }],
        "entities": [
            {"doc_id": doc_id, **{k: e.get(k) for k in ("start", "end", "label", "text", "score")}}
            for e in record["entities"]
        ],
        "facts": [
            {
                "doc_id": doc_id, "metric_start": f["metric"]["start"], "metric_end": f["metric"]["end"],
                "metric_text": f["metric"]["text"],
                **{k: f.get(k) for k in ("value", "value_max", "unit", "qualifier", "indicator", "province",
                                         "province_2025", "year", "status", "score", "sentence")},
            }
            for f in record["facts"]
        ],
        "officials": [
            {"doc_id": doc_id, **{k: o.get(k) for k in ("name", "start", "end", "roles", "province")}}
            for o in record.get("officials", [])
        ],
    }


class JsonlSink:
    """One output document per line, in the order written."""

    def __init__(self, path: Path, resume: bool):
        self.path = path
        self.done: set[str] = set()
        if resume and path.exists():
            self.done = self._complete_lines()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = path.open("a" if resume else "w", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror}); choose another --out") from exc

    def _complete_lines(self) -> set[str]:
        """Ids already written; a last line cut off by an interrupted run is removed."""
        done, keep = set(), 0
        with self.path.open("rb") as fh:
            for line in fh:
                try:
                    done.add(json.loads(line)["id"])
                except (ValueError, KeyError):
                    break
                keep += len(line)
        with self.path.open("r+b") as fh:
            fh.truncate(keep)
        return done

    def write(self, record: dict) -> None:
        self.fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.fh.close()


class DuckDBSink:
    """The three tables in a DuckDB file, plus a `facts_by_province_year` view."""

    def __init__(self, path: Path, resume: bool):
        import duckdb

        self.path = path
        if path.exists() and not resume:
            path.unlink()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(str(path))
        except (OSError, duckdb.Error) as exc:
            raise OutputError(f"{path}: cannot open as a DuckDB file ({exc}); choose another --out") from exc
        for table, columns in TABLES.items():
            cols = ", ".join(f'"{name}" {SQL_TYPES[kind]}' for name, kind in columns)
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        self.con.execute(
            "CREATE OR REPLACE VIEW facts_by_province_year AS SELECT province, year, count(*) AS n_facts, "
            "count(DISTINCT doc_id) AS n_documents FROM facts GROUP BY ALL ORDER BY ALL"
        )
        self.done = {row[0] for row in self.con.execute("SELECT id FROM documents").fetchall()}
        self.pending: dict[str, list[dict]] = {table: [] for table in TABLES}
        self.pending_docs = 0

    def write(self, record: dict) -> None:
        for table, rows in table_rows(record).items():
            self.pending[table].extend(rows)
        self.pending_docs += 1
        if self.pending_docs >= BATCH_DOCUMENTS:
            self.flush()

    def flush(self) -> None:
        self.con.execute("BEGIN TRANSACTION")
        for table, columns in TABLES.items():
            batch = pa.Table.from_pylist(self.pending[table], schema=pa.schema(columns))
            self.con.register("batch", batch)
            self.con.execute(f"INSERT INTO {table} SELECT * FROM batch")
            self.con.unregister("batch")
            self.pending[table] = []
        self.con.execute("COMMIT")
        self.pending_docs = 0

    def close(self) -> None:
        self.flush()
        self.con.close()


class ParquetSink:
    """A folder with documents.parquet, entities.parquet and facts.parquet."""

    STAGING = ".staging.duckdb"

    def __init__(self, folder: Path, resume: bool):
        self.folder = folder
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder}: exists and is not a folder; a .parquet OUT is a folder of tables")
        staging = folder / self.STAGING
        restore = resume and not staging.exists() and all((folder / f"{t}.parquet").exists() for t in TABLES)
        self.staging = DuckDBSink(staging, resume)
        if restore:
            for table in TABLES:
                self.staging.con.execute(f"INSERT INTO {table} SELECT * FROM read_parquet('{folder / table}.parquet')")
            self.staging.done = {r[0] for r in self.staging.con.execute("SELECT id FROM documents").fetchall()}
        self.done = self.staging.done

    def write(self, record: dict) -> None:
        self.staging.write(record)

    def close(self) -> None:
        self.staging.flush()
        for table in TABLES:
            self.staging.con.execute(f"COPY {table} TO '{self.folder / table}.parquet' (FORMAT parquet)")
        self.staging.close()
        (self.folder / self.STAGING).unlink()
        wal = self.folder / (self.STAGING + ".wal")
        if wal.exists():
            wal.unlink()


def open_sink(path: Path, resume: bool):
    """The sink for an OUT path, chosen by its suffix.

    Raises:
        OutputError: the suffix is not .jsonl, .duckdb or .parquet, or the path cannot be written.
    """
    if path.suffix == ".jsonl":
        return JsonlSink(path, resume)
    if path.suffix == ".duckdb":
        return DuckDBSink(path, resume)
    if path.suffix == ".parquet":
        if path.exists() and path.is_dir() and not resume:
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        return ParquetSink(path, resume)
    raise OutputError(f"{path}: unknown output type; --out must end in .jsonl, .duckdb or .parquet")
