"""`vipie annotate import`: a Label Studio export becomes gold; every class of bad export is an error."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.annotate.gold import gold_from_export, import_export, read_export
from pipeline.errors import AnnotationError, InputError
from pipeline.provinces import default_resolver
from tests.annotate_helpers import (
    DOC_ID,
    GOLD,
    RESULT,
    TASK_ID,
    TEXT,
    annotation,
    at,
    field,
    labels,
    relation,
    task,
)

VIPIE = str(Path(sys.executable).parent / "vipie")


def problems_of(tasks: list[dict], **kwargs) -> list[str]:
    with pytest.raises(AnnotationError) as caught:
        gold_from_export(tasks, default_resolver(), "export.json", **kwargs)
    return caught.value.problems


def with_result(change) -> dict:
    """A task whose one annotation's result is RESULT after `change(result)`."""
    result = copy.deepcopy(RESULT)
    change(result)
    return task([annotation(result)])


def item(result: list, rid: str, from_name: str = "label") -> dict:
    return next(i for i in result if i.get("id") == rid and i.get("from_name") == from_name)


def test_import_gives_the_gold_of_the_annotation():
    assert TEXT[73:78] == "70,6%" and TEXT.index("Cả") == TEXT.index("\r\n") + 2  # "\r\n" is two characters
    assert gold_from_export([task()], default_resolver()) == [GOLD]


def test_import_accepts_region_text_with_collapsed_whitespace():
    start, end = at("điện tử.\r\nCả nước")
    region = {"id": "x1", "from_name": "label", "to_name": "text", "type": "labels",
              "value": {"start": start, "end": end, "text": "điện tử. Cả nước", "labels": ["LOCATION"]}}
    gold = gold_from_export([with_result(lambda r: r.append(region))], default_resolver())
    assert {"start": start, "end": end, "label": "LOCATION", "text": "điện tử.\r\nCả nước"} in gold[0]["entities"]


def test_import_offset_mismatch_is_an_error():
    def shift(result):
        item(result, "a1")["value"].update(start=11, end=28)  # one character off, text still "UBND tỉnh Lào Cai"

    # The relation to the bad region is not reported again: one problem, one line.
    assert problems_of([with_result(shift)]) == [
        "export.json: task 7 (doc lao-cai-2020): span [11:28] 'BND tỉnh Lào Cai ': AGENCY text 'UBND tỉnh Lào Cai' "
        "does not match the task text at these offsets ('BND tỉnh Lào Cai '); the export does not belong to this "
        "text or was edited"]


def test_import_offsets_outside_the_text_are_an_error():
    problems = problems_of([with_result(lambda r: item(r, "d1")["value"].update(start=0, end=len(TEXT) + 5))])
    assert any("lies outside the task text" in p and f"[0:{len(TEXT) + 5}]" in p for p in problems)


def test_import_overlapping_spans_are_an_error():
    problems = problems_of([with_result(lambda r: r.append(labels("l1", "tỉnh Lào Cai", "LOCATION")))])
    assert problems == ["export.json: task 7 (doc lao-cai-2020): span [10:27] 'UBND tỉnh Lào Cai': AGENCY overlaps "
                        "LOCATION [15:27] 'tỉnh Lào Cai'; spans never overlap, keep the outer one"]


def test_import_unknown_label_is_an_error():
    problems = problems_of([with_result(lambda r: item(r, "a1")["value"].update(labels=["ORGANIZATION"]))])
    assert problems[0].startswith("export.json: task 7 (doc lao-cai-2020): span [10:27] 'UBND tỉnh Lào Cai': "
                                  "unknown label 'ORGANIZATION'")


def test_import_relation_with_a_missing_end_is_an_error():
    problems = problems_of([with_result(lambda r: r.append(relation("m2", "gone", "province")))])
    assert len(problems) == 1
    assert "span [73:78] '70,6%'" in problems[0] and "has a missing end ('gone' is no region" in problems[0]


def test_import_metric_without_its_value_is_an_error():
    problems = problems_of([with_result(lambda r: r.__setitem__(slice(None), [i for i in r if i.get("id") != "m2"
                                                                               or i["from_name"] == "label"]))])
    assert problems == ["export.json: task 7 (doc lao-cai-2020): span [73:78] '70,6%': METRIC without value; "
                        "select the span and fill in its fact"]


