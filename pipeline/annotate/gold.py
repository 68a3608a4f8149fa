"""Gold documents from a Label Studio JSON export: strict, every problem reported, nothing dropped or fixed.

A task becomes one gold document in the contract's format (CONTRACT.md, without
scores): `id`, `text`, `meta` from the task data; `entities` from the labelled
regions; one fact per METRIC from its per-region fields and its `province` /
`year` relations; `errors` empty. Offsets are Label Studio's `start`/`end`,
checked against the task text; the region's `text` may have its whitespace
collapsed by the editor, so only its non-whitespace characters must agree.

Every problem (an offset that does not match the text, overlapping spans, an
unknown label, a relation with a missing end, a METRIC without its value or
indicator, a cancelled or empty annotation, several annotations on one task, ...)
is one line naming the export, the task, the document and the span. `import_export`
keeps the good tasks and lists the others with their problems (what `vipie annotate
import` writes); `gold_from_export` is strict: any problem means no gold at all
(`AnnotationError` lists them all), for the committed gold and for agreement.
"""

import json
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import regex

from pipeline.annotate.config import (
    DOC_ID,
    FIELDS_BY_NAME,
    INDICATOR_CONTROL,
    INDICATOR_LABEL,
    INDICATOR_RELATION,
    LABELS_CONTROL,
    META,
    PROVINCE_RELATION,
    RELATIONS,
    REQUIRED_FIELDS,
    TEXT,
    YEAR_RANGE,
    YEAR_RELATION,
)
from pipeline.annotate.tasks import read_json_file
from pipeline.document import read_gold_documents
from pipeline.errors import AnnotationError, InputError, OutputError
from pipeline.labels import LABEL_NAMES, NATIONAL, QUALIFIERS, STATUSES
from pipeline.provinces import ProvinceResolver

YEAR_IN_DATE = regex.compile(r"(?<!\d)\d{4}(?!\d)")
GOLD_FACT_KEYS = ("metric", "value", "value_max", "unit", "qualifier", "indicator", "province", "province_2025",
                  "year", "status", "indicator_span")


@dataclass
class Region:
    """A labelled span of one annotation, with the per-region fields entered on it."""

    id: str
    start: int
    end: int
    label: str
    fields: dict = field(default_factory=dict)
    relations: dict = field(default_factory=dict)  # relation label -> target Region


@dataclass
class TaskContext:
    """Where a problem is: the export, the task and its document, for one-line messages."""

    source: str
    task_id: object
    doc_id: str | None
    text: str
    problems: list[str]

    def report(self, what: str, span: tuple[int, int] | None = None) -> None:
        where = f"{self.source}: task {self.task_id}" + (f" (doc {self.doc_id})" if self.doc_id else "")
        if span is not None:
            start, end = span
            shown = self.text[start:end] if 0 <= start < end <= len(self.text) else ""
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            where += f": span [{start}:{end}]" + (f" {shown!r}" if shown else "")
        # One line per problem, whatever the annotator typed.
        self.problems.append(f"{where}: {what}".replace("\r", "\\r").replace("\n", "\\n"))


def read_export(path: Path) -> list[dict]:
    """The tasks of a Label Studio JSON export (Export → JSON: a list of tasks with `annotations`).

    Raises:
        InputError: the file is missing, not JSON, or not a JSON export.
    """
    tasks = read_json_file(path, "give a Label Studio JSON export", "export the project as JSON")
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and "annotations" in t for t in tasks):
        raise InputError(f"{path}: not a Label Studio JSON export (a list of tasks with 'annotations'); "
                         f"export the project as JSON, not JSON-MIN or CSV")
    return tasks


def annotator_of(annotation: dict) -> str:
    """Who made an annotation: `completed_by` is a user id (synchronous export) or a user object."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("id"))
    return str(who)


def made_by(annotation: dict, annotator: str) -> bool:
    """Whether `annotator` (a user id or email) made `annotation`."""
    who = annotation.get("completed_by")
    names = {str(who.get("id")), str(who.get("email"))} if isinstance(who, dict) else {str(who)}
    return annotator in names


def choose_annotation(task: dict, ctx: TaskContext, annotator: str | None) -> dict | None:
    """The task's one usable annotation (by `annotator` when given), or None with the problems reported."""
    annotations = [a for a in task.get("annotations") or [] if annotator is None or made_by(a, annotator)]
    if not annotations:
        by = f" by {annotator}" if annotator else ""
        ctx.report(f"no annotation{by}; annotate the task or leave it out of the export")
        return None
    cancelled = [a for a in annotations if a.get("was_cancelled")]
    for a in cancelled:
        ctx.report(f"annotation {a.get('id')} by {annotator_of(a)} was cancelled (skipped); "
                   f"finish it or delete it before exporting")
    kept = [a for a in annotations if not a.get("was_cancelled")]
    if len(kept) > 1:
        who = ", ".join(f"{annotator_of(a)} (annotation {a.get('id')})" for a in kept)
        ctx.report(f"several annotators: {who}; gold takes one annotation per task, "
                   f"pick one with --annotator or resolve them in Label Studio")
        return None
    if cancelled or not kept:
        return None
    if not kept[0].get("result"):
        ctx.report(f"annotation {kept[0].get('id')} by {annotator_of(kept[0])} is empty; annotate it or delete it")
        return None
    return kept[0]


