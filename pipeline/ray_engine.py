"""The Ray Data engine (`vipie extract --engine ray`): the local engine's pipeline and tables, on a Ray cluster.

The driver plans the work without reading documents: a unit is a piece of a
JSONL file (`UNIT_DOCUMENTS` lines), a group of `.txt`/`.html` files, or one
WARC archive. Ray Data reads the units into documents with the readers of the
local engine (`read_unit`: same ids, metadata, sidecars, `--meta` rows, site
provinces and error records), then `map_batches` runs them through a pool of
actors that load the model once each (`Extractor`). Each actor call writes the
rows of its documents as one Parquet part per table, under `OUT.parquet/.parts/`,
and returns only a small summary to the driver; so the driver's memory does
not grow with the corpus, and every node must see OUT (a shared file system).

At the end the parts of each table become `OUT.parquet/TABLE.parquet`, with the
schema the local engine writes (`pipeline.corpus.TABLES`, through DuckDB as
there), so `vipie sql`, `vipie stats` and `--resume` of either engine read it.
Rows are not in input order. `--resume` keeps what is written (the parts of an
interrupted run, or the tables of a finished one) and skips the ids it holds.
Unlike the local engine, a document that hangs or exhausts memory is not cut
off by a time or memory budget: Ray retries the work of an actor that dies.
"""

import json
import logging
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import check_model_dir
from pipeline.corpus import (TABLES, ParquetSink, arrow_schema, check_outputs, output_lock, partial_path,
                             remove_duckdb_file, replace_file, table_rows)
from pipeline.document import (DEFAULT_MAX_CHARS, Document, MetaTable, expand_inputs, file_documents, input_kind,
                               jsonl_pieces, read_jsonl, with_table_meta)
from pipeline.errors import Interrupted, OutputError, VipieError
from pipeline.extract import ExtractionStats, process_document, signals_stop_the_run

PARTS = ".parts"
# The documents part of a batch is written last: a batch whose documents part exists is complete (resume).
PART_ORDER = [*(t for t in TABLES if t != "documents"), "documents"]
UNIT_DOCUMENTS = 16  # documents per unit of reading, and per actor call: small enough to spread over the actors
SUMMARY = ("id", "syllables", "facts", "labels", "errors", "skipped")
RESUMED = "--resume"  # the skip reason of documents already written


def plan_units(inputs: list[Path], unit_documents: int = UNIT_DOCUMENTS) -> Iterator[dict]:
    """The units of reading of `inputs` in input order, as rows for `read_unit` (bytes are scanned, never kept).

    Every unit has every field (`end` -1: to the end of the file), so that Ray Data holds them in one Arrow table.
    """
    files: list[str] = []
    for path in expand_inputs(inputs):
        kind = input_kind(path)
        if kind in ("txt", "html"):
            files.append(str(path))
            if len(files) == unit_documents:
                yield {"kind": "files", "paths": files, "start": 0, "end": -1, "line": 1}
                files = []
        elif kind == "warc":
            yield {"kind": "warc", "paths": [str(path)], "start": 0, "end": -1, "line": 1}
        else:
            for start, end, line in jsonl_pieces(path, unit_documents):
                yield {"kind": "jsonl", "paths": [str(path)], "start": start, "end": -1 if end is None else end,
                       "line": line}
    if files:
        yield {"kind": "files", "paths": files, "start": 0, "end": -1, "line": 1}


def unit_documents(unit: dict, max_chars: int, meta_table: MetaTable, sites, skipped: Counter) -> Iterator[Document]:
    """The documents of one unit, read exactly as the local engine reads them (`iter_documents`)."""
    for name in unit["paths"]:
        path = Path(name)
        if unit["kind"] == "jsonl":
            end = None if unit["end"] < 0 else unit["end"]
            documents = read_jsonl(path, max_chars, unit["start"], end, unit["line"])
        else:
            documents = file_documents(path, max_chars, sites, skipped)
        yield from with_table_meta(documents, path, meta_table)


def read_unit(unit: dict, max_chars: int, meta_table: MetaTable, sites, done: frozenset) -> list[dict]:
    """Rows of the documents of `unit` not in `done` (`{"id", "document": JSON}`), and one row per reason for what
    was skipped (`{"id": "", "skipped": reason, "count"}`): WARC records that are not pages, and (RESUMED) the
    documents in `done`."""
    skipped: Counter = Counter()
    rows = []
    for document in unit_documents(unit, max_chars, meta_table, sites, skipped):
        if document.id in done:
            skipped[RESUMED] += 1
        else:
            rows.append({"id": document.id, "document": json.dumps(asdict(document), ensure_ascii=False),
                         "skipped": "", "count": 0})
    rows += [{"id": "", "document": "", "skipped": reason, "count": count} for reason, count in skipped.items()]
    return rows


