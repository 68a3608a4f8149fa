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