def same_text(shown, expected: str) -> bool:
    """Whether a region's `text` agrees with the task text at its offsets, whitespace aside."""
    return not isinstance(shown, str) or "".join(shown.split()) == "".join(expected.split())


def span_of(value: dict, ctx: TaskContext, what: str) -> tuple[int, int] | None:
    """The (start, end) of a result `value`, or None with a problem reported when they are not offsets in the text."""
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        ctx.report(f"{what} has no integer start/end ({start!r}, {end!r}); Label Studio Text regions carry both")
        return None
    if not 0 <= start < end <= len(ctx.text):
        ctx.report(f"{what} [{start}:{end}] lies outside the task text ({len(ctx.text)} characters); "
                   f"the export does not belong to this text")
        return None
    return start, end


def read_regions(result: list, ctx: TaskContext, labels: Sequence[str], control: str = LABELS_CONTROL) -> dict[str, Region]:
    """The regions labelled with `control` in an annotation result, by region id; problems reported, bad regions
    left out."""
    regions: dict[str, Region] = {}
    for item in result:
        if not isinstance(item, dict) or item.get("type") == "relation" or item.get("from_name") != control:
            continue
        value = item.get("value") or {}
        span = span_of(value, ctx, f"region {item.get('id')}")
        if span is None:
            continue
        names = value.get("labels")
        if not isinstance(names, list) or len(names) != 1:
            ctx.report(f"has {len(names) if isinstance(names, list) else 'no'} labels; give each span exactly one",
                       span)
            continue
        label = names[0]
        if label not in labels:
            ctx.report(f"unknown label {label!r}; use one of {', '.join(labels)} (ANNOTATION_GUIDELINES.md)", span)
            continue
        covered = ctx.text[span[0]:span[1]]
        if not same_text(value.get("text"), covered):
            ctx.report(f"{label} text {value.get('text')!r} does not match the task text at these offsets "
                       f"({covered!r}); the export does not belong to this text or was edited", span)
            continue
        if covered != covered.strip():
            ctx.report(f"{label} span starts or ends with whitespace; move its boundary onto the word", span)
            continue
        rid = item.get("id")
        if not rid or rid in regions:
            ctx.report(f"{label} region has {'a duplicate' if rid else 'no'} id {rid!r}; re-save the annotation",
                       span)
            continue
        regions[rid] = Region(rid, span[0], span[1], label)
    return regions


def check_overlaps(regions: Iterable[Region], ctx: TaskContext) -> None:
    """Report every pair of overlapping spans (annotation is flat: the outer name wins)."""
    ordered = sorted(regions, key=lambda r: (r.start, r.end))
    for i, first in enumerate(ordered):
        for second in ordered[i + 1:]:
            if second.start >= first.end:
                break
            ctx.report(f"{first.label} overlaps {second.label} [{second.start}:{second.end}] "
                       f"{ctx.text[second.start:second.end]!r}; spans never overlap, keep the outer one",
                       (first.start, first.end))


def entered_value(item: dict, ctx: TaskContext, region: Region):
    """What was entered in a per-region field item: a float, a string or a choice; None with a problem when unusable."""
    spec = FIELDS_BY_NAME[item["from_name"]]
    value = item.get("value") or {}
    span = (region.start, region.end)
    if spec.tag == "Number":
        number = value.get("number")
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            ctx.report(f"{spec.name} {number!r} is not a number", span)
            return None
        if spec.name == "year":
            if number != int(number) or not YEAR_RANGE[0] <= number <= YEAR_RANGE[1]:
                ctx.report(f"year {number!r} is not a year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}", span)
                return None
            return int(number)
        return float(number)
    entries = value.get(spec.value_key)
    if not isinstance(entries, list) or len(entries) > 1 or not all(isinstance(e, str) for e in entries):
        ctx.report(f"{spec.name} holds {entries!r}; give one entry", span)
        return None
    if spec.tag == "TextArea":
        # Free text: line breaks and runs of spaces typed in the editor carry no meaning.
        text = " ".join(entries[0].split()) if entries else ""
        return text or None
    return entries[0] if entries else None


