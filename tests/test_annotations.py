"""The gold corpus itself: contract-valid, rebuilt exactly from its Label Studio exports, split without leaks."""

import json
import subprocess
import sys

import pytest

from pipeline.annotate.gold import gold_from_export, read_export
from pipeline.provinces import default_resolver
from tests.conftest import CHECK_CONTRACT, REPO

ANNOTATIONS = REPO / "annotations"
GOLD = {
    "seeds/label_studio_export.json": ["seeds/gold.jsonl"],
    "composed/label_studio_export.json": ["composed/part_a.jsonl", "composed/part_b.jsonl"],
}


def read_jsonl(*names):
    return [json.loads(line) for name in names for line in (ANNOTATIONS / name).read_text(encoding="utf-8").splitlines()
            if line.strip()]


@pytest.mark.parametrize("name", ["seeds/gold.jsonl", "composed/part_a.jsonl", "composed/part_b.jsonl",
                                  "seeds/second_pass/second_pass_001.jsonl", "seeds/second_pass/second_pass_003.jsonl"])
def test_gold_files_pass_the_contract_check(name):
    result = subprocess.run([sys.executable, CHECK_CONTRACT, ANNOTATIONS / name], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("export, jsonl", GOLD.items())
def test_label_studio_export_rebuilds_the_gold_exactly(export, jsonl):
    rebuilt = gold_from_export(read_export(ANNOTATIONS / export), default_resolver())
    gold = read_jsonl(*jsonl)
    strip = lambda doc: {**doc, "facts": [{k: v for k, v in f.items() if k not in ("evidence", "score")}  # noqa: E731
                                          for f in doc["facts"]]}
    assert [strip(d) for d in rebuilt] == [strip(d) for d in gold]


def test_split_keeps_the_seeds_out_of_training():
    splits = json.loads((ANNOTATIONS / "splits.json").read_text(encoding="utf-8"))
    seeds = {d["id"] for d in read_jsonl("seeds/gold.jsonl")}
    composed = {d["id"] for d in read_jsonl("composed/part_a.jsonl", "composed/part_b.jsonl")}
    assert set(splits["test"]) == seeds == {p.stem for p in (REPO.parent / "shared" / "seeds").glob("*.txt")}
    assert set(splits["train"]) | set(splits["dev"]) == composed
    assert not set(splits["train"]) & set(splits["dev"])


def test_composed_corpus_covers_the_brief():
    docs = read_jsonl("composed/part_a.jsonl", "composed/part_b.jsonl")
    assert len(docs) >= 60 and all(d["meta"].get("composed") is True for d in docs)
    provinces = {f["province"] for d in docs for f in d["facts"]} - {None, "Việt Nam"}
    assert len(provinces) >= 30
    years = {int(d["meta"]["published"][:4]) for d in docs}
    assert years == set(range(2019, 2026))
    labels = {e["label"] for d in docs for e in d["entities"]}
    assert labels == {"AGENCY", "OFFICIAL", "TITLE", "SYSTEM", "METRIC", "DATE", "LOCATION", "DOCUMENT"}
