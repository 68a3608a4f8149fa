from pipeline.segment import align_words, model_view, segment_words, underthesea_words


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
    spans = segment_words(text, [(0, len(text))], {text.index("\n")}, underthesea_words)
    words = [text[s:e] for s, e in spans]
    assert "Hệ thống" in words and "văn bản" in words and "c ấp" in words
    assert all(text[s:e].strip() == text[s:e] for s, e in spans)


def test_word_bio_on_tokens(nlp):
    import pipeline

    doc = pipeline.process(nlp, "Cơ quan nhà nước triển khai hệ thống.")
    assert [(t.text, t._.word_bio) for t in doc][:4] == [("Cơ", "B"), ("quan", "I"), ("nhà", "B"), ("nước", "I")]
    assert doc[0]._.word_index == doc[1]._.word_index != doc[2]._.word_index
