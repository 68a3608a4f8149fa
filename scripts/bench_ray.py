"""Local engine against Ray Data on one machine: documents/s, syllables/s, peak memory of the driver and workers.

    python scripts/bench_ray.py [--documents 10000] [--json metrics/bench_ray.json]

The corpus: `--documents` short documents (one sentence of the seeds each, about 60 syllables)
in one JSONL file. Each configuration is one `vipie extract` in a subprocess, writing a .parquet corpus: the
local engine with `--workers 1` and `2`, and `--engine ray` with `--actors 1` and `2` (Ray started by the run on
this machine, every core offered). Reported per run: the run's own seconds (its summary line: without the model
load for the local engine; for Ray, with the actors' start, which loads the model once per actor), wall seconds,
documents/s and syllables/s over the run's own seconds, the peak resident memory of the driver (the `vipie`
process) and of each worker (forked local workers; Ray actors and the worker each forks), and the CPU seconds
of the driver, the workers and Ray's own processes, sampled every 0.2 s over the whole process tree: on a
shared machine the CPU split says what the wall clock cannot. Ray with 2 actors is also run on a quarter of
the corpus: the driver's peak should not grow with the corpus. The machine's load average before and after is
recorded: this machine is shared.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
VIPIE = str(Path(sys.executable).parent / "vipie")
SEEDS = REPO.parent / "shared" / "seeds"
SENTENCES_PER_DOCUMENT = 1
SUMMARY = {name: re.compile(rf"{label}\s*\S\s*([\d.]+)") for name, label in
           [("seconds", r"seconds \(without model load\)"), ("documents", r"│ documents"),
            ("syllables_per_second", r"syllables / second")]}


def write_corpus(path: Path, count: int) -> None:
    """`count` documents of consecutive seed sentences (wrapping round the seeds)."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    sentences = [s.strip() + "." for s in re.split(r"(?<=\w)\.\s+", " ".join(text.split())) if len(s.split()) >= 6]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            start = (i * SENTENCES_PER_DOCUMENT) % (len(sentences) - SENTENCES_PER_DOCUMENT)
            body = " ".join(sentences[start:start + SENTENCES_PER_DOCUMENT])
            fh.write(json.dumps({"id": f"bench-{i}", "text": body}, ensure_ascii=False) + "\n")


class TreeUsage:
    """Peak resident memory and CPU seconds of a process and of each of its descendants, sampled in a thread (a
    process's CPU as last seen: a process that ends between two samples loses at most its last 0.2 s)."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peaks: dict[int, tuple[str, int]] = {}
        self.cpu: dict[int, float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in processes:
                try:
                    rss, name = process.memory_info().rss, " ".join(process.cmdline())[:120]
                    times = process.cpu_times()
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                previous = self.peaks.get(process.pid, (name, 0))
                self.peaks[process.pid] = (name if "ray::" in name else previous[0], max(previous[1], rss))
                self.cpu[process.pid] = times.user + times.system
            time.sleep(self.interval)

    def stop(self) -> dict:
        """Peaks in MB of the driver and of each worker (a local worker forked by the driver; a Ray actor and the
        worker it forks), and CPU seconds of the driver, the workers and the rest (Ray's own processes)."""
        self.done.set()
        self.thread.join()
        mb = 1 << 20
        driver = self.peaks.pop(self.root.pid, ("", 0))[1]
        ray = any("ray::" in name for name, _ in self.peaks.values())
        workers = {pid for pid, (name, _) in self.peaks.items()
                   if ("Extractor" in name if ray else "python" in name or "vipie" in name)}
        cpu = {"driver": self.cpu.pop(self.root.pid, 0.0),
               "workers": sum(seconds for pid, seconds in self.cpu.items() if pid in workers),
               "ray_processes": sum(seconds for pid, seconds in self.cpu.items() if pid not in workers)}
        return {"driver_peak_mb": round(driver / mb),
                "worker_peak_mb": sorted(round(self.peaks[pid][1] / mb) for pid in workers),
                "cpu_seconds": {role: round(seconds, 1) for role, seconds in cpu.items()}}


def run(corpus: Path, out: Path, args: list[str]) -> dict:
    command = [VIPIE, "extract", str(corpus), "--out", str(out), "--overwrite", *args]
    env = {**os.environ, "COLUMNS": "200", "RAY_AUTH_MODE": "disabled"}  # a local Ray started by the run
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    usage = TreeUsage(process.pid)
    log = process.communicate()[1]
    wall = time.perf_counter() - started
    peaks = usage.stop()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{log}")
    found = {name: pattern.search(log) for name, pattern in SUMMARY.items()}
    if not all(found.values()):
        raise SystemExit(f"no summary in the output of {' '.join(command)}:\n{log}")
    seconds, documents, rate = (float(found[name].group(1)) for name in ("seconds", "documents",
                                                                          "syllables_per_second"))
    return {"args": " ".join(args), "documents": int(documents), "seconds": seconds, "wall_seconds": round(wall, 1),
            "documents_per_second": round(documents / seconds, 1), "syllables_per_second": rate, **peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=REPO / "metrics" / "bench_ray.json")
    args = parser.parse_args()

    configurations = {"local, 1 worker": ["--workers", "1"], "local, 2 workers": ["--workers", "2"],
                      "ray, 1 actor": ["--engine", "ray", "--actors", "1"],
                      "ray, 2 actors": ["--engine", "ray", "--actors", "2"]}
    results = {"documents": args.documents, "cores": os.cpu_count(), "load_before": os.getloadavg(), "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        corpus, small = Path(folder) / "corpus.jsonl", Path(folder) / "quarter.jsonl"
        write_corpus(corpus, args.documents)
        write_corpus(small, args.documents // 4)
        for name, flags in configurations.items():
            results["runs"][name] = run(corpus, Path(folder) / "out.parquet", flags)
            write(args.json, results)  # each run as it ends: a long benchmark interrupted keeps what it measured
        results["runs"]["ray, 2 actors, a quarter of the corpus"] = run(small, Path(folder) / "out.parquet",
                                                                         configurations["ray, 2 actors"])
    runs = results["runs"]
    results["ray_speedup_2_over_1_actors"] = round(runs["ray, 2 actors"]["documents_per_second"]
                                                   / runs["ray, 1 actor"]["documents_per_second"], 2)
    results["local_speedup_2_over_1_workers"] = round(runs["local, 2 workers"]["documents_per_second"]
                                                      / runs["local, 1 worker"]["documents_per_second"], 2)
    results["load_after"] = os.getloadavg()
    write(args.json, results)
    print(json.dumps(results, ensure_ascii=False, indent=2))


def write(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
