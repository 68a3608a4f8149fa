"""The Ray Data engine: the local engine's tables, row for row, from a real two-node Ray cluster on this machine.

Under `make test` (VIPIE_RAY=1) a missing Ray fails these tests; elsewhere they are skipped without it.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.corpus import TABLES
from pipeline.ray_engine import PARTS, plan_units

if not os.environ.get("VIPIE_RAY"):
    pytest.importorskip("ray")

BIN = Path(sys.executable).parent
# The test cluster listens on loopback only: no token to hand to each process (Ray's default is token auth).
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}
PROVINCES = ["Lào Cai", "Quảng Ninh", "Yên Bái", "Đà Nẵng", "Cà Mau"]
SENTENCES = [
    "Năm {year}, tỉnh {province} có trên {n}.000 văn bản điện tử được gửi nhận qua hệ thống.",
    "Tỷ lệ hồ sơ trực tuyến của {province} đạt {n},5% trong năm {year}.",
    "UBND tỉnh {province} phấn đấu đến năm {year} có {n}% dịch vụ công trực tuyến mức độ 4.",
    "Ông Nguyễn Văn {name}, Giám đốc Sở Thông tin và Truyền thông tỉnh {province}, cho biết đã cấp {n} chữ ký số.",
]


def short_documents(count: int, start: int = 0) -> list[str]:
    """`count` JSONL lines of short varied articles; every 50th line is broken and every 40th text empty."""
    lines = []
    for i in range(start, start + count):
        province = PROVINCES[i % len(PROVINCES)]
        text = " ".join(SENTENCES[(i + k) % len(SENTENCES)].format(year=2019 + i % 7, province=province, n=i % 97 + 2,
                                                                      name="AĂÂBCDĐ"[i % 7])
                        for k in range(1 + i % 3))
        if i % 50 == 49:
            lines.append('{"id": "broken", "text": ')
        else:
            record = {"id": f"doc-{i}", "text": "" if i % 40 == 39 else text, "meta": {"published": f"{2020 + i % 5}"}}
            if i % 3 == 0:
                record["meta"]["province"] = province
            lines.append(json.dumps(record, ensure_ascii=False))
    return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ray_status(address: str) -> str:
    result = subprocess.run([str(BIN / "ray"), "status", "--address", address], capture_output=True, text=True,
                            timeout=60, env=RAY_ENV)
    return result.stdout if result.returncode == 0 else ""


def start_node(*args: str) -> subprocess.Popen:
    """`ray start ... --block` in its own process group: stopping it (`stop_node`) stops that node's processes."""
    return subprocess.Popen([str(BIN / "ray"), "start", "--block", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, env=RAY_ENV)


def stop_nodes(processes: list[subprocess.Popen]) -> None:
    """Stop the nodes we started, as `ray stop` would but only these: SIGTERM to their process groups (a blocking
    `ray start` then stops its node's processes), and SIGKILL to whatever of the groups is left after 5 s."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for_nodes(address: str, count: int, nodes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert all(node.poll() is None for node in nodes), "a Ray node exited while starting"
        if len(re.findall(r"^\s*1 node_", ray_status(address), re.MULTILINE)) == count:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray cluster at {address} did not reach {count} nodes in 120 s")


@pytest.fixture(scope="module")
def cluster():
    """A head node and a second node on loopback, one CPU each (so two actors fill it and the driver, outside
    Ray, keeps its core); both stopped at the end, whatever happens."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    temp = tempfile.mkdtemp(prefix="r", dir="/tmp")  # Ray's socket paths must stay under ~107 characters
    common = ["--num-cpus", "1", "--object-store-memory", str(100 * 2**20), "--node-ip-address", "127.0.0.1",
              "--disable-usage-stats", "--temp-dir", temp]
    nodes = []
    try:
        nodes.append(start_node("--head", "--port", str(port), "--include-dashboard", "false", *common))
        wait_for_nodes(address, 1, nodes)
        nodes.append(start_node("--address", address, *common))
        wait_for_nodes(address, 2, nodes)
        yield address
    finally:
        stop_nodes(nodes)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("in")
    (folder / "a.jsonl").write_text("\n".join(short_documents(120)) + "\n", encoding="utf-8")
    (folder / "b.jsonl").write_text("\n".join(short_documents(80, 120)) + "\n", encoding="utf-8")
    return folder


def vipie(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "vipie"), *map(str, args)], capture_output=True, text=True, timeout=400,
                          env=RAY_ENV)


def rows(corpus: Path, table: str) -> list[tuple]:
    """The rows of a corpus table, in the order of its file."""
    import duckdb

    return duckdb.connect().execute("SELECT * FROM read_parquet(?)", [str(corpus / f"{table}.parquet")]).fetchall()


