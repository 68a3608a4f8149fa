"""Write gold JSONL documents as a Label Studio JSON export (one submitted annotation per task).

    python scripts/gold_to_label_studio.py GOLD.jsonl [GOLD2.jsonl ...] --out EXPORT.json

The gold corpus was annotated by correcting pipeline output outside Label Studio; this turns it into
the export format, so annotators can load it into a project (`scripts/label_studio.py`) and go on
correcting there, and so `vipie annotate import EXPORT.json --out gold.jsonl` rebuilds the gold.
Facts become per-region fields (value, unit, qualifier, indicator, province, year, status).
"""

import argparse
import json
from pathlib import Path

from pipeline.annotate.tasks import prediction_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    tasks = []
    for path in args.gold:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            n = len(tasks) + 1
            tasks.append({
                "id": n,
                "data": {"doc_id": doc["id"], "text": doc["text"], "meta": doc.get("meta") or {}},
                "annotations": [{"id": n, "completed_by": 1, "was_cancelled": False, "result": prediction_result(doc)}],
                "predictions": [],
            })
    args.out.write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(tasks)} tasks to {args.out}")


if __name__ == "__main__":
    main()
