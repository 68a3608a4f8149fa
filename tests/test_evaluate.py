import json

import pytest

from pipeline.errors import InputError
from pipeline.evaluate import error_confusion, evaluate, fact_scores, indicator_f1, predict_with_gold_entities

TEXT = "Năm 2020, tỉnh Lào Cai có trên 888.000 văn bản điện tử."


def doc(entities, facts=(), doc_id="d"):
    return {"id": doc_id, "text": TEXT, "entities": [
        {"start": TEXT.index(t), "end": TEXT.index(t) + len(t), "label": label, "text": t} for label, t in entities],
        "facts": list(facts)}


GOLD = doc([("DATE", "Năm 2020"), ("LOCATION", "tỉnh Lào Cai"), ("METRIC", "trên 888.000")])


def test_perfect_prediction_scores_one():
    report = evaluate([GOLD], [GOLD])
    assert report["entities"]["micro"]["f1-score"] == 1.0


def test_boundary_error_lowers_the_strict_score():
    shifted = doc([("DATE", "Năm 2020"), ("LOCATION", "Lào Cai"), ("METRIC", "trên 888.000")])
    report = evaluate([GOLD], [shifted])
    assert report["entities"]["per_label"]["LOCATION"]["f1-score"] == 0.0
    assert report["entities"]["micro"]["f1-score"] == pytest.approx(2 / 3, abs=1e-4)
    assert error_confusion([(GOLD, shifted)])["kinds"]["boundary"] == 1


def test_label_error_is_counted_as_a_confusion():
    relabelled = doc([("DATE", "Năm 2020"), ("AGENCY", "tỉnh Lào Cai"), ("METRIC", "trên 888.000")])
    confusion = error_confusion([(GOLD, relabelled)])
    assert confusion["kinds"]["label"] == 1 and confusion["label_confusions"] == {"LOCATION->AGENCY": 1}


def fact(value, province="Lào Cai", year=2020, indicator="văn bản điện tử"):
    start = TEXT.index("trên 888.000")
    return {"metric": {"start": start, "end": start + 12, "text": "trên 888.000"}, "value": value, "value_max": None,
            "unit": None, "qualifier": "gt", "indicator": indicator, "province": province, "year": year,
            "status": "achieved"}


def test_fact_counts_only_when_value_province_and_year_are_right():
    gold = doc([("METRIC", "trên 888.000")], [fact(888000.0)])
    wrong_year = doc([("METRIC", "trên 888.000")], [fact(888000.0, year=2021, indicator="văn bản")])
    scores = fact_scores([(gold, wrong_year)])
    assert scores["fact_level"]["f1"] == 0.0
    assert scores["accuracy"]["value"] == 1.0 and scores["accuracy"]["year"] == 0.0
    assert scores["indicator_f1"] == pytest.approx(indicator_f1("văn bản điện tử", "văn bản"), abs=1e-4)
    assert fact_scores([(gold, gold)])["fact_level"]["f1"] == 1.0


def test_indicator_f1_is_token_overlap():
    assert indicator_f1("văn bản điện tử", "văn bản điện tử") == 1.0
    assert indicator_f1("văn bản điện tử", "hồ sơ") == 0.0
    assert indicator_f1(None, None) == 1.0


def test_mismatched_documents_are_errors():
    with pytest.raises(InputError, match="not in the predictions"):
        evaluate([GOLD], [])
    with pytest.raises(InputError, match="text differs"):
        evaluate([GOLD], [dict(GOLD, text=TEXT + " ")])


def test_unaligned_gold_span_is_reported():
    bad = dict(GOLD, entities=[{"start": 1, "end": 3, "label": "DATE", "text": TEXT[1:3]}])
    report = evaluate([bad], [GOLD])
    assert len(report["entities"]["alignment_problems"]) == 1


def test_oracle_links_the_gold_spans(nlp):
    gold = doc([("DATE", "Năm 2020"), ("LOCATION", "tỉnh Lào Cai"), ("METRIC", "trên 888.000")])
    spacy_doc = predict_with_gold_entities(nlp, gold)
    assert [(e.label_, e.text) for e in spacy_doc.ents] == [("DATE", "Năm 2020"), ("LOCATION", "tỉnh Lào Cai"),
                                                            ("METRIC", "trên 888.000")]
    assert spacy_doc._.facts[0]["province"] == "Lào Cai" and spacy_doc._.facts[0]["year"] == 2020


@pytest.mark.slow
def test_evaluate_cli_writes_json(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    gold_path = tmp_path / "gold.jsonl"
    gold_path.write_text(json.dumps(dict(GOLD, meta={}), ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "report.json"
    vipie = str(Path(sys.executable).parent / "vipie")
    result = subprocess.run([vipie, "evaluate", "--gold", gold_path, "--json", out], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["mode"] == "end-to-end" and report["entities"]["micro"]["f1-score"] == 1.0
