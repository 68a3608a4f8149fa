"""vipie against underthesea on the same texts, in one run: in process, and as whole processes (start-up included).

    python scripts/bench_extract.py [SEEDS_DIR] [--repeat N] [--times N] [--workers-docs N] [--workers-input PATH...]
                                    [--fresh FILE] [--json OUT]

The texts are the seed articles: in process, underthesea's `ner()` one
sentence at a time (its documented use: `sent_tokenize`, then `ner`), `ner()`
on whole documents, and `pipeline.process`, each on every seed once per
repeat; the repeats are interleaved, so that a change in the machine's load
falls on all three alike. As whole processes: `vipie extract` on one short
article (the shortest seed's first lines, at least SHORT_CHARS characters) and
a whole Python process importing underthesea and running `ner()` on each of
its sentences; `vipie extract` on the seeds repeated `--times` times (40
documents by default). With `--workers-docs N`, `vipie extract` on N documents
(the seeds repeated) with `--workers 1` and `--workers 2`; with `--workers-input PATH...`, the same on those
documents, each a different text (the seeds repeated flatter one worker, whose memos serve every repeat,
against two that each build theirs). With `--fresh FILE`, vipie and underthesea per
sentence once each on other documents, in a process that has seen none of them (the featurizers remember the
strings they made, which flatters repeats of the same texts). With either workers option, the same for the
machine itself: a pure Python loop as one process, then as two processes at once, in turn (`host_parallelism`):
the speed-up `--workers 2` could reach at best on that machine at that time.

Each figure is the best of `--repeat` runs (the whole processes that are compared run in turn, once per
repeat, as the in-process runs do): wall seconds, user+sys CPU
seconds, syllables per second (vipie's syllables: tokens that are neither
space nor punctuation) and peak RSS (a whole process's largest process, its
workers included). The machine's load average is recorded beside them, and for each whole process the CPU
seconds other processes used during its fastest run: the figures of a busy machine are slower, the ratios
less so, but for `--workers 2` against `--workers 1`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pipeline
from pipeline.document import iter_documents

DEFAULT_INPUT = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
SHORT_CHARS = 600
UNDERTHESEA_PROCESS = """import sys
from underthesea import ner, sent_tokenize
for sentence in sent_tokenize(open(sys.argv[1], encoding="utf-8").read()):
    ner(sentence)
