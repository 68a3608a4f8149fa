"""The extraction run: documents in, output records (CONTRACT.md) out, to one or more sinks.

Documents stream from the inputs in order; with several workers they are
processed in bounded batches by forked processes that share the loaded model,
so memory stays flat however large the corpus. A document that fails inside
the pipeline becomes a record with `errors`, never a crash of the run.
"""

import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from pipeline.corpus import open_sink
from pipeline.document import Document, expand_inputs, iter_documents

BATCH_PER_WORKER = 16

_worker_nlp = None


@dataclass
class ExtractionStats:
    documents: int = 0
    rejected: int = 0
    skipped: int = 0
    syllables: int = 0
    facts: int = 0
    seconds: float = 0.0
    labels: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        rate = self.syllables / self.seconds if self.seconds else 0.0
        return {"documents": self.documents, "rejected": self.rejected, "skipped": self.skipped,
                "syllables": self.syllables, "facts": self.facts, "seconds": round(self.seconds, 3),
                "syllables_per_second": round(rate, 1), "entities": dict(sorted(self.labels.items()))}


def to_record(document: Document, doc) -> dict:
    """The contract's output record for a processed spaCy `Doc` (or for a rejected document when `doc` is None)."""
    record = {"id": document.id, "text": document.text, "meta": dict(document.meta), "entities": [], "facts": [],
              "errors": list(document.errors)}
    if doc is None:
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
    if doc._.warnings:
        record["warnings"] = doc._.warnings
    return record


def process_document(nlp, document: Document) -> dict:
    """Run the pipeline on one document; an exception inside it is recorded in `errors`."""
    from pipeline import process

    if document.errors:  # rejected when read: nothing to extract
        return to_record(document, None)
    try:
        return to_record(document, process(nlp, document.text, document.meta))
    except Exception as exc:  # noqa: BLE001  (one bad document must not stop a batch of thousands)
        failed = Document(document.id, document.text, document.meta, [f"processing failed: {type(exc).__name__}: {exc}"])
        return to_record(failed, None)


def _process_in_worker(document: Document) -> dict:
    return process_document(_worker_nlp, document)


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def count_documents(inputs: list[Path]) -> int:
    """How many documents the inputs hold (non-blank JSONL lines count one each), for the progress bar."""
    total = 0
    for path in expand_inputs(inputs):
        if path.suffix == ".jsonl":
            with path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        else:
            total += 1
    return total


def run_extraction(
    nlp,
    inputs: list[Path],
    outputs: list[Path],
    workers: int = 1,
    resume: bool = False,
    max_chars: int = 1_000_000,
    progress: bool = False,
    on_rejected: Callable[[dict], None] | None = None,
) -> ExtractionStats:
    """Extract every input document into every output; returns counts and timing.

    Args:
        nlp: the loaded pipeline (`pipeline.load()`).
        inputs: .txt files, .jsonl files and folders.
        outputs: paths ending in .jsonl, .duckdb or .parquet.
        workers: processes to use; 1 runs in this process.
        resume: skip documents whose id every output already holds, and append.
        max_chars: documents longer than this are rejected with an error record.
        progress: show a progress bar on stderr.
        on_rejected: called with each record that carries errors (for reporting).
    """
    from tqdm import tqdm

    global _worker_nlp
    sinks = [open_sink(path, resume) for path in outputs]
    done = set.intersection(*(sink.done for sink in sinks)) if resume else set()
    stats = ExtractionStats()
    started = time.perf_counter()
    documents = iter_documents(inputs, max_chars)
    bar = tqdm(total=count_documents(inputs) if progress else None, disable=not progress, unit="doc",
               file=sys.stderr, desc="extract")
    pool = None
    try:
        if workers > 1:
            _worker_nlp = nlp
            pool = multiprocessing.get_context("fork").Pool(workers)
        for batch in batched(documents, BATCH_PER_WORKER * max(workers, 1)):
            todo = [d for d in batch if d.id not in done]
            stats.skipped += len(batch) - len(todo)
            bar.update(len(batch) - len(todo))
            records = pool.imap(_process_in_worker, todo) if pool else (process_document(nlp, d) for d in todo)
            for record in records:
                syllables = record.pop("syllables", 0)
                for sink in sinks:
                    if record["id"] not in sink.done:
                        sink.write(record)
                stats.documents += 1
                stats.syllables += syllables
                stats.facts += len(record["facts"])
                stats.labels.update(e["label"] for e in record["entities"])
                if record["errors"]:
                    stats.rejected += 1
                    if on_rejected:
                        on_rejected(record)
                bar.update(1)
    finally:
        bar.close()
        if pool:
            pool.close()
            pool.join()
        _worker_nlp = None
        for sink in sinks:
            sink.close()
    stats.seconds = time.perf_counter() - started
    return stats
