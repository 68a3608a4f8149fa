"""The Ray Data engine (`vipie extract --engine ray`): the local engine's pipeline and tables, on a Ray cluster.

The driver plans the work without reading documents: a unit is a piece of a
JSONL file (`UNIT_DOCUMENTS` lines), a group of `.txt`/`.html` files, or one
WARC archive, numbered in input order. The units are a Ray Dataset that
`map_batches` sends through a fixed pool of actors, one CPU each (`Extractor`).
An actor loads the model once; for each unit it reads the documents with the
local engine's readers (`unit_documents`: same ids, metadata, sidecars, `--meta`
rows, site provinces and error records) and runs them through the local
engine's worker pool (`pipeline.extract.WorkerPool`, one forked worker), so the
per-document time and memory budget hold as there: a document that hangs,
crashes its worker or exhausts memory becomes an error record, and the actor
goes on. Reading in the actor keeps the driver's core free of the work: no
reading tasks, no documents through the object store.

Every `UNIT_DOCUMENTS` documents of a unit become one Parquet part per table
under `OUT.parquet/.parts/`, named by the unit's number and the position of its
first document; the actor returns the driver only counts and the errors of
rejected documents, so the driver's memory does not grow with the corpus, and
every node must see OUT (a shared file system). At the end the parts of each
table, in name order (input order), become `OUT.parquet/TABLE.parquet` through
the local engine's writer (`ParquetSink`), so both engines write the same rows
in the same order. `--resume` keeps what is written (the parts of an
interrupted run, or the tables of a finished one, moved in as the first part)
and skips the ids it holds.
"""

import json
import logging
import os
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import check_model_dir
from pipeline.corpus import (TABLES, ParquetSink, arrow_schema, check_outputs, output_lock, partial_path,
                             remove_duckdb_file, replace_file, table_rows)
from pipeline.document import (DEFAULT_MAX_CHARS, Document, MetaTable, expand_inputs, file_documents, input_kind,
                               jsonl_pieces, read_jsonl, with_table_meta)
from pipeline.errors import Interrupted, OutputError, VipieError
from pipeline.extract import (WINDOW_PER_WORKER, DocBudget, ExtractionStats, OrderedWriter, StopSignal, WorkerPool,
                              feed, signals_stop_the_run)

PARTS = ".parts"
ADOPTING = ".parts-adopting"  # a finished corpus's tables on their way into PARTS (--resume)
BASE = "base.parquet"  # the part of a finished corpus taken in by --resume: first in every table
# The documents part of a batch is written last: a batch whose documents part exists is complete (resume).
PART_ORDER = [*(t for t in TABLES if t != "documents"), "documents"]
# Documents per unit of reading and per part: an actor call of about a second for short news items, so that
# Ray's cost per call stays small beside extraction while the units still spread over the actors.
UNIT_DOCUMENTS = 64
TASKS_PER_ACTOR = 2  # units sent ahead to each actor: one running, one waiting, so no actor idles between units


def plan_units(inputs: list[Path], unit_documents: int = UNIT_DOCUMENTS) -> Iterator[dict]:
    """The units of reading of `inputs`, numbered (`seq`) in input order, for `unit_documents` (bytes are scanned,
    never kept; `end` -1: to the end of the file)."""
    for seq, unit in enumerate(unplanned_units(inputs, unit_documents)):
        yield {"seq": seq, **unit}


def unplanned_units(inputs: list[Path], unit_documents: int) -> Iterator[dict]:
    """The units of `plan_units`, not yet numbered."""
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


@dataclass(frozen=True)
class Reading:
    """How an actor reads its units: the local engine's reading options, and the ids written already (--resume)."""

    max_chars: int
    meta_table: MetaTable
    sites: object  # pipeline.web.SiteProvinces, or None: the shipped mapping
    done: frozenset


class PartRows:
    """A sink, as those of `pipeline.corpus`, that keeps the table rows of what is written to it: one part."""

    def __init__(self):
        self.tables: dict[str, list[dict]] = {table: [] for table in TABLES}

    def write(self, record: dict) -> None:
        for table, rows in table_rows(record).items():
            self.tables[table].extend(rows)


def numbered_chunks(items: Iterable, size: int) -> Iterator[tuple[int, list]]:
    """Consecutive chunks of `size` items, each with the position of its first item."""
    iterator, first = iter(items), 0
    while chunk := list(islice(iterator, size)):
        yield first, chunk
        first += len(chunk)


def extract_unit(pool: WorkerPool, unit: dict, reading: Reading, parts: Path) -> dict:
    """Extract the documents of `unit` not in `reading.done` through `pool`, writing one part per `UNIT_DOCUMENTS`
    of them; returns the unit's counts (`ExtractionStats` as a dict) and the rejected documents' ids and errors."""
    stats, rejected = ExtractionStats(), []

    def note_rejected(record: dict) -> None:
        rejected.append({"id": record["id"], "errors": record["errors"]})

    documents = unit_documents(unit, reading.max_chars, reading.meta_table, reading.sites, stats.skipped_records)
    for first, chunk in numbered_chunks(documents, UNIT_DOCUMENTS):
        todo = [document for document in chunk if document.id not in reading.done]
        stats.skipped += len(chunk) - len(todo)
        part = PartRows()
        writer = OrderedWriter(stats, on_rejected=note_rejected)
        feed(((document, [part]) for document in todo), pool, writer, StopSignal(), WINDOW_PER_WORKER)
        if todo:
            write_part(parts, f"part-{unit['seq']:09d}-{first:09d}.parquet", part.tables)
    return {"stats": vars(stats), "rejected": rejected}


