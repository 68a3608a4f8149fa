"""Inter-annotator agreement between two annotations of the same documents.

Spans: per label, precision, recall and F1 of B against A, exact (same start,
end and label) and overlap (a span counts as found when a span of the other
side with the same label shares at least one character with it; precision
counts B's spans found in A, recall A's spans found in B). F1 is symmetric, so
it does not matter which side is called A.

Facts: on the METRICs whose span is the same on both sides, the share of facts
on which the two agree, per attribute (value and value_max equal as floats,
strings equal after whitespace is collapsed), and the indicator spans' exact
agreement and token-overlap F1.

Either side is a Label Studio JSON export (.json, read strictly by `gold.py`)
or a gold JSONL file (.jsonl); documents are matched by id.
"""

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pipeline.annotate.gold import gold_from_export, read_export, read_gold
from pipeline.errors import AnnotationError, InputError
from pipeline.evaluate import indicator_span_scores, token_offsets
from pipeline.labels import LABEL_NAMES
from pipeline.provinces import ProvinceResolver

FACT_ATTRIBUTES: tuple[str, ...] = ("value", "value_max", "unit", "qualifier", "indicator", "province", "year",
                                    "status")


def read_annotations(path: Path, resolver: ProvinceResolver, annotator: str | None = None) -> dict[str, dict]:
    """Gold documents by id from a Label Studio export (.json) or a gold file (.jsonl).

    Raises:
        InputError: another suffix, or an unreadable file.
        AnnotationError: the export has problems (`gold.gold_from_export`).
    """
    if path.suffix == ".json":
        documents = gold_from_export(read_export(path), resolver, str(path), annotator)
    elif path.suffix == ".jsonl":
        if annotator is not None:
            raise InputError(f"{path}: a gold file has one annotation per document; --annotator is for .json exports")
        documents = read_gold(path)
    else:
        raise InputError(f"{path}: give a Label Studio export (.json) or a gold file (.jsonl)")
    by_id: dict[str, dict] = {}
    for document in documents:
        if document["id"] in by_id:
            raise InputError(f"{path}: document {document['id']} appears twice; keep one")
        by_id[document["id"]] = document
    return by_id


def prf(found_in_a: int, n_b: int, found_in_b: int, n_a: int) -> dict:
    """Precision (B's spans found in A), recall (A's spans found in B) and F1; None where undefined."""
    precision = found_in_a / n_b if n_b else None
    recall = found_in_b / n_a if n_a else None
    if precision is None and recall is None:
        f1 = None
    elif not precision or not recall:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1}


def overlapping(span: tuple[int, int], others: Sequence[tuple[int, int]]) -> bool:
    return any(start < span[1] and span[0] < end for start, end in others)


def span_agreement(pairs: Sequence[tuple[dict, dict]], labels: Sequence[str] = LABEL_NAMES) -> dict:
    """Per label (and "all", micro-averaged): counts and exact / overlap precision, recall, F1 of B against A."""
    counts = {label: Counter() for label in (*labels, "all")}
    for doc_a, doc_b in pairs:
        for label in labels:
            a = [(e["start"], e["end"]) for e in doc_a["entities"] if e["label"] == label]
            b = [(e["start"], e["end"]) for e in doc_b["entities"] if e["label"] == label]
            exact = len(set(a) & set(b))
            found = {"a": len(a), "b": len(b), "exact": exact,
                     "b_in_a": sum(overlapping(s, a) for s in b), "a_in_b": sum(overlapping(s, b) for s in a)}
            for key in (label, "all"):
                counts[key].update(found)
    return {
        label: {"a": c["a"], "b": c["b"],
                "exact": prf(c["exact"], c["b"], c["exact"], c["a"]),
                "overlap": prf(c["b_in_a"], c["b"], c["a_in_b"], c["a"])}
        for label, c in counts.items()
    }


def same_attribute(name: str, a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if name in ("value", "value_max"):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, str) and isinstance(b, str):
        return " ".join(a.split()) == " ".join(b.split())
    return a == b


def fact_agreement(pairs: Sequence[tuple[dict, dict]], attributes: Sequence[str] = FACT_ATTRIBUTES) -> dict:
    """On METRICs with the same span on both sides: how many, per attribute the share that agrees, and where both
    sides give indicator spans (guidelines v2), their exact agreement and token-overlap F1 (as `vipie evaluate`)."""
    matched = spans = 0
    agreeing = Counter()
    exact_total = overlap_total = 0.0
    for doc_a, doc_b in pairs:
        facts_b = {(f["metric"]["start"], f["metric"]["end"]): f for f in doc_b["facts"]}
        offsets = token_offsets(doc_a["text"])
        for fact_a in doc_a["facts"]:
            fact_b = facts_b.get((fact_a["metric"]["start"], fact_a["metric"]["end"]))
            if fact_b is None:
                continue
            matched += 1
            agreeing.update(name for name in attributes if same_attribute(name, fact_a.get(name), fact_b.get(name)))
            if "indicator_span" in fact_a and "indicator_span" in fact_b:
                spans += 1
                exact, overlap = indicator_span_scores(doc_a["text"], fact_a, fact_b, offsets)
                exact_total += exact
                overlap_total += overlap
    return {"matched_metrics": matched,
            "accuracy": {name: (agreeing[name] / matched if matched else None) for name in attributes},
            "indicator_span": {"facts": spans, "exact": exact_total / spans if spans else None,
                               "token_f1": overlap_total / spans if spans else None}}


def agreement(docs_a: dict[str, dict], docs_b: dict[str, dict]) -> dict:
    """Agreement of B with A on the documents both hold (matched by id).

    Returns:
        {"documents": n, "only_in_a": [ids], "only_in_b": [ids], "spans": {label: ...}, "facts": {...}}

    Raises:
        AnnotationError: a document whose text differs between A and B (offsets cannot be compared).
    """
    shared = [doc_id for doc_id in docs_a if doc_id in docs_b]
    differing = [f"document {doc_id}: the text differs between A and B, so their offsets cannot be compared; "
                 f"annotate the same export of it"
                 for doc_id in shared if docs_a[doc_id]["text"] != docs_b[doc_id]["text"]]
    if differing:
        raise AnnotationError(differing)
    pairs = [(docs_a[doc_id], docs_b[doc_id]) for doc_id in shared]
    return {
        "documents": len(shared),
        "only_in_a": sorted(set(docs_a) - set(docs_b)),
        "only_in_b": sorted(set(docs_b) - set(docs_a)),
        "spans": span_agreement(pairs),
        "facts": fact_agreement(pairs),
    }
