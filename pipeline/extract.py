"""The extraction run: documents in, output records (CONTRACT.md) out, to one or more sinks.

Documents stream from the inputs in order to forked worker processes that
inherit the loaded model (also with one worker, so that any document can be
stopped without stopping the run). Records are written in input order whatever
the number of workers, and only a bounded window of documents is in flight, so
memory stays flat however large the corpus. A document that fails becomes a
record with `errors` and the run goes on: an exception in the pipeline, a
document past its time budget (its worker is killed and replaced) or its memory
limit, or one whose worker died under it. SIGINT and SIGTERM stop the run
between documents: every finished document is written, the outputs are
committed, and `--resume` completes them to what an uninterrupted run writes.
"""

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.corpus import check_outputs, open_outputs
from pipeline.document import Document, MetaTable, expand_inputs, input_kind, iter_documents
from pipeline.errors import Interrupted

# Documents each worker may have waiting besides the one it runs, and how far past the next record to
# write the run may read ahead: together they bound what is held in memory.
QUEUED_PER_WORKER = 1
WINDOW_PER_WORKER = 16
POLL_SECONDS = 0.2
WORKER_DIED = "processing failed: its worker process died (killed, crashed or out of memory)"
PR_SET_PDEATHSIG = 1

_worker_nlp = None  # the loaded model, inherited by the forked workers; set while a pool runs


