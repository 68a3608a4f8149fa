import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.tokenize import syllable_tokens


def rebuild(words, spaces):
    return "".join(w + (" " if s else "") for w, s in zip(words, spaces))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("đạt 70,6% kế hoạch", ["đạt", "70,6%", "kế", "hoạch"]),
        ("trên 888.000 văn bản", ["trên", "888.000", "văn", "bản"]),
        ("ngày 12/03/2021.", ["ngày", "12/03/2021", "."]),
        ("đạt 35%-40% trở lên", ["đạt", "35%-40%", "trở", "lên"]),
        ("Nghị định số 42/2022/NĐ-CP,", ["Nghị", "định", "số", "42/2022/NĐ-CP", ","]),
        ("Sở TT&TT (iDesk);", ["Sở", "TT&TT", "(", "iDesk", ")", ";"]),
        ("15:30, 12/03/2021", ["15:30", ",", "12/03/2021"]),
    ],
)
def test_syllable_tokens_keep_numbers_and_symbols_whole(text, expected):
    words, spaces = syllable_tokens(text)
    assert [w for w in words if w.strip()] == expected
    assert rebuild(words, spaces) == text


@pytest.mark.parametrize("text", ["", " ", "\n\n", "  a  ", "a\r\nb", "\ttab\u00a0nbsp", "x\u200by", "🙂 ok"])
def test_syllable_tokens_rebuild_odd_whitespace_and_unicode(text):
    assert rebuild(*syllable_tokens(text)) == text


def test_tokenizer_doc_text_is_input(nlp):
    text = "Hạ tầng mạng phủ sóng đến 100%\ntrung tâm các xã,  trên 95% thôn.\n\n"
    assert nlp.make_doc(text).text == text


vietnamese_chars = st.sampled_from(list("aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặấầẩẫậèéẻẽẹếềểễệ"
                                        "ìíỉĩịòóỏõọốồổỗộớờởỡợùúủũụứừửữựỳýỷỹỵĐÀÁ0123456789"))
syllable = st.text(vietnamese_chars, min_size=1, max_size=7)
separator = st.sampled_from([" ", " ", " ", "\n", "  ", ", ", ". ", "%", "/", ".", ",", "-", " - ", "\n\n", "(", ")"])
vietnamese_like = st.lists(st.tuples(syllable, separator), max_size=40).map(
    lambda parts: "".join(a + b for a, b in parts)
)


@settings(max_examples=200, deadline=None)
@given(vietnamese_like)
def test_tokens_rebuild_random_vietnamese_like_text(text):
    assert rebuild(*syllable_tokens(text)) == text


@settings(max_examples=200, deadline=None)
@given(vietnamese_like)
def test_tokens_rebuild_nfd_text(text):
    nfd = unicodedata.normalize("NFD", text)
    assert rebuild(*syllable_tokens(nfd)) == nfd
