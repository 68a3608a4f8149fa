"""Merging entity spans from several recognizers: precedence per label, then longest, then leftmost.

Deterministic: the same inputs always give the same spans, whatever their order.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class SourcedSpan:
    start: int
    end: int
    label: str
    score: float
    source: str


def tags_to_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """Token spans `(first, last + 1, label)` from IOB2 tags; an I- without its B- starts a span."""
    spans = []
    start, label = None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, kind = tag.partition("-")
        if start is not None and (prefix != "I" or kind != label):
            spans.append((start, i, label))
            start, label = None, None
        if prefix == "B" or (prefix == "I" and start is None):
            start, label = i, kind
    return spans


def tagged_spans(starts: list[int], ends: list[int], tags: list[str], probabilities: list[float], source: str,
                 min_score: float = 0.0) -> list[SourcedSpan]:
    """Character spans of a tagged sequence, scored by the mean probability of their tags; those scoring under
    `min_score` are left out."""
    spans = []
    for first, last, label in tags_to_spans(tags):
        score = sum(probabilities[first:last]) / (last - first)
        if score >= min_score:
            spans.append(SourcedSpan(starts[first], ends[last - 1], label, score, source))
    return spans


def merged_rule_labels(model_labels: list[str], rule_labels: tuple[str, ...] | list[str]) -> list[str]:
    """The rule recognizer's labels whose spans are merged with a model's: all of them when the model's labels are
    among the rules' (it speaks vipie's label set: the default, or a CoNLL set mapped onto it with --label-map), none
    when it knows another label (a public set's PATIENT_ID, AGE, ...): there the rules' spans follow other
    guidelines and would win overlaps the model should decide."""
    return list(rule_labels) if set(model_labels) <= set(rule_labels) else []


def keep_labels(spans: list[SourcedSpan], labels: list[str]) -> list[SourcedSpan]:
    """The spans whose label is one of `labels`."""
    wanted = set(labels)
    return [span for span in spans if span.label in wanted]


def merge_spans(spans: list[SourcedSpan], precedence: dict[str, list[str]]) -> list[SourcedSpan]:
    """Non-overlapping spans, sorted by start.

    Args:
        spans: candidates from every recognizer.
        precedence: for each label, the sources in the order they win ("rules" before "crf" for METRIC);
            the key "default" applies to labels not listed. A source not named comes last.
    """

    def rank(span: SourcedSpan) -> tuple:
        order = precedence.get(span.label, precedence.get("default", []))
        position = order.index(span.source) if span.source in order else len(order)
        return (position, span.start - span.end, span.start, span.label, span.source)

    chosen: list[SourcedSpan] = []
    for span in sorted(spans, key=rank):
        if all(span.end <= other.start or other.end <= span.start for other in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)
