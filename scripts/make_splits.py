"""Write the document split by writer: annotations/splits.json.

    python scripts/make_splits.py

Splits hold out whole writers, so a score on dev or test_writer says how a model does on a writer it has
never seen (issue: generalization). Composed documents carry their writer in `meta.writer` (the first
64 documents, part A and part B, are writers "a" and "b"):

    train        writers a, b, c, d, e, h, i, j, n, o
    dev          writer f   (district and commune stations: choose defaults and features here)
    test_writer  writer g   (a figure-heavy magazine analyst: blind, scored once at the end)
    test_fresh   writer k   (a provincial portal's news desk, composed and annotated after the default model
                            was last changed: scored once, blind to every choice made before it)
    test         the five real seed articles (evaluation only, never training or tuning)
"""

import json
from pathlib import Path

ANNOTATIONS = Path(__file__).resolve().parent.parent / "annotations"
SPLIT_OF_WRITER = {"a": "train", "b": "train", "c": "train", "d": "train", "e": "train", "f": "dev",
                   "g": "test_writer", "h": "train", "i": "train", "j": "train",
                   "k": "test_fresh", "n": "train", "o": "train"}
PART_WRITER = {"part_a.jsonl": "a", "part_b.jsonl": "b"}


def documents(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    splits: dict[str, list[str]] = {split: [] for split in (*dict.fromkeys(SPLIT_OF_WRITER.values()), "test")}
    for path in sorted((ANNOTATIONS / "composed").glob("*.jsonl")):
        for doc in documents(path):
            writer = doc["meta"].get("writer") or PART_WRITER[path.name]
            splits[SPLIT_OF_WRITER[writer]].append(doc["id"])
    splits["test"] = [doc["id"] for doc in documents(ANNOTATIONS / "seeds" / "gold.jsonl")]
    splits = {name: sorted(ids) for name, ids in splits.items()}
    (ANNOTATIONS / "splits.json").write_text(json.dumps(splits, indent=1) + "\n", encoding="utf-8")
    print({split: len(docs) for split, docs in splits.items()})


if __name__ == "__main__":
    main()
