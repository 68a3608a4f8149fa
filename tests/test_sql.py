"""`vipie sql` on a corpus written by the real writers: the same query on .duckdb and .parquet, read-only access,
one-line errors, and the table, CSV and JSON outputs."""

import csv
import io
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.cli.sql import cell, connect_corpus, json_value, query_rows
from pipeline.corpus import open_outputs
from pipeline.document import Document
from pipeline.errors import InputError
from pipeline.extract import process_document

VIPIE = str(Path(sys.executable).parent / "vipie")
DOCUMENTS = [
    Document("lao-cai", "Năm 2022, tỉnh Lào Cai có 1.726 dịch vụ công trực tuyến.",
             {"title": 'Lào Cai, "[b]chuyển đổi số[/b]"', "published": "2022-03-01"}),
    Document("empty", "", {}, ["empty document"]),
]
QUERY = "SELECT doc_id, label, text FROM entities ORDER BY ALL"


@pytest.fixture(scope="module")
def corpus(nlp, tmp_path_factory) -> dict:
    """The records of DOCUMENTS and the two corpora `vipie extract` writes from them."""
    folder = tmp_path_factory.mktemp("corpus")
    records = [process_document(nlp, document) for document in DOCUMENTS]
    paths = {"duckdb": folder / "c.duckdb", "parquet": folder / "c.parquet"}
    with open_outputs(list(paths.values()), []) as sinks:
        for sink in sinks:
            for record in records:
                sink.write(record)
    return {"records": records, **paths}


def rows(corpus_path: Path, query: str) -> tuple[list[str], list[tuple]]:
    con = connect_corpus(corpus_path)
    columns, found = query_rows(con, corpus_path, query)
    result = list(found)
    con.close()
    return columns, result


@pytest.mark.parametrize("kind", ["duckdb", "parquet"])
def test_query_reads_the_tables_by_name(corpus, kind):
    expected = sorted((r["id"], e["label"], e["text"]) for r in corpus["records"] for e in r["entities"])
    assert expected, "the pipeline found no entity: the corpus tests nothing"
    assert rows(corpus[kind], QUERY) == (["doc_id", "label", "text"], expected)
    assert rows(corpus[kind], "SELECT id, errors FROM documents ORDER BY id") == (
        ["id", "errors"], [("empty", ["empty document"]), ("lao-cai", [])])


def test_duckdb_corpus_is_opened_read_only(corpus):
    with pytest.raises(InputError, match="read-only"):
        rows(corpus["duckdb"], "DELETE FROM entities")
    assert rows(corpus["duckdb"], "SELECT count(*) FROM entities")[1] == [(len(corpus["records"][0]["entities"]),)]


@pytest.mark.parametrize("query, message", [
    ("SELEC 1", "syntax error"),
    ("SELECT * FROM entity", "Table with name entity does not exist"),
    ("SELECT CAST(text AS INTEGER) FROM entities", "Conversion Error"),
    ("BEGIN; SELECT * FROM entity", "Table with name entity does not exist"),
])
def test_a_failing_query_is_one_line_naming_the_tables(corpus, query, message):
    with pytest.raises(InputError, match=message) as error:
        rows(corpus["parquet"], query)
    assert "\n" not in str(error.value)
    assert str(error.value).endswith("(tables: documents, entities, facts, officials)")


def test_what_is_not_a_corpus_is_refused(tmp_path):
    (tmp_path / "empty.parquet").mkdir()
    (tmp_path / "text.duckdb").write_text("not a database", encoding="utf-8")
    with pytest.raises(InputError, match="no such file or folder"):
        connect_corpus(tmp_path / "missing.duckdb")
    with pytest.raises(InputError, match="not a .duckdb file or a .parquet folder of tables"):
        connect_corpus(tmp_path / "empty.parquet")
    with pytest.raises(InputError, match="DuckDB cannot read it"):
        connect_corpus(tmp_path / "text.duckdb")


@pytest.mark.parametrize("value, as_json, as_cell", [
    (None, None, ""),
    (Decimal("0.25"), 0.25, "0.25"),
    (date(2022, 3, 1), "2022-03-01", "2022-03-01"),
    (["a", None], ["a", None], '["a", null]'),
    ({"k": date(2020, 1, 2)}, {"k": "2020-01-02"}, '{"k": "2020-01-02"}'),
    (True, True, "true"),
    ("Lào Cai, \"x\"", "Lào Cai, \"x\"", "Lào Cai, \"x\""),
])
def test_values_become_json_and_cells(value, as_json, as_cell):
    assert json_value(value) == as_json
    assert cell(value) == as_cell


def vipie_sql(*args):
    return subprocess.run([VIPIE, "sql", *map(str, args)], capture_output=True, text=True, timeout=120)


def test_cli_writes_csv_json_lines_and_a_table(corpus):
    titles = "SELECT id, title, n_entities, errors FROM documents ORDER BY id"
    as_csv = vipie_sql(corpus["duckdb"], titles, "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    n_entities = str(len(corpus["records"][0]["entities"]))
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["id", "title", "n_entities", "errors"], ["empty", "", "0", '["empty document"]'],
        ["lao-cai", DOCUMENTS[0].meta["title"], n_entities, "[]"]]
    as_json = vipie_sql(corpus["parquet"], titles, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert [json.loads(line) for line in as_json.stdout.splitlines()] == [
        {"id": "empty", "title": None, "n_entities": 0, "errors": ["empty document"]},
        {"id": "lao-cai", "title": DOCUMENTS[0].meta["title"], "n_entities": int(n_entities), "errors": []}]
    table = vipie_sql(corpus["parquet"], "SELECT title FROM documents WHERE id = 'lao-cai'")
    assert table.returncode == 0, table.stderr
    # The title is printed as it is, its brackets not taken for markup.
    assert DOCUMENTS[0].meta["title"] in table.stdout and "1 row" in table.stdout


@pytest.mark.parametrize("args, message", [
    (["missing.duckdb", "SELECT 1"], "missing.duckdb: no such file or folder"),
    (["{duckdb}", "SELECT * FROM nothing"], "the query failed: Catalog Error"),
    (["{duckdb}", "SELECT 1", "--format", "xml"], "--format 'xml': choose table, csv, json"),
])
def test_cli_errors_exit_2_with_one_line(corpus, tmp_path, args, message):
    result = subprocess.run([VIPIE, "sql", *(a.format(duckdb=corpus["duckdb"]) for a in args)], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and message in result.stderr
    assert result.stdout == ""
