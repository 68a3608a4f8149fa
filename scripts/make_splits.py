"""Write the deterministic document split: annotations/splits.json.

    python scripts/make_splits.py

Composed documents go to train, or to dev when the SHA-1 of their id falls in
the first fifth (stable under adding documents); the five real seed articles
are the test set and never train anything.
"""

import hashlib
import json
from pathlib import Path

ANNOTATIONS = Path(__file__).resolve().parent.parent / "annotations"
DEV_SHARE = 5  # one document in five


def ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    composed = sorted(i for path in sorted((ANNOTATIONS / "composed").glob("*.jsonl")) for i in ids(path))
    is_dev = lambda doc_id: int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % DEV_SHARE == 0  # noqa: E731
    splits = {"train": [i for i in composed if not is_dev(i)], "dev": [i for i in composed if is_dev(i)],
              "test": sorted(ids(ANNOTATIONS / "seeds" / "gold.jsonl"))}
    (ANNOTATIONS / "splits.json").write_text(json.dumps(splits, indent=1) + "\n", encoding="utf-8")
    print({split: len(docs) for split, docs in splits.items()})


if __name__ == "__main__":
    main()
