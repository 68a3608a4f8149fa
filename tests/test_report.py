"""`vipie report`: the figures DuckDB computes agree with the output records they came from, on .duckdb and
.parquet alike; the fact table is capped with a note; the page works offline in a real browser (charts drawn,
every fact reachable through the pages of the table and the search, a fact's sentence one link away)."""

import re
import sys
from collections import Counter

import duckdb
import pytest

from typer.testing import CliRunner

import pipeline.cli.report  # noqa: F401  (registers `vipie report`)
from pipeline.cli import app, main
from pipeline.cli.sql import connect_corpus
from pipeline.errors import InputError
from pipeline.report import FACT_COLUMNS, PAGE_ROWS, corpus_figures, report_page
from tests.browser import browser_page  # noqa: F401
from tests.seed_corpus import seed_corpus

NONE = "(none)"


@pytest.fixture(scope="module")
def corpus(nlp, tmp_path_factory, seed_paths) -> dict:
    return seed_corpus(nlp, tmp_path_factory.getbasetemp(), tuple(seed_paths))


@pytest.fixture(scope="module")
def figures(corpus) -> dict:
    con = connect_corpus(corpus["duckdb"])
    try:
        return corpus_figures(con)
    finally:
        con.close()


def or_none(value) -> str:
    return NONE if value is None else str(value)


def test_figures_count_what_the_records_hold(corpus, figures):
    records = corpus["records"]
    facts = [fact for record in records for fact in record["facts"]]
    assert figures["totals"] == {
        "documents": len(records), "documents_with_errors": sum(1 for r in records if r["errors"]),
        "entities": sum(len(r["entities"]) for r in records), "facts": len(facts),
        "null_province": sum(1 for f in facts if f["province"] is None),
        "null_year": sum(1 for f in facts if f["year"] is None)}
    assert Counter({(p, y): n for p, y, n in figures["by_province_year"]}) == Counter(
        (or_none(f["province"]), or_none(f["year"])) for f in facts)
    assert Counter(dict(figures["labels"])) == Counter(e["label"] for r in records for e in r["entities"])
    assert Counter({(field, kind): n for field, kind, n in figures["evidence"]}) == Counter(
        (field, or_none((f.get("evidence") or {}).get(field))) for f in facts for field in ("province", "year"))
    indicators = Counter(" ".join(f["indicator"].split()) for f in facts if f["indicator"])
    assert [n for _, n in figures["indicators"]] == sorted(indicators.values(), reverse=True)[:20]
    assert all(indicators[words] == n for words, n in figures["indicators"])
    assert figures["error_documents"] == [(r["id"], r["errors"]) for r in records if r["errors"]]


def test_fact_table_holds_every_fact_with_its_sentence(corpus, figures):
    expected = sorted((r["id"], f["metric"]["text"], f["sentence"]) for r in corpus["records"] for f in r["facts"])
    columns = figures["fact_columns"]
    held = sorted(zip(*([column["values"][code] for code in column["codes"]]
                        for column in (columns["doc"], columns["figure"], columns["sentence"]))))
    assert held == expected and figures["facts_held"] == len(expected)
    assert len(columns["sentence"]["values"]) == len({s for *_, s in expected})  # each sentence stored once
    assert set(FACT_COLUMNS) == set(columns)


def test_parquet_corpus_gives_the_same_figures(corpus, figures):
    con = connect_corpus(corpus["parquet"])
    try:
        assert corpus_figures(con) == figures
    finally:
        con.close()


def test_table_is_capped_with_a_note(corpus):
    con = connect_corpus(corpus["duckdb"])
    try:
        capped = corpus_figures(con, max_rows=7)
    finally:
        con.close()
    assert capped["facts_held"] == 7 and capped["totals"]["facts"] > 7
    assert all(len(column["codes"]) == 7 for column in capped["fact_columns"].values())
    assert f"first 7 of {capped['totals']['facts']} facts" in report_page(capped, "capped", "seeds.duckdb")


def test_a_corpus_without_the_evidence_columns_is_one_line(tmp_path):
    old = tmp_path / "old.duckdb"
    with duckdb.connect(str(old)) as con:
        con.execute("CREATE TABLE documents (id VARCHAR, errors VARCHAR[]); CREATE TABLE entities (label VARCHAR); "
                    "CREATE TABLE facts (doc_id VARCHAR, province VARCHAR, year INTEGER)")
    con = connect_corpus(old)
    with pytest.raises(InputError, match="extract it again") as refused:
        corpus_figures(con)
    con.close()
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("args, message", [
    (["{tmp}/missing.duckdb", "--out", "{tmp}/r.html"], "missing.duckdb: no such file or folder"),
    (["{duckdb}", "--out", "{tmp}/r.pdf"], "give a name ending in .html"),
])
def test_cli_errors_exit_2_with_one_line(corpus, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setattr(sys, "argv", ["vipie", "report", *(a.format(duckdb=corpus["duckdb"], tmp=tmp_path)
                                                          for a in args)])
    with pytest.raises(SystemExit) as stopped:
        main()
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_report_in_a_browser_offline(browser_page, corpus, figures, tmp_path):  # noqa: F811
    browser, console_errors = browser_page
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(corpus["duckdb"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    requested = []
    browser.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (requested.append(route.request.url), route.abort()))
    browser.goto(out.as_uri())
    assert browser.locator(".js-plotly-plot .main-svg").count() >= 4  # Plotly ran and drew the four charts
    facts = figures["totals"]["facts"]
    browser.wait_for_function("document.querySelectorAll('#facts tbody tr').length > 0")  # the facts are unpacked
    assert browser.locator("#count").inner_text() == f"1–{PAGE_ROWS} of {facts} facts"
    rows = browser.locator("#facts tbody tr").count()
    while browser.locator("#next").is_enabled():
        browser.click("#next")
        rows += browser.locator("#facts tbody tr").count()
    assert rows == facts

    record = corpus["records"][3]
    browser.fill("#search", record["id"])
    browser.wait_for_function(f"document.getElementById('count').textContent.endsWith('of {len(record['facts'])} "
                              "facts')")
    assert browser.locator("#facts tbody tr").count() == len(record["facts"])
    browser.locator("#facts tbody a.to-sentence").first.click()
    sentence = browser.locator("#sentence .fact-sentence").inner_text()
    assert re.sub(r"\s+", " ", sentence) in {re.sub(r"\s+", " ", f["sentence"]) for f in record["facts"]}
    browser.screenshot(path=tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert requested == [] and console_errors == []
