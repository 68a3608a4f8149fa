"""Evaluation against gold documents: entity scores (seqeval, strict IOB2), error confusion, fact quality.

Entities are scored at entity level by seqeval in strict mode with the IOB2
scheme over the syllable tokens of each document (`mode="strict"` alone would
silently fall back to lenient matching). Every label found in the gold or the
predictions is scored, whatever the label set. Errors are sorted into label
errors, boundary errors, both, spurious and missed, and listed one by one by
document and span. Facts are compared on metrics whose span matches gold; a
fact counts as right only when its span, value, province and year all are.
"""

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import regex
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from pipeline.errors import InputError
from pipeline.facts.link import YEAR_IN_TEXT
from pipeline.labels import NATIONAL
from pipeline.tokenize import syllable_tokens
from pipeline.training_data import label_order, tag_tokens

FACT_FIELDS = ("value", "unit", "qualifier", "province", "year", "status")
SENTENCE_END = regex.compile(r"[.!?;](?=\s)")


def token_offsets(text: str) -> list[tuple[int, int]]:
    """`[start, end)` of each non-space syllable token of `text`."""
    offsets, pos = [], 0
    words, spaces = syllable_tokens(text)
    for word, space in zip(words, spaces):
        if word.strip():
            offsets.append((pos, pos + len(word)))
        pos += len(word) + (1 if space else 0)
    return offsets


def iob2_tags(text: str, entities: Iterable[dict], problems: list[str], doc_id: str) -> list[str]:
    """IOB2 tags over the tokens of `text`; an entity whose edges fall inside a token is reported, not moved."""
    offsets = token_offsets(text)
    return tag_tokens([s for s, _ in offsets], [e for _, e in offsets], entities, text, doc_id, problems)


def pair_documents(gold: list[dict], pred: list[dict]) -> list[tuple[dict, dict]]:
    """Gold and predicted documents matched by id.

    Raises:
        InputError: a gold document has no prediction, or their texts differ.
    """
    by_id = {doc["id"]: doc for doc in pred}
    pairs = []
    for doc in gold:
        other = by_id.get(doc["id"])
        if other is None:
            raise InputError(f"document {doc['id']!r} is in the gold but not in the predictions")
        if other["text"] != doc["text"]:
            raise InputError(f"document {doc['id']!r}: predicted text differs from the gold text")
        pairs.append((doc, other))
    return pairs


def entity_labels(pairs: list[tuple[dict, dict]]) -> list[str]:
    """Every label of the gold and predicted entities: the project's labels in their order, then the others sorted."""
    return label_order(e["label"] for gold, pred in pairs for e in (*gold["entities"], *pred["entities"]))


def unknown_labels(gold: list[dict], known: Iterable[str]) -> dict[str, int]:
    """The gold labels outside `known` (a model's label set), each with its number of gold spans, by label."""
    return count_unknown((e["label"] for doc in gold for e in doc["entities"]), known)


def count_unknown(labels: Iterable[str], known: Iterable[str]) -> dict[str, int]:
    """How many of `labels` (one per gold span) lie outside `known`, by label, sorted."""
    known = set(known)
    return dict(sorted(Counter(label for label in labels if label not in known).items()))


def entity_scores(pairs: list[tuple[dict, dict]], labels: Iterable[str] | None = None) -> dict:
    """Strict IOB2 entity-level precision, recall and F1 per label, micro and macro average, over `labels`
    (default: every label of the gold or the predictions)."""
    labels = list(labels) if labels is not None else entity_labels(pairs)
    gold_tags, pred_tags, problems = [], [], []
    for gold, pred in pairs:
        keep = lambda entities: [e for e in entities if e["label"] in labels]  # noqa: E731
        gold_tags.append(iob2_tags(gold["text"], keep(gold["entities"]), problems, gold["id"]))
        pred_tags.append(iob2_tags(pred["text"], keep(pred["entities"]), problems, pred["id"]))
    return seqeval_scores(gold_tags, pred_tags, labels, problems)


