"""`vipie annotate export`: tasks with predictions for annotators, which read back as the pipeline's output."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.annotate.gold import GOLD_FACT_KEYS, gold_from_export
from pipeline.annotate.tasks import model_version, ranked, read_tasks, task_from_record, uncertainty, write_tasks
from pipeline.document import read_txt
from pipeline.errors import AnnotationError, InputError, OutputError
from pipeline.extract import process_document
from pipeline.provinces import default_resolver
from tests.annotate_helpers import TEXT, at
from tests.conftest import SEEDS

VIPIE = str(Path(sys.executable).parent / "vipie")


def entity(fragment: str, label: str, score: float = 0.9) -> dict:
    start, end = at(fragment)
    return {"start": start, "end": end, "label": label, "text": fragment, "score": score, "source": "rule"}


def fact(fragment: str, province_span=None, year_span=None, **attributes) -> dict:
    start, end = at(fragment)
    base = {"metric": {"start": start, "end": end, "text": fragment}, "value": None, "value_max": None, "unit": None,
            "qualifier": None, "indicator": None, "province": None, "province_2025": None, "year": None,
            "status": None, "score": 0.5, "province_span": province_span, "year_span": year_span}
    return {**base, **attributes}


def span(fragment: str) -> dict:
    start, end = at(fragment)
    return {"start": start, "end": end}


RECORD = {
    "id": "lao-cai-2020", "text": TEXT, "meta": {"province": "Lào Cai", "title": "inferred"}, "errors": [],
    "entities": [entity("UBND tỉnh Lào Cai", "AGENCY"), entity("Năm 2020", "DATE"),
                 entity("trên 888.000", "METRIC"), entity("70,6%", "METRIC")],
    "facts": [
        fact("trên 888.000", span("UBND tỉnh Lào Cai"), span("Năm 2020"), value=888000.0, qualifier="gt",
             indicator="văn bản điện tử", province="Lào Cai", province_2025="Lào Cai", year=2020, status="achieved"),
        # national, and a year from the publication date: no span fixes them, so they are fields
        fact("70,6%", None, None, value=70.6, unit="%", indicator="hồ sơ", province="Việt Nam",
             province_2025="Việt Nam", year=2021),
    ],
}


def by_region(result: list[dict]) -> dict:
    regions = {}
    for item in result:
        if item["type"] != "relation":
            regions.setdefault(item["id"], {})[item["from_name"]] = item
    return regions


def test_task_keeps_document_id_text_and_given_meta():
    task = task_from_record(RECORD, {"province": "Lào Cai"}, "vipie-test")
    assert task["data"] == {"doc_id": "lao-cai-2020", "text": TEXT, "meta": {"province": "Lào Cai"},
                            "uncertainty": 0.5}  # two facts at p = 0.5; rule entities carry priors, not p
    prediction = task["predictions"][0]
    assert prediction["model_version"] == "vipie-test" and prediction["score"] == 0.5


def test_task_entities_are_regions_with_offsets_text_and_score():
    result = task_from_record(RECORD, {}, "v")["predictions"][0]["result"]
    spans = [item["value"] for item in result if item.get("from_name") == "label"]
    assert [(v["start"], v["end"], v["text"], v["labels"]) for v in spans] == [
        (*at(e["text"]), e["text"], [e["label"]]) for e in sorted(RECORD["entities"], key=lambda e: e["start"])]
    assert all(item["score"] == 0.9 for item in result if item.get("from_name") == "label")


def test_task_facts_are_fields_and_relations_on_their_metric():
    result = task_from_record(RECORD, {}, "v")["predictions"][0]["result"]
    regions = by_region(result)
    ids = {regions[rid]["label"]["value"]["text"]: rid for rid in regions}
    first, second = regions[ids["trên 888.000"]], regions[ids["70,6%"]]
    assert set(first) == {"label", "value", "qualifier", "indicator", "status"}  # nulls stay empty
    assert first["value"]["value"]["number"] == 888000.0 and first["qualifier"]["value"]["choices"] == ["gt"]
    assert first["indicator"]["value"] == {"start": 31, "end": 43, "text": ["văn bản điện tử"]}
    assert set(second) == {"label", "value", "unit", "indicator", "province", "year"}
    assert second["province"]["value"]["choices"] == ["Việt Nam"] and second["year"]["value"]["number"] == 2021
    relations = [(r["from_id"], r["to_id"], r["labels"]) for r in result if r["type"] == "relation"]
    assert relations == [(ids["trên 888.000"], ids["UBND tỉnh Lào Cai"], ["province"]),
                         (ids["trên 888.000"], ids["Năm 2020"], ["year"])]


def test_task_span_that_is_no_entity_becomes_a_field():
    record = {**RECORD, "facts": [fact("trên 888.000", span("tỉnh Lào Cai"), None, value=1.0, indicator="x",
                                       province="Lào Cai", province_2025="Lào Cai")] + RECORD["facts"][1:]}
    result = task_from_record(record, {}, "v")["predictions"][0]["result"]
    regions = by_region(result)
    metric = next(rid for rid, fields in regions.items() if fields["label"]["value"]["text"] == "trên 888.000")
    assert regions[metric]["province"]["value"]["choices"] == ["Lào Cai"]
    assert not [r for r in result if r["type"] == "relation"]


def test_task_fact_without_metric_entity_is_an_error():
    record = {**RECORD, "entities": RECORD["entities"][:3]}
    with pytest.raises(AnnotationError, match=r"doc lao-cai-2020: fact at \[73:78\] '70,6%' has no METRIC entity"):
        task_from_record(record, {}, "v")


def test_write_tasks_needs_a_json_path(tmp_path):
    with pytest.raises(OutputError, match="ending in .json"):
        write_tasks([], tmp_path / "tasks.jsonl")
    out = tmp_path / "tasks.json"
    assert write_tasks(iter([{"data": {"text": "a"}}, {"data": {"text": "b"}}]), out) == 2
    assert json.loads(out.read_text(encoding="utf-8")) == [{"data": {"text": "a"}}, {"data": {"text": "b"}}]
    assert write_tasks([], out) == 0 and json.loads(out.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("seed", sorted(p.name for p in SEEDS.glob("*.txt")))
def test_predictions_accepted_as_annotation_give_back_the_pipeline_output(nlp, seed):
    """Export then import, with the prediction submitted unchanged, is the identity on the seeds."""
    document = read_txt(SEEDS / seed, 1_000_000)
    record = process_document(nlp, document)
    task = task_from_record(record, document.meta, model_version(nlp))
    exported = {"id": 1, "data": task["data"], "predictions": [1],
                "annotations": [{"id": 1, "completed_by": 1, "was_cancelled": False,
                                 "result": task["predictions"][0]["result"]}]}
    [gold] = gold_from_export([exported], default_resolver())
    assert gold["entities"] == [{k: e[k] for k in ("start", "end", "label", "text")} for e in record["entities"]]
    assert gold["facts"] == [{k: f[k] for k in GOLD_FACT_KEYS} for f in record["facts"]]
    assert (gold["id"], gold["text"], gold["meta"], gold["errors"]) == (record["id"], record["text"], {}, [])


@pytest.mark.slow
def test_cli_export_writes_tasks_and_reports_rejected_documents(tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    seed = sorted(SEEDS.glob("*.txt"))[0]
    out = tmp_path / "tasks.json"
    result = subprocess.run([VIPIE, "annotate", "export", str(seed), str(tmp_path / "empty.txt"), "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [t["data"]["doc_id"] for t in tasks] == [seed.stem]
    assert tasks[0]["predictions"][0]["model_version"].startswith("vipie-")
    assert "rejected empty (no task written): empty document" in result.stderr and "wrote 1 tasks" in result.stderr
    bad = subprocess.run([VIPIE, "annotate", "export", str(seed), "--out", str(tmp_path / "tasks.csv")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "ending in .json" in bad.stderr


def test_indicator_span_becomes_a_region_with_a_relation_and_reads_back():
    record = copy.deepcopy(RECORD)
    record["facts"][0]["indicator_span"] = span("văn bản điện tử")
    result = task_from_record(record, record["meta"], "v")["predictions"][0]["result"]
    regions = by_region(result)
    indicator = next(r["indicator_span"] for r in regions.values() if "indicator_span" in r)
    assert indicator["value"]["labels"] == ["INDICATOR"] and indicator["value"]["text"] == "văn bản điện tử"
    assert "indicator" not in regions["e2"]  # the relation says it; no typed field beside it
    export = [{"id": 1, "data": {"doc_id": record["id"], "text": TEXT, "meta": {}},
               "annotations": [{"id": 1, "completed_by": 1, "was_cancelled": False, "result": result}]}]
    gold = gold_from_export(export, default_resolver())[0]
    assert gold["facts"][0]["indicator_span"] == span("văn bản điện tử")
    assert gold["facts"][0]["indicator"] == "văn bản điện tử"


@pytest.mark.parametrize("far", ["title", "document"])
def test_task_province_and_year_decided_far_away_are_fields_not_relations(far):
    record = copy.deepcopy(RECORD)
    record["facts"][0]["evidence"] = {"province": far, "year": "sentence"}
    result = task_from_record(record, {}, "v")["predictions"][0]["result"]
    regions = by_region(result)
    ids = {regions[rid]["label"]["value"]["text"]: rid for rid in regions}
    relations = [(r["from_id"], r["to_id"], r["labels"]) for r in result if r["type"] == "relation"]
    assert relations == [(ids["trên 888.000"], ids["Năm 2020"], ["year"])]
    assert regions[ids["trên 888.000"]]["province"]["value"]["choices"] == ["Lào Cai"]
    export = [{"id": 1, "data": {"doc_id": record["id"], "text": TEXT, "meta": {}},
               "annotations": [{"id": 1, "completed_by": 1, "was_cancelled": False, "result": result}]}]
    assert gold_from_export(export, default_resolver())[0]["facts"][0]["province"] == "Lào Cai"


def test_uncertainty_counts_model_probabilities_only():
    record = copy.deepcopy(RECORD)
    assert uncertainty(record) == 0.5
    record["entities"][0].update(source="crf", score=0.8)
    record["facts"][0]["score"] = 0.9
    assert uncertainty(record) == round((0.2 + 0.1 + 0.5) / 3, 4)
    assert uncertainty({**record, "entities": [], "facts": []}) == 0.0


def test_annotate_next_ranks_the_least_sure_document_first(tmp_path):
    sure, unsure, unsure_too = (copy.deepcopy(RECORD) for _ in range(3))
    for record, doc_id, p in ((sure, "sure", 0.95), (unsure, "unsure", 0.3), (unsure_too, "also-unsure", 0.3)):
        record["id"] = doc_id
        for f in record["facts"]:
            f["score"] = p
    tasks = [task_from_record(r, {}, "v") for r in (sure, unsure, unsure_too)]
    assert [t["data"]["doc_id"] for t in ranked(tasks)] == ["also-unsure", "unsure", "sure"]
    path = tmp_path / "tasks.json"
    write_tasks(tasks, path)
    assert read_tasks(path) == tasks
    result = subprocess.run([VIPIE, "annotate", "next", str(path), "--top", "2"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["0.7000\talso-unsure", "0.7000\tunsure"]
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="not tasks of `vipie annotate export`"):
        read_tasks(tmp_path / "bad.json")
