"""Time and peak memory of `vipie extract` on pathological documents, one document per run.

    python scripts/bench_pathological.py [--model DIR] [--json metrics/bench_pathological.json]

Each text is written to its own .txt file and extracted by `vipie extract` in a
subprocess. Reported per run: its wall seconds (Python start and model load
included), the seconds of the extraction itself (the run's own summary,
without the model load), the peak resident memory of its largest process
(`wait4`: the run and the workers it forked), and whether the document came out
without errors. A short normal article is run first as the baseline. The
target (issue 11): under 5 s of extraction and under 600 MB for 20,000
characters of "-", of "1." or of digits; the other texts are for comparison.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VIPIE = str(Path(sys.executable).parent / "vipie")
SEEDS = REPO.parent / "shared" / "seeds"
TARGET_SECONDS, TARGET_MB = 5.0, 600
CASES = {
    "baseline: a short article": "Năm 2022, tỉnh Lào Cai có 1.726 dịch vụ công trực tuyến, đạt 98,6%.",
    "20,000 '-'": "-" * 20_000,
    "10,000 '1.'": "1." * 10_000,
    "a 20,000-digit number": "1234567890" * 2_000,
    "10,000 'a.'": "a." * 10_000,
    "20,000 '+'": "+" * 20_000,
    "20,000 '('": "(" * 20_000,
    "10,000 '- '": "- " * 10_000,
    # Thousands of figures: the fact linker's work per figure grows with the document (`--doc-timeout` stops it).
    "3,333 '1.000 '": "1.000 " * 3_333,
    # A long real document: the five seeds four times over (about 125,000 characters, 400 figures).
    "the seeds x4": "\n\n".join(["\n\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))] * 4),
}
TARGETS = ("20,000 '-'", "10,000 '1.'", "a 20,000-digit number")
EXTRACT_SECONDS = re.compile(r"seconds \(without model load\)\s*\S\s*([\d.]+)")


def run_once(text: str, model: Path | None, folder: Path) -> dict:
    """Extract `text` in a fresh `vipie extract`; its wall seconds, extraction seconds, peak RSS and errors."""
    source, out = folder / "doc.txt", folder / "out.jsonl"
    source.write_text(text, encoding="utf-8")
    out.unlink(missing_ok=True)
    command = [VIPIE, "extract", str(source), "--out", str(out), *(["--model", str(model)] if model else [])]
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        log = stderr.read().decode("utf-8", "replace")
    if process.returncode:
        raise SystemExit(f"vipie extract exited {process.returncode}:\n{log}")
    extract_seconds = EXTRACT_SECONDS.search(log)
    if not extract_seconds:
        raise SystemExit(f"no extraction time in the summary of vipie extract:\n{log}")
    record = json.loads(out.read_text(encoding="utf-8"))
    return {"chars": len(text), "wall_seconds": round(wall, 2), "extract_seconds": float(extract_seconds.group(1)),
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "errors": record["errors"],
            "entities": len(record["entities"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=REPO / "metrics" / "bench_pathological.json")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, text in CASES.items():
            result = run_once(text, args.model, Path(folder))
            result["target"] = name in TARGETS
            if result["target"]:
                result["meets_target"] = (not result["errors"] and result["extract_seconds"] < TARGET_SECONDS
                                          and result["peak_rss_mb"] < TARGET_MB)
            results[name] = result
            print(f"{name:28s} {result['chars']:>6} chars  wall {result['wall_seconds']:6.2f} s  extract "
                  f"{result['extract_seconds']:6.2f} s  peak {result['peak_rss_mb']:5d} MB  "
                  f"{'errors: ' + '; '.join(result['errors']) if result['errors'] else 'ok'}"
                  f"{'  target met' if result.get('meets_target') else '  TARGET MISSED' if result['target'] else ''}",
                  flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"target": {"extract_seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_MB},
                                     "cases": results}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