@pytest.mark.parametrize("bad", ["cancelled", "empty", "none"])
def test_import_cancelled_or_empty_annotation_is_an_error(bad):
    annotations = {"cancelled": [annotation(cancelled=True)], "empty": [annotation([])], "none": []}[bad]
    problems = problems_of([task(annotations)])
    expected = {"cancelled": "annotation 11 by 1 was cancelled", "empty": "annotation 11 by 1 is empty",
                "none": "no annotation"}[bad]
    assert len(problems) == 1 and problems[0].startswith(f"export.json: task 7 (doc lao-cai-2020): {expected}")


def test_import_several_annotators_is_an_error_unless_one_is_chosen():
    two = task([annotation(annotator=1, annotation_id=11), annotation(annotator=2, annotation_id=12)])
    problems = problems_of([two])
    assert problems == ["export.json: task 7 (doc lao-cai-2020): several annotators: 1 (annotation 11), "
                        "2 (annotation 12); gold takes one annotation per task, pick one with --annotator or "
                        "resolve them in Label Studio"]
    assert gold_from_export([two], default_resolver(), annotator="2") == [GOLD]


def test_import_completed_by_as_a_user_object():
    one = task([annotation()])
    one["annotations"][0]["completed_by"] = {"id": 4, "email": "a@vipie.local"}
    assert gold_from_export([one], default_resolver(), annotator="a@vipie.local") == [GOLD]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.append(field("a1", "UBND tỉnh Lào Cai", "status", "target")),
         "status on a AGENCY span; fact fields belong on METRIC spans only"),
        (lambda r: r.append(relation("m2", "d1", "province")),
         "province relation points to DATE 'Năm 2020', which names no province"),
        (lambda r: r.append(relation("m2", "a1", "year")), "year relation points to AGENCY"),
        (lambda r: r.append(relation("d1", "a1", "province")), "province relation between DATE and AGENCY"),
        (lambda r: r.append(relation("m2", "a1", "owner")), "is labelled ['owner']"),
        (lambda r: r.append(field("m1", "trên 888.000", "province", "Hà Nội")),
         "province relation says 'Lào Cai' but the province field says 'Hà Nội'"),
        (lambda r: r.append(field("m1", "trên 888.000", "value", 5)), "value entered twice on one METRIC"),
        (lambda r: item(r, "m1", "qualifier")["value"].update(choices=["about"]), "qualifier 'about' is not one of"),
        (lambda r: item(r, "m2", "year")["value"].update(number=20.5), "year 20.5 is not a year"),
        (lambda r: item(r, "m2", "value")["value"].update(start=74), "value is at [74, 78], not at its span's offsets"),
        (lambda r: r.append({**field("m2", "70,6%", "value", 1), "from_name": "amount"}), "unknown control 'amount'"),
        (lambda r: r.append(field("zz", "70,6%", "unit", "%")), "unit belongs to no labelled span"),
        (lambda r: r.append(labels("w1", "có ", "DATE")), "DATE span starts or ends with whitespace"),
    ],
)
def test_import_other_annotation_mistakes_are_errors(change, message):
    problems = problems_of([with_result(change)])
    assert any(message in p for p in problems), problems
    assert all(p.startswith("export.json: task 7 (doc lao-cai-2020)") for p in problems)


def test_import_the_same_document_twice_is_an_error():
    problems = problems_of([task(), task(task_id=8)])
    assert problems == [
        "export.json: task 8 (doc lao-cai-2020): the document is also task 7; import each document once"]


def test_import_text_not_nfc_is_an_error():
    import unicodedata

    problems = problems_of([task(text=unicodedata.normalize("NFD", TEXT))])
    assert any("not in Unicode NFC" in p for p in problems)


def test_import_reports_every_problem_of_every_task():
    bad_a = with_result(lambda r: item(r, "a1")["value"].update(labels=["X"]))
    bad_b = task([], task_id=9, doc_id="other")
    problems = problems_of([bad_a, task(task_id=8, doc_id="fine"), bad_b])
    assert [p.split(":")[1].strip() for p in problems] == ["task 7 (doc lao-cai-2020)", "task 9 (doc other)"]


def test_read_export_refuses_other_formats(tmp_path):
    minimal = tmp_path / "min.json"
    minimal.write_text(json.dumps([{"text": TEXT, "label": []}]), encoding="utf-8")
    with pytest.raises(InputError, match="not a Label Studio JSON export"):
        read_export(minimal)
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(InputError, match="not a JSON file"):
        read_export(broken)


