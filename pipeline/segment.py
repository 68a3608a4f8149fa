"""Word segmentation (underthesea) attached to syllable tokens, never rewriting the text.

The segmenter reads a model-facing view of each paragraph: hard line wraps
become spaces and a syllable broken by a stray space after its onset
("c ấp", "b ộ") is rejoined. An offset map takes every view position back to
the original text, so the words come out as `[start, end)` spans of it.
Syllables split after a vowel ("ho ạt") are left as they are: telling them
from two real syllables needs a syllable lexicon the package does not ship.

underthesea's regex tokenizer backtracks: its time grows with the square (or
worse) of the length of a run without spaces ("1.1.1.…", "a.a.a.…"). Such a
run longer than MAX_RUN characters, which no real word is, reaches it in
pieces of MAX_RUN characters, so segmentation stays linear in the text.
"""

from collections.abc import Callable

import regex

# A stray space after a bare onset: the onset cannot be a syllable on its own.
BROKEN_SYLLABLE = regex.compile(
    r"(?<![\p{L}\p{M}])(ngh|ch|gh|kh|ng|nh|ph|th|tr|[bcdđghklmnprstvx]) (?=[aăâeêioôơuưyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ])"
)

# The longest run of non-space characters the segmenter reads in one piece (real text has none above ~20).
MAX_RUN = 100
LONG_RUN = regex.compile(rf"\S{{{MAX_RUN + 1},}}")

WordTokenizer = Callable[[str], list[str]]


def model_view(text: str, start: int, end: int, wraps: set[int]) -> tuple[str, list[int]]:
    """The view of `text[start:end]` the segmenter reads, and the original offset of each view character."""
    chars: list[str] = []
    offsets: list[int] = []
    for i in range(start, end):
        chars.append(" " if i in wraps else text[i])
        offsets.append(i)
    gaps = {match.end() - 1 for match in BROKEN_SYLLABLE.finditer("".join(chars))}
    kept = [i for i in range(len(chars)) if i not in gaps]
    return "".join(chars[i] for i in kept), [offsets[i] for i in kept]


def view_pieces(view: str) -> list[tuple[int, int]]:
    """`[start, end)` pieces that cover `view` in order: the text around runs of more than MAX_RUN non-space
    characters whole, and each such run cut every MAX_RUN characters."""
    pieces = []
    pos = 0
    for match in LONG_RUN.finditer(view):
        if match.start() > pos:
            pieces.append((pos, match.start()))
        pieces.extend((cut, min(cut + MAX_RUN, match.end())) for cut in range(match.start(), match.end(), MAX_RUN))
        pos = match.end()
    if pos < len(view) or not pieces:
        pieces.append((pos, len(view)))
    return pieces


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
    """Word spans over the original text, paragraph by paragraph (piece by piece, see `view_pieces`)."""
    spans = []
    for start, end in paragraphs:
        view, offsets = model_view(text, start, end, wraps)
        for p_start, p_end in view_pieces(view):
            piece = view[p_start:p_end]
            for w_start, w_end in align_words(piece, tokenize_words(piece)):
                spans.append((offsets[p_start + w_start], offsets[p_start + w_end - 1] + 1))
    return spans


def underthesea_words(view: str) -> list[str]:
    """underthesea's segmentation of `view`, with its character normalisation off so words match the view."""
    from underthesea import word_tokenize

    return word_tokenize(view, use_token_normalize=False)
