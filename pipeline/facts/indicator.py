"""Indicator spans: a CRF over the tokens of a figure's sentence, conditioned on where the figure stands.

Each figure gives one sequence: the syllable and punctuation tokens of its sentence, clipped to a
window around the figure. A token's features say what it is (word, shape, the label of an entity it is
in), where it is relative to the figure (side, distance, punctuation crossed on the way), its
neighbours, and whether the rule heuristic (`pipeline.facts.link.indicator_span_of`) would take it. The
CRF tags B/I/O; the tagged span nearest the figure is the indicator, none is a null indicator.

Two guideline rules stand over the CRF (`choose_indicator`): an indicator says what is measured, so a span made
only of names (a province, an agency, a date) or of linking verbs ("xếp", "đạt") is none; and the later items of a
list "A có tỷ lệ X [58,4%], B [63,7%]" share the indicator of the item before them.
"""

from functools import lru_cache
from pathlib import Path

import pycrfsuite
import regex

from pipeline.errors import ModelError
from pipeline.facts.link import INDICATOR_STOPS
from pipeline.gazetteers import load_lines, load_pairs

TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:[.,/%][\p{N}]+)*%?|[^\s\p{L}\p{M}\p{N}]")
NUMBER = regex.compile(r"[\p{N}.,/%]+")
WORD_START = regex.compile(r"[\p{L}\p{N}]")
LETTER = regex.compile(r"\p{L}")
EDGE_START = regex.compile(r"^[\s\p{P}]+")
EDGE_END = regex.compile(r"[\s\p{P}]+$")
WINDOW = 40
STOP_PUNCT = set(",;:()[]-–")
SYLLABLE = regex.compile(r"[\p{L}\p{M}\p{N}]+")
# Entities that are never an indicator on their own: what they name is who or when, not what is measured.
NAME_LABELS = frozenset({"LOCATION", "AGENCY", "OFFICIAL", "TITLE", "DATE", "DOCUMENT"})
LONE_WORDS = frozenset(load_lines("indicator_lone_words.txt")) | INDICATOR_STOPS
# What may stand between a list item's name and its figure ("Hà Nội (0,7790)", "tỉnh Hậu Giang (cũ) 63,7%",
# "Hải Phòng [thứ 10]", "tiếp đến TP.HCM (0,8015)").
LIST_ITEM_FILLER = frozenset(load_lines("indicator_list_filler.txt"))
LIST_SEPARATOR = regex.compile(r"[,;]|\svà\s")
EDGES = load_pairs("indicator_edges.tsv")
OPENING_WORDS = frozenset(word for where, word in EDGES if where == "open")
CUT_WORDS = frozenset(word for where, word in EDGES if where == "cut")


def shape(token: str) -> str:
    if NUMBER.fullmatch(token):
        return "num"
    if not WORD_START.match(token):
        return "punct"
    return "cap" if token[0].isupper() else "low"


def offset_bucket(distance: int) -> str:
    for limit in (1, 2, 3, 5, 8, 12, 20):
        if distance <= limit:
            return str(limit)
    return "far"


def sentence_tokens(text: str, sentence: tuple[int, int], metric: tuple[int, int],
                    memo: dict | None = None) -> list[tuple[int, int]]:
    """Tokens of `sentence` within WINDOW tokens of the metric, the metric's own tokens included. `memo` (one per
    document) keeps each sentence's tokens for its other figures: a table row is one sentence with many figures."""
    tokens = memo.get(sentence) if memo is not None else None
    if tokens is None:
        tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text, sentence[0], sentence[1])]
        if memo is not None:
            memo[sentence] = tokens
    inside = [i for i, (s, e) in enumerate(tokens) if s < metric[1] and e > metric[0]]
    if not inside:
        return tokens
    return tokens[max(0, inside[0] - WINDOW) : inside[-1] + 1 + WINDOW]


def token_labels(tokens: list[tuple[int, int]], entities: list[tuple[int, int, str]]) -> list[str]:
    """The label of the entity each token lies in, or "O"."""
    labels = []
    for start, end in tokens:
        labels.append(next((label for s, e, label in entities if s <= start and end <= e), "O"))
    return labels


