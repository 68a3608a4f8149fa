"""Label Studio tasks with predictions, from the pipeline's output records (CONTRACT.md).

Annotators correct the pipeline instead of starting from nothing: every entity
is a labelled region (with its score), every fact's attributes are per-region
fields on its METRIC, and the span that fixed a fact's province or year is
linked by a `province` / `year` relation when it stands near the figure (its
sentence or paragraph). A province or year that no entity region fixes (document
metadata, "cả nước", the publication year) or that the title or a far mention
decided is written as the per-region field instead. Each task carries the
model's `uncertainty` about the document, so annotators can take the least sure first.
The schema is `config.py`'s; `gold.py` reads it back.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pipeline.annotate.config import (
    DOC_ID,
    FIELDS_BY_NAME,
    INDICATOR_CONTROL,
    INDICATOR_LABEL,
    INDICATOR_RELATION,
    LABELS_CONTROL,
    META,
    PROVINCE_RELATION,
    TEXT,
    YEAR_RELATION,
)
from pipeline.errors import AnnotationError, InputError, OutputError
from pipeline.labels import NATIONAL

# Evidence that lies far from the figure: a relation to it would cross the article (in a long article nearly
# every figure takes its province from the title), so the province or year goes into the field instead.
FAR_EVIDENCE = frozenset({"title", "document", "meta", "published"})
# Sources whose entity scores are the model's probabilities (CRF marginals), not a rule's fixed prior.
MODEL_SOURCES = frozenset({"crf", "transformer"})
UNCERTAINTY = "uncertainty"  # task data key: how unsure the model is about the document ("annotate next" order)


def model_version(nlp) -> str:
    """The `model_version` predictions carry: vipie's version and the model folder's name and version."""
    import pipeline

    meta = getattr(nlp, "meta", {}) or {}
    return f"vipie-{pipeline.__version__}/{meta.get('name', 'model')}-{meta.get('version', '0')}"


def region_id(index: int) -> str:
    """The id of the `index`-th entity region of a task (stable, so predictions can be diffed)."""
    return f"e{index}"


def field_item(field_name: str, rid: str, start: int, end: int, span_text: str, entered, score=None) -> dict:
    """One per-region result item: what was entered in field `field_name` for region `rid`."""
    field = FIELDS_BY_NAME[field_name]
    value = {"start": start, "end": end, "text": span_text}
    if field.tag == "TextArea":
        value["text"] = [entered]  # a text area's entries replace the span text under "text"
    elif field.tag == "Choices":
        value["choices"] = [entered]
    else:
        value["number"] = entered
    item = {"id": rid, "from_name": field.name, "to_name": TEXT, "type": field.result_type, "value": value}
    if score is not None:
        item["score"] = score
    return item


def relation_item(from_id: str, to_id: str, label: str) -> dict:
    return {"from_id": from_id, "to_id": to_id, "type": "relation", "direction": "right", "labels": [label]}


def prediction_result(record: dict) -> list[dict]:
    """The Label Studio `result` of one output record: regions, per-region fact fields, relations.

    Raises:
        AnnotationError: a fact whose metric is not a METRIC entity of the record (breaks CONTRACT.md).
    """
    text = record["text"]
    result = []
    ids: dict[tuple[int, int], str] = {}
    for index, entity in enumerate(sorted(record["entities"], key=lambda e: (e["start"], e["end"]))):
        rid = region_id(index)
        ids[(entity["start"], entity["end"])] = rid
        item = {"id": rid, "from_name": LABELS_CONTROL, "to_name": TEXT, "type": "labels",
                "value": {"start": entity["start"], "end": entity["end"], "text": text[entity["start"]:entity["end"]],
                          "labels": [entity["label"]]}}
        if entity.get("score") is not None:
            item["score"] = entity["score"]
        result.append(item)
    relations = []
    for n, fact in enumerate(record["facts"]):
        metric = fact["metric"]
        start, end = metric["start"], metric["end"]
        rid = ids.get((start, end))
        if rid is None:
            problem = (f"doc {record['id']}: fact at [{start}:{end}] {text[start:end]!r} has no METRIC entity "
                       f"(the output breaks CONTRACT.md; report it as a pipeline bug)")
            raise AnnotationError([problem])
        span_text = text[start:end]
        targets = {}
        indicator = fact.get("indicator_span")
        if indicator:
            iid = f"i{n}"
            result.append({"id": iid, "from_name": INDICATOR_CONTROL, "to_name": TEXT, "type": "labels",
                           "value": {"start": indicator["start"], "end": indicator["end"],
                                     "text": text[indicator["start"]:indicator["end"]], "labels": [INDICATOR_LABEL]}})
            relations.append(relation_item(rid, iid, INDICATOR_RELATION))
            targets[INDICATOR_RELATION] = iid
        for relation, key in ((PROVINCE_RELATION, "province_span"), (YEAR_RELATION, "year_span")):
            # A national figure's span is the national body that says so; the province field carries "Việt Nam".
            span = fact.get(key) if not (relation == PROVINCE_RELATION and fact.get("province") == NATIONAL) else None
            if (fact.get("evidence") or {}).get(relation) in FAR_EVIDENCE:
                span = None
            target = ids.get((span["start"], span["end"])) if span else None
            if target is not None:
                relations.append(relation_item(rid, target, relation))
                targets[relation] = target
        for name in FIELDS_BY_NAME:
            entered = fact.get(name)
            if entered is None or entered == "" or name in targets:
                continue  # null attributes stay empty; a relation already says province or year
            result.append(field_item(name, rid, start, end, span_text, entered, fact.get("score")))
    return result + relations


def uncertainty(record: dict) -> float:
    """How unsure the model is about a record: the mean of 1 - p over its probabilities.

    The probabilities are the CRF's (or transformer's) marginals of the entities it found and the learned
    linker's probability of each fact's chosen candidates (`score`); rule entities carry fixed priors and do
    not count. A record without any probability scores 0.0 (nothing the model was unsure of).
    """
    probabilities = [e["score"] for e in record["entities"]
                     if e.get("score") is not None and e.get("source") in MODEL_SOURCES]
    probabilities += [f["score"] for f in record["facts"] if f.get("score") is not None]
    if not probabilities:
        return 0.0
    return round(sum(1 - p for p in probabilities) / len(probabilities), 4)


def ranked(tasks: Iterable[dict]) -> list[dict]:
    """Tasks in "annotate next" order: the model's least sure document first, ties by document id."""
    return sorted(tasks, key=lambda t: (-t["data"].get(UNCERTAINTY, 0.0), t["data"][DOC_ID]))


