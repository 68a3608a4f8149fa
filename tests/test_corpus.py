import json

import duckdb
import pyarrow.parquet as pq

from pipeline.extract import run_extraction


def write_inputs(tmp_path, n=3):
    path = tmp_path / "in.jsonl"
    docs = [{"id": f"d{i}", "text": f"Năm 2022, tỉnh Lào Cai có {100 + i} hồ sơ trực tuyến.", "meta": {"published": "2022-05-01"}}
            for i in range(n)]
    path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n", encoding="utf-8")
    return path


def test_duckdb_and_parquet_hold_the_contract_tables_and_officials(nlp, tmp_path):
    inputs = write_inputs(tmp_path)
    db, folder = tmp_path / "c.duckdb", tmp_path / "c.parquet"
    stats = run_extraction(nlp, [inputs], [db, folder])
    assert stats.documents == 3 and stats.facts == 3
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT province, year, count(*) FROM facts GROUP BY ALL").fetchall() == [("Lào Cai", 2022, 3)]
    assert con.execute("SELECT n_facts FROM documents ORDER BY id").fetchall() == [(1,), (1,), (1,)]
    assert con.execute("SELECT label FROM entities WHERE text = '100'").fetchall() == [("METRIC",)]
    assert con.execute("SELECT n_facts FROM facts_by_province_year").fetchall() == [(3,)]
    assert sorted(p.name for p in folder.iterdir()) == ["documents.parquet", "entities.parquet", "facts.parquet",
                                                      "officials.parquet"]
    facts = pq.read_table(folder / "facts.parquet").to_pylist()
    assert [f["value"] for f in facts] == [100.0, 101.0, 102.0]
    assert all(f["sentence"].startswith("Năm 2022") for f in facts)


def test_resume_skips_what_every_output_holds(nlp, tmp_path):
    inputs = write_inputs(tmp_path, 4)
    out, db = tmp_path / "o.jsonl", tmp_path / "o.duckdb"
    run_extraction(nlp, [inputs], [out, db])
    lines = out.read_text(encoding="utf-8").splitlines()
    out.write_text("\n".join(lines[:2]) + "\n" + lines[2][:15], encoding="utf-8")  # cut mid-line, as a crash would
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM documents WHERE id IN ('d2', 'd3')")
    con.close()
    stats = run_extraction(nlp, [inputs], [out], resume=True)
    assert (stats.skipped, stats.documents) == (2, 2)
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["d0", "d1", "d2", "d3"]


def test_parquet_resume_after_a_finished_run(nlp, tmp_path):
    inputs = write_inputs(tmp_path, 2)
    folder = tmp_path / "p.parquet"
    run_extraction(nlp, [inputs], [folder])
    stats = run_extraction(nlp, [inputs], [folder], resume=True)
    assert (stats.skipped, stats.documents) == (2, 0)
    assert pq.read_table(folder / "documents.parquet").num_rows == 2


def test_workers_give_the_same_output_as_one_process(nlp, tmp_path, seed_paths):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    run_extraction(nlp, seed_paths, [one])
    run_extraction(nlp, seed_paths, [two], workers=2)
    assert one.read_text(encoding="utf-8") == two.read_text(encoding="utf-8")


def test_a_pipeline_failure_becomes_an_error_record(nlp, tmp_path, monkeypatch):
    import pipeline.extract as extract

    def broken(nlp, text, meta):
        raise RuntimeError("boom")

    monkeypatch.setattr("pipeline.process", broken)
    out = tmp_path / "o.jsonl"
    stats = extract.run_extraction(nlp, [write_inputs(tmp_path, 1)], [out])
    record = json.loads(out.read_text(encoding="utf-8"))
    assert stats.rejected == 1
    assert record["errors"] == ["processing failed: RuntimeError: boom"] and record["entities"] == []


def test_the_corpus_holds_what_cites_and_audits_a_fact(nlp, tmp_path):
    path = tmp_path / "in.jsonl"
    doc = {"id": "d0", "text": "Năm 2022, tỉnh Lào Cai có 100 hồ sơ trực tuyến.",
           "meta": {"url": "https://laocai.gov.vn/a", "published": 2022, "site": "laocai.gov.vn"}}
    path.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    db, folder, out = tmp_path / "c.duckdb", tmp_path / "c.parquet", tmp_path / "c.jsonl"
    run_extraction(nlp, [path], [db, folder, out])
    record = json.loads(out.read_text(encoding="utf-8"))
    fact = record["facts"][0]
    con = duckdb.connect(str(db), read_only=True)
    url, text, meta = con.execute("SELECT url, text, meta FROM documents").fetchone()
    assert (url, text) == ("https://laocai.gov.vn/a", doc["text"])
    assert json.loads(meta) == record["meta"] and json.loads(meta)["site"] == "laocai.gov.vn"
    row = con.execute("SELECT province_evidence, year_evidence, year_start, year_end, indicator_start, indicator_end "
                      "FROM facts").fetchone()
    assert row == (fact["evidence"]["province"], fact["evidence"]["year"], fact["year_span"]["start"],
                   fact["year_span"]["end"], fact["indicator_span"]["start"], fact["indicator_span"]["end"])
    assert text[row[2]:row[3]] == "Năm 2022"
    sources = {e["text"]: e["source"] for e in record["entities"]}
    assert dict(con.execute("SELECT text, source FROM entities").fetchall()) == sources
    assert pq.read_table(folder / "facts.parquet").to_pylist()[0]["indicator_start"] == row[4]


def test_resuming_a_corpus_written_with_other_columns_is_one_clear_error(nlp, tmp_path):
    import pytest

    from pipeline.errors import OutputError

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE documents (id VARCHAR, title VARCHAR)")
    con.close()
    with pytest.raises(OutputError, match="has other columns than this vipie writes"):
        run_extraction(nlp, [write_inputs(tmp_path, 1)], [db], resume=True)