@dataclass
class ExtractionStats:
    documents: int = 0
    rejected: int = 0
    skipped: int = 0
    syllables: int = 0
    facts: int = 0
    seconds: float = 0.0
    labels: Counter = field(default_factory=Counter)
    skipped_records: Counter = field(default_factory=Counter)  # WARC records that are not pages, by reason

    def add(self, other: "ExtractionStats") -> None:
        """Count in what `other` counted (a part of the same run, done elsewhere); the run's seconds stay."""
        for name in ("documents", "rejected", "skipped", "syllables", "facts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.labels.update(other.labels)
        self.skipped_records.update(other.skipped_records)

    def as_dict(self) -> dict:
        rate = self.syllables / self.seconds if self.seconds else 0.0
        return {"documents": self.documents, "rejected": self.rejected, "skipped": self.skipped,
                "syllables": self.syllables, "facts": self.facts, "seconds": round(self.seconds, 3),
                "syllables_per_second": round(rate, 1), "entities": dict(sorted(self.labels.items())),
                "skipped_records": dict(sorted(self.skipped_records.items()))}


@dataclass(frozen=True)
class DocBudget:
    """What one document may take before it becomes an error record and the run goes on.

    Time: `seconds_per_1000_chars` per thousand characters, and at least
    `min_seconds`; a normal article needs under 0.2 s per thousand on one core.
    Memory: `memory_mb` of resident memory per worker beyond the loaded model
    (what the run's process holds when its workers start); a normal article
    adds under 100 MB.
    """

    seconds_per_1000_chars: float = 3.0
    min_seconds: float = 10.0
    memory_mb: int = 2048

    def seconds(self, chars: int) -> float:
        return max(self.min_seconds, self.seconds_per_1000_chars * chars / 1000)


def to_record(document: Document, doc) -> dict:
    """The contract's output record for a processed spaCy `Doc` (or for a rejected document when `doc` is None)."""
    record = {"id": document.id, "text": document.text, "meta": dict(document.meta), "entities": [], "facts": [],
              "errors": list(document.errors)}
    if doc is None:
        if document.warnings:
            record["warnings"] = list(document.warnings)
        return record
    record["meta"] = doc._.meta
    record["province"] = doc._.province
    record["entities"] = [
        {"start": e.start_char, "end": e.end_char, "label": e.label_, "text": e.text, "score": e._.score,
         "source": e._.source}
        for e in doc.ents
    ]
    record["facts"] = doc._.facts or []
    record["officials"] = doc._.officials or []
    record["syllables"] = sum(1 for t in doc if not (t.is_space or t.is_punct))
    warnings = document.warnings + (doc._.warnings or [])  # what reading repaired, then what the pipeline noticed
    if warnings:
        record["warnings"] = warnings
    return record


def error_record(document: Document, reason: str) -> dict:
    """The record of a document that could not be processed: no entities or facts, `reason` in `errors`."""
    return to_record(Document(document.id, document.text, document.meta, [reason], document.warnings), None)


def process_document(nlp, document: Document) -> dict:
    """Run the pipeline on one document; an exception inside it is recorded in `errors`."""
    from pipeline import process

    if document.errors:  # rejected when read: nothing to extract
        return to_record(document, None)
    try:
        return to_record(document, process(nlp, document.text, document.meta))
    except Exception as exc:  # noqa: BLE001  (one bad document must not stop a batch of thousands)
        return error_record(document, f"processing failed: {type(exc).__name__}: {exc}")


def _init_worker(parent: int) -> None:
    """Prepare a forked worker: the parent alone decides when the run stops, and the worker never outlives it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent stops cleanly
    if sys.platform.startswith("linux"):
        # Killed with its parent (kill -9 too): no orphan keeps a CPU busy or the outputs' locks held.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)


def resident_bytes(pid: int | str) -> int:
    """The resident memory of a process (0 once it is gone). Resident, not virtual: thread stacks, malloc arenas
    and GPU contexts reserve address space they never use, so a cap on address space would fail good documents."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (FileNotFoundError, ProcessLookupError):
        return 0


def _process_in_worker(report_fd: int, seq: int, document: Document) -> dict:
    # One write shorter than PIPE_BUF is atomic: no lock a killed worker could leave held, unlike a queue.
    os.write(report_fd, f"{seq} {os.getpid()}\n".encode())
    return process_document(_worker_nlp, document)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended on its own meanwhile


@dataclass
class InFlight:
    document: Document
    future: Future
    pid: int | None = None
    started: float | None = None  # when the worker took it, on this process's clock


class WorkerPool:
    """Forked workers that process documents within a budget and survive what a document does to them.

    A document past its time or memory budget has its worker killed and is
    recorded as such. A worker that dies breaks the executor, which is replaced: the
    other documents in flight are submitted again, and when the death is not
    explained they rerun one at a time, so that only a document that kills a
    worker on its own is recorded as failed.
    """

    def __init__(self, nlp, workers: int, budget: DocBudget, stopping: Callable[[], bool]):
        global _worker_nlp
        _worker_nlp = nlp
        self.workers = workers
        self.budget = budget
        self.memory_limit = resident_bytes("self") + (budget.memory_mb << 20)  # a fresh fork holds what we hold
        self.stopping = stopping
        # What the parent holds (the model above all) leaves the collector's care before the workers fork: their full
        # collections then neither walk it nor write to its pages, which would copy them into every worker (40 seed
        # documents: 0.2 s of a worker's collections down to 0.04 s, 17 MB fewer copied pages). It is given back when
        # the pool closes, unless the caller had frozen objects itself.
        self.froze = gc.get_freeze_count() == 0
        if self.froze:
            gc.freeze()
        self.reports, self.report_fd = os.pipe()  # workers say here which document they took
        os.set_blocking(self.reports, False)
        self.unread = b""
        self.executor = self._new_executor()
        self.in_flight: dict[int, InFlight] = {}
        self.suspects: list[tuple[int, Document]] = []
        self.isolating = False
        self.killed: dict[int, str] = {}

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_init_worker, initargs=(os.getpid(),))

    def has_room(self) -> bool:
        """Whether another document may be submitted (not while suspects of a worker's death rerun alone)."""
        return not (self.suspects or self.isolating) and len(self.in_flight) < self.workers * (1 + QUEUED_PER_WORKER)

    def idle(self) -> bool:
        return not (self.in_flight or self.suspects)

    def submit(self, seq: int, document: Document) -> None:
        try:
            future = self.executor.submit(_process_in_worker, self.report_fd, seq, document)
        except BrokenProcessPool as exc:  # broken since the last poll: the next poll replaces it
            future = Future()
            future.set_exception(exc)
        self.in_flight[seq] = InFlight(document, future)

    def poll(self) -> list[tuple[int, dict]]:
        """Wait a moment for documents to finish; returns the finished ones as (seq, record), in any order."""
        wait([item.future for item in self.in_flight.values()], POLL_SECONDS, FIRST_COMPLETED)
        self._read_reports()
        finished, broken = [], False
        for seq, item in list(self.in_flight.items()):
            if not item.future.done():
                continue
            exc = item.future.exception()
            if isinstance(exc, BrokenProcessPool):
                broken = True
                continue
            del self.in_flight[seq]
            self.killed.pop(seq, None)
            record = item.future.result() if exc is None else error_record(
                item.document, f"processing failed: {type(exc).__name__}: {exc}")
            finished.append((seq, record))
        if broken:
            finished.extend(self._replace_executor())
        else:
            self._enforce_budget()
        if not self.in_flight:
            self.isolating = False
            if self.suspects and not self.stopping():
                self.isolating = True
                self.submit(*self.suspects.pop(0))
        return finished

    def _read_reports(self) -> None:
        """Note which worker took which document, and when: its time budget starts then."""
        while True:
            try:
                chunk = os.read(self.reports, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.unread += chunk
        *lines, self.unread = self.unread.split(b"\n")
        now = time.monotonic()
        for line in lines:
            seq, pid = map(int, line.split())
            if seq in self.in_flight:
                self.in_flight[seq].pid, self.in_flight[seq].started = pid, now

    def _enforce_budget(self) -> None:
        """Kill the worker of each document past its time or memory budget; the break that follows records it."""
        now = time.monotonic()
        for seq, item in self.in_flight.items():
            if item.started is None or seq in self.killed or item.future.done():
                continue
            seconds = self.budget.seconds(len(item.document.text))
            if now - item.started > seconds:
                self.killed[seq] = f"timed out after {round(seconds, 1):g} s (raise --doc-timeout to allow more)"
            elif resident_bytes(item.pid) > self.memory_limit:
                self.killed[seq] = (f"memory limit: processing it took over {self.budget.memory_mb} MB beyond the "
                                    "model (raise --doc-memory to allow more)")
            else:
                continue
            _kill(item.pid)

    def _replace_executor(self) -> list[tuple[int, dict]]:
        """After a worker died: record what is known to have killed it, start a fresh executor, resubmit the rest."""
        self.executor.shutdown(wait=True)  # its manager thread fails every pending future, then stops its workers
        self._read_reports()  # every worker is gone: what they reported is all in the pipe
        finished, again = [], []
        for seq, item in sorted(self.in_flight.items()):
            if item.future.done() and item.future.exception() is None:  # finished just before the break
                finished.append((seq, item.future.result()))
            elif seq in self.killed:
                finished.append((seq, error_record(item.document, self.killed[seq])))
            elif self.isolating:
                finished.append((seq, error_record(item.document, WORKER_DIED)))
            elif self.killed or item.pid is None:  # not the cause: its worker was killed by us, or it never ran
                again.append((seq, item.document))
            else:
                self.suspects.append((seq, item.document))
        self.in_flight.clear()
        self.killed.clear()
        self.isolating = False
        self.suspects.sort(key=lambda suspect: suspect[0])
        self.executor = self._new_executor()
        if not self.stopping():  # a signal to the whole group kills workers too: the run is ending anyway
            for seq, document in again:
                self.submit(seq, document)
        return finished

    def close(self) -> None:
        """Stop every worker now (those still running a document are killed) and release the model."""
        global _worker_nlp
        for item in self.in_flight.values():
            if item.pid and not item.future.done():
                _kill(item.pid)
        self.executor.shutdown(wait=True, cancel_futures=True)
        os.close(self.reports)
        os.close(self.report_fd)
        _worker_nlp = None
        if self.froze:
            gc.unfreeze()


class OrderedWriter:
    """Writes each record to the sinks that lack it, in input order whatever order documents finish in."""

    def __init__(self, stats: ExtractionStats, bar=None, on_rejected: Callable[[dict], None] | None = None):
        self.stats = stats
        self.bar = bar
        self.on_rejected = on_rejected
        self.next_seq = 0
        self.targets: dict[int, list] = {}
        self.finished: dict[int, dict] = {}

    def expect(self, seq: int, sinks: list) -> None:
        self.targets[seq] = sinks

    def add(self, seq: int, record: dict) -> None:
        self.finished[seq] = record
        while self.next_seq in self.finished:
            self._write(self.finished.pop(self.next_seq), self.targets.pop(self.next_seq))
            self.next_seq += 1

    def _write(self, record: dict, sinks: list) -> None:
        syllables = record.pop("syllables", 0)
        for sink in sinks:
            sink.write(record)
        self.stats.documents += 1
        self.stats.syllables += syllables
        self.stats.facts += len(record["facts"])
        self.stats.labels.update(e["label"] for e in record["entities"])
        if record["errors"]:
            self.stats.rejected += 1
            if self.on_rejected:
                self.on_rejected(record)
        if self.bar is not None:
            self.bar.update(1)


class StopSignal:
    """The first SIGINT or SIGTERM, noted rather than raised, so that the run stops between two documents."""

    def __init__(self):
        self.signum: int | None = None

    def note(self, signum: int, frame) -> None:
        self.signum = self.signum or signum

    def is_set(self) -> bool:
        return self.signum is not None


@contextmanager
def signals_stop_the_run() -> Iterator[StopSignal]:
    """Within the block SIGINT and SIGTERM only set the returned flag (signals reach the main thread alone)."""
    stop = StopSignal()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.signal(signum, stop.note) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def documents_to_do(documents: Iterable[Document], sinks: list, stats: ExtractionStats,
                    bar) -> Iterator[tuple[Document, list]]:
    """Each document with the sinks that still lack it; one that every sink holds is skipped (--resume).

    A sink that holds an id n times holds its first n documents (outputs keep
    input order), so a repeated id is redone from its first missing occurrence.
    """
    seen: Counter = Counter()
    for document in documents:
        seen[document.id] += 1
        lacking = [sink for sink in sinks if sink.done[document.id] < seen[document.id]]
        if lacking:
            yield document, lacking
        else:
            stats.skipped += 1
            bar.update(1)


def feed(todo: Iterator[tuple[Document, list]], pool: WorkerPool, writer: OrderedWriter, stop: StopSignal,
         window: int) -> None:
    """Move documents through the pool to the writer until all are written or a signal stops the run."""
    seq, exhausted = 0, False
    while not stop.is_set():
        while not exhausted and pool.has_room() and seq < writer.next_seq + window:
            item = next(todo, None)
            if item is None:
                exhausted = True
                break
            document, sinks = item
            writer.expect(seq, sinks)
            if document.errors:  # rejected when read: nothing to process
                writer.add(seq, to_record(document, None))
            else:
                pool.submit(seq, document)
            seq += 1
        if pool.idle():
            if exhausted:
                return
            continue
        for done_seq, record in pool.poll():
            writer.add(done_seq, record)


def count_documents(inputs: list[Path]) -> int | None:
    """How many documents the inputs hold (non-blank JSONL lines count one each), for the progress bar; None when
    a WARC archive is among them (only reading it through tells)."""
    total = 0
    for path in expand_inputs(inputs):
        kind = input_kind(path)
        if kind == "warc":
            return None
        if kind == "jsonl":
            with path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        else:
            total += 1
    return total


def check_run(inputs: list[Path], outputs: list[Path], resume: bool = False, overwrite: bool = False) -> None:
    """Refuse missing inputs and bad outputs before anything is loaded or written.

    Raises:
        InputError: an input does not exist or is not an input file (by its name) or a folder.
        OutputError: an output cannot be written, is also an input, or exists without --resume/--overwrite.
    """
    expand_inputs(inputs)
    check_outputs(outputs, inputs, resume, overwrite)


def run_extraction(
    nlp,
    inputs: list[Path],
    outputs: list[Path],
    workers: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    max_chars: int = 1_000_000,
    budget: DocBudget = DocBudget(),
    progress: bool = False,
    on_rejected: Callable[[dict], None] | None = None,
    meta_table: MetaTable = MetaTable(),
    sites=None,
) -> ExtractionStats:
    """Extract every input document into every output; returns counts and timing.

    Args:
        nlp: the loaded pipeline (`pipeline.load()`).
        inputs: .txt, .jsonl, .html/.htm, .warc/.warc.gz files and folders.
        outputs: paths ending in .jsonl, .duckdb or .parquet; one that exists is replaced only with `overwrite`.
        workers: worker processes (forked, sharing the model).
        resume: skip documents every output already holds, and append the rest.
        overwrite: replace outputs that exist.
        max_chars: documents longer than this are rejected with an error record.
        budget: the time and memory one document may take before it becomes an error record.
        progress: show a progress bar on stderr.
        on_rejected: called with each record that carries errors (for reporting).
        meta_table: metadata rows (`--meta`) merged into the documents they match.
        sites: the domain → province mapping for pages (`pipeline.web.SiteProvinces`); default: the shipped one.

    Raises:
        InputError, OutputError: the run cannot start; nothing was written.
        Interrupted: SIGINT or SIGTERM stopped the run; the outputs hold every finished document.
    """
    from tqdm import tqdm

    check_run(inputs, outputs, resume, overwrite)
    stats = ExtractionStats()
    started = time.perf_counter()
    bar = tqdm(total=count_documents(inputs) if progress else None, disable=not progress, unit="doc",
               file=sys.stderr, desc="extract")
    try:
        with (signals_stop_the_run() as stop, open_outputs(outputs, inputs, resume, overwrite) as sinks,
              WorkerPool(nlp, workers, budget, stop.is_set) as pool):
            documents = iter_documents(inputs, max_chars, meta_table, sites, stats.skipped_records)
            todo = documents_to_do(documents, sinks, stats, bar)
            feed(todo, pool, OrderedWriter(stats, bar, on_rejected), stop, WINDOW_PER_WORKER * workers)
    finally:
        bar.close()
    stats.seconds = time.perf_counter() - started
    if stop.signum:
        raise Interrupted(f"interrupted by {signal.Signals(stop.signum).name} after {stats.documents} documents; "
                          "the outputs hold every finished one: run the same command with --resume to complete them",
                          stop.signum)
    return stats
