"""`vipie annotate agree`: span F1 per label (exact and overlap) and fact attribute agreement."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.annotate.agree import agreement, fact_agreement, read_annotations, span_agreement
from pipeline.errors import AnnotationError, InputError
from pipeline.provinces import default_resolver
from tests.annotate_helpers import GOLD, annotation, task

VIPIE = str(Path(sys.executable).parent / "vipie")


def variant(change) -> dict:
    document = copy.deepcopy(GOLD)
    change(document)
    return document


def test_identical_annotations_agree_fully():
    result = agreement({"d": GOLD}, {"d": copy.deepcopy(GOLD)})
    assert result["documents"] == 1 and result["only_in_a"] == result["only_in_b"] == []
    assert result["spans"]["all"] == {"a": 4, "b": 4, "exact": {"precision": 1.0, "recall": 1.0, "f1": 1.0},
                                      "overlap": {"precision": 1.0, "recall": 1.0, "f1": 1.0}}
    assert result["spans"]["OFFICIAL"]["exact"] == {"precision": None, "recall": None, "f1": None}
    assert result["facts"]["matched_metrics"] == 2 and set(result["facts"]["accuracy"].values()) == {1.0}


def test_exact_and_overlap_f1_differ_on_a_moved_boundary():
    def move(document):  # B tags "tỉnh Lào Cai" inside A's "UBND tỉnh Lào Cai", and misses the DATE
        document["entities"][1].update(start=15, text="tỉnh Lào Cai")
        del document["entities"][0]

    spans = span_agreement([(GOLD, variant(move))])
    assert spans["AGENCY"]["exact"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert spans["AGENCY"]["overlap"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert spans["DATE"] == {"a": 1, "b": 0, "exact": {"precision": None, "recall": 0.0, "f1": 0.0},
                             "overlap": {"precision": None, "recall": 0.0, "f1": 0.0}}
    assert spans["all"]["exact"] == {"precision": 2 / 3, "recall": 2 / 4, "f1": pytest.approx(4 / 7)}


def test_span_f1_does_not_depend_on_which_side_is_a():
    def drop(document):
        del document["entities"][2]

    ab, ba = span_agreement([(GOLD, variant(drop))]), span_agreement([(variant(drop), GOLD)])
    assert ab["all"]["exact"]["f1"] == ba["all"]["exact"]["f1"] == pytest.approx(6 / 7)
    assert ab["all"]["exact"]["precision"] == ba["all"]["exact"]["recall"] == 1.0


def test_fact_attributes_are_compared_on_metrics_with_the_same_span():
    def differ(document):
        document["facts"][0].update(value=888000.0000000001, year=2021, indicator="văn  bản\nđiện tử")
        document["facts"][1]["metric"].update(start=72)  # no longer the same span: not compared

    facts = fact_agreement([(GOLD, variant(differ))])
    assert facts["matched_metrics"] == 1
    assert facts["accuracy"] == {"value": 1.0, "value_max": 1.0, "unit": 1.0, "qualifier": 1.0, "indicator": 1.0,
                                 "province": 1.0, "year": 0.0, "status": 1.0}


def test_documents_are_matched_by_id_and_must_share_their_text():
    result = agreement({"d": GOLD, "a-only": GOLD}, {"d": GOLD, "b-only": GOLD})
    assert (result["documents"], result["only_in_a"], result["only_in_b"]) == (1, ["a-only"], ["b-only"])
    with pytest.raises(AnnotationError, match="document d: the text differs between A and B"):
        agreement({"d": GOLD}, {"d": variant(lambda d: d.update(text=d["text"] + " "))})


def write_jsonl(path: Path, documents: list[dict]) -> Path:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents), encoding="utf-8")
    return path


def test_read_annotations_by_suffix(tmp_path):
    export = tmp_path / "a.json"
    export.write_text(json.dumps([task()], ensure_ascii=False), encoding="utf-8")
    gold = write_jsonl(tmp_path / "b.jsonl", [GOLD])
    assert read_annotations(export, default_resolver()) == read_annotations(gold, default_resolver()) == {
        GOLD["id"]: GOLD}
    with pytest.raises(InputError, match="give a Label Studio export"):
        read_annotations(tmp_path / "a.csv", default_resolver())


def test_cli_agree_on_an_export_and_a_gold_file_as_json(tmp_path):
    export = tmp_path / "a.json"
    export.write_text(json.dumps([task()], ensure_ascii=False), encoding="utf-8")
    gold = write_jsonl(tmp_path / "b.jsonl", [variant(lambda d: d["facts"][0].update(status="target"))])
    result = subprocess.run([VIPIE, "annotate", "agree", str(export), str(gold), "--json"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    numbers = json.loads(result.stdout)
    assert numbers["spans"]["METRIC"]["exact"]["f1"] == 1.0 and numbers["facts"]["accuracy"]["status"] == 0.5


def test_cli_agree_between_two_annotators_of_one_export_as_a_table(tmp_path):
    second = copy.deepcopy(annotation(annotator=2, annotation_id=12))
    second["result"] = [item for item in second["result"] if item.get("id") != "d1" and item.get("to_id") != "d1"]
    export = tmp_path / "project.json"
    export.write_text(json.dumps([task([annotation(), second])], ensure_ascii=False), encoding="utf-8")
    result = subprocess.run([VIPIE, "annotate", "agree", str(export), str(export), "--annotator-a", "1",
                             "--annotator-b", "2"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    assert "1 documents in both" in result.stdout
    date_row = next(line for line in result.stdout.splitlines() if "DATE" in line)
    assert "0.0" in date_row and "all" in result.stdout
    unfiltered = subprocess.run([VIPIE, "annotate", "agree", str(export), str(export)], capture_output=True,
                                text=True, timeout=120)
    assert unfiltered.returncode == 2 and "several annotators" in unfiltered.stderr
