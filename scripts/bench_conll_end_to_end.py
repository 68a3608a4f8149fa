"""A model's own score on a CoNLL test set beside its score end to end on the same sentences as raw text.

    python scripts/bench_conll_end_to_end.py --model models/NAME --test TEST.conll [--workers 2]
                                             [--json metrics/bench_conll_end_to_end.json]

Step 1 runs `vipie evaluate --gold TEST.conll` (the model's recognizer on the file's own tokens). Step 2 writes
each sentence as a document (its tokens joined as training joins them, `example_text`), runs `vipie extract` on
them as a user would, and scores the extracted entities against the gold spans: a span counts when its start,
end and label are all right (strict micro P/R/F1, and F1 per label). The difference is what tokenization, word
segmentation and the merge with the rules cost. The data is read from the path given and never copied into the
repository.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from pipeline.recognize.crf import example_text
from pipeline.recognize.merge import tags_to_spans
from pipeline.training_data import read_conll


def sentence_documents(path: Path) -> list[tuple[dict, set[tuple[int, int, str]]]]:
    """Each CoNLL sentence as a document and its gold spans `(start, end, label)` in the document's text."""
    documents = []
    for n, example in enumerate(read_conll(path)):
        text, starts, ends = example_text(example)
        gold = {(starts[first], ends[last - 1], label) for first, last, label in tags_to_spans(example.tags)}
        documents.append(({"id": f"s{n}", "text": text, "meta": {}}, gold))
    return documents


def span_scores(gold: list[set], predicted: list[set]) -> dict:
    """Strict micro precision, recall and F1 of predicted spans against gold spans, and F1 per gold label."""
    hits, gold_n, pred_n = Counter(), Counter(), Counter()
    for g, p in zip(gold, predicted):
        for _, _, label in g & p:
            hits[label] += 1
        gold_n.update(label for _, _, label in g)
        pred_n.update(label for _, _, label in p)

    def f1(h, g, p):
        return round(2 * h / (g + p), 4) if g + p else 0.0

    total_h, total_g, total_p = sum(hits.values()), sum(gold_n.values()), sum(pred_n.values())
    return {"precision": round(total_h / total_p, 4) if total_p else 0.0,
            "recall": round(total_h / total_g, 4) if total_g else 0.0, "f1": f1(total_h, total_g, total_p),
            "per_label_f1": {label: f1(hits[label], gold_n[label], pred_n[label]) for label in sorted(gold_n)}}


def vipie(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pipeline", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--workers", default="2")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    documents = sentence_documents(args.test)
    with tempfile.TemporaryDirectory() as tmp:
        own = Path(tmp) / "evaluate.json"
        vipie("evaluate", "--gold", str(args.test), "--model", str(args.model), "--json", str(own),
              "--show-errors", "0")
        recognizer = json.loads(own.read_text(encoding="utf-8"))["entities"]["micro"]
        inputs, outputs = Path(tmp) / "sentences.jsonl", Path(tmp) / "extracted.jsonl"
        inputs.write_text("".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc, _ in documents), encoding="utf-8")
        vipie("extract", str(inputs), "--model", str(args.model), "--out", str(outputs), "--workers", args.workers,
              "--quiet")
        records = {r["id"]: r for r in map(json.loads, outputs.read_text(encoding="utf-8").splitlines())}
    predicted = [{(e["start"], e["end"], e["label"]) for e in records[doc["id"]]["entities"]} for doc, _ in documents]
    end_to_end = span_scores([gold for _, gold in documents], predicted)
    report = {"test": args.test.name, "sentences": len(documents), "model": str(args.model),
              "recognizer_on_conll_tokens_f1": recognizer["f1-score"], "end_to_end_f1": end_to_end["f1"],
              "difference": round(recognizer["f1-score"] - end_to_end["f1"], 4), "end_to_end": end_to_end}
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
