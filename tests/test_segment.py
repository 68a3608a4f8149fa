import json
import re
import unicodedata

import pytest

from pipeline.segment import (
    WORD_MODEL,
    WordFeaturizer,
    align_words,
    model_view,
    read_pickle,
    segment_words,
    token_word_tags,
    underthesea_segmenter,
)
from pipeline.underthesea_files import underthesea_dir
from tests.conftest import REPO

# Odd inputs for the tokenizer and the featurizer: underthesea's special tokens, URLs, e-mails, dates, numbers at
# the edges of a Rust i32, letters with no case or whose upper case is longer, stray combining marks, ð.
ODD_SENTENCES = [
    "", " ", "a", "1 2", ".", "Ðà Nẵng ðang 2147483647 2147483648 -2147483648 -2147483649 +5 -12 007",
    "ΣΑΣ ǅx ǈ ß ﬁ x² Ⅻ ١٢٣ v.v... ==> -> >> 3x4 °C 10:20:50 20.08.2014 2014/08/20 02-03-2014",
    "Xem http://stp.gov.vn/a?b=1&c=(2) hoặc e-mail a.b+c@so-tttt.gov.vn, gọi 03-5730-2357 :) <3",
    "TP. Hồ Chí Minh, Tp. Cần Thơ, Mr. A, ThS. B, T.Ư, H'Mông, N’Thôn Hạ, 43H-0530, NĐ-CP, TT&TT, 4K",
    "Chỉ tiêu | Năm 2021 | Năm 2023 — 4.123,2 60.542.000 100,000,000 1.600m-2.000m 35%-40% 62,4%",
    "tóm tăt công nghẹ số", "c ấp b ộ ho ạt đ ộng", "1.1.1.1.1.1.1.1.1",
    # What the pattern's "$" and lookarounds read at the edges of a run of non-space characters.
    "Cười :D", ":D nhé, TP. Huế và TP.", "về TP.\n", "a\u00a0TP.\u2003b :D\n\n", "UBND TP.  ",
]