def write_part(parts: Path, rows: dict[str, list[dict]]) -> None:
    """One Parquet part per table for a batch of documents, the `documents` part last and each moved into place
    whole: a batch counts as written (for --resume) only once its documents part exists."""
    name = f"part-{uuid.uuid4().hex}.parquet"
    for table in PART_ORDER:
        folder = parts / table
        folder.mkdir(parents=True, exist_ok=True)
        working = folder / f".{name}.partial"
        pq.write_table(pa.Table.from_pylist(rows[table], schema=arrow_schema(table)), working)
        replace_file(working, folder / name)


class Extractor:
    """A Ray actor: loads the model once, then turns batches of document rows into Parquet parts and summaries."""

    def __init__(self, model_dir: str | None, parts: str):
        import pipeline

        self.nlp = pipeline.load(model_dir)
        self.parts = Path(parts)

    def __call__(self, batch: dict) -> dict:
        summary: dict[str, list] = {key: [] for key in SUMMARY}
        rows: dict[str, list[dict]] = {table: [] for table in TABLES}
        for doc_id, text, reason, count in zip(batch["id"], batch["document"], batch["skipped"], batch["count"],
                                               strict=True):
            if reason:
                record = {"id": "", "syllables": 0, "facts": [], "entities": [], "errors": []}
            else:
                record = process_document(self.nlp, Document(**json.loads(text)))
                for table, new_rows in table_rows(record).items():
                    rows[table].extend(new_rows)
            summary["id"].append(str(doc_id))
            summary["syllables"].append(int(record.pop("syllables", 0)))
            summary["facts"].append(len(record["facts"]))
            summary["labels"].append(json.dumps(Counter(e["label"] for e in record["entities"])))
            summary["errors"].append(json.dumps(record["errors"], ensure_ascii=False))
            summary["skipped"].append(json.dumps({reason: int(count)} if reason else {}))
        if rows["documents"]:
            write_part(self.parts, rows)
        return summary


def part_files(parts: Path, table: str) -> list[Path]:
    folder = parts / table
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def drop_orphan_parts(parts: Path) -> None:
    """Remove the parts of batches whose `documents` part was never written (an actor died between tables)."""
    whole = {path.name for path in part_files(parts, "documents")}
    for table in TABLES:
        for path in part_files(parts, table):
            if path.name not in whole:
                path.unlink()
        for path in (parts / table).glob(".*.partial") if (parts / table).is_dir() else []:
            path.unlink()


def prepare_parts(out: Path, resume: bool) -> Path:
    """The parts folder of OUT, ready for this run: emptied for a fresh run; for --resume, an interrupted run's
    parts kept (else a finished corpus's tables moved in as its first parts).

    Raises:
        OutputError: an interrupted local-engine run left its staging file (resume it with the local engine).
    """
    parts = out / PARTS
    if not resume or parts.exists():  # replaced anyway, or (next to parts) an interrupted merge of ours: redone
        remove_duckdb_file(partial_path(out))
    if partial_path(out).exists():
        raise OutputError(f"{out}: an interrupted local run left {partial_path(out).name}; complete it with "
                          "`--engine local --resume`, or start again with --overwrite")
    if not resume:
        shutil.rmtree(parts, ignore_errors=True)
    elif not parts.exists() and all((out / f"{table}.parquet").exists() for table in TABLES):
        name = f"part-{uuid.uuid4().hex}.parquet"
        for table in PART_ORDER:
            (parts / table).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / f"{table}.parquet", parts / table / name)
    parts.mkdir(parents=True, exist_ok=True)
    drop_orphan_parts(parts)
    return parts


def written_ids(parts: Path) -> frozenset:
    """The ids of the documents the parts hold."""
    files = part_files(parts, "documents")
    if not files:
        return frozenset()
    return frozenset(pq.ParquetDataset(files, schema=arrow_schema("documents")).read(["id"])["id"].to_pylist())


def merge_parts(out: Path, parts: Path) -> None:
    """Write each table's parts as OUT/TABLE.parquet through the local engine's own writer (`ParquetSink`: a
    staging DuckDB file, then one export per table), so that both engines write the same files; then drop the
    parts."""
    import duckdb

    sink = ParquetSink(out, resume=False)
    try:
        for table in TABLES:
            files = [str(path) for path in part_files(parts, table)]
            if files:
                sink.tables.con.execute(f'INSERT INTO "{table}" SELECT * FROM read_parquet(?)', [files])
    except duckdb.Error as exc:
        sink.discard()
        raise OutputError(f"{out}: cannot merge the parts ({exc}); they are kept: run again with --resume") from exc
    sink.commit()
    shutil.rmtree(parts)


