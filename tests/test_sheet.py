"""Annotation sheets: entities found in order with exact offsets, indicators as spans, every problem reported."""

import json
import subprocess
import sys

import pytest

from pipeline.annotate.sheet import gold_from_sheet, sheet_from_gold
from pipeline.provinces import default_resolver
from tests.conftest import CHECK_CONTRACT

TEXT = "Năm 2020, UBND tỉnh Lào Cai có trên 888.000 văn bản\nđiện tử; UBND tỉnh cũng đạt 70,6% hồ sơ trực tuyến."
FACT = {"value": 888000, "value_max": None, "unit": None, "qualifier": "gt", "indicator": "văn bản điện tử",
        "province": "Lào Cai", "year": 2020, "status": "achieved"}


def convert(entities, text=TEXT, meta=None):
    return gold_from_sheet({"id": "d", "entities": entities}, text, meta or {}, default_resolver())


def test_entities_are_found_in_order_and_a_space_matches_a_line_wrap():
    document, problems, warnings = convert([["DATE", "Năm 2020"], ["AGENCY", "UBND tỉnh Lào Cai"],
                                            ["METRIC", "trên 888.000", FACT], ["AGENCY", "UBND tỉnh"]])
    assert problems == [] and warnings == []
    assert [(e["label"], TEXT[e["start"]:e["end"]]) for e in document["entities"]] == [
        ("DATE", "Năm 2020"), ("AGENCY", "UBND tỉnh Lào Cai"), ("METRIC", "trên 888.000"), ("AGENCY", "UBND tỉnh")]
    assert document["entities"][3]["start"] == TEXT.index("UBND tỉnh cũng")
    fact = document["facts"][0]
    span = fact["indicator_span"]
    assert TEXT[span["start"]:span["end"]] == "văn bản\nđiện tử" == fact["indicator"]
    assert (fact["province_2025"], fact["value"]) == ("Lào Cai", 888000.0)


def test_skip_passes_over_earlier_occurrences():
    document, problems, _ = convert([["AGENCY", "UBND tỉnh", {"skip": 1}]])
    assert problems == [] and document["entities"][0]["start"] == TEXT.index("UBND tỉnh cũng")


def test_a_name_inside_a_longer_word_is_not_a_match():
    _, problems, _ = convert([["LOCATION", "Lào"]], text="Lào Cai và nước Lào")
    assert problems == []
    document, _, _ = convert([["LOCATION", "Ca"]], text="Lào Cai")
    assert document is None


@pytest.mark.parametrize("entities, message", [
    ([["METRIC", "999"]], "'999' not found after offset 0"),
    ([["PLACE", "Lào Cai"]], "unknown label 'PLACE'"),
    ([["METRIC", "trên 888.000", {"value": 888000}]], "fact misses unit, qualifier, indicator, province, year, status"),
    ([["METRIC", "trên 888.000", {**FACT, "province": "Atlantis"}]], "province 'Atlantis' is no canonical province"),
    ([["METRIC", "trên 888.000", {**FACT, "indicator": "máy tính"}]], "indicator 'máy tính' is not in the figure's"),
    ([["METRIC", "trên 888.000", {**FACT, "qualifier": "more"}]], "qualifier 'more' not one of"),
    ([["AGENCY", "UBND tỉnh Lào Cai", {"value": 1}]], "has fact fields; only a METRIC has them"),
    ([["DATE", "Năm 2020,"]], "starts or ends with whitespace or punctuation"),
])
def test_problems_are_reported_and_give_no_document(entities, message):
    document, problems, _ = convert(entities)
    assert document is None and any(message in p for p in problems), problems


def test_warnings_for_a_value_the_parser_reads_otherwise_and_a_year_named_nowhere():
    _, problems, warnings = convert([["METRIC", "70,6%", {**FACT, "value": 76.0, "year": 2031}]])
    assert problems == []
    assert any("value 76.0 but the number parser reads 70.6" in w for w in warnings)
    assert any("year 2031 is named nowhere" in w for w in warnings)


def test_a_province_spelling_is_written_canonically():
    document, problems, _ = convert([["METRIC", "70,6%", {**FACT, "value": 70.6, "province": "TP Hồ Chí Minh"}]])
    assert problems == [] and document["facts"][0]["province"] == "Hồ Chí Minh"


def test_sheet_from_gold_round_trips_the_seed_gold_exactly():
    from tests.conftest import REPO

    for line in (REPO / "annotations" / "seeds" / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        gold = json.loads(line)
        document, problems, _ = gold_from_sheet(sheet_from_gold(gold), gold["text"], gold["meta"], default_resolver())
        assert problems == []
        assert document == gold


def test_script_writes_contract_valid_gold(tmp_path):
    from tests.conftest import REPO

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "d.txt").write_text(TEXT, encoding="utf-8")
    (docs / "d.meta.json").write_text(json.dumps({"id": "d", "writer": "z"}), encoding="utf-8")
    sheets = tmp_path / "sheets"
    sheets.mkdir()
    (sheets / "d.json").write_text(json.dumps({"id": "d", "entities": [["METRIC", "trên 888.000", FACT]]},
                                              ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "gold.jsonl"
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "sheets.py"), "to-gold", str(sheets), "--docs",
                          str(docs), "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["meta"] == {"writer": "z"}
    check = subprocess.run([sys.executable, str(CHECK_CONTRACT), str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
