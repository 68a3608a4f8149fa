"""Word segmentation (underthesea) attached to syllable tokens, never rewriting the text.

The segmenter reads a model-facing view of each paragraph: hard line wraps
become spaces and a syllable broken by a stray space after its onset
("c ấp", "b ộ") is rejoined. An offset map takes every view position back to
the original text, so the words come out as `[start, end)` spans of it.
Syllables split after a vowel ("ho ạt") are left as they are: telling them
from two real syllables needs a syllable lexicon the package does not ship.
"""

from collections.abc import Callable

import regex

# A stray space after a bare onset: the onset cannot be a syllable on its own.
BROKEN_SYLLABLE = regex.compile(
    r"(?<![\p{L}\p{M}])(ngh|ch|gh|kh|ng|nh|ph|th|tr|[bcdđghklmnprstvx]) (?=[aăâeêioôơuưyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ])"
)

WordTokenizer = Callable[[str], list[str]]


def model_view(text: str, start: int, end: int, wraps: set[int]) -> tuple[str, list[int]]:
    """The view of `text[start:end]` the segmenter reads, and the original offset of each view character."""
    chars: list[str] = []
    offsets: list[int] = []
    for i in range(start, end):
        chars.append(" " if i in wraps else text[i])
        offsets.append(i)
    view = "".join(chars)
    for match in reversed(list(BROKEN_SYLLABLE.finditer(view))):
        gap = match.end() - 1
        del chars[gap]
        del offsets[gap]
    return "".join(chars), offsets


def align_words(view: str, words: list[str]) -> list[tuple[int, int]]:
    """`[start, end)` view spans of the segmenter's words, in order; a word not found in the view is skipped."""
    spans = []
    cursor = 0
    for word in words:
        pieces = word.split()
        if not pieces:
            continue
        first = view.find(pieces[0], cursor)
        if first < 0 or view[cursor:first].strip():
            continue
        end = first + len(pieces[0])
        for piece in pieces[1:]:
            nxt = view.find(piece, end)
            if nxt < 0 or view[end:nxt].strip():
                break
            end = nxt + len(piece)
        spans.append((first, end))
        cursor = end
    return spans


def segment_words(
    text: str, paragraphs: list[tuple[int, int]], wraps: set[int], tokenize_words: WordTokenizer
) -> list[tuple[int, int]]:
    """Word spans over the original text, paragraph by paragraph."""
    spans = []
    for start, end in paragraphs:
        view, offsets = model_view(text, start, end, wraps)
        for w_start, w_end in align_words(view, tokenize_words(view)):
            spans.append((offsets[w_start], offsets[w_end - 1] + 1))
    return spans


def underthesea_words(view: str) -> list[str]:
    """underthesea's segmentation of `view`, with its character normalisation off so words match the view."""
    from underthesea import word_tokenize

    return word_tokenize(view, use_token_normalize=False)
