import json

import pytest

from pipeline.errors import InputError
from pipeline.evaluate import (
    error_confusion,
    evaluate,
    fact_scores,
    headline,
    indicator_f1,
    predict_with_gold_entities,
    score_calibration,
    unknown_labels,
)

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


def test_score_calibration_bins_scores_against_right_facts():
    outcomes = [(0.95, True), (0.91, True), (0.99, False), (0.35, False), (1.0, True)]
    calibration = score_calibration(outcomes)
    assert calibration["facts"] == 5
    assert [(b["from"], b["facts"]) for b in calibration["bins"]] == [(0.3, 1), (0.9, 4)]
    top = calibration["bins"][1]
    assert top["mean_score"] == pytest.approx(0.9625) and top["right"] == 0.75
    assert calibration["ece"] == pytest.approx((0.35 + 4 * abs(0.9625 - 0.75)) / 5, abs=1e-4)
    assert score_calibration([])["ece"] is None


def test_fact_scores_calibrate_the_predicted_scores_of_matched_facts():
    gold = doc([("METRIC", "trên 888.000")], [fact(888000.0)])
    sure_but_wrong = doc([("METRIC", "trên 888.000")], [{**fact(888000.0, year=2021), "score": 0.9}])
    calibration = fact_scores([(gold, sure_but_wrong)])["score_calibration"]
    assert calibration["ece"] == pytest.approx(0.9) and calibration["bins"][0]["right"] == 0.0
    assert fact_scores([(gold, gold)])["score_calibration"]["facts"] == 0  # gold facts carry no score


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


CASE_TEXT = "Bệnh nhân BN91 là phi công người Anh, điều trị tại Bệnh viện Bệnh Nhiệt đới TP. HCM."


def case_doc(*entities: tuple[str, str], doc_id: str = "c") -> dict:
    """A document of CASE_TEXT with each (label, surface) entity at its first occurrence."""
    return {"id": doc_id, "text": CASE_TEXT, "meta": {}, "facts": [], "entities": [
        {"start": CASE_TEXT.index(t), "end": CASE_TEXT.index(t) + len(t), "label": label, "text": t}
        for label, t in entities]}


