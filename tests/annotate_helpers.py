"""Hand-built Label Studio exports for the `vipie annotate` tests (a short Vietnamese text, one annotation), and
where Label Studio's executables are."""

import copy
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Diacritics, a "\r\n" line break (two characters) and a national figure.
TEXT = "Năm 2020, UBND tỉnh Lào Cai có trên 888.000 văn bản điện tử.\r\nCả nước có 70,6% hồ sơ trực tuyến."
DOC_ID = "lao-cai-2020"
TASK_ID = 7


def at(fragment: str) -> tuple[int, int]:
    start = TEXT.index(fragment)
    return start, start + len(fragment)


def labels(rid: str, fragment: str, label: str) -> dict:
    start, end = at(fragment)
    return {"id": rid, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": fragment, "labels": [label]}}


def field(rid: str, fragment: str, name: str, entered) -> dict:
    start, end = at(fragment)
    kind, key = {"value": ("number", "number"), "value_max": ("number", "number"), "year": ("number", "number"),
                 "unit": ("textarea", "text"), "indicator": ("textarea", "text"),
                 "qualifier": ("choices", "choices"), "status": ("choices", "choices"),
                 "province": ("choices", "choices")}[name]
    value = {"start": start, "end": end, "text": fragment}
    value[key] = entered if kind == "number" else [entered]
    return {"id": rid, "from_name": name, "to_name": "text", "type": kind, "value": value}


def relation(from_id: str, to_id: str, label: str) -> dict:
    return {"from_id": from_id, "to_id": to_id, "type": "relation", "direction": "right", "labels": [label]}


RESULT = [
    labels("d1", "Năm 2020", "DATE"),
    labels("a1", "UBND tỉnh Lào Cai", "AGENCY"),
    labels("m1", "trên 888.000", "METRIC"),
    field("m1", "trên 888.000", "value", 888000),
    field("m1", "trên 888.000", "qualifier", "gt"),
    field("m1", "trên 888.000", "indicator", "văn bản điện tử"),
    field("m1", "trên 888.000", "status", "achieved"),
    labels("m2", "70,6%", "METRIC"),
    field("m2", "70,6%", "value", 70.6),
    field("m2", "70,6%", "unit", "%"),
    field("m2", "70,6%", "indicator", "hồ sơ trực tuyến"),
    field("m2", "70,6%", "province", "Việt Nam"),
    field("m2", "70,6%", "year", 2020),
    relation("m1", "a1", "province"),
    relation("m1", "d1", "year"),
]

GOLD = {
    "id": DOC_ID,
    "text": TEXT,
    "meta": {"province": "Lào Cai"},
    "entities": [
        {"start": 0, "end": 8, "label": "DATE", "text": "Năm 2020"},
        {"start": 10, "end": 27, "label": "AGENCY", "text": "UBND tỉnh Lào Cai"},
        {"start": 31, "end": 43, "label": "METRIC", "text": "trên 888.000"},
        {"start": 73, "end": 78, "label": "METRIC", "text": "70,6%"},
    ],
    "facts": [
        {"metric": {"start": 31, "end": 43, "text": "trên 888.000"}, "value": 888000.0, "value_max": None,
         "unit": None, "qualifier": "gt", "indicator": "văn bản điện tử", "province": "Lào Cai",
         "province_2025": "Lào Cai", "year": 2020, "status": "achieved"},
        {"metric": {"start": 73, "end": 78, "text": "70,6%"}, "value": 70.6, "value_max": None, "unit": "%",
         "qualifier": None, "indicator": "hồ sơ trực tuyến", "province": "Việt Nam", "province_2025": "Việt Nam",
         "year": 2020, "status": None},
    ],
    "errors": [],
}


def annotation(result: list | None = None, annotator: int = 1, annotation_id: int = 11,
               cancelled: bool = False) -> dict:
    return {"id": annotation_id, "completed_by": annotator, "was_cancelled": cancelled, "ground_truth": False,
            "result": copy.deepcopy(RESULT if result is None else result)}


def task(annotations: list[dict] | None = None, task_id: int = TASK_ID, text: str = TEXT, doc_id: str = DOC_ID) -> dict:
    """One exported task as Label Studio's synchronous JSON export writes it."""
    return {"id": task_id, "data": {"doc_id": doc_id, "text": text, "meta": {"province": "Lào Cai"}},
            "annotations": [annotation()] if annotations is None else annotations, "predictions": [3]}


def label_studio_executable(name: str = "label-studio") -> Path:
    """`name` in Label Studio's venv; a skip when it is not installed, a failure under `make test`."""
    configured = os.environ.get("VIPIE_LABEL_STUDIO")
    label_studio = Path(configured).resolve() if configured else REPO / ".venv-ls" / "bin" / "label-studio"
    if not label_studio.is_file():
        if configured:
            pytest.fail(f"VIPIE_LABEL_STUDIO={configured}: no such executable; run `make label-studio`")
        pytest.skip("Label Studio is not installed in .venv-ls; run `make label-studio` (make test does)")
    return label_studio.parent / name