def crossings(words: list[str], labels: list[str], first: int, last: int) -> dict[int, tuple[bytes, tuple[bytes, ...]]]:
    """What lies between each token outside the figure (tokens `first`..`last`) and the figure, found walking out
    from the figure once per side, as the token's feature strings: its "punct=" string, then the "last_punct=",
    "colon_crossed=", "figure_crossed=" and "crossed=" strings that apply (stop punctuation marks crossed and the
    one nearest the token, a colon, a METRIC token, the INDICATOR_STOPS words) for the tokens strictly between.
    What is crossed changes at a few tokens only, so tokens between two changes share their strings."""
    found = {}
    for side, steps in (("b", range(first - 1, -1, -1)), ("a", range(last + 1, len(words)))):
        punct, nearest, colon, figure, stops = 0, None, False, False, set()
        strings = CROSSED_NOTHING[side]
        for i in steps:
            found[i] = strings
            word = words[i]
            changed = False
            if word in STOP_PUNCT:
                punct, nearest, changed = punct + 1, word, True
            if word == ":" and not colon:
                colon = changed = True
            if labels[i] == "METRIC" and not figure:
                figure = changed = True
            if word in INDICATOR_STOPS and word not in stops:
                stops.add(word)
                changed = True
            if changed:
                strings = crossed_strings(side, punct, nearest, colon, figure, frozenset(stops))
    return found


def crossed_strings(side: str, punct: int, nearest: str | None, colon: bool, figure: bool,
                    stops: frozenset[str]) -> tuple[bytes, tuple[bytes, ...]]:
    """The "punct=" string and the crossing strings (see `crossings`) of a token on `side` of its figure, as bytes
    (see `token_features`)."""
    crossed = [f"last_punct={side}{nearest}"] if punct else []
    if colon:
        crossed.append(f"colon_crossed={side}")
    if figure:
        crossed.append(f"figure_crossed={side}")
    crossed.extend(f"crossed={side}{w}" for w in sorted(stops))  # in one order: crfsuite numbers attributes as met
    return f"punct={side}{min(punct, 2)}".encode(), tuple(string.encode() for string in crossed)


CROSSED_NOTHING = {side: crossed_strings(side, 0, None, False, False, frozenset()) for side in "ba"}


OFFSETS = (-2, -1, 1, 2)


def token_strings(surface: str, label: str) -> tuple:
    """What of one token does not depend on the figure: its word, entity label and word as bytes, its "w=",
    "shape=", "ent=" and "w|side=" (for each side) strings, and "w[offset]=" as the token `offset` places before it
    sees it (strings as bytes, see `token_features`)."""
    word = surface.lower()
    strings = (f"w={word}", f"shape={shape(surface)}", f"ent={label}", f"w|side={word}|b", f"w|side={word}|a")
    return (word, label, word.encode(), *(string.encode() for string in strings),
            tuple(f"w[{offset}]={word}".encode() for offset in OFFSETS))


# Words and labels recur across documents: their strings are made once per process, and past 16,384 (surface,
# label) pairs the least recently used are forgotten, so a worker's memory stays flat.
remembered_token_strings = lru_cache(maxsize=1 << 14)(token_strings)


FIGURE_NEIGHBOUR = tuple(f"w[{offset}]=FIG".encode() for offset in OFFSETS)
SIDE_BEFORE, SIDE_AFTER = b"side=b", b"side=a"
FAR = 21  # distances from here on are all "far"
# The "dist=" string of each side (by its "side=" string) and distance, FAR standing for every larger distance.
DISTANCES = {side: [f"dist={letter}{offset_bucket(d)}".encode() for d in range(FAR + 1)]
             for side, letter in ((SIDE_BEFORE, "b"), (SIDE_AFTER, "a"))}