def check_ray_run(inputs: list[Path], outputs: list[Path], resume: bool, overwrite: bool) -> None:
    """Refuse what the Ray engine cannot write, before anything starts.

    Raises:
        OutputError: not exactly one .parquet OUT, or an OUT that cannot be written (see `check_outputs`).
        InputError: an input does not exist or is not an input file.
    """
    if len(outputs) != 1 or outputs[0].suffix != ".parquet":
        raise OutputError("--engine ray writes one .parquet folder: give a single --out NAME.parquet "
                          "(convert with `vipie sql` afterwards, or use --engine local for .jsonl/.duckdb)")
    expand_inputs(inputs)
    out = outputs[0]
    check_outputs(outputs, inputs, resume, overwrite)
    if not (resume or overwrite) and (out / PARTS).exists():
        raise OutputError(f"{out}: an interrupted Ray run left {PARTS}; add --resume to complete it "
                          "or --overwrite to start again")


def import_ray():
    """Ray, imported only for `--engine ray`.

    Raises:
        VipieError: Ray is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise VipieError("--engine ray needs Ray: install it with `pip install -e .[ray]` (or `make ray`), "
                         "or use --engine local") from exc
    return ray


def run_ray_extraction(
    model_dir: Path | None,
    inputs: list[Path],
    outputs: list[Path],
    address: str | None = None,
    actors: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    meta_table: MetaTable = MetaTable(),
    sites=None,
    on_rejected: Callable[[dict], None] | None = None,
    init_options: dict | None = None,
) -> ExtractionStats:
    """Extract every input document into one `.parquet` OUT on a Ray cluster; returns counts and timing.

    Args:
        model_dir: the model folder each actor loads (None: the shipped default); every node must see it.
        address: the cluster to join (`ray start --head` printed it; "auto" finds a local one); None starts a
            Ray instance in this process unless one is already connected.
        actors: actors in the pool, one CPU each.
        init_options: more arguments of `ray.init` when this call starts or joins Ray (num_cpus, _temp_dir, ...).
        Other arguments as `pipeline.extract.run_extraction`.

    Raises:
        InputError, OutputError: the run cannot start; nothing was written.
        VipieError: Ray is missing or the cluster cannot be reached.
        Interrupted: SIGINT or SIGTERM stopped the run; the parts written stay for --resume.
    """
    check_ray_run(inputs, outputs, resume, overwrite)
    if model_dir is not None:
        check_model_dir(Path(model_dir))
    ray = import_ray()
    out = outputs[0]
    out.mkdir(parents=True, exist_ok=True)
    stats, started_ray = ExtractionStats(), not ray.is_initialized()
    if started_ray:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **(init_options or {}))
        except ConnectionError as exc:
            raise VipieError(f"cannot reach the Ray cluster at {address} ({exc}); check --address") from exc
    quiet_ray_data(ray)
    try:
        with output_lock(out), signals_stop_the_run() as stop:
            parts = prepare_parts(out, resume)
            done = written_ids(parts)
            started = time.perf_counter()
            units = ray.data.from_items(list(plan_units(inputs)))
            # Reading takes no CPU of its own (the actors hold them all, and it is light beside extraction), so its
            # tasks must be capped: without a cap Ray starts a worker process for every unit at once.
            documents = units.flat_map(read_unit, fn_kwargs={"max_chars": max_chars, "meta_table": meta_table,
                                                               "sites": sites, "done": done},
                                       num_cpus=0, concurrency=actors)
            summaries = documents.map_batches(
                Extractor, fn_constructor_kwargs={"model_dir": str(model_dir) if model_dir else None,
                                                  "parts": str(parts)},
                batch_size=UNIT_DOCUMENTS, concurrency=actors, num_cpus=1, batch_format="numpy")
            for batch in summaries.iter_batches(batch_size=None, batch_format="numpy"):
                add_summary(stats, batch, on_rejected)
                if stop.is_set():
                    break
            stats.seconds = time.perf_counter() - started
            if stop.signum:
                raise Interrupted(f"interrupted by {signal.Signals(stop.signum).name} after {stats.documents} "
                                  f"documents; the parts in {out / PARTS} hold them: run the same command with "
                                  "--resume to complete the corpus", stop.signum)
            merge_parts(out, parts)
    finally:
        if started_ray:
            ray.shutdown()
    return stats


def quiet_ray_data(ray) -> None:
    """No progress logs from Ray Data on stderr: the run's summary table says what happened."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def add_summary(stats: ExtractionStats, batch: dict, on_rejected: Callable[[dict], None] | None) -> None:
    """Count one batch of actor summaries into `stats`; report each rejected document."""
    for doc_id, syllables, facts, labels, errors, skipped in zip(*(batch[key] for key in SUMMARY), strict=True):
        for reason, count in json.loads(skipped).items():
            if reason == RESUMED:
                stats.skipped += count
            else:
                stats.skipped_records[reason] += count
        if not doc_id:
            continue
        stats.documents += 1
        stats.syllables += int(syllables)
        stats.facts += int(facts)
        stats.labels.update(json.loads(labels))
        errors = json.loads(errors)
        if errors:
            stats.rejected += 1
            if on_rejected:
                on_rejected({"id": str(doc_id), "errors": errors})
