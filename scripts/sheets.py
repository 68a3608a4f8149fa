"""Annotation sheets ↔ gold JSONL (pipeline/annotate/sheet.py describes the sheet format).

    python scripts/sheets.py to-gold SHEETS... --docs SRC... --out GOLD.jsonl
    python scripts/sheets.py from-gold GOLD.jsonl --out SHEET.jsonl
    python scripts/sheets.py show SHEET.jsonl --docs SRC... [--id ID]

SRC is a folder of `<id>.txt` files with `<id>.meta.json` beside them, or a JSONL of documents
({"id", "text", "meta"}). SHEETS are JSONL files or folders of `<id>.json` sheets. `to-gold` prints every problem and warning, writes the documents that have no
problem, and exits 1 when any sheet line had one.
"""

import argparse
import json
import sys
import unicodedata
from pathlib import Path

from pipeline.annotate.sheet import gold_from_sheet, sheet_from_gold
from pipeline.provinces import default_resolver


def read_documents(sources: list[Path]) -> dict[str, dict]:
    documents = {}
    for source in sources:
        if source.is_dir():
            for path in sorted(source.glob("*.txt")):
                meta_path = path.with_suffix(".meta.json")
                meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
                meta.pop("id", None)
                text = unicodedata.normalize("NFC", path.read_text(encoding="utf-8"))
                documents[path.stem] = {"id": path.stem, "text": text, "meta": meta}
        else:
            for line in source.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    doc = json.loads(line)
                    documents[doc["id"]] = {"id": doc["id"], "text": doc["text"], "meta": doc.get("meta") or {}}
    return documents


def read_sheets(paths: list[Path]) -> list[dict]:
    """Sheet lines from JSONL files and from folders of `<id>.json` files (one sheet object each)."""
    sheets = []
    for path in paths:
        if path.is_dir():
            for part in sorted(path.glob("*.json")):
                try:
                    sheets.append(json.loads(part.read_text(encoding="utf-8")))
                except json.JSONDecodeError as exc:
                    sys.exit(f"{part}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    sheets.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    sys.exit(f"{path}:{number}: not JSON ({exc.msg} at column {exc.colno})")
    return sheets


def to_gold(args) -> int:
    documents = read_documents(args.docs)
    resolver = default_resolver()
    gold, failed, n_warnings = [], 0, 0
    for sheet in read_sheets(args.sheets):
        source = documents.get(sheet.get("id"))
        if source is None:
            print(f"{sheet.get('id')}: no document with this id in {', '.join(map(str, args.docs))}")
            failed += 1
            continue
        document, problems, warnings = gold_from_sheet(sheet, source["text"], source["meta"], resolver)
        for line in problems:
            print("PROBLEM", line)
        for line in warnings:
            print("warning", line)
        n_warnings += len(warnings)
        if document is None:
            failed += 1
        else:
            gold.append(document)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for document in gold:
            fh.write(json.dumps(document, ensure_ascii=False) + "\n")
    n_facts = sum(len(d["facts"]) for d in gold)
    print(f"{len(gold)} documents written to {args.out} ({n_facts} facts), {failed} with problems, {n_warnings} warnings")
    return 1 if failed else 0


def from_gold(args) -> int:
    lines = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    with args.out.open("w", encoding="utf-8") as fh:
        for document in lines:
            fh.write(json.dumps(sheet_from_gold(document), ensure_ascii=False) + "\n")
    print(f"{len(lines)} sheet lines written to {args.out}")
    return 0


def show(args) -> int:
    documents = read_documents(args.docs)
    resolver = default_resolver()
    for sheet in read_sheets(args.sheets):
        if args.id and sheet.get("id") != args.id:
            continue
        source = documents[sheet["id"]]
        document, problems, warnings = gold_from_sheet(sheet, source["text"], source["meta"], resolver)
        print(f"== {sheet['id']} meta={json.dumps(source['meta'], ensure_ascii=False)}")
        for line in problems + warnings:
            print("  !", line)
        if document is None:
            continue
        text, pieces, cursor = document["text"], [], 0
        for entity in document["entities"]:
            pieces += [text[cursor:entity["start"]], f"[{entity['text']}]{entity['label']}"]
            cursor = entity["end"]
        print("".join(pieces) + text[cursor:])
        for fact in document["facts"]:
            print(f"  {fact['metric']['text']!r}: value={fact['value']} max={fact['value_max']} unit={fact['unit']} "
                  f"q={fact['qualifier']} ind={fact['indicator']!r} prov={fact['province']} year={fact['year']} "
                  f"status={fact['status']}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("to-gold")
    p.add_argument("sheets", nargs="+", type=Path)
    p.add_argument("--docs", nargs="+", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=to_gold)
    p = sub.add_parser("from-gold")
    p.add_argument("gold", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=from_gold)
    p = sub.add_parser("show")
    p.add_argument("sheets", nargs="+", type=Path)
    p.add_argument("--docs", nargs="+", type=Path, required=True)
    p.add_argument("--id")
    p.set_defaults(run=show)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
