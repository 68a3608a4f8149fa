"""`vipie extract`: articles in, the contract's JSONL or the structured corpus out."""

import sys
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli import app
from pipeline.document import DEFAULT_MAX_CHARS
from pipeline.errors import Interrupted
from pipeline.extract import DocBudget


class Engine(str, Enum):
    local = "local"
    ray = "ray"


@app.command()
def extract(
    inputs: list[Path] = typer.Argument(..., help=".txt files (id = file stem), .jsonl files of documents, .html/.htm "
                                        "pages, .warc/.warc.gz archives, or folders of them."),
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
    meta: Path | None = typer.Option(
        None, "--meta", help="CSV of metadata: an id or path column (paths relative to the CSV), then fields such as "
                             "published, province, url, title."),
    site_provinces: Path | None = typer.Option(
        None, "--site-provinces", help="TSV of DOMAIN<TAB>PROVINCE for pages; default: the shipped "
                                       "pipeline/gazetteers/site_provinces.tsv."),
    engine: Engine = typer.Option(Engine.local, "--engine", help="local processes, or a Ray cluster (needs the "
                                                                 "[ray] extra; writes one .parquet OUT)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster to join (HOST:PORT or auto); "
                                                                "default: a Ray instance started for this run."),
    actors: int = typer.Option(1, "--actors", min=1, help="Ray actors, each loading the model once (one CPU each)."),
) -> None:
    """Extract entities and facts from articles (CONTRACT.md)."""
    from pipeline.document import MetaTable, read_meta_table
    from pipeline.extract import check_run
    from pipeline.web import load_site_provinces

    if engine is Engine.ray:
        from pipeline.ray_engine import check_ray_run

        check_ray_run(inputs, out, resume, overwrite)
    else:
        check_run(inputs, out, resume, overwrite)  # a bad path fails now, not after the model has loaded
    meta_table = read_meta_table(meta) if meta else MetaTable()
    sites = load_site_provinces(site_provinces) if site_provinces else None  # None: the shipped one, when needed
    budget = DocBudget(seconds_per_1000_chars=doc_timeout, memory_mb=doc_memory)
    try:
        if engine is Engine.ray:
            from pipeline.ray_engine import run_ray_extraction

            stats = run_ray_extraction(model, inputs, out, address=address, actors=actors, resume=resume,
                                       overwrite=overwrite, max_chars=max_chars, budget=budget, meta_table=meta_table,
                                       sites=sites, on_rejected=None if quiet else report)
        else:
            stats = run_local(model, inputs, out, workers, resume, overwrite, max_chars, budget, quiet, meta_table,
                              sites)
    except Interrupted as exc:
        print(f"vipie: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_status) from None
    if not quiet:
        Console(stderr=True).print(summary_table(stats.as_dict(), out))


def run_local(model, inputs, out, workers, resume, overwrite, max_chars, budget, quiet, meta_table, sites):
    """The local engine: the model loaded here, documents through forked workers (`run_extraction`)."""
    import pipeline
    from pipeline.extract import run_extraction

    try:
        nlp = pipeline.load(model)
    except KeyboardInterrupt:
        print("vipie: interrupted while loading the model; nothing was written", file=sys.stderr)
        raise typer.Exit(130) from None
    return run_extraction(nlp, inputs, out, workers=workers, resume=resume, overwrite=overwrite,
                          max_chars=max_chars, budget=budget, progress=not quiet and sys.stderr.isatty(),
                          on_rejected=None if quiet else report, meta_table=meta_table, sites=sites)


def report(record: dict) -> None:
    print(f"vipie: rejected {record['id']}: {'; '.join(record['errors'])}", file=sys.stderr)


def summary_table(stats: dict, outputs: list[Path]) -> Table:
    table = Table(title="vipie extract", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("documents", str(stats["documents"]))
    table.add_row("rejected (with errors)", str(stats["rejected"]))
    if stats["skipped"]:
        table.add_row("skipped (--resume)", str(stats["skipped"]))
    for reason, count in stats["skipped_records"].items():
        table.add_row(f"skipped: {reason}", str(count))
    for label, count in stats["entities"].items():
        table.add_row(f"entities {label}", str(count))
    table.add_row("facts", str(stats["facts"]))
    table.add_row("seconds (without model load)", f"{stats['seconds']:.2f}")
    table.add_row("syllables / second", f"{stats['syllables_per_second']:.0f}")
    table.add_row("written to", ", ".join(str(p) for p in outputs))
    return table