def token_features(text: str, tokens: list[tuple[int, int]], metric: tuple[int, int],
                   entities: list[tuple[int, int, str]], rule_span: tuple[int, int] | None,
                   memo: dict | None = None) -> list[list[bytes]]:
    """CRF features of each token (see the module docstring); `entities` are the document's (start, end, label).
    `memo` (one per document) keeps each token's `token_strings` for the document's other figures.

    The strings are UTF-8 bytes: python-crfsuite encodes every str it is given anew, once per string and call, and
    copies bytes as they are."""
    memo = {} if memo is None else memo
    missing = [token for token in tokens if token not in memo]
    if missing:
        window = [e for e in entities if e[1] > missing[0][0] and e[0] < missing[-1][1]]
        for token, label in zip(missing, token_labels(missing, window)):
            memo[token] = remembered_token_strings(text[token[0]:token[1]], label)
    strings = [memo[token] for token in tokens]
    words = [entry[0] for entry in strings]
    labels = [entry[1] for entry in strings]
    fig = [i for i, (s, e) in enumerate(tokens) if s < metric[1] and e > metric[0]]
    first, last = (fig[0], fig[-1]) if fig else (len(tokens), len(tokens))
    crossed = crossings(words, labels, first, last)
    features = []
    for i, (start, end) in enumerate(tokens):
        if first <= i <= last:
            features.append([b"fig", b"bias"])
            continue
        _, _, _, word_string, shape_string, ent, w_before, w_after, _ = strings[i]
        if i < first:
            side, distance, w_side = SIDE_BEFORE, first - i, w_before
        else:
            side, distance, w_side = SIDE_AFTER, i - last, w_after
        punct_string, crossings_strings = crossed[i]
        f = [b"bias", word_string, shape_string, side, DISTANCES[side][min(distance, FAR)], punct_string, w_side, ent,
             *crossings_strings]
        for k, offset in enumerate(OFFSETS):
            j = i + offset
            if 0 <= j < len(tokens):
                f.append(FIGURE_NEIGHBOUR[k] if first <= j <= last else strings[j][8][k])
        if i > 0:
            f.append(b"bigram=" + strings[i - 1][2] + b"|" + strings[i][2])
        if rule_span and rule_span[0] <= start and end <= rule_span[1]:
            f.append(b"rule")
        if i == 0:
            f.append(b"sentence_start")
        features.append(f)
    return features


def span_tags(tokens: list[tuple[int, int]], span: tuple[int, int] | None) -> list[str]:
    tags = []
    for start, end in tokens:
        if span and span[0] <= start and end <= span[1]:
            tags.append("I" if tags and tags[-1] in ("B", "I") else "B")
        else:
            tags.append("O")
    return tags


def tagged_span(tokens: list[tuple[int, int]], tags: list[str], text: str, metric: tuple[int, int],
                others: list[tuple[int, int]] = (), names=()) -> tuple[int, int] | None:
    """The usable B/I span nearest the metric, trimmed of edge punctuation; None when nothing is tagged. An indicator
    says what a figure measures, so it never takes in a figure (`others`: the document's METRIC spans), and is never
    numbers alone, names alone (`names`) or linking words alone."""
    if tokens:  # only the figures and names among the tokens matter; a long document has thousands elsewhere
        others = [(s, e) for s, e in others if s < tokens[-1][1] and tokens[0][0] < e]
        names = [(s, e) for s, e in names if s < tokens[-1][1] and tokens[0][0] < e]
    spans, current = [], None
    for (start, end), tag in zip(tokens, tags):
        if any(s < end and start < e for s, e in others):
            tag = "O"
        if tag == "B" or (tag == "I" and current is None):
            if current:
                spans.append(current)
            current = [start, end]
        elif tag == "I":
            current[1] = end
        elif current:
            spans.append(current)
            current = None
    if current:
        spans.append(current)
    trimmed = []
    for start, end in spans:
        start, end = trim_edges(text, start, end, metric)
        if start < end and usable_indicator(text, (start, end), (), names):
            trimmed.append((start, end))
    if not trimmed:
        return None
    return min(trimmed, key=lambda s: metric[0] - s[1] if s[1] <= metric[0] else s[0] - metric[1])


def trim_edges(text: str, start: int, end: int, metric: tuple[int, int]) -> tuple[int, int]:
    """[start, end) without edge punctuation, cut at a CUT_WORDS word (keeping the side next to the figure), and
    without OPENING_WORDS at its start; start >= end when nothing is left."""
    words = [(m.start(), m.end()) for m in SYLLABLE.finditer(text, start, end)]
    cuts = [i for i, (s, e) in enumerate(words) if text[s:e].lower() in CUT_WORDS]
    if cuts:
        if end <= metric[0]:  # the span stands before its figure: keep what follows the last cut
            start = words[cuts[-1]][1]
        else:
            end = words[cuts[0]][0]
    start, end = without_edge_punctuation(text, start, end)
    for s, e in words:
        if s < start:
            continue
        if s != start or text[s:e].lower() not in OPENING_WORDS:
            break
        start, end = without_edge_punctuation(text, e, end)
    return start, end


