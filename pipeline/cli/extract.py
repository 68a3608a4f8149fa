"""`vipie extract`: articles in, the contract's JSONL or the structured corpus out."""

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli import app
from pipeline.document import DEFAULT_MAX_CHARS
from pipeline.errors import Interrupted
from pipeline.extract import DocBudget


@app.command()
def extract(
    inputs: list[Path] = typer.Argument(..., help=".txt files (id = file stem), .jsonl files of documents, or folders."),
    out: list[Path] = typer.Option(..., "--out", "-o", help="Output ending in .jsonl, .duckdb or .parquet; repeat to write several."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model folder; default: the shipped models/default."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Local processes."),
    resume: bool = typer.Option(False, "--resume", help="Skip documents the outputs already hold and append."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace outputs that exist (refused without it)."),
    max_chars: int = typer.Option(DEFAULT_MAX_CHARS, "--max-chars", min=1, help="Reject longer documents."),
    doc_timeout: float = typer.Option(
        DocBudget.seconds_per_1000_chars, "--doc-timeout", min=0.001,
        help=f"Seconds a document may take per 1,000 characters (at least {DocBudget.min_seconds:g} s); "
             "past it, it becomes an error record."),
    doc_memory: int = typer.Option(
        DocBudget.memory_mb, "--doc-memory", min=64,
        help="MB of memory a worker may take beyond the loaded model; past it, the document becomes an error record."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
) -> None:
    """Extract entities and facts from articles (CONTRACT.md)."""
    import pipeline
    from pipeline.extract import check_run, run_extraction

    check_run(inputs, out, resume, overwrite)  # a bad path fails now, not after the model has loaded
    try:
        nlp = pipeline.load(model)
    except KeyboardInterrupt:
        print("vipie: interrupted while loading the model; nothing was written", file=sys.stderr)
        raise typer.Exit(130) from None
    console = Console(stderr=True)

    def report(record: dict) -> None:
        print(f"vipie: rejected {record['id']}: {'; '.join(record['errors'])}", file=sys.stderr)

    budget = DocBudget(seconds_per_1000_chars=doc_timeout, memory_mb=doc_memory)
    try:
        stats = run_extraction(nlp, inputs, out, workers=workers, resume=resume, overwrite=overwrite,
                               max_chars=max_chars, budget=budget, progress=not quiet and sys.stderr.isatty(),
                               on_rejected=None if quiet else report)
    except Interrupted as exc:
        print(f"vipie: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_status) from None
    if not quiet:
        console.print(summary_table(stats.as_dict(), out))


def summary_table(stats: dict, outputs: list[Path]) -> Table:
    table = Table(title="vipie extract", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("documents", str(stats["documents"]))
    table.add_row("rejected (with errors)", str(stats["rejected"]))
    if stats["skipped"]:
        table.add_row("skipped (--resume)", str(stats["skipped"]))
    for label, count in stats["entities"].items():
        table.add_row(f"entities {label}", str(count))
    table.add_row("facts", str(stats["facts"]))
    table.add_row("seconds (without model load)", f"{stats['seconds']:.2f}")
    table.add_row("syllables / second", f"{stats['syllables_per_second']:.0f}")
    table.add_row("written to", ", ".join(str(p) for p in outputs))
    return table