def test_labels_outside_the_project_set_are_scored():
    gold = case_doc(("PATIENT_ID", "BN91"), ("JOB", "phi công"), ("ORGANIZATION", "Bệnh viện Bệnh Nhiệt đới TP. HCM"))
    pred = case_doc(("PATIENT_ID", "BN91"), ("ORGANIZATION", "Bệnh viện Bệnh Nhiệt đới TP. HCM"), ("LOCATION", "Anh"))
    entities = evaluate([gold], [pred])["entities"]
    assert list(entities["per_label"]) == ["LOCATION", "JOB", "ORGANIZATION", "PATIENT_ID"]
    assert entities["per_label"]["PATIENT_ID"]["f1-score"] == 1.0
    assert entities["per_label"]["JOB"]["recall"] == 0.0 and entities["per_label"]["JOB"]["support"] == 1
    assert entities["per_label"]["LOCATION"]["precision"] == 0.0 and entities["per_label"]["LOCATION"]["support"] == 0
    assert entities["micro"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert entities["micro"]["recall"] == pytest.approx(2 / 3, abs=1e-4)


def test_unknown_labels_counts_gold_spans_outside_the_model():
    gold = [case_doc(("PATIENT_ID", "BN91"), ("JOB", "phi công")), case_doc(("PATIENT_ID", "BN91"), doc_id="c2")]
    assert unknown_labels(gold, ["JOB", "LOCATION"]) == {"PATIENT_ID": 2}
    assert unknown_labels(gold, ["JOB", "PATIENT_ID"]) == {}


def span(label, surface, text=CASE_TEXT):
    start = text.index(surface)
    return {"start": start, "end": start + len(surface), "label": label, "text": surface}


def test_entity_errors_name_each_error_by_document_and_span():
    gold = case_doc(("PATIENT_ID", "BN91"), ("JOB", "phi công"), ("NATIONALITY", "Anh"),
                    ("ORGANIZATION", "Bệnh viện Bệnh Nhiệt đới TP. HCM"))
    pred = case_doc(("PATIENT_ID", "Bệnh nhân BN91"), ("NAME", "phi công"), ("LOCATION", "TP. HCM"),
                    ("DATE", "điều trị"))
    errors = evaluate([gold], [pred])["entity_errors"]
    assert errors == [
        {"doc_id": "c", "kind": "boundary", "gold": span("PATIENT_ID", "BN91"),
         "pred": span("PATIENT_ID", "Bệnh nhân BN91")},
        {"doc_id": "c", "kind": "label", "gold": span("JOB", "phi công"), "pred": span("NAME", "phi công")},
        {"doc_id": "c", "kind": "missed", "gold": span("NATIONALITY", "Anh"), "pred": None},
        {"doc_id": "c", "kind": "spurious", "gold": None, "pred": span("DATE", "điều trị")},
        {"doc_id": "c", "kind": "label_and_boundary", "gold": span("ORGANIZATION", "Bệnh viện Bệnh Nhiệt đới TP. HCM"),
         "pred": span("LOCATION", "TP. HCM")},
    ]
    assert error_confusion([(gold, pred)]) == {
        "kinds": {"boundary": 1, "label": 1, "missed": 1, "spurious": 1, "label_and_boundary": 1},
        "label_confusions": {"JOB->NAME": 1}}
    assert evaluate([gold], [gold])["entity_errors"] == []


def write_jsonl(path, docs):
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")


def run_vipie(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `vipie ARGS` run in this process (no start-up time: the imports are done),
    its tables printed 200 columns wide (no cell is wrapped)."""
    from pipeline.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("sys.argv", ["vipie", *map(str, args)])
    with pytest.raises(SystemExit) as exit_status:
        main()
    captured = capsys.readouterr()
    return exit_status.value.code, captured.out, captured.err


@pytest.mark.slow
def test_evaluate_cli_writes_and_shows_the_errors(tmp_path, monkeypatch, capsys):
    gold = [case_doc(("PATIENT_ID", "BN91"), ("JOB", "phi công")), case_doc(("PATIENT_ID", "BN91"), doc_id="c2")]
    pred = [case_doc(("PATIENT_ID", "BN91")), case_doc(("PATIENT_ID", "BN91"), ("JOB", "Anh"), doc_id="c2")]
    write_jsonl(tmp_path / "gold.jsonl", gold)
    write_jsonl(tmp_path / "pred.jsonl", pred)
    errors, report = tmp_path / "errors.jsonl", tmp_path / "report.json"
    status, out, err = run_vipie(monkeypatch, capsys, "evaluate", "--gold", tmp_path / "gold.jsonl", "--pred",
                                 tmp_path / "pred.jsonl", "--errors", errors, "--json", report, "--show-errors", 1)
    assert status == 0, err
    listed = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
    assert listed == [{"doc_id": "c", "kind": "missed", "gold": span("JOB", "phi công"), "pred": None},
                      {"doc_id": "c2", "kind": "spurious", "gold": None, "pred": span("JOB", "Anh")}]
    assert "the first 1 of 2" in out and "'phi công' [18, 26)" in out and "'Anh'" not in out
    assert json.loads(report.read_text(encoding="utf-8"))["entities"]["per_label"]["PATIENT_ID"]["f1-score"] == 1.0


@pytest.mark.slow
def test_evaluate_cli_warns_on_gold_labels_the_model_does_not_know(tmp_path, monkeypatch, capsys):
    gold = dict(GOLD, meta={}, entities=[*GOLD["entities"], span("PATIENT_ID", "văn bản", TEXT)])
    write_jsonl(tmp_path / "gold.jsonl", [gold])
    status, out, err = run_vipie(monkeypatch, capsys, "evaluate", "--gold", tmp_path / "gold.jsonl",
                                 "--show-errors", 0)
    assert status == 0, err
    warnings = [line for line in err.splitlines() if "gold label" in line]
    assert len(warnings) == 1 and "gold label PATIENT_ID (1 span) is not among the model's labels" in warnings[0]
    assert "PATIENT_ID" in out and "entity errors" not in out


def test_headline_keeps_a_few_readable_figures():
    gold = dict(GOLD, facts=[])
    pred = dict(doc([("DATE", "Năm 2020"), ("METRIC", "trên 888.000")]), facts=[])
    figures = headline(evaluate([gold], [pred]))
    assert figures["documents"] == 1 and figures["metric_f1"] == 1.0 and figures["entity_micro_f1"] == 0.8
    assert set(figures) == {"documents", "entity_micro_f1", "entity_macro_f1", "metric_f1", "value_accuracy",
                            "province_accuracy", "year_accuracy", "indicator_span_token_f1", "fact_f1",
                            "fact_score_ece"}


@pytest.mark.slow
def test_conll_gold_scores_the_model_on_its_tokens_and_warns_on_unknown_labels(tmp_path, monkeypatch, capsys):
    from pipeline.train import crf_grid, read_examples, train_crf

    sentence = ("Bệnh\tO\nnhân\tO\n{n}\tB-PATIENT_ID\nlà\tO\nphi\tB-JOB\ncông\tI-JOB\n,\tO\n{age}\tB-AGE\n"
                "tuổi\tO\n.\tO\n")
    train = tmp_path / "train.conll"
    train.write_text("\n".join(sentence.format(n=f"BN{i}", age=30 + i) for i in range(8)), encoding="utf-8")
    train_crf(read_examples([train], {}, []), [], tmp_path / "model", crf_grid([0.05], [0.01], [50]), {},
              rule_features=False)
    test = tmp_path / "test.conll"
    test.write_text(sentence.format(n="BN91", age=43) + "\nAnh\tB-NATIONALITY\n.\tO\n", encoding="utf-8")
    metrics = tmp_path / "metrics.json"
    status, out, err = run_vipie(monkeypatch, capsys, "evaluate", "--gold", test, "--model", tmp_path / "model",
                                 "--metrics", metrics)
    assert status == 0, err
    figures = json.loads(metrics.read_text(encoding="utf-8"))
    # Three of the four gold spans found, nothing spurious: P 1, R 0.75.
    assert figures == {"documents": 2, "entity_micro_f1": round(2 * 0.75 / 1.75, 4), "entity_macro_f1": 0.75}
    assert "gold label NATIONALITY (1 span) is not among the model's labels (AGE, JOB, PATIENT_ID)" in err
    assert "CoNLL" in out and "PATIENT_ID" in out

    status, _, err = run_vipie(monkeypatch, capsys, "evaluate", "--gold", test, "--gold", tmp_path / "x.jsonl")
    assert status == 2 and "CoNLL gold is scored on its own tokens" in err


def test_split_documents_reads_gold_folders_and_refuses_a_missing_path(tmp_path):
    from pipeline.train import split_documents

    folder = tmp_path / "composed"
    folder.mkdir()
    (folder / "writer_b.jsonl").write_text(json.dumps(doc([], doc_id="b1")) + "\n", encoding="utf-8")
    (folder / "writer_a.jsonl").write_text(json.dumps(doc([], doc_id="a1")) + "\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not gold", encoding="utf-8")
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps(doc([], doc_id="s1")) + "\n", encoding="utf-8")

    grouped = split_documents([folder, seeds], {"train": ["a1", "b1"], "test": ["s1"]})
    assert {split: [d["id"] for d in docs] for split, docs in grouped.items()} == {"train": ["a1", "b1"], "test": ["s1"]}
    with pytest.raises(InputError, match="no such gold file or folder"):
        split_documents([tmp_path / "absent"], {"train": []})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no \\*.jsonl file"):
        split_documents([empty], {"train": []})