def seqeval_scores(gold_tags: list[list[str]], pred_tags: list[list[str]], labels: Iterable[str],
                   problems: list) -> dict:
    """Strict IOB2 scores of tag sequences per label of `labels`, micro and macro average, with the alignment
    `problems` met while tagging."""
    report = classification_report(gold_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True,
                                   zero_division=0)
    return {
        "per_label": {label: {k: round(float(report[label][k]), 4) for k in ("precision", "recall", "f1-score",
                                                                            "support")}
                      for label in labels if label in report},
        "micro": {k: round(float(report["micro avg"][k]), 4) for k in ("precision", "recall", "f1-score")},
        "macro": {k: round(float(report["macro avg"][k]), 4) for k in ("precision", "recall", "f1-score")},
        "alignment_problems": problems,
    }


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def labelled_spans(doc: dict) -> dict[tuple[int, int], str]:
    """The label of each entity span of a document (one per span: the last, should a span repeat)."""
    return {(e["start"], e["end"]): e["label"] for e in doc["entities"]}


def span_entry(text: str, span: tuple[int, int] | None, label: str | None) -> dict | None:
    return None if span is None else {"start": span[0], "end": span[1], "label": label, "text": text[span[0]:span[1]]}


def document_errors(gold: dict, pred: dict) -> list[dict]:
    """The entity errors of one document pair, in text order.

    A predicted span that is not in the gold with its label is a `label` error (same span, other label), a
    `boundary` error (it overlaps a gold span of its label), `label_and_boundary` (it overlaps only gold spans of
    other labels) or `spurious` (it overlaps none); its gold is the same span, or the overlapping gold span that
    shares the most characters (of its label, for a boundary error). A gold span that no prediction overlaps is
    `missed`. Each error: doc_id, kind, gold and pred ({start, end, label, text} or None).
    """
    text = gold["text"]
    gold_spans, pred_spans = labelled_spans(gold), labelled_spans(pred)
    errors = []
    for span, label in pred_spans.items():
        if gold_spans.get(span) == label:
            continue
        if span in gold_spans:
            kind, match = "label", span
        else:
            overlapping = [g for g in gold_spans if overlaps(g, span)]
            same_label = [g for g in overlapping if gold_spans[g] == label]
            kind = "boundary" if same_label else "label_and_boundary" if overlapping else "spurious"
            shared = lambda g: min(g[1], span[1]) - max(g[0], span[0])  # noqa: E731
            match = max(same_label or overlapping, key=shared, default=None)
        errors.append({"doc_id": gold["id"], "kind": kind, "gold": span_entry(text, match, gold_spans.get(match)),
                       "pred": span_entry(text, span, label)})
    for span, label in gold_spans.items():
        if not any(overlaps(p, span) for p in pred_spans):
            errors.append({"doc_id": gold["id"], "kind": "missed", "gold": span_entry(text, span, label),
                           "pred": None})
    return sorted(errors, key=lambda e: (e["gold"] or e["pred"])["start"])


def entity_errors(pairs: list[tuple[dict, dict]]) -> list[dict]:
    """Every entity error (`document_errors`), document by document in the order of `pairs`."""
    return [error for gold, pred in pairs for error in document_errors(gold, pred)]


def error_confusion(pairs: list[tuple[dict, dict]]) -> dict:
    """Counts of correct predicted spans and of each kind of entity error (`document_errors`), and of each
    gold->predicted label pair among the label errors."""
    kinds = Counter()
    for gold, pred in pairs:
        gold_spans = labelled_spans(gold)
        kinds["correct"] += sum(gold_spans.get(span) == label for span, label in labelled_spans(pred).items())
    errors = entity_errors(pairs)
    kinds.update(error["kind"] for error in errors)
    labels = Counter(f"{e['gold']['label']}->{e['pred']['label']}" for e in errors if e["kind"] == "label")
    return {"kinds": {kind: n for kind, n in kinds.items() if n}, "label_confusions": dict(labels.most_common())}


def confusion_rows(pairs: list[tuple[dict, dict]]) -> list[dict]:
    """(actual, predicted) label pairs for a confusion plot: a gold span against the predicted span that covers it
    best ("O" when none), and every predicted span that overlaps no gold span against "O"."""
    rows = []
    for gold, pred in pairs:
        for g in gold["entities"]:
            overlapping = [p for p in pred["entities"] if p["start"] < g["end"] and g["start"] < p["end"]]
            best = max(overlapping, key=lambda p: min(p["end"], g["end"]) - max(p["start"], g["start"]), default=None)
            rows.append({"actual": g["label"], "predicted": best["label"] if best else "O"})
        for p in pred["entities"]:
            if not any(g["start"] < p["end"] and p["start"] < g["end"] for g in gold["entities"]):
                rows.append({"actual": "O", "predicted": p["label"]})
    return rows


