"""Every span of the whole pipeline points into the original text, on the seeds and on random text."""

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline
from pipeline.document import Document
from pipeline.extract import to_record
from pipeline.labels import PROVINCE_EVIDENCE, YEAR_EVIDENCE
from tests.test_tokenize import vietnamese_like


def assert_offsets(record: dict) -> None:
    text = record["text"]
    previous_end = 0
    for entity in sorted(record["entities"], key=lambda e: e["start"]):
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert entity["text"] == entity["text"].strip()
        assert entity["start"] >= previous_end, "spans overlap"
        previous_end = entity["end"]
    metrics = {(e["start"], e["end"]) for e in record["entities"] if e["label"] == "METRIC"}
    assert sorted((f["metric"]["start"], f["metric"]["end"]) for f in record["facts"]) == sorted(metrics)
    for fact in record["facts"]:
        assert text[fact["metric"]["start"] : fact["metric"]["end"]] == fact["metric"]["text"]
        assert fact["evidence"]["province"] in (*PROVINCE_EVIDENCE, None)
        assert fact["evidence"]["year"] in (*YEAR_EVIDENCE, None)
        for key in ("province_span", "year_span"):
            if fact[key]:
                assert 0 <= fact[key]["start"] < fact[key]["end"] <= len(text)


def test_seed_offsets_and_alignment(seed_docs, seed_paths):
    for path, doc in zip(seed_paths, seed_docs):
        record = to_record(Document(path.stem, doc.text), doc)
        assert_offsets(record)
        assert not doc._.warnings, doc._.warnings
        assert len(record["entities"]) > 5


def test_seed_word_segmentation_covers_every_syllable(seed_docs):
    for doc in seed_docs:
        words = [t for t in doc if not t.is_space and not t.is_punct]
        segmented = [t for t in words if t._.word_bio in ("B", "I")]
        assert len(segmented) / len(words) > 0.98
        assert all(t._.word_bio != "I" or t.i > 0 for t in words)


def test_seed_sentences_and_paragraphs_are_spans_of_the_text(seed_docs):
    for doc in seed_docs:
        paragraphs = list(doc.spans["paragraphs"])
        assert paragraphs and all(p.text == p.text.strip() for p in paragraphs)
        assert len(list(doc.sents)) >= len(paragraphs)


line_wrapped = vietnamese_like.map(lambda t: "\n".join(t[i : i + 30] for i in range(0, len(t), 30)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(vietnamese_like, line_wrapped, vietnamese_like.map(lambda t: unicodedata.normalize("NFD", t))))
def test_pipeline_offsets_on_random_text(nlp, text):
    text = unicodedata.normalize("NFC", text)
    doc = pipeline.process(nlp, text)
    assert doc.text == text
    assert_offsets(to_record(Document("random", text), doc))