"""


def short_article(texts: list[str]) -> str:
    """The first whole lines of the shortest text that hold at least SHORT_CHARS characters."""
    lines = min(texts, key=len).splitlines(keepends=True)
    kept = []
    while lines and sum(map(len, kept)) < SHORT_CHARS:
        kept.append(lines.pop(0))
    return "".join(kept)


def write_corpus(path: Path, texts: list[str], times: int) -> Path:
    """A JSONL file of `texts` repeated `times` times, each copy with its own id."""
    with path.open("w", encoding="utf-8") as fh:
        for copy in range(times):
            for n, text in enumerate(texts):
                fh.write(json.dumps({"id": f"{n}-{copy}", "text": text}, ensure_ascii=False) + "\n")
    return path


def busy_seconds() -> float | None:
    """CPU seconds every process of the machine has used since it started (/proc/stat); None where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return None
    idle, iowait = int(fields[3]), int(fields[4])
    return (sum(map(int, fields[:8])) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def run_process(command: list[str]) -> dict:
    """Wall and user+sys seconds and peak RSS (MB) of one whole process, and the CPU seconds other processes used
    meanwhile (where the machine says: other work slows a run that needs both cores); it must exit with status 0."""
    busy = busy_seconds()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    cpu = usage.ru_utime + usage.ru_stime
    # ru_maxrss of a waited-for child is the largest of it and its own waited-for children (the workers), in KB.
    run = {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": usage.ru_maxrss / 1024}
    if busy is not None:
        run["others_cpu_s"] = max(0.0, busy_seconds() - busy - cpu)
    return run


def best_process(command: list[str], repeat: int) -> dict:
    return best_interleaved({"only": command}, repeat)["only"]


def best_interleaved(commands: dict[str, list[str]], repeat: int) -> dict[str, dict]:
    """The best of `repeat` runs of each whole process in `commands`, run in turn once per repeat: a burst of
    other work on the machine then falls on every command alike, not on the last one's repeats alone. (It falls
    hardest on `--workers 2`, which needs both cores where `--workers 1` leaves one to the other work.) Each
    figure is its least over the runs, but for the other processes' CPU seconds: those of the fastest run."""
    runs: dict[str, list[dict]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(run_process(command))
    best = {}
    for name, done in runs.items():
        best[name] = {key: round(min(run[key] for run in done), 3) for key in ("wall_s", "cpu_s", "peak_rss_mb")}
        fastest = min(done, key=lambda run: run["wall_s"])
        if "others_cpu_s" in fastest:
            best[name]["others_cpu_s"] = round(fastest["others_cpu_s"], 2)
    return best


CPU_LOOP = "total = 0\nfor i in range(20_000_000):\n    total += i * i % 7\n"


def host_parallelism(repeat: int) -> dict:
    """The speed-up the machine gives two CPU-bound processes over one: CPU_LOOP as one process, then as two at
    once, in turn, best of `repeat` each. Nothing is shared between the two, so `--workers 2` cannot beat it; on a
    shared virtual machine it moves from run to run, and with it whether a bar on `--workers 2` is met."""
    command = [sys.executable, "-c", CPU_LOOP]
    alone, together = [], []
    for _ in range(repeat):
        alone.append(run_process(command)["wall_s"])
        started = time.perf_counter()
        processes = [subprocess.Popen(command) for _ in range(2)]
        if any(status != 0 for status in [process.wait() for process in processes]):  # wait for both first
            raise SystemExit("bench: the CPU loop failed")
        together.append(time.perf_counter() - started)
    return {"one_process_s": round(min(alone), 3), "two_processes_s": round(min(together), 3),
            "speedup_2_over_1": round(2 * min(alone) / min(together), 2)}


def vipie_extract(inputs: list[Path], out: Path, workers: int = 1) -> list[str]:
    vipie = shutil.which("vipie", path=str(Path(sys.executable).parent)) or "vipie"
    return [vipie, "extract", *map(str, inputs), "--out", str(out), "--overwrite", "--quiet", "--workers", str(workers)]


def workers_figures(inputs: list[Path], documents: int, work: Path, repeat: int) -> dict:
    """`vipie extract` on `inputs` with --workers 1 and 2 in turn, best of `repeat`, and the speed-up."""
    workers = best_interleaved({n: vipie_extract(inputs, work / f"many_{n}.jsonl", n) for n in (1, 2)}, repeat)
    return {"documents": documents, **{f"workers_{n}": result for n, result in workers.items()},
            "speedup_2_over_1": round(workers[1]["wall_s"] / workers[2]["wall_s"], 2)}


def in_process(nlp, texts: list[str], repeat: int) -> dict:
    """Best seconds of vipie (the loaded `nlp`), underthesea per sentence and underthesea per document on `texts`,
    interleaved."""
    pipeline.process(nlp, texts[0])
    from underthesea import ner, sent_tokenize  # after vipie's load: vipie's spaCy keeps torch out, as in `vipie`

    ner(texts[0])  # lazy model loads are not throughput
    runs = {
        "vipie": lambda text: pipeline.process(nlp, text),
        "underthesea_per_sentence": lambda text: [ner(sentence) for sentence in sent_tokenize(text)],
        "underthesea_per_document": ner,
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            for text in texts:
                run(text)
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def fresh_documents(texts: list[str]) -> dict:
    """Seconds of vipie and of underthesea per sentence on `texts`, each document read once in a process that has
    seen none of them: the featurizers remember what they made, so repeats of the same documents (the seeds x N
    above) cost less than a corpus of new ones does."""
    nlp = pipeline.load()
    from underthesea import ner, sent_tokenize

    warm_up = "Năm 2023, tỉnh Lào Cai có 1.250 dịch vụ công trực tuyến."  # lazy loads are not throughput
    pipeline.process(nlp, warm_up)
    ner(warm_up)
    started = time.perf_counter()
    for text in texts:
        pipeline.process(nlp, text)
    vipie = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        for sentence in sent_tokenize(text):
            ner(sentence)
    return {"vipie": vipie, "underthesea_per_sentence": time.perf_counter() - started}


def count_syllables(nlp, texts: list[str]) -> int:
    return sum(1 for text in texts for token in nlp.make_doc(text) if not (token.is_space or token.is_punct))


def rate(syllables: int, seconds: float) -> int:
    return round(syllables / seconds)


def fresh_figures(nlp, path: Path) -> dict:
    """`fresh_documents` run in a child process (so that nothing the seeds' runs remembered helps it), with the
    documents' count, syllables and each tool's syllables per second."""
    texts = [d.text for d in iter_documents([path]) if not d.errors]
    child = subprocess.run([sys.executable, __file__, "--fresh-child", str(path)], capture_output=True, text=True,
                           check=True)
    seconds = json.loads(child.stdout.splitlines()[-1])
    syllables = count_syllables(nlp, texts)
    return {"documents": len(texts), "syllables": syllables,
            **{name: {"seconds": round(s, 3), "syllables_per_second": rate(syllables, s)} for name, s in seconds.items()},
            "vipie_vs_underthesea_per_sentence": round(seconds["underthesea_per_sentence"] / seconds["vipie"], 2)}


def main() -> None:
    if sys.argv[1:2] == ["--fresh-child"]:
        print(json.dumps(fresh_documents([d.text for d in iter_documents([Path(sys.argv[2])]) if not d.errors])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", type=Path, default=[DEFAULT_INPUT])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--times", type=int, default=8, help="copies of the seeds in the whole-process corpus")
    parser.add_argument("--workers-docs", type=int, default=0,
                        help="also time --workers 1 and 2 on this many documents (the seeds repeated)")
    parser.add_argument("--workers-input", type=Path, nargs="+", default=None,
                        help="also time --workers 1 and 2 on these inputs, other documents than the seeds")
    parser.add_argument("--fresh", type=Path, default=None,
                        help="also time vipie and underthesea once each, in a new process, on these other documents")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    texts = [d.text for d in iter_documents(args.inputs) if not d.errors]
    short = short_article(texts)
    nlp = pipeline.load()
    seeds_syllables, short_syllables = count_syllables(nlp, texts), count_syllables(nlp, [short])
    figures: dict = {"repeat": args.repeat, "load_average_before": [round(x, 2) for x in os.getloadavg()],
                     "cpus": os.cpu_count(),
                     "documents": len(texts), "syllables": seeds_syllables, "short_article_chars": len(short),
                     "short_article_syllables": short_syllables}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        one = work / "short" / "short.txt"
        one.parent.mkdir()
        one.write_text(short, encoding="utf-8")
        corpus = write_corpus(work / "corpus.jsonl", texts, args.times)
        figures["whole_process"] = {
            **best_interleaved({"vipie_one_article": vipie_extract([one], work / "one.jsonl"),
                                "underthesea_one_article": [sys.executable, "-c", UNDERTHESEA_PROCESS, str(one)]},
                               args.repeat),
            "vipie_corpus": best_process(vipie_extract([corpus], work / "corpus_out.jsonl"), args.repeat),
        }
        corpus_syllables = seeds_syllables * args.times
        figures["whole_process"]["vipie_corpus"].update(documents=len(texts) * args.times, syllables=corpus_syllables)
        if args.workers_docs:
            many = write_corpus(work / "many.jsonl", texts, -(-args.workers_docs // len(texts)))
            figures["workers"] = workers_figures([many], len(texts) * -(-args.workers_docs // len(texts)), work,
                                                 args.repeat)
        if args.workers_input:
            documents = sum(1 for d in iter_documents(args.workers_input) if not d.errors)
            figures["workers_other_documents"] = {"inputs": [str(path) for path in args.workers_input],
                                                  **workers_figures(args.workers_input, documents, work, args.repeat)}
        if args.workers_docs or args.workers_input:
            figures["host_parallelism"] = host_parallelism(args.repeat)
    seconds = in_process(nlp, texts, args.repeat)
    figures["in_process"] = {name: {"seconds": round(s, 3), "syllables_per_second": rate(seeds_syllables, s)}
                             for name, s in seconds.items()}
    whole = figures["whole_process"]
    figures["ratios"] = {
        "in_process_vs_underthesea_per_sentence": round(seconds["underthesea_per_sentence"] / seconds["vipie"], 2),
        "in_process_vs_underthesea_per_document": round(seconds["underthesea_per_document"] / seconds["vipie"], 2),
        "whole_process_corpus_vs_underthesea_per_sentence": round(
            rate(corpus_syllables, whole["vipie_corpus"]["wall_s"])
            / figures["in_process"]["underthesea_per_sentence"]["syllables_per_second"], 2),
        "one_article_wall_underthesea_over_vipie": round(
            whole["underthesea_one_article"]["wall_s"] / whole["vipie_one_article"]["wall_s"], 2),
        "one_article_cpu_underthesea_over_vipie": round(
            whole["underthesea_one_article"]["cpu_s"] / whole["vipie_one_article"]["cpu_s"], 2),
    }
    whole["vipie_corpus"]["syllables_per_second"] = rate(corpus_syllables, whole["vipie_corpus"]["wall_s"])
    if args.fresh:
        figures["fresh_documents"] = fresh_figures(nlp, args.fresh)
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
