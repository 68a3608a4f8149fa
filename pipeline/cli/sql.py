"""`vipie sql`: a SQL query over a structured corpus, through DuckDB's Python package (no DuckDB CLI needed).

A `.duckdb` corpus is opened read-only; a `.parquet` corpus (a folder) has each `<table>.parquet` as a view of
that name, so the same query runs on both. Results print as a table, or stream as CSV or JSON lines.
"""

import csv
import json
import os
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.cli import app
from pipeline.errors import InputError

FORMATS = ("table", "csv", "json")
FETCH_ROWS = 10_000


def first_line(exc: Exception) -> str:
    """The first line of a DuckDB error: the rest repeats the query with a caret under the problem."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def connect_corpus(corpus: Path):
    """A DuckDB connection on which each table of `corpus` goes by its name.

    Raises:
        InputError: `corpus` is not a .duckdb file or a .parquet folder of tables, or DuckDB cannot read it.
    """
    import duckdb

    try:
        if corpus.suffix == ".duckdb" and corpus.is_file():
            return duckdb.connect(str(corpus), read_only=True)
        tables = sorted(corpus.glob("*.parquet")) if corpus.suffix == ".parquet" and corpus.is_dir() else []
        if tables:
            con = duckdb.connect()
            for path in tables:
                con.read_parquet(str(path)).create_view(path.stem)
            return con
    except duckdb.Error as exc:
        raise InputError(f"{corpus}: DuckDB cannot read it ({first_line(exc)}); give a corpus written by "
                         "`vipie extract`") from exc
    problem = "not a .duckdb file or a .parquet folder of tables" if corpus.exists() else "no such file or folder"
    raise InputError(f"{corpus}: {problem}; give a corpus written by `vipie extract --out NAME.duckdb` "
                     "(or NAME.parquet)")


def table_names(con) -> list[str]:
    return [name for (name,) in con.execute("SELECT DISTINCT table_name FROM information_schema.tables "
                                            "ORDER BY 1").fetchall()]


def query_rows(con, corpus: Path, query: str) -> tuple[list[str], Iterator[tuple]]:
    """The column names of `query`'s result and its rows, fetched in batches as they are read.

    Raises:
        InputError: DuckDB refuses the query or fails while running it (one line, with the corpus's tables).
    """
    import duckdb

    # Listed before the query runs: a query may leave the connection unable to answer (an aborted transaction).
    tables = ", ".join(table_names(con))

    def refused(exc: Exception) -> InputError:
        return InputError(f"{corpus}: the query failed: {first_line(exc)} (tables: {tables})")

    try:
        con.execute(query)
    except duckdb.Error as exc:
        raise refused(exc) from exc
    columns = [column[0] for column in con.description or []]

    def rows() -> Iterator[tuple]:
        while columns:
            try:
                batch = con.fetchmany(FETCH_ROWS)
            except duckdb.Error as exc:
                raise refused(exc) from exc
            if not batch:
                return
            yield from batch

    return columns, rows()


def json_value(value):
    """A result value as JSON holds it: decimals as numbers; dates, times and other objects as their ISO text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return float(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def cell(value) -> str:
    """A result value as one CSV or table cell: NULL empty, lists and structs as JSON."""
    value = json_value(value)
    if value is None:
        return ""
    if isinstance(value, bool | list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def write_csv(columns: list[str], rows: Iterator[tuple]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell(v) for v in row] for row in rows)


def write_json_lines(columns: list[str], rows: Iterator[tuple]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps({c: json_value(v) for c, v in zip(columns, row)}, ensure_ascii=False) + "\n")


def print_table(columns: list[str], rows: Iterator[tuple]) -> None:
    rows = list(rows)
    table = Table(caption=f"{len(rows)} row{'' if len(rows) == 1 else 's'}")
    for n, column in enumerate(columns):
        numeric = any(isinstance(row[n], int | float) and not isinstance(row[n], bool) for row in rows)
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        # Text, not markup: a value holding "[b]" is shown as it is.
        table.add_row(*(Text("NULL", style="dim") if v is None else Text(cell(v)) for v in row))
    Console().print(table)


@app.command()
def sql(
    corpus: Path = typer.Argument(..., help="A .duckdb file or a .parquet folder written by `vipie extract`."),
    query: str = typer.Argument(..., help="The SQL, e.g. \"SELECT province, year, count(*) FROM facts GROUP BY ALL\"."),
    output_format: str = typer.Option("table", "--format", help="table (readable), csv, or json (one object a line)."),
) -> None:
    """Run a SQL query on a structured corpus (tables documents, entities, facts, officials) and print the result."""
    if output_format not in FORMATS:
        raise InputError(f"--format {output_format!r}: choose {', '.join(FORMATS)}")
    con = connect_corpus(corpus)
    columns, rows = query_rows(con, corpus, query)
    write = {"table": print_table, "csv": write_csv, "json": write_json_lines}[output_format]
    try:
        write(columns, rows)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (`| head`): nothing more is wanted, and Python must not report the pipe at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        con.close()