@pytest.fixture(scope="module")
def both_engines(nlp, inputs, cluster, tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """The same 200 documents through the local engine and through Ray on the two-node cluster (two actors)."""
    from pipeline.extract import run_extraction

    folder = tmp_path_factory.mktemp("out")
    local, distributed = folder / "local.parquet", folder / "ray.parquet"
    run_extraction(nlp, [inputs], [local])
    result = vipie("extract", inputs, "--out", distributed, "--engine", "ray", "--address", cluster, "--actors", "2")
    assert result.returncode == 0, result.stderr
    return local, distributed, result


def test_ray_on_two_nodes_writes_the_local_engines_tables_row_for_row_in_input_order(both_engines):
    import pyarrow.parquet as pq

    local, distributed, _ = both_engines
    for table in TABLES:
        assert pq.read_schema(distributed / f"{table}.parquet") == pq.read_schema(local / f"{table}.parquet")
        assert rows(distributed, table) == rows(local, table), table
    assert len(rows(local, "documents")) == 200 and len(rows(local, "facts")) > 200
    assert not (distributed / PARTS).exists()


def test_ray_run_reports_counts_and_rejected_documents(both_engines):
    _, _, result = both_engines
    assert "documents" in result.stderr and "200" in result.stderr
    assert "rejected a:50:" in result.stderr and "a.jsonl:50: not valid JSON" in result.stderr


def test_resume_moves_a_finished_corpus_in_as_the_first_part_and_merges_it_back_unchanged(both_engines, tmp_path):
    from pipeline.ray_engine import BASE, merge_parts, prepare_parts, written_ids

    local, _, _ = both_engines
    corpus = tmp_path / "resumed.parquet"
    shutil.copytree(local, corpus)
    parts = prepare_parts(corpus, resume=True)
    assert not list(corpus.glob("*.parquet")) and (parts / "documents" / BASE).exists()  # moved, not copied
    done = written_ids(parts)
    assert len(done) == 200 and {"doc-0", "a:50"} <= done
    merge_parts(corpus, parts)  # nothing new: the corpus comes back as it was
    for table in TABLES:
        assert rows(corpus, table) == rows(local, table), table


def test_resume_completes_a_move_of_the_finished_tables_that_was_interrupted(tmp_path):
    from pipeline.ray_engine import ADOPTING, BASE, prepare_parts

    corpus = tmp_path / "c.parquet"
    (corpus / ADOPTING / "entities").mkdir(parents=True)
    (corpus / ADOPTING / "entities" / BASE).write_bytes(b"entities")
    for table in TABLES:
        if table != "entities":
            (corpus / f"{table}.parquet").write_bytes(table.encode())
    prepare_parts(corpus, resume=True)
    assert sorted(p.name for p in corpus.iterdir()) == [PARTS]
    assert {t: (corpus / PARTS / t / BASE).read_bytes() for t in TABLES} == {t: t.encode() for t in TABLES}


def test_an_actor_runs_each_document_within_its_budget_and_writes_parts_in_input_order(monkeypatch, tmp_path):
    """The actor's work (`extract_unit`) on the local engine's worker pool: a document past its time budget
    becomes an error record and the unit goes on; ids already written are skipped; parts sort in input order."""
    import pyarrow.parquet as pq

    from pipeline.document import MetaTable
    from pipeline.extract import DocBudget, WorkerPool
    from pipeline.ray_engine import Reading, extract_unit, part_files, prepare_parts
    from tests.test_run_safety import fake_process

    monkeypatch.setattr("pipeline.process", fake_process)
    monkeypatch.setattr("pipeline.ray_engine.UNIT_DOCUMENTS", 2)  # a part per 2 documents of a 3-document unit
    texts = ["Năm 2021", "SLEEP:60 x", "Năm 2023", "Năm 2024", "Năm 2025", "Năm 2026"]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    parts = prepare_parts(tmp_path / "c.parquet", resume=False)
    reading = Reading(10_000, MetaTable(), None, frozenset({"d2"}))
    started = time.monotonic()
    with WorkerPool(None, 1, DocBudget(0.001, min_seconds=1), lambda: False) as pool:
        summaries = [extract_unit(pool, unit, reading, parts) for unit in reversed(list(plan_units([source], 3)))]
    assert time.monotonic() - started < 30
    assert [s["rejected"] for s in reversed(summaries)] == [
        [{"id": "d1", "errors": ["timed out after 1 s (raise --doc-timeout to allow more)"]}], []]
    assert [(s["stats"]["documents"], s["stats"]["skipped"]) for s in reversed(summaries)] == [(2, 1), (3, 0)]
    written = [pq.read_table(path)["id"].to_pylist() for path in part_files(parts, "documents")]
    assert written == [["d0", "d1"], ["d3", "d4"], ["d5"]]


def test_an_actors_batch_missing_its_documents_part_is_dropped_on_resume(tmp_path):
    from pipeline.corpus import table_rows
    from pipeline.ray_engine import prepare_parts, write_part, written_ids

    corpus = tmp_path / "c.parquet"
    parts = prepare_parts(corpus, resume=False)
    record = {"id": "x", "text": "Năm 2022.", "meta": {}, "entities": [], "facts": [], "errors": []}
    write_part(parts, "part-000000000-000000000.parquet", table_rows(record))
    orphan = parts / "entities" / "part-orphan.parquet"
    shutil.copyfile(next((parts / "entities").glob("part-*.parquet")), orphan)
    assert written_ids(prepare_parts(corpus, resume=True)) == {"x"} and not orphan.exists()


def test_plan_splits_jsonl_into_pieces_that_read_every_line_once(inputs):
    from pipeline.document import MetaTable, iter_documents
    from pipeline.ray_engine import unit_documents
    from pipeline.web import SiteProvinces

    units = list(plan_units([inputs], unit_documents=16))
    assert len(units) == 8 + 5
    read = [d.id for unit in units for d in unit_documents(unit, 10_000, MetaTable(), SiteProvinces(), Counter())]
    assert read == [d.id for d in iter_documents([inputs])]


def test_ray_refuses_other_outputs_with_one_line(inputs, tmp_path):
    result = vipie("extract", inputs, "--out", tmp_path / "x.jsonl", "--engine", "ray")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--engine ray writes one .parquet folder" in result.stderr