def read_fields(result: list, regions: dict[str, Region], ctx: TaskContext) -> None:
    """Attach per-region fact fields to their METRIC regions; report strays, duplicates and unknown controls."""
    for item in result:
        if not isinstance(item, dict) or item.get("type") == "relation" or \
                item.get("from_name") in (LABELS_CONTROL, INDICATOR_CONTROL):
            continue
        name = item.get("from_name")
        spec = FIELDS_BY_NAME.get(name)
        value = item.get("value") or {}
        span = (value.get("start"), value.get("end"))
        span = span if all(isinstance(x, int) for x in span) else None
        if spec is None:
            ctx.report(f"result from unknown control {name!r}; the project's config is not "
                       f"`vipie annotate config` (field names: {', '.join(FIELDS_BY_NAME)})", span)
            continue
        region = regions.get(item.get("id"))
        if region is None:
            ctx.report(f"{name} belongs to no labelled span (region id {item.get('id')!r}); "
                       f"the span was deleted or is invalid, re-enter the field on its METRIC", span)
            continue
        where = (region.start, region.end)
        if item.get("type") != spec.result_type:
            ctx.report(f"{name} is a {item.get('type')!r} result, expected {spec.result_type!r}", where)
            continue
        if span != where:
            ctx.report(f"{name} is at {list(span) if span else None}, not at its span's offsets; re-save the region",
                       where)
            continue
        if region.label != "METRIC":
            ctx.report(f"{name} on a {region.label} span; fact fields belong on METRIC spans only", where)
            continue
        if name in region.fields:
            ctx.report(f"{name} entered twice on one METRIC; keep one", where)
            continue
        entered = entered_value(item, ctx, region)
        if entered is not None:
            region.fields[name] = entered


def read_relations(result: list, regions: dict[str, Region], ctx: TaskContext, ids: set) -> None:
    """Attach `province` / `year` relations to their METRIC; report dangling, unlabelled or misplaced ones.

    The METRIC may be at either end (annotators draw arrows both ways); the other end is the target.
    `ids` holds every region id of the result, valid or not, to tell a missing end from a bad one.
    """
    for item in result:
        if not isinstance(item, dict) or item.get("type") != "relation":
            continue
        names = item.get("labels") or []
        ends = [item.get("from_id"), item.get("to_id")]
        found = [regions.get(e) for e in ends]
        first = next((r for r in found if r), None)
        span = (first.start, first.end) if first else None
        missing = [e for e, r in zip(ends, found, strict=True) if r is None and e not in ids]
        if missing:
            ctx.report(f"relation {'/'.join(names) or '(no label)'} {ends[0]!r} -> {ends[1]!r} has a missing end "
                       f"({', '.join(repr(m) for m in missing)} is no region of the annotation); "
                       f"delete the relation or redraw it", span)
            continue
        if None in found:
            continue  # an end is a region already reported as invalid
        if len(names) != 1 or names[0] not in RELATIONS:
            ctx.report(f"relation {ends[0]!r} -> {ends[1]!r} is labelled {names!r}; label it "
                       f"{' or '.join(RELATIONS)}", span)
            continue
        metrics = [r for r in found if r.label == "METRIC"]
        others = [r for r in found if r.label != "METRIC"]
        if len(metrics) == 1 and (others[0].label == INDICATOR_LABEL) != (names[0] == INDICATOR_RELATION):
            ctx.report(f"{names[0]} relation to {others[0].label}; an `{INDICATOR_RELATION}` relation goes from a METRIC "
                       f"to an {INDICATOR_LABEL} span, province and year relations to entity spans", span)
            continue
        if len(metrics) != 1:
            ctx.report(f"{names[0]} relation between {found[0].label} and {found[1].label}; "
                       f"it goes from a METRIC to the span that fixes its {names[0]}", span)
            continue
        metric = metrics[0]
        target = found[1] if found[0] is metric else found[0]
        if names[0] in metric.relations:
            ctx.report(f"METRIC has two {names[0]} relations; keep one", (metric.start, metric.end))
            continue
        metric.relations[names[0]] = target


