"""Syllable tokens over the original text, and the spaCy tokenizer built on them.

A token is a run of letters/digits that may hold internal joiners
(`70,6%`, `888.000`, `12/03/2021`, `35%-40%`, `42/2022/NĐ-CP`, `TT&TT`), or a
single other character. Whitespace other than one plain space after a token
becomes a whitespace token, so `doc.text` is always exactly the input text.
"""

import re

import spacy
from spacy.tokens import Doc
from spacy.vocab import Vocab

# Combining marks are listed because `\w` does not match them and an NFC text
# can still hold a few (letters with no precomposed form).
_WORD = r"[\w\u0300-\u036f]+%?"
TOKEN_PATTERN = re.compile(rf"{_WORD}(?:[.,/\-:&]{_WORD})*|\S")
# A token and the one plain space after it (its trailing space), or a run of other whitespace (a whitespace token).
TOKEN_OR_GAP = re.compile(rf"({TOKEN_PATTERN.pattern})( ?)|(\s+)")
# Where the tokenizer leaves the text it made a Doc of, with the Doc's length: spaCy's `doc.text` rebuilds the
# text from every token at each access (milliseconds on an article) and the components read it several times.
TEXT_KEY = "vipie.text"


def syllable_tokens(text: str) -> tuple[list[str], list[bool]]:
    """Split `text` into spaCy words and trailing-space flags that rebuild it exactly."""
    found = TOKEN_OR_GAP.findall(text)
    return [token or gap for token, _, gap in found], [space == " " for _, space, _ in found]


def doc_text(doc: Doc) -> str:
    """`doc.text`: the text the tokenizer made `doc` of, when it did and `doc` still has its tokens (a Doc of a
    span that copied the user data has fewer), else rebuilt from the tokens."""
    length, text = doc.user_data.get(TEXT_KEY, (-1, ""))
    return text if length == len(doc) else doc.text


class SyllableTokenizer:
    """spaCy tokenizer over syllable tokens; it holds no state, so (de)serialising is a no-op."""

    def __init__(self, vocab: Vocab):
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words, spaces = syllable_tokens(text)
        doc = Doc(self.vocab, words=words, spaces=spaces)
        doc.user_data[TEXT_KEY] = (len(doc), text)
        return doc

    def to_disk(self, path, *, exclude=()):
        """Nothing to save: the tokenizer is fully defined by its code."""

    def from_disk(self, path, *, exclude=()):
        return self

    def to_bytes(self, *, exclude=()):
        return b""

    def from_bytes(self, data, *, exclude=()):
        return self


@spacy.registry.tokenizers("vipie.SyllableTokenizer.v1")
def create_syllable_tokenizer():
    def make(nlp):
        return SyllableTokenizer(nlp.vocab)

    return make
