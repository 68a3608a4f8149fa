"""A CRF over syllables (python-crfsuite): the CPU default backend.

Features of a syllable: its form, shape and affixes, its word from the
underthesea segmentation and its position in that word, the tag the rule
recognizer gives it (gazetteers and patterns as features), and the same for
a window of two syllables each side. The model is one crfsuite file.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
import struct
from pathlib import Path

import numpy
import pycrfsuite

from pipeline.errors import ModelError
from pipeline.training_data import Example

MODEL_FILE = "crf.model"
WINDOW = 2
OFFSETS = [offset for offset in range(-WINDOW, WINDOW + 1) if offset]
# A syllable's own features, and those its neighbours in the window give it, in the order the model was trained on.
LOCAL = ("w", "shape", "title", "upper", "digit", "p2", "s2", "s3", "word", "wpos", "rule")
WINDOW_KEYS = ("w", "shape", "rule", "word")
# Feature values are cut to this many characters. Real syllables and words are far shorter (at most 28 in the
# training data), so the cap changes no feature of normal text; it stops an absurd "word" (20,000 dashes that
# underthesea keeps together) from being copied into every feature of its syllables and their window.
MAX_FEATURE_CHARS = 64
# A CRFsuite model file starts with "lCRF", its own length in bytes (little-endian) and its type, "FOMC"; bytes 36-39
# of its header give where its attribute dictionary, a CQDB, starts.
CRFSUITE_MAGIC, CRFSUITE_TYPE = b"lCRF", b"FOMC"
CRFSUITE_ATTRIBUTES_AT, CQDB_MAGIC = 36, b"CQDB"


@dataclass(frozen=True, eq=False)
class KnownAttributes:
    """The attribute strings a model knows, each with its UTF-8 bytes: pycrfsuite encodes every str it is given anew
    (a new bytes object per string and call) and copies bytes as they are. Hashed by identity: a memo key, one per
    loaded model."""

    encoded: dict[str, bytes]

    def __contains__(self, string: str) -> bool:
        return string in self.encoded


@lru_cache(maxsize=1 << 16)
def shape(token: str) -> str:
    """A coarse word shape: X for capitals, x for lower case, d for digits, the rest as is, runs collapsed;
    at most MAX_FEATURE_CHARS characters."""
    out = []
    for ch in token:
        kind = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if not out or out[-1] != kind:
            out.append(kind)
            if len(out) == MAX_FEATURE_CHARS:
                break
    return "".join(out)


def word_strings(tokens: list[str], word_ids: list[int]) -> list[str]:
    """For each syllable, its whole word ("_"-joined syllables), lower-cased, cut to MAX_FEATURE_CHARS characters."""
    words: dict[int, list[str]] = {}
    for token, word_id in zip(tokens, word_ids):
        words.setdefault(word_id, []).append(token.lower())
    joined = {word_id: "_".join(syllables)[:MAX_FEATURE_CHARS] for word_id, syllables in words.items()}
    return [joined[w] for w in word_ids]


def has_digit(token: str) -> bool:
    return not token.isalpha() and any(c.isdigit() for c in token)  # no letter is a digit: most tokens stop early


def syllable_values(token: str) -> dict[str, str]:
    """The values of the features a syllable's own text gives (LOCAL's keys before "word")."""
    low = token.lower()
    return {"w": low[:MAX_FEATURE_CHARS], "shape": shape(token), "title": str(token[:1].isupper()),
            "upper": str(token.isupper()), "digit": str(has_digit(token)), "p2": low[:2], "s2": low[-2:],
            "s3": low[-3:]}


def placed_strings(key: str, value: str, attributes: KnownAttributes | None = None) -> tuple[str | bytes, ...]:
    """The strings of `key` = `value`: as a syllable's own feature, then, for WINDOW_KEYS, as what it gives its
    neighbour at each offset of the window; given a model's `attributes`, as `known` gives them."""
    own = f"{key}={value}"
    return known((own, *(f"{offset}:{own}" for offset in OFFSETS)) if key in WINDOW_KEYS else (own,), attributes)


def known(strings: tuple[str, ...], attributes: KnownAttributes | None) -> tuple[str | bytes, ...]:
    """`strings`; given a model's `attributes`, each one's bytes, or b"" (which crfsuite skips) for one the model
    lacks."""
    if attributes is None:
        return strings
    encoded = attributes.encoded
    return tuple(encoded.get(string, b"") for string in strings)


def syllable_strings(token: str, attributes: KnownAttributes | None = None) -> dict[str, tuple[str | bytes, ...]]:
    """`placed_strings` of each feature of a syllable's own text."""
    return {key: placed_strings(key, value, attributes) for key, value in syllable_values(token).items()}