def select_split(docs: list[dict], splits_path: Path, split: str) -> list[dict]:
    """The documents listed under `split` in a splits file.

    Raises:
        InputError: the split is not in the file.
    """
    splits = json.loads(splits_path.read_text(encoding="utf-8"))
    if split not in splits:
        raise InputError(f"{splits_path}: no split {split!r}; it has {', '.join(splits)}")
    wanted = set(splits[split])
    return [doc for doc in docs if doc["id"] in wanted]


def same_value(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)


def indicator_f1(gold: str | None, pred: str | None) -> float:
    """Token-overlap F1 of two indicator phrases (lower-cased syllables); 1.0 when both are empty."""
    gold_tokens = Counter((gold or "").lower().split())
    pred_tokens = Counter((pred or "").lower().split())
    if not gold_tokens and not pred_tokens:
        return 1.0
    overlap = sum((gold_tokens & pred_tokens).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(pred_tokens.values()), overlap / sum(gold_tokens.values())
    return 2 * precision * recall / (precision + recall)


def regions_around(text: str, start: int) -> dict[str, tuple[int, int]]:
    """The figure's sentence and paragraph (line), and the title (first line), by punctuation and line breaks."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    sentence_start = max([line_start] + [m.end() for m in SENTENCE_END.finditer(text, line_start, start)])
    following = SENTENCE_END.search(text, start, line_end)
    title_end = text.find("\n")
    return {"sentence": (sentence_start, following.start() if following else line_end),
            "paragraph": (line_start, line_end), "title": (0, title_end if title_end >= 0 else len(text))}


def gold_evidence(document: dict, fact: dict, field: str, resolver) -> str:
    """Where a careful reader finds a gold fact's province or year: the nearest region of the text that names it
    (sentence, paragraph, title, elsewhere in the document), the metadata, the publication year, or national/none."""
    value = fact.get(field)
    if value is None:
        return "none"
    if field == "province" and value == NATIONAL:
        return "national"
    text = document["text"]
    if field == "year":
        found = [(m.start(), m.end()) for m in YEAR_IN_TEXT.finditer(text) if int(m.group()) == value]
    else:
        found = [(s, e) for s, e, name in resolver.find_all(text) if name == value]
    regions = regions_around(text, fact["metric"]["start"])
    for name in ("sentence", "paragraph", "title"):
        if any(regions[name][0] <= s and e <= regions[name][1] for s, e in found):
            return name
    meta = document.get("meta") or {}
    if field == "year" and str(meta.get("published") or "").startswith(str(value)):
        return "published"
    if field == "province" and resolver.resolve(str(meta.get("province") or "")) == value:
        return "meta"
    return "document" if found else "other"


def span_pair(span: dict | None) -> tuple[int, int] | None:
    return (span["start"], span["end"]) if span else None


def span_tokens(text: str, span: dict | None, offsets: list[tuple[int, int]]) -> set[int]:
    if not span:
        return set()
    return {i for i, (s, e) in enumerate(offsets) if span["start"] <= s and e <= span["end"]}


def indicator_span_scores(text: str, gold: dict, pred: dict, offsets: list[tuple[int, int]]) -> tuple[float, float]:
    """(exact, token-overlap F1) of two facts' indicator spans; both null counts as a match."""
    g, p = gold.get("indicator_span"), pred.get("indicator_span")
    exact = float(span_pair(g) == span_pair(p))
    gold_tokens, pred_tokens = span_tokens(text, g, offsets), span_tokens(text, p, offsets)
    if not gold_tokens and not pred_tokens:
        return exact, 1.0
    overlap = len(gold_tokens & pred_tokens)
    if not overlap:
        return exact, 0.0
    precision, recall = overlap / len(pred_tokens), overlap / len(gold_tokens)
    return exact, 2 * precision * recall / (precision + recall)


def score_calibration(outcomes: list[tuple[float, bool]], bins: int = 10) -> dict:
    """How well fact scores read as probabilities, from (score, whether the fact is right) pairs: the facts binned
    by score (tenths; a score of 1 in the top bin), each bin's mean score and share of right facts, and the expected
    calibration error, the facts-weighted mean of the gaps between the two."""
    tallies = defaultdict(lambda: [0, 0.0, 0])
    for score, right in outcomes:
        tally = tallies[min(int(score * bins), bins - 1)]
        tally[0] += 1
        tally[1] += score
        tally[2] += right
    total = len(outcomes)
    return {
        "facts": total,
        "ece": round(sum(abs(scores - right) for _, scores, right in tallies.values()) / total, 4) if total else None,
        "bins": [{"from": index / bins, "facts": n, "mean_score": round(scores / n, 4), "right": round(right / n, 4)}
                 for index, (n, scores, right) in sorted(tallies.items())],
    }


def fact_scores(pairs: list[tuple[dict, dict]]) -> dict:
    """Accuracy of each fact field on metrics whose span matches gold, indicator F1 (phrase tokens, and span exact and
    token overlap when the gold has spans), accuracy of province and year by the gold's evidence type, fact-level
    P/R/F1, and the calibration of the matched facts' scores against their being right (value, province, year)."""
    from pipeline.provinces import default_resolver

    resolver = default_resolver()
    right = defaultdict(int)
    matched = correct = n_gold = n_pred = 0
    indicator_total = span_exact = span_overlap = 0.0
    with_spans = 0
    by_evidence = {"province": defaultdict(lambda: [0, 0]), "year": defaultdict(lambda: [0, 0])}
    outcomes = []
    for gold, pred in pairs:
        key = lambda fact: (fact["metric"]["start"], fact["metric"]["end"])  # noqa: E731
        gold_facts = {key(f): f for f in gold.get("facts", [])}
        pred_facts = {key(f): f for f in pred.get("facts", [])}
        n_gold += len(gold_facts)
        n_pred += len(pred_facts)
        offsets = token_offsets(gold["text"])
        for span, g in gold_facts.items():
            p = pred_facts.get(span)
            if p is None:
                continue
            matched += 1
            for name in ("province", "year"):
                tally = by_evidence[name][gold_evidence(gold, g, name, resolver)]
                tally[0] += g.get(name) == p.get(name)
                tally[1] += 1
            if "indicator_span" in g:
                with_spans += 1
                exact, overlap = indicator_span_scores(gold["text"], g, p, offsets)
                span_exact += exact
                span_overlap += overlap
            for name in FACT_FIELDS:
                equal = same_value(g.get(name), p.get(name)) if name == "value" else g.get(name) == p.get(name)
                right[name] += equal
            right["value_max"] += same_value(g.get("value_max"), p.get("value_max"))
            indicator_total += indicator_f1(g.get("indicator"), p.get("indicator"))
            right_fact = same_value(g.get("value"), p.get("value")) and g.get("province") == p.get("province") \
                and g.get("year") == p.get("year")
            correct += right_fact
            if isinstance(p.get("score"), (int, float)):
                outcomes.append((p["score"], right_fact))
    precision = correct / n_pred if n_pred else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = {name: round(right[name] / matched, 4) if matched else None for name in (*FACT_FIELDS, "value_max")}
    return {
        "gold_facts": n_gold, "predicted_facts": n_pred, "matched_metrics": matched,
        "accuracy": accuracy, "indicator_f1": round(indicator_total / matched, 4) if matched else None,
        "indicator_span": {"facts": with_spans, "exact": round(span_exact / with_spans, 4) if with_spans else None,
                           "token_f1": round(span_overlap / with_spans, 4) if with_spans else None},
        "by_evidence": {name: {kind: {"accuracy": round(r / n, 4), "facts": n} for kind, (r, n) in sorted(tally.items())}
                        for name, tally in by_evidence.items()},
        "fact_level": {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)},
        "score_calibration": score_calibration(outcomes),
    }