def run_import(tmp_path, tasks, *extra):
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "gold.jsonl"
    result = subprocess.run([VIPIE, "annotate", "import", str(export), "--out", str(out), *extra],
                            capture_output=True, text=True, timeout=120)
    return result, out


def test_cli_import_writes_gold(tmp_path):
    result, out = run_import(tmp_path, [task()])
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == [GOLD]
    assert "wrote 1 gold documents, 4 entities, 2 facts" in result.stderr


def test_cli_import_prints_one_line_per_problem_and_writes_nothing_when_no_task_is_good(tmp_path):
    bad = with_result(lambda r: (r.append(labels("l1", "tỉnh Lào Cai", "LOCATION")),
                                 item(r, "d1")["value"].update(labels=["YEAR"])))
    result, out = run_import(tmp_path, [bad, task([annotation(cancelled=True)], task_id=8, doc_id="b")])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("vipie: error: ") for line in lines), result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
    assert f"task {TASK_ID}" in lines[0] and "task 8" in lines[2] and "no task could be imported" in lines[3]


def test_cli_import_keeps_the_good_tasks_and_lists_the_rest(tmp_path):
    bad = with_result(lambda r: item(r, "a1")["value"].update(labels=["X"]))
    bad["id"], bad["data"]["doc_id"] = 9, "other"
    twice = task(task_id=8)  # the same document imported twice into Label Studio, annotated twice
    result, out = run_import(tmp_path, [task(), bad, twice])
    assert result.returncode == 1, result.stderr
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == [GOLD]
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "vipie: imported lao-cai-2020: 4 entities, 2 facts"
    assert "task 9 (doc other)" in lines[1] and "unknown label 'X'" in lines[1]
    assert "task 8 (doc lao-cai-2020): the document is also task 7" in lines[2]
    assert lines[-1].startswith("vipie: left out 2 of 3 tasks: task 9 (doc other), task 8 (doc lao-cai-2020)")


def test_import_export_reports_task_by_task():
    bad = task([], task_id=9, doc_id="other")
    report = import_export([bad, task()], default_resolver(), "export.json")
    assert [d["id"] for d in report.documents] == [DOC_ID]
    [(task_id, doc_id, problems)] = report.rejected
    assert (task_id, doc_id) == (9, "other") and len(problems) == 1 and "no annotation" in problems[0]


def indicator_region(rid: str, fragment: str) -> dict:
    start, end = at(fragment)
    return {"id": rid, "from_name": "indicator_span", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": fragment, "labels": ["INDICATOR"]}}


def with_indicator_region(result: list) -> None:
    """m1's indicator as an INDICATOR region with an `indicator` relation instead of a typed field (v2)."""
    result.remove(item(result, "m1", "indicator"))
    result += [indicator_region("i1", "văn bản điện tử"), relation("m1", "i1", "indicator")]


def test_import_reads_the_indicator_span_from_its_region_and_relation():
    gold = gold_from_export([with_result(with_indicator_region)], default_resolver())[0]
    first = gold["facts"][0]
    start, end = at("văn bản điện tử")
    assert (first["indicator"], first["indicator_span"]) == ("văn bản điện tử", {"start": start, "end": end})
    assert gold["entities"] == GOLD["entities"]  # the INDICATOR region is no entity


def test_import_without_any_indicator_gives_a_null_span_and_a_typed_one_keeps_no_span():
    def drop_indicator(result):
        result.remove(item(result, "m1", "indicator"))

    first = gold_from_export([with_result(drop_indicator)], default_resolver())[0]["facts"][0]
    assert (first["indicator"], first["indicator_span"]) == (None, None)
    assert "indicator_span" not in gold_from_export([task()], default_resolver())[0]["facts"][0]


def test_import_indicator_relation_to_an_entity_is_an_error():
    problems = problems_of([with_result(lambda r: r.append(relation("m2", "a1", "indicator")))])
    assert len(problems) == 1 and "indicator relation to AGENCY" in problems[0]


def test_import_indicator_relation_and_typed_indicator_that_differ_is_an_error():
    def both(result):
        result += [indicator_region("i1", "văn bản điện tử"), relation("m2", "i1", "indicator")]

    problems = problems_of([with_result(both)])
    assert len(problems) == 1 and "indicator relation says 'văn bản điện tử' but the indicator field says" in problems[0]
