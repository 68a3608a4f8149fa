"""The gold corpus itself: contract-valid, rebuilt exactly from its Label Studio exports, split without leaks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.annotate.gold import gold_from_export, read_export
from pipeline.provinces import default_resolver
from tests.conftest import CHECK_CONTRACT, REPO

ANNOTATIONS = REPO / "annotations"
# Every writer's file that is there, so that a new writer's gold is checked (and must be in the export) at once.
COMPOSED = ["composed/part_a.jsonl", "composed/part_b.jsonl",
            *sorted(str(p.relative_to(ANNOTATIONS)) for p in ANNOTATIONS.glob("composed/writer_*.jsonl"))]
# Writers kept out of every split (annotations/blind/), scored as blind rows only.
BLIND = sorted(str(p.relative_to(ANNOTATIONS)) for p in ANNOTATIONS.glob("blind/writer_*.jsonl"))
# One export per gold file, so that no export grows past what git may hold as writers are added.
GOLD = {
    "seeds/label_studio_export.json": ["seeds/gold.jsonl"],
    **{f"{Path(name).parent}/label_studio/{Path(name).stem}.json": [name] for name in COMPOSED + BLIND},
}
GIT_FILE_LIMIT = 20 * 1000 * 1000
GENRES = ("ranking", "ministry", "review", "interview", "commune", "long", "merger", "undated")


def read_jsonl(*names):
    return [json.loads(line) for name in names for line in (ANNOTATIONS / name).read_text(encoding="utf-8").splitlines()
            if line.strip()]


# Every pass kept beside the gold (agreement samples, second passes), found the same way as the writers' files.
PASSES = sorted(str(p.relative_to(ANNOTATIONS)) for pattern in ("agreement/*.jsonl", "seeds/second_pass/*.jsonl")
                for p in ANNOTATIONS.glob(pattern))


@pytest.mark.parametrize("name", ["seeds/gold.jsonl", *COMPOSED, *BLIND, *PASSES])
def test_gold_files_pass_the_contract_check(name):
    result = subprocess.run([sys.executable, CHECK_CONTRACT, ANNOTATIONS / name], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_every_v2_gold_fact_says_where_its_indicator_stands():
    for doc in read_jsonl("seeds/gold.jsonl", *COMPOSED, *BLIND):
        for fact in doc["facts"]:
            span = fact["indicator_span"]
            assert (doc["text"][span["start"]:span["end"]] if span else None) == fact["indicator"], doc["id"]


@pytest.mark.parametrize("export, jsonl", GOLD.items())
def test_label_studio_export_rebuilds_the_gold_exactly(export, jsonl):
    rebuilt = gold_from_export(read_export(ANNOTATIONS / export), default_resolver())
    gold = read_jsonl(*jsonl)
    strip = lambda doc: {**doc, "facts": [{k: v for k, v in f.items() if k not in ("evidence", "score")}  # noqa: E731
                                          for f in doc["facts"]]}
    assert [strip(d) for d in rebuilt] == [strip(d) for d in gold]


def test_every_export_holds_one_gold_file_and_none_is_too_large_for_git():
    exports = {str(p.relative_to(ANNOTATIONS)) for p in ANNOTATIONS.rglob("*.json") if "label_studio" in p.as_posix()}
    assert exports == set(GOLD)
    assert max((ANNOTATIONS / export).stat().st_size for export in exports) < GIT_FILE_LIMIT


def test_split_keeps_the_seeds_out_of_training_and_holds_out_whole_writers():
    splits = json.loads((ANNOTATIONS / "splits.json").read_text(encoding="utf-8"))
    seeds = {d["id"] for d in read_jsonl("seeds/gold.jsonl")}
    composed = {d["id"]: d for d in read_jsonl(*COMPOSED)}
    assert set(splits["test"]) == seeds == {p.stem for p in (REPO.parent / "shared" / "seeds").glob("*.txt")}
    held_out = ("dev", "test_writer", "test_fresh")
    assert set().union(*(splits[name] for name in ("train", *held_out))) == set(composed)
    writers = {name: {composed[i]["meta"].get("writer", "a/b") for i in splits[name]} for name in ("train", *held_out)}
    assert writers["dev"] == {"f"} and writers["test_writer"] == {"g"} and writers["test_fresh"] == {"k"}
    assert not writers["train"] & set().union(*(writers[name] for name in held_out))
    blind = read_jsonl(*BLIND)
    assert blind and not {d["id"] for d in blind} & set().union(*splits.values())
    assert not {d["meta"]["writer"] for d in blind} & set().union(*writers.values())


def test_composed_corpus_covers_the_brief():
    docs = read_jsonl(*COMPOSED)
    assert len(docs) >= 260 and all(d["meta"].get("composed") is True for d in docs)
    new = [d for d in docs if d["meta"].get("writer")]
    assert len(new) >= 200 and len({d["meta"]["writer"] for d in new}) >= 4
    for genre in GENRES:
        assert sum(d["meta"]["genre"] == genre for d in new) >= 15, genre
    provinces = {f["province"] for d in docs for f in d["facts"]} - {None, "Việt Nam"}
    assert len(provinces) >= 50
    labels = {e["label"] for d in docs for e in d["entities"]}
    assert labels == {"AGENCY", "OFFICIAL", "TITLE", "SYSTEM", "METRIC", "DATE", "LOCATION", "DOCUMENT"}