def write_part(parts: Path, name: str, rows: dict[str, list[dict]]) -> None:
    """One Parquet part per table, the `documents` part last and each moved into place whole: a batch counts as
    written (for --resume) only once its documents part exists. A unit done again (Ray retries the call of an
    actor that died) replaces its parts: no row twice."""
    for table in PART_ORDER:
        folder = parts / table
        folder.mkdir(parents=True, exist_ok=True)
        working = folder / f".{name}.partial"
        pq.write_table(pa.Table.from_pylist(rows[table], schema=arrow_schema(table)), working)
        replace_file(working, folder / name)


class Extractor:
    """A Ray actor: loads the model once, then turns units into Parquet parts and one summary (JSON) per unit."""

    def __init__(self, model_dir: str | None, parts: str, reading: Reading, budget: DocBudget):
        import pipeline

        # Never stopped from inside: the driver's signal ends the whole dataset, this actor and its worker with it.
        self.pool = WorkerPool(pipeline.load(model_dir), 1, budget, stopping=lambda: False)
        self.parts = Path(parts)
        self.reading = reading

    def __call__(self, batch: dict) -> dict:
        return {"summary": [json.dumps(extract_unit(self.pool, json.loads(unit), self.reading, self.parts),
                                       ensure_ascii=False) for unit in batch["unit"]]}


def part_files(parts: Path, table: str) -> list[Path]:
    """The parts of `table` in input order: a finished corpus's table taken in by --resume, then the actors' parts
    by unit and position."""
    folder = parts / table
    if not folder.is_dir():
        return []
    base = [folder / BASE] if (folder / BASE).exists() else []
    return base + sorted(folder.glob("part-*.parquet"))


def drop_orphan_parts(parts: Path) -> None:
    """Remove the parts of batches whose `documents` part was never written (an actor died between tables)."""
    whole = {path.name for path in part_files(parts, "documents")}
    for table in TABLES:
        for path in part_files(parts, table):
            if path.name not in whole:
                path.unlink()
        for path in (parts / table).glob(".*.partial") if (parts / table).is_dir() else []:
            path.unlink()


def adopt_finished_corpus(out: Path) -> None:
    """For --resume of a finished corpus (its tables, no parts): move its tables in as the first part of each, all
    at once (through ADOPTING, renamed to PARTS at the end); a move that was interrupted is completed."""
    adopting = out / ADOPTING
    if not adopting.exists():
        if (out / PARTS).exists() or not all((out / f"{table}.parquet").exists() for table in TABLES):
            return
        adopting.mkdir()
    for table in TABLES:
        table_file = out / f"{table}.parquet"
        if table_file.exists():
            (adopting / table).mkdir(exist_ok=True)
            os.replace(table_file, adopting / table / BASE)
    os.replace(adopting, out / PARTS)


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
    if resume:
        adopt_finished_corpus(out)
    else:
        shutil.rmtree(parts, ignore_errors=True)
        shutil.rmtree(out / ADOPTING, ignore_errors=True)
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
    """Write each table's parts, in input order, as OUT/TABLE.parquet through the local engine's own writer
    (`ParquetSink`), so that both engines write the same files; then drop the parts."""
    import duckdb

    sink = ParquetSink(out, resume=False)
    try:
        for table in TABLES:
            files = part_files(parts, table)
            if files:
                sink.append_parquet(table, files)
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
    budget: DocBudget = DocBudget(),
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
        budget: the time and memory one document may take in an actor's worker before it becomes an error record.
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
            reading = Reading(max_chars, meta_table, sites, written_ids(parts))
            started = time.perf_counter()
            units = [{"unit": json.dumps(unit)} for unit in plan_units(inputs)]
            # One block per unit: Ray hands each actor one unit at a time, so the units spread evenly.
            summaries = ray.data.from_items(units, override_num_blocks=max(1, len(units))).map_batches(
                Extractor, fn_constructor_kwargs={"model_dir": str(model_dir) if model_dir else None,
                                                  "parts": str(parts), "reading": reading, "budget": budget},
                batch_size=1, num_cpus=1, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=TASKS_PER_ACTOR))
            for batch in summaries.iter_batches(batch_size=None, batch_format="numpy"):
                for summary in batch["summary"]:
                    add_summary(stats, json.loads(summary), on_rejected)
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


def add_summary(stats: ExtractionStats, summary: dict, on_rejected: Callable[[dict], None] | None) -> None:
    """Count one unit's summary (`extract_unit`) into `stats`; report each rejected document."""
    counts = summary["stats"]
    stats.add(ExtractionStats(**{**counts, "labels": Counter(counts["labels"]),
                                 "skipped_records": Counter(counts["skipped_records"])}))
    for record in summary["rejected"] if on_rejected else []:
        on_rejected(record)
