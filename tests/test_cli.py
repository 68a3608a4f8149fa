"""The `vipie` command as a user runs it: outputs, the contract check, exit codes and messages."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CHECK_CONTRACT, SEEDS

VIPIE = str(Path(sys.executable).parent / "vipie")


def vipie(*args, cwd=None):
    return subprocess.run([VIPIE, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.slow
def test_extract_seeds_passes_the_contract_check(tmp_path):
    out = tmp_path / "seeds.jsonl"
    result = vipie("extract", SEEDS, "--out", out, "--out", tmp_path / "seeds.duckdb", "--out", tmp_path / "seeds.parquet")
    assert result.returncode == 0, result.stderr
    assert "documents" in result.stderr and "syllables / second" in result.stderr
    check = subprocess.run([sys.executable, CHECK_CONTRACT, out], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert check.stdout.strip().endswith("0 problems")
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == [
        p.stem for p in sorted(SEEDS.glob("*.txt"))]
    # The process ends without tearing down the interpreter (`leave_without_teardown`): every output is whole.
    import duckdb

    facts = sum(len(json.loads(line)["facts"]) for line in out.read_text(encoding="utf-8").splitlines())
    with duckdb.connect(str(tmp_path / "seeds.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from facts").fetchone()[0] == facts
    with duckdb.connect() as db:
        parquet = tmp_path / "seeds.parquet" / "facts.parquet"
        assert db.execute(f"select count(*) from read_parquet('{parquet}')").fetchone()[0] == facts


@pytest.mark.slow
def test_bad_documents_do_not_fail_the_run(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "empty.txt").write_bytes(b"")
    (inputs / "binary.txt").write_bytes(b"\x00\xff\x00")
    (inputs / "docs.jsonl").write_text('{"id": "ok", "text": "Tỉnh có 5 hệ thống."}\n{broken\n', encoding="utf-8")
    out = tmp_path / "o.jsonl"
    result = vipie("extract", inputs, "--out", out)
    assert result.returncode == 0, result.stderr
    records = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(records) == {"binary", "docs:2", "empty", "ok"}
    assert records["ok"]["errors"] == [] and records["ok"]["facts"][0]["value"] == 5
    assert "docs.jsonl:2: not valid JSON" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["extract", SEEDS, "--out", "x.csv"], "unknown output type"),
        (["extract", "no/such/dir", "--out", "x.jsonl"], "no such file or folder"),
        (["extract", SEEDS, "--out", "x.jsonl", "--model", "no/such/model"], "not a vipie model"),
        (["stats", "missing.duckdb"], "not a .duckdb file"),
    ],
)
def test_run_errors_exit_2_with_one_line(tmp_path, args, message):
    result = vipie(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("out, message", [
    ("in.jsonl", "in.jsonl: is also an input and would be overwritten; choose another --out"),
    ("old.jsonl", "old.jsonl: exists; add --resume to complete it, --overwrite to replace it"),
])
def test_an_output_that_would_lose_data_exits_2_and_touches_nothing(tmp_path, out, message):
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "Năm 2022"}\n', encoding="utf-8")
    (tmp_path / "old.jsonl").write_text('{"id": "kept"}\n', encoding="utf-8")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = vipie("extract", "in.jsonl", "--out", out, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vipie: error: {message}")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_bad_flag_exits_non_zero():
    result = vipie("extract", SEEDS, "--out", "x.jsonl", "--workers", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_help_lists_commands():
    result = vipie("--help")
    assert result.returncode == 0 and "extract" in result.stdout and "stats" in result.stdout


def test_version_prints_the_package_version():
    import pipeline

    result = vipie("--version")
    assert result.returncode == 0 and result.stdout == f"vipie {pipeline.__version__}\n"
