"""`vipie extract`: articles in, the contract's JSONL or the structured corpus out."""

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli import app
from pipeline.document import DEFAULT_MAX_CHARS


@app.command()
def extract(
    inputs: list[Path] = typer.Argument(..., help=".txt files (id = file stem), .jsonl files of documents, or folders."),
    out: list[Path] = typer.Option(..., "--out", "-o", help="Output ending in .jsonl, .duckdb or .parquet; repeat to write several."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model folder; default: the shipped models/default."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Local processes."),
    resume: bool = typer.Option(False, "--resume", help="Skip documents the outputs already hold and append."),
    max_chars: int = typer.Option(DEFAULT_MAX_CHARS, "--max-chars", min=1, help="Reject longer documents."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
) -> None:
    """Extract entities and facts from articles (CONTRACT.md)."""
    import pipeline
    from pipeline.extract import run_extraction

    nlp = pipeline.load(model)
    console = Console(stderr=True)

    def report(record: dict) -> None:
        print(f"vipie: rejected {record['id']}: {'; '.join(record['errors'])}", file=sys.stderr)

    stats = run_extraction(nlp, inputs, out, workers=workers, resume=resume, max_chars=max_chars,
                           progress=not quiet and sys.stderr.isatty(), on_rejected=None if quiet else report)
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
