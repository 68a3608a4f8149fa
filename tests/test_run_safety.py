"""An extraction run never loses data: bad output paths, concurrent runs, signals, dead or stuck workers, odd values.

The pipeline is replaced by `fake_process` (instant, or sleeping, dying or
allocating on request) so that these tests exercise the run, not the model;
runs that are signalled go through the real `vipie` entry point in a
subprocess with the same fake.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.cli.stats import corpus_summary
from pipeline.corpus import jsonl_line, open_outputs, output_lock
from pipeline.errors import OutputError
from pipeline.extract import WORKER_DIED, DocBudget, run_extraction
from tests.conftest import REPO

# The signalled runs: `vipie` as installed, with the model and pipeline swapped for the fakes below.
FAKE_VIPIE = """
import sys
import pipeline
from pipeline.cli import main
from tests.test_run_safety import fake_process
pipeline.load = lambda model=None: None
pipeline.process = fake_process
sys.argv = ["vipie", *sys.argv[1:]]
main()
"""


class FakeDoc:
    """What `to_record` reads from a spaCy Doc: one DATE entity on the first four characters."""

    def __init__(self, text: str, meta: dict | None):
        entity = SimpleNamespace(start_char=0, end_char=4, label_="DATE", text=text[:4],
                                 _=SimpleNamespace(score=1.0, source="fake"))
        self.ents = [entity]
        self._ = SimpleNamespace(meta=dict(meta or {}), province=None, facts=[], officials=[], warnings=[])

    def __iter__(self):
        return iter(())


def fake_process(nlp, text: str, meta: dict | None = None) -> FakeDoc:
    """Instant, unless the text asks: `SLEEP:s` sleeps s seconds, `DIE` kills its process, `DIE_ONCE:path` does so
    only while `path` does not exist (and creates it), `ALLOC` fills 512 MB and holds it for a minute."""
    command, _, argument = text.split(" ", 1)[0].partition(":")
    if command == "SLEEP":
        time.sleep(float(argument))
    elif command == "DIE" or (command == "DIE_ONCE" and not Path(argument).exists()):
        Path(argument or os.devnull).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    elif command == "ALLOC":
        _held = b"x" * (512 << 20)  # written, so resident
        time.sleep(60)
    return FakeDoc(text, meta)


@pytest.fixture
def fake_pipeline(monkeypatch):
    monkeypatch.setattr("pipeline.process", fake_process)


def write_jsonl(path: Path, texts: list[str], prefix: str = "d") -> Path:
    lines = [json.dumps({"id": f"{prefix}{i}", "text": text}, ensure_ascii=False) for i, text in enumerate(texts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def tables(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in ("documents", "entities", "facts", "officials")}
    finally:
        con.close()


def parquet_tables(folder: Path) -> dict[str, list[tuple]]:
    return {t: sorted((tuple(row.values()) for row in pq.read_table(folder / f"{t}.parquet").to_pylist()), key=repr)
            for t in ("documents", "entities", "facts", "officials")}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# Outputs are checked before anything is touched


def bad_outputs_setting(tmp_path: Path) -> list[Path]:
    """Inputs next to paths that cannot be outputs; returns the inputs."""
    (tmp_path / "src").mkdir()
    (tmp_path / "old.jsonl").write_text("{}\n", encoding="utf-8")
    (tmp_path / "cut.jsonl.partial").write_text("{}\n", encoding="utf-8")
    (tmp_path / "file.parquet").write_bytes(b"PAR1")
    (tmp_path / "folder.duckdb").mkdir()
    (tmp_path / "text.duckdb").write_text("not a database", encoding="utf-8")
    return [write_jsonl(tmp_path / "in.jsonl", ["Năm 2022"]), tmp_path / "src"]


@pytest.mark.parametrize("bad, message", [
    ("in.jsonl", "is also an input and would be overwritten"),
    ("src/out.jsonl", "is inside the input folder"),
    ("old.jsonl", "exists; add --resume to complete it, --overwrite to replace it"),
    ("cut.jsonl", "an interrupted run left"),
    ("in.jsonl/out.jsonl", "is a file, not a folder"),
    ("file.parquet", "exists and is not a folder"),
    ("folder.duckdb", "exists and is not a file"),
    ("text.duckdb", "exists and is not a DuckDB file"),
    ("out.csv", "unknown output type"),
])
def test_a_bad_output_is_refused_before_any_output_is_touched(fake_pipeline, tmp_path, bad, message):
    inputs = bad_outputs_setting(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match=message) as refused:
        run_extraction(None, inputs, [tmp_path / "new.jsonl", tmp_path / bad])
    assert str(refused.value).startswith(f"{tmp_path / bad}: ") and "\n" not in str(refused.value)
    assert snapshot(tmp_path) == before, "an output or an input was touched"


def test_overwrite_does_not_touch_an_earlier_output_when_a_later_one_is_bad(fake_pipeline, tmp_path):
    inputs = bad_outputs_setting(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="exists and is not a folder"):
        run_extraction(None, inputs, [tmp_path / "old.jsonl", tmp_path / "file.parquet"], overwrite=True)
    assert snapshot(tmp_path) == before


def test_an_output_given_twice_or_resume_with_overwrite_is_refused(tmp_path):
    inputs = [write_jsonl(tmp_path / "in.jsonl", ["Năm 2022"])]
    with pytest.raises(OutputError, match="given twice"):
        run_extraction(None, inputs, [tmp_path / "o.jsonl", tmp_path / "." / "o.jsonl"])
    with pytest.raises(OutputError, match="exclude each other"):
        run_extraction(None, inputs, [tmp_path / "o.jsonl"], resume=True, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_overwrite_replaces_and_leaves_no_working_files(fake_pipeline, tmp_path):
    inputs = [write_jsonl(tmp_path / "in.jsonl", ["Năm 2022", "Năm 2023"])]
    outs = [tmp_path / "o.jsonl", tmp_path / "o.duckdb", tmp_path / "o.parquet"]
    run_extraction(None, inputs, outs)
    write_jsonl(inputs[0], ["Năm 2024"])
    run_extraction(None, inputs, outs, overwrite=True)
    assert [r["text"] for r in records(outs[0])] == ["Năm 2024"]
    assert [row[0] for row in tables(outs[1])["documents"]] == ["d0"]
    assert [row[0] for row in parquet_tables(outs[2])["documents"]] == ["d0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "o.duckdb", "o.jsonl", "o.parquet"]
    assert sorted(p.name for p in outs[2].iterdir()) == [f"{t}.parquet" for t in ("documents", "entities", "facts",
                                                                                  "officials")]


def test_a_locked_output_is_refused_and_the_lock_goes_with_its_holder(fake_pipeline, tmp_path):
    inputs = [write_jsonl(tmp_path / "in.jsonl", ["Năm 2022"])]
    out = tmp_path / "o.jsonl"
    with output_lock(out):
        with pytest.raises(OutputError, match=rf"another vipie run \(pid {os.getpid()}\) is writing it"):
            run_extraction(None, inputs, [out])
        assert not out.exists() and not (tmp_path / "o.jsonl.partial").exists()
    assert not (tmp_path / "o.jsonl.lock").exists()
    run_extraction(None, inputs, [out])
    assert [r["id"] for r in records(out)] == ["d0"]


def test_paths_with_quotes_and_semicolons_are_data_not_sql(fake_pipeline, tmp_path):
    folder = tmp_path / "it's; DROP TABLE documents; --"
    folder.mkdir()
    inputs = [write_jsonl(tmp_path / "in.jsonl", ["Năm 2022", "Năm 2023"])]
    db, parquet = folder / "o'k;.duckdb", folder / "o'k;.parquet"
    run_extraction(None, inputs, [db, parquet])
    write_jsonl(inputs[0], ["Năm 2022", "Năm 2023", "Năm 2024"])
    stats = run_extraction(None, inputs, [db, parquet], resume=True)  # restores the Parquet tables through SQL
    assert (stats.skipped, stats.documents) == (2, 1)
    assert [row[0] for row in tables(db)["documents"]] == ["d0", "d1", "d2"]
    assert [row[0] for row in parquet_tables(parquet)["documents"]] == ["d0", "d1", "d2"]
    assert corpus_summary(db)["documents"] == corpus_summary(parquet)["documents"] == (3, 0)


def test_a_write_error_mid_run_keeps_what_was_written_for_resume(fake_pipeline, tmp_path, monkeypatch):
    inputs = [write_jsonl(tmp_path / "in.jsonl", ["Năm 2021", "Năm 2022", "Năm 2023"])]
    out = tmp_path / "o.jsonl"

    def disk_full_at_d2(record: dict) -> str:
        if record["id"] == "d2":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return jsonl_line(record)

    monkeypatch.setattr("pipeline.corpus.jsonl_line", disk_full_at_d2)
    with pytest.raises(OutputError, match=r"o.jsonl: cannot write \(No space left on device\); .* with --resume$"):
        run_extraction(None, inputs, [out])
    assert not out.exists() and not (tmp_path / "o.jsonl.lock").exists()
    monkeypatch.setattr("pipeline.corpus.jsonl_line", jsonl_line)
    stats = run_extraction(None, inputs, [out], resume=True)
    assert (stats.skipped, stats.documents) == (2, 1)
    assert [r["id"] for r in records(out)] == ["d0", "d1", "d2"]


# Writers never crash on odd values


def test_odd_values_are_written_as_valid_utf8_standard_json_and_strings_in_the_corpus(tmp_path):
    outs = [tmp_path / "o.jsonl", tmp_path / "o.duckdb", tmp_path / "o.parquet"]
    record = {"id": "a\ud800b", "text": "x\udfffy\u2028z\x85", "entities": [], "facts": [], "errors": [],
              "meta": {"title": 2022, "published": [2022, {"month": 3}], "province": {"name": "Lào Cai"},
                       "score": float("nan"), "weight": float("-inf")}}
    with open_outputs(outs, []) as sinks:
        for sink in sinks:
            sink.write(record)
    raw = outs[0].read_bytes()
    line = raw.decode("utf-8")  # strict: a lone surrogate would not encode
    assert line.count("\n") == 1 and len(line.splitlines()) == 1
    written = json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} written"))
    assert written["id"] == "a\ufffdb" and written["text"] == "x\ufffdy\u2028z\x85"
    assert written["meta"]["score"] is None and written["meta"]["weight"] is None
    meta = ('{"province": {"name": "Lào Cai"}, "published": [2022, {"month": 3}], "score": null, "title": 2022, '
            '"weight": null}')
    expected = ("a\ufffdb", "2022", '[2022, {"month": 3}]', '{"name": "Lào Cai"}', 0, 0, [],
                None, meta, "x\ufffdy\u2028z\x85", [])
    assert tables(outs[1])["documents"] == [expected]
    assert parquet_tables(outs[2])["documents"] == [expected]


# Resume


def test_resume_redoes_a_last_line_without_its_newline_and_keeps_repeated_ids(fake_pipeline, tmp_path):
    inputs = [write_jsonl(tmp_path / "in.jsonl", ["Năm 2022", "Năm 2023", "Năm 2024"])]
    inputs[0].write_text(inputs[0].read_text(encoding="utf-8").replace('"d2"', '"d0"'), encoding="utf-8")
    full, out = tmp_path / "full.jsonl", tmp_path / "o.jsonl"
    run_extraction(None, inputs, [full])
    first, second, third = full.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text(first + second.rstrip("\n"), encoding="utf-8")  # whole JSON, but the newline never made it
    stats = run_extraction(None, inputs, [out], resume=True)
    assert (stats.skipped, stats.documents) == (1, 2)
    assert out.read_bytes() == full.read_bytes()
    assert [r["id"] for r in records(out)] == ["d0", "d1", "d0"]


# The worker pool survives its documents


@pytest.mark.parametrize("workers", [1, 2])
def test_a_document_past_its_time_budget_becomes_an_error_record(fake_pipeline, tmp_path, workers):
    inputs = [write_jsonl(tmp_path / "in.jsonl", ["Năm 2021", "SLEEP:60 x", "Năm 2023", "Năm 2024"])]
    out = tmp_path / "o.jsonl"
    started = time.monotonic()
    stats = run_extraction(None, inputs, [out], workers=workers, budget=DocBudget(0.001, min_seconds=1))
    assert time.monotonic() - started < 30
    written = records(out)
    assert [r["id"] for r in written] == ["d0", "d1", "d2", "d3"]
    assert written[1]["errors"] == ["timed out after 1 s (raise --doc-timeout to allow more)"]
    assert [r["entities"][0]["text"] for r in written if not r["errors"]] == ["Năm ", "Năm ", "Năm "]
    assert stats.rejected == 1


def test_a_document_that_kills_its_worker_is_recorded_and_its_neighbours_are_not(fake_pipeline, tmp_path):
    once = tmp_path / "died-once"
    texts = ["Năm 2021", "DIE x", f"DIE_ONCE:{once} y", "Năm 2024", "Năm 2025", "Năm 2026"]
    inputs = [write_jsonl(tmp_path / "in.jsonl", texts)]
    out = tmp_path / "o.jsonl"
    run_extraction(None, inputs, [out], workers=2)
    written = records(out)
    assert [r["id"] for r in written] == [f"d{i}" for i in range(6)]
    assert [r["errors"] for r in written] == [[], [WORKER_DIED], [], [], [], []]
    assert once.exists(), "the DIE_ONCE document never killed its worker"


def test_a_document_over_the_memory_limit_becomes_an_error_record(fake_pipeline, tmp_path):
    inputs = [write_jsonl(tmp_path / "in.jsonl", ["ALLOC x", "Năm 2022"])]
    out = tmp_path / "o.jsonl"
    started = time.monotonic()
    run_extraction(None, inputs, [out], budget=DocBudget(min_seconds=120, memory_mb=128))
    assert time.monotonic() - started < 30
    written = records(out)
    assert written[0]["errors"] == ["memory limit: processing it took over 128 MB beyond the model "
                                    "(raise --doc-memory to allow more)"]
    assert written[1]["errors"] == []


def test_records_keep_input_order_whatever_the_worker_count(fake_pipeline, tmp_path):
    texts = [f"SLEEP:{(i * 7 % 5) / 100} Năm {2000 + i}" for i in range(24)]
    inputs = [write_jsonl(tmp_path / "in.jsonl", texts)]
    one, three = tmp_path / "one.jsonl", tmp_path / "three.jsonl"
    run_extraction(None, inputs, [one], workers=1)
    run_extraction(None, inputs, [three], workers=3)
    assert one.read_bytes() == three.read_bytes()
    assert [r["id"] for r in records(one)] == [f"d{i}" for i in range(24)]


def test_workers_find_the_parents_objects_out_of_the_collector_and_the_parent_gets_them_back(monkeypatch, tmp_path):
    import gc

    def report_frozen(nlp, text: str, meta: dict | None = None) -> FakeDoc:
        return FakeDoc(text, {"frozen": gc.get_freeze_count()})

    monkeypatch.setattr("pipeline.process", report_frozen)
    out = tmp_path / "out.jsonl"
    run_extraction(None, [write_jsonl(tmp_path / "in.jsonl", ["Năm 2022"])], [out])
    assert records(out)[0]["meta"]["frozen"] > 0 and gc.get_freeze_count() == 0


# Signals and concurrent runs, on the real entry point


def start_vipie(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", FAKE_VIPIE, "extract", *map(str, args), "--quiet"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def run_vipie(*args) -> subprocess.CompletedProcess:
    process = start_vipie(*args)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def wait_for(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def slow_corpus(tmp_path_factory):
    """60 documents of 0.1 s each, and the outputs of an uninterrupted run over them."""
    folder = tmp_path_factory.mktemp("slow")
    inputs = write_jsonl(folder / "in.jsonl", [f"SLEEP:0.1 Năm {2000 + i} " + "chữ " * 200 for i in range(60)])
    reference = folder / "reference"
    result = run_vipie(inputs, "--workers", "2", *outputs_in(reference))
    assert result.returncode == 0, result.stderr
    return inputs, reference


def outputs_in(folder: Path) -> list[str]:
    return [arg for name in ("o.jsonl", "o.duckdb", "o.parquet") for arg in ("--out", folder / name)]


def assert_same_outputs(folder: Path, reference: Path) -> None:
    assert (folder / "o.jsonl").read_bytes() == (reference / "o.jsonl").read_bytes()
    assert tables(folder / "o.duckdb") == tables(reference / "o.duckdb")
    assert parquet_tables(folder / "o.parquet") == parquet_tables(reference / "o.parquet")
    assert not list(folder.glob("*.lock")) and not list(folder.glob("*.partial"))
    assert not list(folder.glob("*.wal")) and not (folder / "o.parquet" / ".staging.duckdb").exists()


@pytest.mark.parametrize("signum, to_group, status", [
    (signal.SIGINT, True, 130),
    (signal.SIGTERM, False, 143),
    (signal.SIGKILL, False, -9),
])
def test_a_signalled_run_stops_cleanly_and_resume_completes_it(slow_corpus, tmp_path, signum, to_group, status):
    inputs, reference = slow_corpus
    process = start_vipie(inputs, "--workers", "2", *outputs_in(tmp_path))
    wait_for(lambda: (tmp_path / "o.jsonl.partial").exists() and (tmp_path / "o.jsonl.partial").stat().st_size,
             "the first records")
    (os.killpg if to_group else os.kill)(process.pid, signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    if signum != signal.SIGKILL:
        assert stderr.strip().splitlines() == [stderr.strip()] and "Traceback" not in stderr
        assert f"interrupted by {signal.Signals(signum).name}" in stderr and "--resume" in stderr
        assert 0 < len(records(tmp_path / "o.jsonl")) < 60  # what was finished is in place, whole lines only
    result = run_vipie(inputs, "--workers", "2", *outputs_in(tmp_path), "--resume")
    assert result.returncode == 0, result.stderr
    assert_same_outputs(tmp_path, reference)


def test_a_second_run_on_the_same_output_is_refused_and_the_first_completes(slow_corpus, tmp_path):
    inputs, reference = slow_corpus
    first = start_vipie(inputs, "--workers", "2", *outputs_in(tmp_path))
    wait_for(lambda: (tmp_path / "o.parquet.lock").exists(), "the first run's locks")
    second = run_vipie(inputs, "--out", tmp_path / "o.parquet", "--resume")
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [f"vipie: error: {tmp_path / 'o.parquet'}: another vipie run "
                                                  f"(pid {first.pid}) is writing it; wait for it to end or choose "
                                                  "another --out"]
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert_same_outputs(tmp_path, reference)