# Syllables are a closed set, and words, places in a word and rule tags recur: their strings are made once per
# process. The 372 train and dev documents hold 5,925 distinct syllables and 7,247 distinct words, places and tags;
# past 8,192 of each the least recently used are forgotten, so a worker's memory stays flat.
remembered_syllable_strings = lru_cache(maxsize=1 << 13)(syllable_strings)
remembered_placed_strings = lru_cache(maxsize=1 << 13)(placed_strings)


def syllables_strings(tokens: list[str], attributes: KnownAttributes | None) -> list[dict[str, tuple[str | bytes, ...]]]:
    """`syllable_strings` of each token, remembered for the tokens no longer than MAX_FEATURE_CHARS (real syllables;
    the memo would hold a longer one whole), all in one pass when none is longer."""
    if max(map(len, tokens)) <= MAX_FEATURE_CHARS:
        return list(map(remembered_syllable_strings, tokens, repeat(attributes)))
    return [remembered_syllable_strings(token, attributes) if len(token) <= MAX_FEATURE_CHARS
            else syllable_strings(token, attributes) for token in tokens]


def token_features(tokens: list[str], word_ids: list[int], rule_tags: list[str],
                   attributes: KnownAttributes | None = None) -> list[tuple[str | bytes, ...]]:
    """crfsuite feature strings for each syllable of one sequence: its own features ("bias", then LOCAL), then
    for each offset of the window the neighbour's WINDOW_KEYS, or "{offset}:edge" past the sequence's ends.

    Given the model's `attributes`, a row holds the strings among them as bytes and b"" for the others (a fifth of
    them): crfsuite skips an attribute it does not know, and copies and skips b"" for less than it costs to drop it
    from the row here.

    Built column by column (one list of each feature's strings, looked up in the strings each syllable, word, place
    in the word and rule tag gives) and zipped into rows.
    """
    n = len(tokens)
    if not n:
        return []
    syllables = syllables_strings(tokens, attributes)
    placed = {key: [strings[key] for strings in syllables] for key in syllables[0]}
    wpos = ["B", *("I" if word_id == previous else "B" for previous, word_id in zip(word_ids, word_ids[1:]))]
    for key, values in (("word", word_strings(tokens, word_ids)), ("wpos", wpos), ("rule", rule_tags)):
        placed[key] = list(map(remembered_placed_strings, repeat(key), values, repeat(attributes)))
    columns = [list(known(("bias",), attributes)) * n] + [list(map(itemgetter(0), placed[key])) for key in LOCAL]
    for place, offset in enumerate(OFFSETS, start=1):
        for key in WINDOW_KEYS:
            strings = list(map(itemgetter(place), placed[key]))
            # Row i reads token i + offset; rows whose neighbour is past an end are rebuilt below.
            columns.append(strings[offset:] + [""] * offset if offset > 0 else [""] * -offset + strings[:offset])
    rows = list(zip(*columns))
    own = 1 + len(LOCAL)
    for i in {*range(min(WINDOW, n)), *range(max(n - WINDOW, 0), n)}:
        row = rows[i][:own]
        for k, offset in enumerate(OFFSETS):
            if 0 <= i + offset < n:
                row += rows[i][own + k * len(WINDOW_KEYS) : own + (k + 1) * len(WINDOW_KEYS)]
            else:
                row += known((f"{offset}:edge",), attributes)
        rows[i] = row
    return rows


def example_text(example: Example) -> tuple[str, list[int], list[int]]:
    """A text for the example's tokens and their offsets in it: original spacing when offsets are known
    (line breaks as spaces), else tokens joined by spaces with none before closing punctuation."""
    if example.starts:
        base = example.starts[0]
        chars = [" "] * (example.ends[-1] - base)
        for token, start in zip(example.tokens, example.starts):
            chars[start - base : start - base + len(token)] = token
        return "".join(chars), [s - base for s in example.starts], [e - base for e in example.ends]
    text, starts, ends = "", [], []
    for token in example.tokens:
        if text and token not in ",.;:)%!?" and not text.endswith("("):
            text += " "
        starts.append(len(text))
        text += token
        ends.append(len(text))
    return text, starts, ends


def spans_to_tags(starts: list[int], ends: list[int], spans: list[tuple[int, int, str]]) -> list[str]:
    """IOB2 tags of tokens for character spans; a span not on token edges is left out."""
    first_at = {s: i for i, s in enumerate(starts)}
    last_at = {e: i for i, e in enumerate(ends)}
    tags = ["O"] * len(starts)
    for start, end, label in spans:
        if start in first_at and end in last_at:
            first, last = first_at[start], last_at[end]
            tags[first : last + 1] = [f"B-{label}"] + [f"I-{label}"] * (last - first)
    return tags