def headline(report: dict) -> dict:
    """A few readable figures of an evaluation report (DVC metrics): documents, entity micro/macro F1, METRIC F1,
    and for facts (JSONL gold only) value, province and year accuracy, indicator span token F1, fact-level F1 and the
    fact scores' expected calibration error."""
    entities = report["entities"]
    scores = {"documents": report["documents"], "entity_micro_f1": entities["micro"]["f1-score"],
              "entity_macro_f1": entities["macro"]["f1-score"]}
    if "METRIC" in entities["per_label"]:
        scores["metric_f1"] = entities["per_label"]["METRIC"]["f1-score"]
    facts = report.get("facts")
    if facts:
        scores.update({f"{name}_accuracy": facts["accuracy"][name] for name in ("value", "province", "year")})
        scores["indicator_span_token_f1"] = (facts.get("indicator_span") or {}).get("token_f1")
        scores["fact_f1"] = facts["fact_level"]["f1"]
        scores["fact_score_ece"] = facts["score_calibration"]["ece"]
    return scores


def tag_entity_scores(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """`entity_scores` of IOB2 tag sequences over the same tokens (strict, every label of either side)."""
    labels = label_order(tag.partition("-")[2] for tags in (*gold_tags, *pred_tags) for tag in tags if tag != "O")
    return seqeval_scores(gold_tags, pred_tags, labels, [])


def model_tags(nlp, examples: list) -> list[list[str]]:
    """The tags a model's own recognizer (CRF or transformer) gives the tokens of `examples`, read as in training
    (rule features when the model uses them, word ids as `pipeline.train.read_examples` gives them).

    Raises:
        InputError: the model has no trained recognizer (the rules alone tag text, not given tokens).
    """
    from pipeline.train import crf_sequences

    if "vipie_crf_recognizer" in nlp.pipe_names:
        crf = nlp.get_pipe("vipie_crf_recognizer")
        recognizer = nlp.get_pipe("vipie_rule_recognizer").recognizer if crf.rule_features else None
        return [crf.model.tag(features)[0] for features, _ in crf_sequences(recognizer, examples)]
    if "vipie_transformer_recognizer" in nlp.pipe_names:
        transformer = nlp.get_pipe("vipie_transformer_recognizer")
        return [tags for tags, _ in transformer.tagger.tag(examples, transformer.batch_size)]
    raise InputError("CoNLL gold scores a trained model's recognizer on the file's tokens, and this model has none "
                     "(rules only); give --model a folder made by `vipie train`, or gold JSONL")


def evaluate_tags(examples: list, predicted: list[list[str]]) -> dict:
    """The report of a recognizer's tags against CoNLL gold: entities only (no facts), strict IOB2."""
    return {"documents": len(examples), "entities": tag_entity_scores([ex.tags for ex in examples], predicted)}


def unknown_tag_labels(examples: list, known: Iterable[str]) -> dict[str, int]:
    """`unknown_labels` of CoNLL examples: gold labels outside `known`, with their number of spans."""
    return count_unknown((tag[2:] for ex in examples for tag in ex.tags if tag.startswith("B-")), known)


def evaluate(gold: list[dict], pred: list[dict]) -> dict:
    """Entity scores, error confusion, fact scores, confusion rows (`confusion`) and the list of entity errors
    (`entity_errors`) of `pred` against `gold`."""
    pairs = pair_documents(gold, pred)
    return {"documents": len(pairs), "entities": entity_scores(pairs), "errors": error_confusion(pairs),
            "facts": fact_scores(pairs), "confusion": confusion_rows(pairs), "entity_errors": entity_errors(pairs)}


def predict_with_gold_entities(nlp, gold: dict):
    """Run `nlp` on a gold document with its entity recognizers replaced by the gold spans (oracle linking).

    Raises:
        InputError: a gold span does not align to the pipeline's tokens.
    """
    doc = nlp.make_doc(gold["text"])
    doc._.meta = dict(gold.get("meta") or {})
    for name, component in nlp.pipeline:
        if "doc.ents" in nlp.get_pipe_meta(name).assigns:
            spans = []
            for entity in gold["entities"]:
                span = doc.char_span(entity["start"], entity["end"], label=entity["label"], alignment_mode="strict")
                if span is None:
                    raise InputError(f"{gold['id']}: gold {entity['label']} {entity['text']!r} at "
                                     f"[{entity['start']}, {entity['end']}) does not align to tokens")
                spans.append(span)
            doc.ents = spans
        else:
            doc = component(doc)
    return doc
