"""Annotation sheets: a compact, offset-free way to write gold, turned into gold documents with exact offsets.

A sheet line names a document and lists its entities in text order; a METRIC carries its fact:

    {"id": "composed-c-001", "entities": [
        ["AGENCY", "UBND tỉnh Lào Cai"],
        ["METRIC", "trên 888.000", {"value": 888000, "unit": null, "qualifier": "gt",
                                    "indicator": "văn bản điện tử", "province": "Lào Cai", "year": 2020,
                                    "status": "achieved"}]]}

Each entity is found at its first whole-word occurrence after the previous entity (whitespace in the sheet
matches any run of whitespace in the text, so a hard line wrap needs no care); `"skip": n` in its
attributes passes over n earlier occurrences. A fact's indicator is found at its occurrence nearest the
figure, within the figure's paragraph. Writers and annotators who work outside Label Studio write sheets;
`scripts/sheets.py` turns them into gold JSONL and back.
"""

from collections.abc import Sequence

import regex

from pipeline.labels import LABEL_NAMES, NATIONAL, QUALIFIERS, STATUSES
from pipeline.numbers import parse_metric
from pipeline.provinces import ProvinceResolver

FACT_KEYS = ("value", "value_max", "unit", "qualifier", "indicator", "province", "year", "status")
REQUIRED_FACT_KEYS = ("value", "unit", "qualifier", "indicator", "province", "year", "status")
# A span starts with a letter, a digit or a comparison symbol ("<0,3", guidelines v2) and ends with a
# letter, a digit or "%".
SPAN_START = regex.compile(r"[\p{L}\p{N}<>≤≥]")
SPAN_END = regex.compile(r"[\p{L}\p{M}\p{N}%]$")
YEAR = regex.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def loose_pattern(phrase: str) -> regex.Pattern:
    """`phrase` as a pattern that matches it as whole words, with any whitespace run for each space."""
    parts = [regex.escape(part) for part in phrase.split()]
    body = r"\s+".join(parts)
    head = r"(?<![\p{L}\p{M}\p{N}])" if regex.match(r"[\p{L}\p{N}]", phrase) else ""
    tail = r"(?![\p{L}\p{M}\p{N}])" if regex.search(r"[\p{L}\p{M}\p{N}]$", phrase) else ""
    return regex.compile(head + body + tail)