def check_model_file(path: Path) -> None:
    """Refuse a file that is not a whole CRFsuite model before the C library reads it: it crashes on a truncated
    one. (Checksums in the model card catch any change; this catches truncation in a folder without them.)

    Raises:
        ModelError: the file is not a CRFsuite model or not as long as its header says.
    """
    with path.open("rb") as fh:
        head = fh.read(12)
    if (head[:4] != CRFSUITE_MAGIC or head[8:12] != CRFSUITE_TYPE
            or int.from_bytes(head[4:8], "little") != path.stat().st_size):
        raise ModelError(f"{path}: not a whole CRFsuite model (truncated, or another file); copy the model folder "
                         "again or rebuild it with `vipie train`")


def model_attributes(path: Path) -> frozenset[str]:
    """The attribute strings a CRFsuite model file knows (its attribute dictionary, a CQDB), read from the file:
    pycrfsuite's `Tagger.info()` takes over a second on underthesea's model. A tagger skips any other string, so
    those need not be passed to it."""
    return frozenset(model_attribute_bytes(path))


def model_attribute_bytes(path: Path) -> dict[str, bytes]:
    """`model_attributes`, each with its UTF-8 bytes as the file holds them."""
    data = path.read_bytes()
    (dictionary,) = struct.unpack_from("<I", data, CRFSUITE_ATTRIBUTES_AT)
    magic, _, _, _, count, backward = struct.unpack_from("<4sIIIII", data, dictionary)
    if magic != CQDB_MAGIC:
        raise ModelError(f"{path}: no attribute dictionary where a CRFsuite model keeps it; copy the model again")
    # The backward array gives each attribute's record: its id and its size (the string and a NUL), then the string.
    records = numpy.frombuffer(data, "<u4", count=count, offset=dictionary + backward).astype(numpy.int64) + dictionary
    size_bytes = numpy.frombuffer(data, numpy.uint8)[records[:, None] + numpy.arange(4, 8)].astype(numpy.int64)
    sizes = (size_bytes << numpy.arange(0, 32, 8)).sum(axis=1)
    strings = [data[start:end] for start, end in zip((records + 8).tolist(), (records + 7 + sizes).tolist())]
    return dict(zip(b"\0".join(strings).decode("utf-8").split("\0"), strings))


class ReportingTrainer(pycrfsuite.Trainer):
    """A crfsuite trainer that passes each L-BFGS iteration's number to `on_iteration` and prints nothing."""

    def __init__(self, on_iteration: Callable[[int], None] | None):
        # crfsuite parses its log into events only when verbose; every event but the iteration is silenced below.
        super().__init__(verbose=on_iteration is not None)
        self.report = on_iteration

    def on_iteration(self, log, info):
        self.report(info["num"])

    def silent(self, *args):
        """crfsuite's other events (start, feature generation, end of training) are not reported."""

    on_start = on_featgen_progress = on_featgen_end = on_prepared = on_prepare_error = silent
    on_optimization_end = on_end = silent


class CrfModel:
    """Train, save, load and apply the syllable CRF."""

    def __init__(self, tagger: pycrfsuite.Tagger | None = None, attributes: KnownAttributes | None = None):
        self.tagger = tagger
        self.attributes = attributes

    @classmethod
    def train(cls, sequences: list[tuple[list[list[str]], list[str]]], model_dir: Path, c1: float, c2: float,
              max_iterations: int, on_iteration: Callable[[int], None] | None = None) -> "CrfModel":
        """Fit on (features, tags) sequences with L-BFGS and elastic-net regularisation; writes MODEL_FILE.
        `on_iteration`, when given, receives the number of each iteration as it ends (progress)."""
        trainer = ReportingTrainer(on_iteration)
        for features, tags in sequences:
            trainer.append(features, tags)
        trainer.set_params({"c1": c1, "c2": c2, "max_iterations": max_iterations,
                            "feature.possible_transitions": True})
        model_dir.mkdir(parents=True, exist_ok=True)
        trainer.train(str(model_dir / MODEL_FILE))
        return cls.load(model_dir)

    @classmethod
    def load(cls, model_dir: Path) -> "CrfModel":
        """Raises ModelError: the model file is not a whole CRFsuite model."""
        check_model_file(model_dir / MODEL_FILE)
        tagger = pycrfsuite.Tagger()
        tagger.open(str(model_dir / MODEL_FILE))
        return cls(tagger, KnownAttributes(model_attribute_bytes(model_dir / MODEL_FILE)))

    def tag(self, features: list[tuple[str | bytes, ...]]) -> tuple[list[str], list[float]]:
        """The best tag sequence and each entity tag's marginal probability (0.0 for an "O" tag: entity scores
        never read it, and most tags are "O")."""
        if not features:
            return [], []
        tags = self.tagger.tag(features)
        return tags, [0.0 if tag == "O" else self.tagger.marginal(tag, i) for i, tag in enumerate(tags)]
