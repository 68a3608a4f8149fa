"""Every notebook in notebooks/ runs top to bottom (nbclient, the venv's python3 kernel) against a corpus that
`vipie extract` wrote, with no error, and shows the tables it promises with their columns."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.seed_corpus import seed_corpus

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# The tables each notebook must show: the tag of the cell and the columns of its table.
EXPECTED_TABLES = {
    "query_corpus.ipynb": {
        "tables": ["name"],
        "facts-by-province-year": ["province", "year", "facts"],
        "indicator-sentences": ["province", "year", "value", "unit", "qualifier", "status", "sentence"],
        "officials": ["doc_id", "name", "roles", "province"],
        "evidence": ["province_evidence", "year_evidence", "facts", "mean_score"],
    },
    "start_here.ipynb": {
        "overview": ["documents", "entities", "facts", "facts_without_province", "facts_without_year"],
        "indicator-facts": ["doc_id", "figure", "value", "unit", "status", "province", "year", "indicator"],
        "evidence-sentences": ["doc_id", "figure", "province", "province_evidence", "province_words", "year",
                               "year_evidence", "year_words", "sentence"],
    },
}


@pytest.fixture(scope="module")
def corpus(nlp, tmp_path_factory, seed_paths) -> dict:
    return seed_corpus(nlp, tmp_path_factory.getbasetemp(), tuple(seed_paths))


def run_notebook(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(path.parent)}},
                   allow_errors=True).execute()
    return notebook


def table_columns(cell) -> list[str]:
    """The column names of the table a cell shows (a DataFrame's HTML: its header row, after the index)."""
    shown = next(o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {}))
    header = re.search(r"<thead>(.*?)</thead>", shown, re.S).group(1)
    return [name for name in re.findall(r"<th[^>]*>(.*?)</th>", header) if name]


def test_every_notebook_is_checked():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED_TABLES)


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLES))
def test_notebook_runs_and_shows_its_tables(corpus, monkeypatch, name):
    monkeypatch.setenv("VIPIE_CORPUS", str(corpus["duckdb"]))
    notebook = run_notebook(NOTEBOOKS / name)
    errors = [f"{o['ename']}: {o['evalue']}" for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.outputs if o["output_type"] == "error"]
    assert errors == []
    tagged = {tag: cell for cell in notebook.cells for tag in cell.metadata.get("tags", [])}
    for tag, columns in EXPECTED_TABLES[name].items():
        assert table_columns(tagged[tag]) == columns, tag
    if name == "start_here.ipynb":
        chart = next(o for o in tagged["chart"].outputs if "application/vnd.plotly.v1+json" in o.get("data", {}))
        points = sum(len(trace["x"]) for trace in chart["data"]["application/vnd.plotly.v1+json"]["data"])
        wanted = [f for r in corpus["records"] for f in r["facts"]
                  if f["indicator"] and "cán bộ, công chức" in " ".join(f["indicator"].split()).lower()]
        assert points == len(wanted) > 1
