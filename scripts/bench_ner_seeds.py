"""Strict entity F1 on gold documents (default: the five seeds) for a model, the rules alone and underthesea.

    python scripts/bench_ner_seeds.py [--gold annotations/seeds/gold.jsonl] [--model DIR] [--json OUT]

All three run in the same process on the same texts. underthesea's ner() tags
PER/ORG/LOC on its own word tokens; they are mapped to OFFICIAL/AGENCY/LOCATION,
placed on the text by aligning its words, and scored on those three labels only.
"""

import argparse
import json
from pathlib import Path

import pipeline
from pipeline.document import read_gold_documents as read_gold
from pipeline.evaluate import entity_scores, pair_documents
from pipeline.model import build_pipeline
from pipeline.segment import align_words

REPO = Path(__file__).resolve().parent.parent
UNDERTHESEA_LABELS = {"PER": "OFFICIAL", "ORG": "AGENCY", "LOC": "LOCATION"}


def predict(nlp, gold: list[dict]) -> list[dict]:
    docs = []
    for doc in gold:
        spacy_doc = pipeline.process(nlp, doc["text"], doc.get("meta"))
        docs.append({"id": doc["id"], "text": doc["text"], "entities": [
            {"start": e.start_char, "end": e.end_char, "label": e.label_} for e in spacy_doc.ents]})
    return docs


def underthesea_entities(text: str) -> list[dict]:
    """underthesea ner() spans as character offsets of `text`."""
    from underthesea import ner

    rows = ner(text)
    spans = align_words(text, [row[0] for row in rows])
    entities, current = [], None
    for (start, end), row in zip(spans, rows):
        prefix, _, kind = row[-1].partition("-")
        label = UNDERTHESEA_LABELS.get(kind)
        if prefix == "I" and current and current["label"] == label:
            current["end"] = end
            continue
        current = {"start": start, "end": end, "label": label} if prefix in ("B", "I") and label else None
        if current:
            entities.append(current)
    return entities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=REPO / "annotations" / "seeds" / "gold.jsonl")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    gold = read_gold(args.gold)
    systems = {
        "default": predict(pipeline.load(args.model), gold),
        "rules": predict(build_pipeline("rules"), gold),
        "underthesea": [{"id": d["id"], "text": d["text"], "entities": underthesea_entities(d["text"])} for d in gold],
    }
    shared = list(UNDERTHESEA_LABELS.values())
    report = {}
    for name, pred in systems.items():
        pairs = pair_documents(gold, pred)
        report[name] = {"all_labels": entity_scores(pairs) if name != "underthesea" else None,
                        "shared_labels": entity_scores(pairs, shared)}
    print(f"{'system':12s} {'micro-F1 (all)':>15s}  " + "  ".join(f"{label:>9s}" for label in shared) + "  micro (shared)")
    for name, scores in report.items():
        overall = scores["all_labels"]["micro"]["f1-score"] if scores["all_labels"] else float("nan")
        per_label = scores["shared_labels"]["per_label"]
        cells = "  ".join(f"{per_label.get(label, {}).get('f1-score', 0.0):9.3f}" for label in shared)
        print(f"{name:12s} {overall:15.3f}  {cells}  {scores['shared_labels']['micro']['f1-score']:.3f}")
    if report["default"]["all_labels"]:
        print("default per label:", {k: v["f1-score"] for k, v in report["default"]["all_labels"]["per_label"].items()})
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
