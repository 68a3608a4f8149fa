"""Rule linker against learned linker on held-out writers, a learning curve, and variants to choose defaults.

    python scripts/linker_report.py --gold annotations/seeds/gold.jsonl --gold annotations/composed/*.jsonl \\
        --splits annotations/splits.json [--variants] [--json metrics/linker.json]

Every score is oracle linking: gold entities in, so the table measures the linker alone (`vipie evaluate
--model` gives end-to-end figures). The learned linker is trained on the train split only; the learning
curve trains it on the first 25/50/100% of the train documents in a fixed order (SHA-1 of the id). One more
run fits it on train and dev together, as `params.yaml` ships it (`fit_on: train+dev`), and is scored on
test_writer, test_fresh and the seeds only.
`--variants` adds the candidate settings to choose among on dev (regularisation, rule features off).
`--by-writer` adds leave-one-writer-out cross-validation over the writers of train and dev (the writer is
the document id without its number): each writer is scored by a linker trained on all the others, so a
feature that only one writer's habits support shows up as a loss. test_writer, test_fresh and the seeds stay out
of it.
"""

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

from pipeline.facts.learned import LearnedLinker, linker_training_data
from pipeline.facts.indicator import IndicatorTagger
from pipeline.facts.link import FactLinker
from pipeline.facts.ranker import CandidateRanker
from pipeline.provinces import default_resolver
from pipeline.train import layout_contexts, oracle_report, split_documents

EVALUATED = ("dev", "test_writer", "test_fresh", "test")


def scores(linker: FactLinker, learned: LearnedLinker | None, structured) -> dict:
    report = oracle_report(linker, learned, structured)
    return {"facts": report["matched_metrics"], "province": report["accuracy"]["province"],
            "year": report["accuracy"]["year"], "fact_f1": report["fact_level"]["f1"],
            "indicator_token_f1": report["indicator_span"]["token_f1"],
            "indicator_exact": report["indicator_span"]["exact"],
            "year_by_evidence": {k: v["accuracy"] for k, v in report["by_evidence"]["year"].items()},
            "province_by_evidence": {k: v["accuracy"] for k, v in report["by_evidence"]["province"].items()}}


def without(groups, prefix: str):
    """Candidate groups with the features starting with `prefix` removed (a variant without them)."""
    for candidates, _ in groups:
        for candidate in candidates:
            candidate.features = {k: v for k, v in candidate.features.items() if not k.startswith(prefix)}
    return groups


def train(linker, structured, c: float, drop_rule_features: bool, folder: Path) -> LearnedLinker:
    province, year, sequences = linker_training_data(structured, linker)
    if drop_rule_features:
        province, year = without(province, "rule_choice"), without(year, "rule_choice")
    return LearnedLinker(CandidateRanker.train(province, c), CandidateRanker.train(year, c),
                         IndicatorTagger.train(sequences, folder / "indicator.crfsuite"))


def writer_of(doc_id: str) -> str:
    """The writer of a composed document: its id without the trailing number ("composed-c-007" → "composed-c")."""
    return doc_id.rsplit("-", 1)[0]


def by_writer(linker: FactLinker, structured: list, c: float, folder: Path) -> dict:
    """Leave-one-writer-out scores of the rules and the learned linker, per held-out writer and their mean."""
    writers = sorted({writer_of(doc["id"]) for doc, _ in structured})
    results = {}
    for held in writers:
        train_on = [pair for pair in structured if writer_of(pair[0]["id"]) != held]
        held_out = [pair for pair in structured if writer_of(pair[0]["id"]) == held]
        fold = folder / held
        fold.mkdir()
        results[held] = {"rules": scores(linker, None, held_out),
                         "learned": scores(linker, train(linker, train_on, c, False, fold), held_out)}
    for name in ("rules", "learned"):
        results.setdefault("mean", {})[name] = {
            key: round(sum(results[w][name][key] for w in writers) / len(writers), 4)
            for key in ("province", "year", "fact_f1", "indicator_token_f1", "indicator_exact")}
    return results


SCORE_COLUMNS = {"province": "province", "year": "year", "fact_f1": "fact F1",
                 "indicator_token_f1": "indicator token F1", "indicator_exact": "indicator exact"}


def print_table(names: list[str], rows: list[tuple[list, dict]]) -> None:
    """A Markdown table: the row's own columns (`names`), then its scores."""
    header = names + list(SCORE_COLUMNS.values())
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cells, scores_of in rows:
        print("| " + " | ".join([str(c) for c in cells] + [f"{scores_of[k]:.3f}" for k in SCORE_COLUMNS]) + " |")


def order(doc: dict) -> str:
    return hashlib.sha1(doc["id"].encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", nargs="+", type=Path, action="extend", required=True)
    parser.add_argument("--splits", type=Path, required=True)
    parser.add_argument("--c", type=float, default=1.0, help="the rankers' inverse regularisation (params.yaml)")
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--by-writer", action="store_true", help="leave-one-writer-out CV over train and dev")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    grouped = split_documents(args.gold, json.loads(args.splits.read_text(encoding="utf-8")))
    structured = {name: layout_contexts(docs) for name, docs in grouped.items()}
    linker = FactLinker(default_resolver())
    train_docs = sorted(structured["train"], key=lambda pair: order(pair[0]))
    runs = {"rules": None}
    with tempfile.TemporaryDirectory() as tmp:
        for share in (0.25, 0.5, 1.0):
            subset = train_docs[: max(1, round(share * len(train_docs)))]
            folder = Path(tmp) / f"share{share}"
            folder.mkdir()
            runs[f"learned {int(share * 100)}% ({len(subset)} docs)"] = train(linker, subset, args.c, False, folder)
        if args.variants:
            for c, drop in ((0.1, False), (0.3, False), (args.c, True)):
                folder = Path(tmp) / f"c{c}{drop}"
                folder.mkdir()
                name = f"learned C={c}" + (" without rule features" if drop else "")
                runs[name] = train(linker, train_docs, c, drop, folder)
        results = {name: {split: scores(linker, learned, structured[split]) for split in EVALUATED if structured.get(split)}
                   for name, learned in runs.items()}
        train_and_dev = structured["train"] + structured.get("dev", [])
        folder = Path(tmp) / "train_and_dev"
        folder.mkdir()
        shipped = train(linker, train_and_dev, args.c, False, folder)
        results[f"learned train+dev ({len(train_and_dev)} docs)"] = {
            split: scores(linker, shipped, structured[split]) for split in EVALUATED
            if split != "dev" and structured.get(split)}
        if args.by_writer:
            folds = Path(tmp) / "by_writer"
            folds.mkdir()
            writers = by_writer(linker, structured["train"] + structured["dev"], args.c, folds)
    print_table(["linker", "split", "facts"], [([name, split, s["facts"]], s)
                                               for name, by_split in results.items() for split, s in by_split.items()])
    if args.by_writer:
        print()
        print_table(["held-out writer", "linker"], [([held, name], s) for held, by_linker in writers.items()
                                                    for name, s in by_linker.items()])
        results["by_writer"] = writers
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