def task_from_record(record: dict, meta: dict, version: str) -> dict:
    """A Label Studio task for one output record: data (doc_id, text, meta, uncertainty) and one prediction.

    Args:
        record: the contract's output record (`pipeline.extract.process_document`).
        meta: the document's metadata as given in the input (kept in the task, and so in the gold).
        version: the prediction's `model_version` (`model_version(nlp)`).
    """
    return {"data": {DOC_ID: record["id"], TEXT: record["text"], META: dict(meta), UNCERTAINTY: uncertainty(record)},
            "predictions": [prediction(record, version)]}


def prediction(record: dict, version: str) -> dict:
    """The Label Studio prediction of a record, the same for the export and the ML backend.

    Its score is the model's confidence, so Label Studio's "Prediction score" column, sorted ascending, gives
    the same order as the `uncertainty` column sorted descending."""
    return {"model_version": version, "result": prediction_result(record), "score": round(1 - uncertainty(record), 4)}


def export_tasks(nlp, inputs: list[Path], max_chars: int,
                 on_rejected: Callable[[dict], None] | None = None) -> Iterator[dict]:
    """Run the pipeline over the inputs and yield one task per document, in input order.

    A document rejected as bad input (empty, binary, too long) has nothing to correct: it is
    passed to `on_rejected` (to be reported) and yields no task.
    """
    from pipeline.document import iter_documents
    from pipeline.extract import process_document

    version = model_version(nlp)
    for document in iter_documents(inputs, max_chars):
        record = process_document(nlp, document)
        if record["errors"]:
            if on_rejected:
                on_rejected(record)
            continue
        yield task_from_record(record, document.meta, version)


def write_tasks(tasks: Iterable[dict], out: Path) -> int:
    """Write `tasks` to `out` as one JSON array (Label Studio's import format), streaming; returns the count.

    Raises:
        OutputError: `out` does not end in .json or cannot be written.
    """
    if out.suffix != ".json":
        raise OutputError(f"{out}: tasks are written as a Label Studio JSON file; give --out a path ending in .json")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        count = 0
        with out.open("w", encoding="utf-8") as fh:
            fh.write("[")
            for task in tasks:
                fh.write(",\n" if count else "\n")
                fh.write(json.dumps(task, ensure_ascii=False))
                count += 1
            fh.write("\n]\n")
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror}); choose a writable --out") from exc
    return count


def read_json_file(path: Path, when_missing: str, when_not_json: str):
    """The JSON value in `path`.

    Raises:
        InputError: the file is missing (the message ends with `when_missing`) or not JSON (`when_not_json`).
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; {when_missing}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc}); {when_not_json}") from None


def read_tasks(path: Path) -> list[dict]:
    """Tasks written by `vipie annotate export` (a JSON array).

    Raises:
        InputError: the file is missing, not JSON, or not a list of tasks with a `doc_id`.
    """
    tasks = read_json_file(path, "give tasks written by `vipie annotate export`",
                           "give tasks written by `vipie annotate export`")
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and isinstance(t.get("data"), dict)
                                              and DOC_ID in t["data"] for t in tasks):
        raise InputError(f"{path}: not tasks of `vipie annotate export` (a list of tasks whose data has "
                         f"'{DOC_ID}'); export them again")
    return tasks
