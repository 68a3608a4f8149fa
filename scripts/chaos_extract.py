"""Chaos benchmark: runs killed or interrupted at 10%, 50% and 90%, then `--resume`, against an uninterrupted run.

    python scripts/chaos_extract.py [--documents 400] [--workers 2] [--json metrics/chaos_extract.json]

Builds DOCUMENTS articles from the seeds (windows of their paragraphs under
their titles, distinct ids) into a temporary folder, extracts them once with
`vipie extract --workers N` to JSONL, DuckDB and Parquet as the reference,
then for each case -- kill -9 of the parent, kill -9 of one worker, SIGINT to
the process group, SIGTERM to the parent -- and each point (the share of
documents in the output when it strikes) runs the same command, strikes,
runs `--resume` until it exits 0, and compares: JSONL byte for byte, DuckDB
and Parquet tables as sorted rows. A worker killed from outside fails the
documents it ran only if they kill a worker again when rerun alone, so these
are counted apart (`failed`), and `identical_besides_failed` compares the rest.
Last, one document each of 20,000 `-` and of 20,000 `1.` is extracted on its
own, for its time (without the model load) and the run's peak memory.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from pipeline.corpus import TABLES
from pipeline.extract import WORKER_DIED

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
VIPIE = Path(sys.executable).parent / "vipie"
OUTPUTS = ("o.jsonl", "o.duckdb", "o.parquet")
CASES = ("kill -9 parent", "kill -9 worker", "SIGINT group", "SIGTERM parent")
POINTS = (0.1, 0.5, 0.9)
MIN_CHARS = 1500
RUN_TIMEOUT = 900
PEAK_WRAPPER = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def build_documents(n: int) -> list[dict]:
    """`n` documents: the title of a seed over a window of its paragraphs, each window starting one paragraph on."""
    seeds = [unicodedata.normalize("NFC", p.read_text(encoding="utf-8")).splitlines() for p in sorted(SEEDS.glob("*.txt"))]
    documents = []
    for i in range(n):
        lines = [line for line in seeds[i % len(seeds)] if line.strip()]
        title, body = lines[0], lines[1:]
        start, text = (i // len(seeds)) % len(body), [title]
        for line in body[start:] + body[:start]:
            text.append(line)
            if sum(map(len, text)) >= MIN_CHARS:
                break
        documents.append({"id": f"chaos-{i:04d}", "text": "\n".join(text), "meta": {"title": title}})
    return documents


def command(inputs: Path, folder: Path, workers: int, *extra: str) -> list[str]:
    outs = [arg for name in OUTPUTS for arg in ("--out", str(folder / name))]
    return [str(VIPIE), "extract", str(inputs), *outs, "--workers", str(workers), "--quiet", *extra]


def lines_written(folder: Path) -> int:
    """Whole JSONL lines in the output or the working file of a fresh run."""
    for path in (folder / "o.jsonl.partial", folder / "o.jsonl"):
        if path.exists():
            return path.read_bytes().count(b"\n")
    return 0


def worker_pids(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            pids.append(int(stat.parent.name))
    return pids


def strike(case: str, process: subprocess.Popen) -> None:
    if case == "kill -9 parent":
        os.kill(process.pid, signal.SIGKILL)
    elif case == "kill -9 worker":
        os.kill(max(worker_pids(process.pid)), signal.SIGKILL)
    elif case == "SIGINT group":
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, signal.SIGTERM)


def corpus_rows(folder: Path) -> dict[str, list[tuple]]:
    """Every table of the DuckDB and the Parquet output as sorted rows (the first column is the document id)."""
    con = duckdb.connect(str(folder / "o.duckdb"), read_only=True)
    try:
        tables = {f"duckdb.{t}": con.execute(f'SELECT * FROM "{t}"').fetchall() for t in TABLES}
    finally:
        con.close()
    for table in TABLES:
        rows = pq.read_table(folder / "o.parquet" / f"{table}.parquet").to_pylist()
        tables[f"parquet.{table}"] = [tuple(row.values()) for row in rows]
    return {name: sorted(rows, key=repr) for name, rows in tables.items()}


def without(ids: set[str], jsonl: bytes, tables: dict[str, list[tuple]]) -> tuple[list[bytes], dict]:
    """The JSONL lines and table rows of every document but `ids`."""
    lines = [line for line in jsonl.splitlines() if json.loads(line)["id"] not in ids]
    return lines, {name: [row for row in rows if row[0] not in ids] for name, rows in tables.items()}


def run_case(case: str, point: float, inputs: Path, reference: Path, workers: int, n: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="case-", dir=reference.parent))
    started = time.perf_counter()
    process = subprocess.Popen(command(inputs, folder, workers), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    while lines_written(folder) < point * n and process.poll() is None:
        time.sleep(0.05)
    at = lines_written(folder)
    if process.poll() is None:
        strike(case, process)
    try:
        _, stderr = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return {"case": case, "point": point, "at_documents": at, "hung": True, "identical": False}
    status, resumes = process.returncode, 0
    while resumes < 3:
        resumes += 1
        resumed = subprocess.run(command(inputs, folder, workers, "--resume"), capture_output=True, text=True,
                                 timeout=RUN_TIMEOUT)
        if resumed.returncode == 0:
            break
    jsonl = (folder / "o.jsonl").read_bytes()
    failed = {r["id"] for r in map(json.loads, jsonl.splitlines()) if WORKER_DIED in r["errors"]}
    reference_jsonl = (reference / "o.jsonl").read_bytes()
    tables, reference_tables = corpus_rows(folder), corpus_rows(reference)
    leftovers = sorted(p.name for p in folder.iterdir() if p.name not in OUTPUTS)
    return {
        "case": case, "point": point, "at_documents": at, "exit_status": status,
        "message": stderr.strip().splitlines()[-1] if stderr.strip() else "", "resume_runs": resumes,
        "hung": False, "failed": len(failed), "leftover_files": leftovers,
        "identical": jsonl == reference_jsonl and tables == reference_tables and not leftovers,
        "identical_besides_failed": without(failed, jsonl, tables) == without(failed, reference_jsonl,
                                                                              reference_tables),
        "seconds": round(time.perf_counter() - started, 1),
    }


def pathological(folder: Path) -> list[dict]:
    """Time (without the model load) and peak memory of one document of 20,000 `-`, and one of 20,000 `1.`.

    The peak is the largest resident size among the run's processes, read by a wrapper process that waits for
    them all (its RUSAGE_CHILDREN holds only them).
    """
    figures = []
    for i, (name, text) in enumerate((("20,000 '-'", "-" * 20_000), ("20,000 '1.'", "1." * 10_000))):
        inputs, out = folder / f"pathological-{i}.jsonl", folder / f"pathological-{i}-out.jsonl"
        inputs.write_text(json.dumps({"id": f"p{i}", "text": text}) + "\n", encoding="utf-8")
        result = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, str(VIPIE), "extract", str(inputs), "--out",
                                 str(out)], capture_output=True, text=True, timeout=RUN_TIMEOUT,
                                env={**os.environ, "COLUMNS": "200"})
        seconds = next((float(line.split("│")[-2]) for line in result.stderr.splitlines()
                        if "seconds (without model load)" in line), None)
        peak_kb = int(result.stdout.split()[-1])
        errors = json.loads(out.read_text(encoding="utf-8"))["errors"] if out.exists() else ["no output"]
        figures.append({"document": name, "exit_status": result.returncode, "seconds": seconds,
                        "peak_rss_mb": round(peak_kb / 1024), "errors": errors})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        work = Path(tmp)
        inputs = work / "documents.jsonl"
        inputs.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in build_documents(args.documents)),
                          encoding="utf-8")
        reference = work / "reference"
        started = time.perf_counter()
        subprocess.run(command(inputs, reference, args.workers), check=True, timeout=RUN_TIMEOUT)
        reference_seconds = round(time.perf_counter() - started, 1)
        print(f"reference: {args.documents} documents, --workers {args.workers}, {reference_seconds} s")
        print(f"{'case':16s} {'point':>5s} {'at':>4s} {'exit':>4s} {'failed':>6s} {'identical':>9s} "
              f"{'besides failed':>14s} {'seconds':>7s}")
        cases = []
        for case in CASES:
            for point in POINTS:
                row = run_case(case, point, inputs, reference, args.workers, args.documents)
                cases.append(row)
                print(f"{case:16s} {point:5.0%} {row['at_documents']:4d} {row.get('exit_status', 'hang')!s:>4s} "
                      f"{row.get('failed', '-')!s:>6s} {'yes' if row['identical'] else 'NO':>9s} "
                      f"{'yes' if row.get('identical_besides_failed') else 'NO':>14s} {row.get('seconds', '-')!s:>7s}",
                      flush=True)
        extreme = pathological(work)
        for row in extreme:
            print(f"{row['document']}: {row['seconds']} s without the model load, peak {row['peak_rss_mb']} MB, "
                  f"errors {row['errors']}")
    figures = {"documents": args.documents, "workers": args.workers, "reference_seconds": reference_seconds,
               "all_identical": all(row["identical"] for row in cases), "cases": cases, "pathological": extreme}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