def without_edge_punctuation(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + len(piece) - len(EDGE_START.sub("", piece)), end - (len(piece) - len(EDGE_END.sub("", piece)))


def usable_indicator(text: str, span: tuple[int, int] | None, figures, names=()) -> bool:
    """Whether `span` can be an indicator: it has a word, takes in none of `figures` (METRIC spans), and is not
    made only of `names` (spans of NAME_LABELS entities) or only of LONE_WORDS."""
    if not (span and LETTER.search(text[span[0]:span[1]])
            and not any(s < span[1] and span[0] < e for s, e in figures)):
        return False
    words = [(m.start(), m.end(), m.group().lower()) for m in SYLLABLE.finditer(text, span[0], span[1])]
    if all(word in LONE_WORDS for _, _, word in words):
        return False
    return not all(inside_any(names, start, end) for start, end, _ in words)


def inside_any(spans, start: int, end: int) -> bool:
    """Whether [start, end) lies inside one of `spans`."""
    return any(s <= start and end <= e for s, e in spans)


def list_item_previous(text: str, metric: tuple[int, int], sentence_start: int, figures, names) -> tuple[int, int] | None:
    """The figure before `metric` in its sentence when `metric` is a later item of a list of named figures
    ("Quảng Ninh (89,95%), Hải Phòng (88,49%)": the item is a list separator, then a name and LIST_ITEM_FILLER
    words only); else None."""
    before = [f for f in figures if sentence_start <= f[0] and f[1] <= metric[0]]
    if not before:
        return None
    previous = max(before)
    item = LIST_SEPARATOR.split(text[previous[1]:metric[0]])
    if len(item) < 2:
        return None
    offset = metric[0] - len(item[-1])
    words = [(m.start() + offset, m.end() + offset, m.group().lower()) for m in SYLLABLE.finditer(item[-1])]
    named = [inside_any(names, start, end) for start, end, _ in words]
    if any(named) and all(is_name or word in LIST_ITEM_FILLER for is_name, (_, _, word) in zip(named, words)):
        return previous
    return None


def choose_indicator(text: str, metric: tuple[int, int], tokens: list[tuple[int, int]], tags: list[str],
                     rule_span: tuple[int, int] | None, figures, names,
                     chosen: dict[tuple[int, int], tuple[int, int] | None]) -> tuple[int, int] | None:
    """The indicator span of the figure `metric`: the previous item's (from `chosen`, the indicators given so far)
    for a later list item, else the CRF's tagged span, else the rule heuristic's `rule_span` where the CRF tags
    nothing usable (it rarely misses a written indicator; about 5% of gold indicators are null)."""
    sentence_start = tokens[0][0] if tokens else metric[0]
    # Only the figures and names near this one matter; the document's others would be scanned for every figure.
    low = min(sentence_start, rule_span[0]) if rule_span else sentence_start
    high = max(tokens[-1][1] if tokens else metric[1], rule_span[1] if rule_span else 0)
    figures = [(s, e) for s, e in figures if s < high and low < e]
    names = [(s, e) for s, e in names if s < high and low < e]
    previous = list_item_previous(text, metric, sentence_start, figures, names)
    if previous in chosen and chosen[previous] is not None:
        return chosen[previous]
    span = tagged_span(tokens, tags, text, metric, figures, names)
    if span is None and usable_indicator(text, rule_span, figures, names):
        return rule_span
    return span


class IndicatorTagger:
    """A trained python-crfsuite model that tags indicator spans."""

    def __init__(self, tagger: pycrfsuite.Tagger):
        self.tagger = tagger

    @classmethod
    def train(cls, sequences: list[tuple[list[list[bytes]], list[str]]], path: Path, c1: float = 0.05, c2: float = 0.1,
              max_iterations: int = 150) -> "IndicatorTagger":
        trainer = pycrfsuite.Trainer(verbose=False)
        for features, tags in sequences:
            trainer.append(features, tags)
        trainer.set_params({"c1": c1, "c2": c2, "max_iterations": max_iterations,
                            "feature.possible_transitions": True})
        trainer.train(str(path))
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> "IndicatorTagger":
        tagger = pycrfsuite.Tagger()
        try:
            tagger.open(str(path))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: cannot read the indicator model ({exc}); rebuild it with `vipie train`") from exc
        return cls(tagger)

    def tag(self, features: list[list[bytes]]) -> list[str]:
        return self.tagger.tag(features) if features else []
