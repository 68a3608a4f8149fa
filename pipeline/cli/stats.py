"""`vipie stats`: a summary of a structured corpus (documents, facts per province and year)."""

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli import app
from pipeline.corpus import TABLES
from pipeline.errors import InputError


def corpus_summary(corpus: Path, top: int = 10) -> dict:
    """Counts from a .duckdb file or a .parquet folder: documents, facts by province and year, top indicators."""
    import duckdb

    con = duckdb.connect()
    if corpus.suffix == ".duckdb" and corpus.is_file():
        con.execute("ATTACH ? AS corpus (READ_ONLY)", [str(corpus)])  # a path is a parameter, never SQL text
        source = {t: f"corpus.{t}" for t in TABLES}
    elif corpus.suffix == ".parquet" and corpus.is_dir():
        for table in TABLES:
            con.read_parquet(str(corpus / f"{table}.parquet")).create_view(table)
        source = {t: t for t in TABLES}
    else:
        raise InputError(f"{corpus}: not a .duckdb file or a .parquet folder written by `vipie extract`")
    fetch = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    return {
        "documents": fetch(f"SELECT count(*), count(*) FILTER (WHERE len(errors) > 0) FROM {source['documents']}")[0],
        "entities": fetch(f"SELECT label, count(*) FROM {source['entities']} GROUP BY ALL ORDER BY 2 DESC"),
        "by_province_year": fetch(f"SELECT province, year, count(*) FROM {source['facts']} GROUP BY ALL ORDER BY ALL"),
        "officials": fetch(f"SELECT name, array_to_string(arg_max(roles, len(roles)), '; '), "
                           f"any_value(province) FROM {source['officials']} GROUP BY name ORDER BY name"),
        # An indicator span may run across a hard line wrap: the same words count as one indicator.
        "indicators": fetch(f"SELECT regexp_replace(indicator, '\\s+', ' ', 'g') AS words, count(*) FROM "
                            f"{source['facts']} WHERE indicator IS NOT NULL GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT {top}"),
    }


@app.command()
def stats(
    corpus: Path = typer.Argument(..., help="A .duckdb file or .parquet folder written by `vipie extract`."),
    top: int = typer.Option(10, "--top", min=1, help="How many indicators to list."),
) -> None:
    """Summarise a structured corpus: documents, facts per province and year, top indicators."""
    summary = corpus_summary(corpus, top)
    console = Console()
    n_docs, n_rejected = summary["documents"]
    console.print(f"{n_docs} documents ({n_rejected} with errors); "
                  + ", ".join(f"{label} {n}" for label, n in summary["entities"]))
    for title, columns, rows in (
        ("facts by province and year", ("province", "year", "facts"), summary["by_province_year"]),
        (f"top {top} indicators", ("indicator", "facts"), summary["indicators"]),
        ("officials", ("name", "roles", "province"), summary["officials"]),
    ):
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("—" if v is None else str(v) for v in row))
        console.print(table)