def paragraph_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The blank-line or line-break paragraph holding [start, end), widened over hard wraps of body text."""
    left = text.rfind("\n", 0, start)
    right = text.find("\n", end)
    left = 0 if left < 0 else left + 1
    right = len(text) if right < 0 else right
    return left, right


def find_indicator(text: str, phrase: str, metric: tuple[int, int]) -> tuple[int, int] | None:
    """The occurrence of `phrase` nearest the metric, in its paragraph (or, for a hard-wrapped one, ±300 chars)."""
    region = paragraph_around(text, *metric)
    region = (min(region[0], max(0, metric[0] - 300)), max(region[1], min(len(text), metric[1] + 300)))
    best = None
    for match in loose_pattern(phrase).finditer(text, region[0], region[1]):
        if match.start() < metric[1] and match.end() > metric[0]:
            continue
        distance = metric[0] - match.end() if match.end() <= metric[0] else match.start() - metric[1]
        if best is None or distance < best[0]:
            best = (distance, match.start(), match.end())
    return (best[1], best[2]) if best else None


def canonical_province(name, resolver: ProvinceResolver) -> str | None:
    if name in (None, NATIONAL):
        return name
    if name in resolver.canonical_names:
        return name
    return resolver.resolve(str(name))


def gold_from_sheet(sheet: dict, text: str, meta: dict, resolver: ProvinceResolver,
                    labels: Sequence[str] = LABEL_NAMES) -> tuple[dict | None, list[str], list[str]]:
    """The gold document of one sheet line over `text`: (document or None, problems, warnings).

    Problems make the document unusable (an entity not found, a missing fact field, an unknown province);
    warnings are checks worth a second look (a value the parser reads otherwise, a year the text never names).
    """
    doc_id = sheet.get("id")
    problems: list[str] = []
    warnings: list[str] = []
    where = f"{doc_id}"
    entities, facts = [], []
    cursor = 0
    known_years = {int(y) for y in YEAR.findall(text)} | {int(y) for y in YEAR.findall(str(meta.get("published") or ""))}
    for index, item in enumerate(sheet.get("entities") or []):
        if not (isinstance(item, list) and len(item) in (2, 3) and isinstance(item[0], str) and isinstance(item[1], str)):
            problems.append(f"{where}: entity {index} is not [LABEL, text] or [LABEL, text, {{...}}]: {item!r}")
            continue
        label, phrase = item[0], item[1]
        attrs = item[2] if len(item) == 3 and isinstance(item[2], dict) else {}
        if label not in labels:
            problems.append(f"{where}: entity {index} {phrase!r}: unknown label {label!r}")
            continue
        matches = [m for m in loose_pattern(phrase).finditer(text, cursor)][: int(attrs.get("skip", 0)) + 1]
        if len(matches) <= int(attrs.get("skip", 0)):
            problems.append(f"{where}: entity {index} {label} {phrase!r} not found after offset {cursor} "
                            f"(…{text[max(0, cursor - 30):cursor]!r}); entities must be listed in text order")
            continue
        match = matches[-1]
        start, end = match.start(), match.end()
        span_text = text[start:end]
        if not (SPAN_START.match(span_text) and SPAN_END.search(span_text)):
            problems.append(f"{where}: {label} {span_text!r} starts or ends with whitespace or punctuation")
        cursor = end
        entities.append({"start": start, "end": end, "label": label, "text": span_text})
        if label != "METRIC":
            if set(attrs) - {"skip"}:
                problems.append(f"{where}: {label} {phrase!r} has fact fields; only a METRIC has them")
            continue
        fact = fact_of(text, (start, end), attrs, resolver, f"{where}: METRIC {span_text!r}", problems, warnings)
        if fact is not None:
            if fact["year"] is not None and fact["year"] not in known_years:
                warnings.append(f"{where}: METRIC {span_text!r}: year {fact['year']} is named nowhere in the text or meta")
            facts.append(fact)
    if problems:
        return None, problems, warnings
    document = {"id": doc_id, "text": text, "meta": dict(meta), "entities": entities, "facts": facts, "errors": []}
    return document, problems, warnings


def fact_of(text: str, span: tuple[int, int], attrs: dict, resolver: ProvinceResolver, where: str,
            problems: list[str], warnings: list[str]) -> dict | None:
    before = len(problems)
    missing = [key for key in REQUIRED_FACT_KEYS if key not in attrs]
    if missing:
        problems.append(f"{where}: fact misses {', '.join(missing)}")
        return None
    unknown = set(attrs) - set(FACT_KEYS) - {"skip"}
    if unknown:
        problems.append(f"{where}: unknown fact fields {sorted(unknown)}")
    value, value_max = attrs.get("value"), attrs.get("value_max")
    for name, number in (("value", value), ("value_max", value_max)):
        if number is not None and (isinstance(number, bool) or not isinstance(number, (int, float))):
            problems.append(f"{where}: {name} {number!r} is not a number")
    if attrs["qualifier"] not in (None, *QUALIFIERS):
        problems.append(f"{where}: qualifier {attrs['qualifier']!r} not one of {QUALIFIERS}")
    if attrs["status"] not in (None, *STATUSES):
        problems.append(f"{where}: status {attrs['status']!r} not one of {STATUSES}")
    year = attrs["year"]
    if year is not None and (isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100):
        problems.append(f"{where}: year {year!r} is not a year")
    province = canonical_province(attrs["province"], resolver)
    if attrs["province"] is not None and province is None:
        problems.append(f"{where}: province {attrs['province']!r} is no canonical province (or {NATIONAL!r}, or null)")
    indicator_span = None
    if attrs["indicator"] is not None:
        if not isinstance(attrs["indicator"], str) or not attrs["indicator"].strip():
            problems.append(f"{where}: indicator {attrs['indicator']!r} is not text")
        else:
            indicator_span = find_indicator(text, attrs["indicator"], span)
            if indicator_span is None:
                problems.append(f"{where}: indicator {attrs['indicator']!r} is not in the figure's paragraph")
    if len(problems) > before:
        return None
    parsed = parse_metric(text[span[0]:span[1]], following=text[span[1]:span[1] + 12])
    if value is not None and (parsed.value is None or abs(parsed.value - value) > 1e-6 * max(1.0, abs(value))):
        warnings.append(f"{where}: value {value} but the number parser reads {parsed.value}")
    return {
        "metric": {"start": span[0], "end": span[1], "text": text[span[0]:span[1]]},
        "value": float(value) if value is not None else None,
        "value_max": float(value_max) if value_max is not None else None,
        "unit": attrs["unit"],
        "qualifier": attrs["qualifier"],
        "indicator": text[indicator_span[0]:indicator_span[1]] if indicator_span else None,
        "province": province,
        "province_2025": NATIONAL if province == NATIONAL else resolver.after_merger(province),
        "year": year,
        "status": attrs["status"],
        "indicator_span": {"start": indicator_span[0], "end": indicator_span[1]} if indicator_span else None,
    }


def sheet_from_gold(document: dict) -> dict:
    """The sheet line of a gold document: `gold_from_sheet` gives the same entities back."""
    facts = {(f["metric"]["start"], f["metric"]["end"]): f for f in document.get("facts", [])}
    items, cursor = [], 0
    for entity in sorted(document["entities"], key=lambda e: e["start"]):
        item = [entity["label"], entity["text"]]
        attrs = {}
        fact = facts.get((entity["start"], entity["end"]))
        if fact is not None:
            attrs = {key: fact.get(key) for key in FACT_KEYS}
        earlier = len(loose_pattern(entity["text"]).findall(document["text"], cursor, entity["start"]))
        if earlier:
            attrs["skip"] = earlier
        items.append(item + [attrs] if attrs else item)
        cursor = entity["end"]
    return {"id": document["id"], "entities": items}