def composed_sentences(limit: int) -> list[str]:
    """Paragraphs of the composed annotation texts (committed, several writers), spread over all of them."""
    paragraphs = []
    for path in sorted((REPO / "annotations" / "composed").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            paragraphs.extend(p for p in json.loads(line)["text"].split("\n") if p.strip())
    return paragraphs[:: max(1, len(paragraphs) // limit)][:limit]


@pytest.fixture(scope="module")
def varied_sentences(seed_paths) -> list[str]:
    """Every seed paragraph, about 300 composed paragraphs, and the odd inputs."""
    texts = [unicodedata.normalize("NFC", path.read_text(encoding="utf-8")) for path in seed_paths]
    return [p for text in texts for p in text.split("\n") if p.strip()] + composed_sentences(300) + ODD_SENTENCES


def test_model_view_joins_wraps_and_broken_syllables_with_offsets():
    text = "phòng ban c ấp huyện và b ộ tiêu chí\nđánh giá"
    wrap = text.index("\n")
    view, offsets = model_view(text, 0, len(text), {wrap})
    assert view == "phòng ban cấp huyện và bộ tiêu chí đánh giá"
    assert all(view[i] == (" " if offsets[i] == wrap else text[offsets[i]]) for i in range(len(view)))


def test_model_view_keeps_real_syllables_apart():
    view, _ = model_view("do ảnh hưởng", 0, 12, set())
    assert view == "do ảnh hưởng"


def test_align_words_skips_words_not_in_view():
    assert align_words("văn bản điện tử", ["văn bản", "xyz", "điện tử"]) == [(0, 7), (8, 15)]


def test_segment_words_returns_original_offsets_with_underthesea():
    text = "Hệ thống quản lý văn bản\nvà điều hành c ấp tỉnh"
    spans = segment_words(text, [(0, len(text))], {text.index("\n")}, underthesea_segmenter())
    words = [text[s:e] for s, e in spans]
    assert "Hệ thống" in words and "văn bản" in words and "c ấp" in words
    assert all(text[s:e].strip() == text[s:e] for s, e in spans)


def test_word_bio_on_tokens(nlp):
    import pipeline

    doc = pipeline.process(nlp, "Cơ quan nhà nước triển khai hệ thống.")
    assert [(t.text, t._.word_bio) for t in doc][:4] == [("Cơ", "B"), ("quan", "I"), ("nhà", "B"), ("nước", "I")]
    assert doc[0]._.word_index == doc[1]._.word_index != doc[2]._.word_index


def test_token_word_tags_mark_word_starts_insides_other_tokens_and_whitespace():
    # Tokens "Cơ" "quan" " " "," "nhà" at 0, 3, 7, 8, 12; words "Cơ quan" [0, 7) and "nhà" [12, 15).
    tags = token_word_tags([(0, 7), (12, 15)], [0, 3, 7, 8, 12], [False, False, True, False, False])
    assert tags == [(0, "B"), (0, "I"), (None, None), (None, "O"), (1, "B")]
    assert token_word_tags([], [], []) == []


def test_word_tags_of_an_unsegmented_doc_are_none(nlp):
    doc = nlp.make_doc("Cơ quan nhà nước")
    assert [(t._.word_index, t._.word_bio) for t in doc] == [(None, None)] * 4


def test_word_featurizer_matches_underthesea_cores(varied_sentences):
    from underthesea_core import CRFFeaturizer

    model = underthesea_dir() / WORD_MODEL
    templates, dictionary = read_pickle(model / "features.bin"), read_pickle(model / "dictionary.bin")
    ours, theirs = WordFeaturizer(templates, dictionary), CRFFeaturizer(templates, dictionary)
    tokenize = underthesea_segmenter().tokenize
    checked = 0
    for sentence in varied_sentences:
        tokens = tokenize(sentence)
        assert [list(row) for row in ours(tokens)] == theirs.process([[[token] for token in tokens]])[0], sentence
        checked += len(tokens)
    assert checked > 10_000


def test_word_featurizer_matches_underthesea_cores_when_its_memo_overflows(varied_sentences):
    from underthesea_core import CRFFeaturizer

    model = underthesea_dir() / WORD_MODEL
    templates, dictionary = read_pickle(model / "features.bin"), read_pickle(model / "dictionary.bin")
    ours, theirs = WordFeaturizer(templates, dictionary, memo_size=5), CRFFeaturizer(templates, dictionary)
    tokenize = underthesea_segmenter().tokenize
    for sentence in varied_sentences[:40] + ODD_SENTENCES:
        tokens = tokenize(sentence)
        assert [list(row) for row in ours(tokens)] == theirs.process([[[token] for token in tokens]])[0], sentence
    assert all(len(memo) <= 5 for memo in ours.memos.values())


def test_word_featurizer_keeps_the_strings_the_model_knows_and_the_words_stay(varied_sentences):
    segment = underthesea_segmenter()
    known, tagger, templates = segment.featurize.attributes, segment.tagger, segment.featurize.templates
    everything = WordFeaturizer([template for template, *_ in templates], segment.featurize.dictionary)
    left_out = 0
    for sentence in varied_sentences[:200] + ODD_SENTENCES:
        tokens = segment.tokenize(sentence)
        rows, all_rows = segment.featurize(tokens), everything(tokens)
        assert rows == [tuple(s for s in row if s in known) for row in all_rows], sentence
        assert tagger.tag(rows) == tagger.tag(all_rows), sentence
        left_out += sum(map(len, all_rows)) - sum(map(len, rows))
    assert left_out > 10_000


@pytest.mark.parametrize("templates", [["T[-3,3].lower", "T[1]"], ["T[2,3].istitle"], ["T[-2,-1].is_in_dict"]])
def test_word_featurizer_pads_sentences_shorter_than_its_windows(templates):
    from underthesea_core import CRFFeaturizer

    ours, theirs = WordFeaturizer(templates, {"a b"}), CRFFeaturizer(templates, {"a b"})
    for tokens in (["A"], ["a", "b"], ["A", "b", "1", "x"], ["a", "b", "c", "d", "e", "f", "g", "h"]):
        assert [list(row) for row in ours(tokens)] == theirs.process([[[token] for token in tokens]])[0], tokens


@pytest.mark.parametrize("template", ["T[0].upper", "T[1,0]"])
def test_word_featurizer_refuses_a_template_it_does_not_know(template):
    from pipeline.errors import ModelError

    with pytest.raises(ModelError, match=re.escape(template)):
        WordFeaturizer([template], set())


def test_segmentation_is_underthesea_word_tokenize_without_importing_underthesea(varied_sentences):
    segment = underthesea_segmenter()
    from underthesea import word_tokenize  # the real package, imported in full after the segmenter's modules

    different = []
    for sentence in varied_sentences:
        expected = word_tokenize(sentence, use_token_normalize=False)
        if segment(sentence) != expected:
            different.append((sentence, segment(sentence), expected))
    assert len(varied_sentences) > 500 and different == []