def fact_of(metric: Region, ctx: TaskContext, resolver: ProvinceResolver, provinces: set[str]) -> dict | None:
    """The gold fact of a METRIC region, or None with the problems reported."""
    before = len(ctx.problems)
    span = (metric.start, metric.end)
    missing = [name for name in REQUIRED_FIELDS if name not in metric.fields]
    if missing:
        ctx.report(f"METRIC without {' and '.join(missing)}; select the span and fill in its fact", span)
    province = metric.fields.get("province")
    if province is not None and province not in provinces:
        ctx.report(f"province {province!r} is no canonical province; choose one from the list", span)
    target = metric.relations.get(PROVINCE_RELATION)
    if target is not None:
        named = resolver.named_by(target.label, ctx.text[target.start:target.end])
        if named is None:
            ctx.report(f"province relation points to {target.label} {ctx.text[target.start:target.end]!r}, which "
                       f"names no province; point it to a LOCATION or AGENCY that does, or use the province field",
                       span)
        elif province is not None and province != named:
            ctx.report(f"province relation says {named!r} but the province field says {province!r}; keep one", span)
        province = named
    year = metric.fields.get("year")
    target = metric.relations.get(YEAR_RELATION)
    if target is not None:
        years = YEAR_IN_DATE.findall(ctx.text[target.start:target.end]) if target.label == "DATE" else []
        if not years:
            ctx.report(f"year relation points to {target.label} {ctx.text[target.start:target.end]!r}, which is no "
                       f"DATE with a year; point it to one or use the year field", span)
        elif year is not None and year != int(years[-1]):
            ctx.report(f"year relation says {years[-1]} but the year field says {year}; keep one", span)
        else:
            year = int(years[-1])
    indicator, indicator_span = metric.fields.get("indicator"), None
    target = metric.relations.get(INDICATOR_RELATION)
    if target is not None:
        indicator_span = {"start": target.start, "end": target.end}
        if indicator is not None and " ".join(ctx.text[target.start:target.end].split()) != indicator:
            ctx.report(f"indicator relation says {ctx.text[target.start:target.end]!r} but the indicator field says "
                       f"{indicator!r}; keep one", span)
        indicator = ctx.text[target.start:target.end]
    value, value_max = metric.fields.get("value"), metric.fields.get("value_max")
    if value is not None and value_max is not None and value_max < value:
        ctx.report(f"value_max {value_max:g} is below value {value:g}", span)
    if len(ctx.problems) > before:
        return None
    fact = {
        "metric": {"start": metric.start, "end": metric.end, "text": ctx.text[metric.start:metric.end]},
        "value": value,
        "value_max": value_max,
        "unit": metric.fields.get("unit"),
        "qualifier": metric.fields.get("qualifier"),
        "indicator": indicator,
        "province": province,
        "province_2025": NATIONAL if province == NATIONAL else resolver.after_merger(province),
        "year": year,
        "status": metric.fields.get("status"),
    }
    # v2 gold says where its indicator stands, or that there is none; a v1 indicator typed as text has no span.
    if indicator_span is not None or indicator is None:
        fact["indicator_span"] = indicator_span
    return fact


def check_choices(regions: dict[str, Region], ctx: TaskContext, qualifiers: Sequence[str],
                  statuses: Sequence[str]) -> None:
    for region in regions.values():
        for name, allowed in (("qualifier", qualifiers), ("status", statuses)):
            entered = region.fields.get(name)
            if entered is not None and entered not in allowed:
                ctx.report(f"{name} {entered!r} is not one of {', '.join(allowed)}", (region.start, region.end))


