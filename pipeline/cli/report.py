"""`vipie report`: a structured corpus as one self-contained HTML report with interactive charts."""

from pathlib import Path

import typer

from pipeline.cli import app
from pipeline.cli.sql import connect_corpus


@app.command()
def report(
    corpus: Path = typer.Argument(..., help="A .duckdb file or a .parquet folder written by `vipie extract`."),
    out: Path = typer.Option(..., "--out", "-o", help="The report to write, ending in .html."),
    title: str = typer.Option("vipie: corpus report", "--title", help="The report's title."),
    top: int = typer.Option(20, "--top", min=1, help="How many indicators the chart of indicators shows."),
    max_rows: int = typer.Option(100_000, "--max-rows", min=1,
                                 help="Facts the searchable table holds at most (the charts count them all)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists (refused without it)."),
) -> None:
    """Write an HTML report of a corpus: charts of facts, indicators, evidence and entities, a table of facts."""
    from pipeline.report import corpus_figures, report_page
    from pipeline.show import check_page_out, write_page

    check_page_out(out, overwrite)
    con = connect_corpus(corpus)
    try:
        figures = corpus_figures(con, top_indicators=top, max_rows=max_rows)
    finally:
        con.close()
    write_page(report_page(figures, title, str(corpus)), out, overwrite)
    print(f"vipie: wrote {out} ({figures['totals']['facts']} facts, {figures['facts_held']} in its table)")