def gold_document(task: dict, source: str, resolver: ProvinceResolver, problems: list[str],
                  annotator: str | None = None, labels: Sequence[str] = LABEL_NAMES) -> dict | None:
    """The gold document of one exported task, or None; every problem is appended to `problems`."""
    data = task.get("data") if isinstance(task.get("data"), dict) else {}
    text = data.get(TEXT)
    ctx = TaskContext(source, task.get("id"), data.get(DOC_ID), text if isinstance(text, str) else "", problems)
    before = len(problems)
    if not isinstance(text, str) or not text:
        ctx.report(f"task data has no '{TEXT}'; import tasks made by `vipie annotate export`")
        return None
    if not isinstance(data.get(DOC_ID), str) or not data[DOC_ID]:
        ctx.report(f"task data has no '{DOC_ID}'; import tasks made by `vipie annotate export`")
    if unicodedata.normalize("NFC", text) != text:
        ctx.report("task text is not in Unicode NFC, so offsets would not fit the document; export tasks again "
                   "with `vipie annotate export`")
    meta = data.get(META, {})
    if not isinstance(meta, dict):
        ctx.report(f"task data '{META}' is not an object")
    annotation = choose_annotation(task, ctx, annotator)
    if annotation is None or len(problems) > before:
        return None
    result = annotation["result"]
    if not isinstance(result, list):
        ctx.report("annotation result is not a list")
        return None
    for index, item in enumerate(result):
        if not isinstance(item, dict):
            ctx.report(f"result item {index} is not an object ({item!r}); re-export the project as JSON")
    regions = read_regions(result, ctx, labels)
    indicators = read_regions(result, ctx, (INDICATOR_LABEL,), INDICATOR_CONTROL)
    ids = {item.get("id") for item in result if isinstance(item, dict)
           and item.get("from_name") in (LABELS_CONTROL, INDICATOR_CONTROL)}
    check_overlaps(regions.values(), ctx)
    read_fields(result, regions, ctx)
    read_relations(result, {**indicators, **regions}, ctx, ids)
    check_choices(regions, ctx, QUALIFIERS, STATUSES)
    provinces = set(resolver.canonical_names) | {NATIONAL}
    ordered = sorted(regions.values(), key=lambda r: (r.start, r.end))
    facts = [fact_of(r, ctx, resolver, provinces) for r in ordered if r.label == "METRIC"]
    if len(problems) > before:
        return None
    return {
        "id": data[DOC_ID],
        "text": text,
        "meta": dict(meta),
        "entities": [{"start": r.start, "end": r.end, "label": r.label, "text": text[r.start:r.end]} for r in ordered],
        "facts": facts,
        "errors": [],
    }


@dataclass
class ImportReport:
    """What an export gives task by task: the gold of the good tasks, and the problems of the rest."""

    documents: list[dict]
    rejected: list[tuple[object, str | None, list[str]]]  # (task id, document id, its problems), export order


def import_export(tasks: list[dict], resolver: ProvinceResolver, source: str = "export",
                  annotator: str | None = None, labels: Sequence[str] = LABEL_NAMES) -> ImportReport:
    """Read every task of a Label Studio JSON export on its own: a task with a problem is left out and listed.

    A document exported twice (a task imported twice) keeps its first good task; the later ones are listed.
    Arguments as for `gold_from_export`.
    """
    documents, rejected = [], []
    seen: dict[str, object] = {}
    for task in tasks:
        problems: list[str] = []
        document = gold_document(task, source, resolver, problems, annotator, labels)
        if document is not None and document["id"] in seen:
            problems.append(f"{source}: task {task.get('id')} (doc {document['id']}): the document is also task "
                            f"{seen[document['id']]}; import each document once")
        if problems:
            data = task.get("data") if isinstance(task.get("data"), dict) else {}
            rejected.append((task.get("id"), data.get(DOC_ID), problems))
            continue
        seen[document["id"]] = task.get("id")
        documents.append(document)
    return ImportReport(documents, rejected)


def gold_from_export(tasks: list[dict], resolver: ProvinceResolver, source: str = "export",
                     annotator: str | None = None, labels: Sequence[str] = LABEL_NAMES) -> list[dict]:
    """Gold documents (CONTRACT.md) of every task of a Label Studio JSON export, in export order.

    Args:
        tasks: the export (`read_export`).
        resolver: provinces (`pipeline.provinces.default_resolver()`), for relation targets and province_2025.
        source: how problems name the export (its path).
        annotator: take only annotations by this user (id or email), for exports with several annotators.
        labels: the entity labels allowed (the package's `LABEL_NAMES`).

    Raises:
        AnnotationError: anything wrong in any task, one line per problem; then no document is returned.
    """
    report = import_export(tasks, resolver, source, annotator, labels)
    problems = [problem for _, _, task_problems in report.rejected for problem in task_problems]
    if not tasks:
        problems.append(f"{source}: the export holds no task; export a project with annotated tasks")
    if problems:
        raise AnnotationError(problems)
    return report.documents


def read_gold(path: Path) -> list[dict]:
    """Gold documents from a JSONL file (one document a line), as `vipie annotate import` writes them.

    Raises:
        InputError: the file is missing or a line is not a document.
    """
    return read_gold_documents(path, ("id", "text", "entities", "facts"))


def write_gold(documents: list[dict], out: Path) -> None:
    """Write gold documents to `out`, one JSON object a line.

    Raises:
        OutputError: `out` does not end in .jsonl or cannot be written.
    """
    if out.suffix != ".jsonl":
        raise OutputError(f"{out}: gold is written as JSONL; give --out a path ending in .jsonl")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            for document in documents:
                fh.write(json.dumps(document, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror}); choose a writable --out") from exc
