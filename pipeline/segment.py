"""Word segmentation (underthesea's) attached to syllable tokens, never rewriting the text.

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

The segmenter is underthesea's `word_tokenize`, step for step, without
`import underthesea` (which loads torch and transformers, see
`pipeline.underthesea_files`): its regex tokenizer; the feature templates and
dictionary shipped beside its CRF model, featurized here as underthesea_core's
CRFFeaturizer does (faster than the Rust one: the
strings of a window are made once and remembered, and without its start-up
cost of copying the 72,000-word dictionary); and its CRF model, tagged by
underthesea_core's CRFTagger (twice as fast as python-crfsuite on it). The
words are the ones `word_tokenize(view, use_token_normalize=False)` gives
(tests/test_segment.py compares them).
"""

import pickle
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from types import ModuleType

import regex
from underthesea_core import CRFTagger

from pipeline.errors import ModelError
from pipeline.recognize.crf import model_attributes
from pipeline.underthesea_files import import_underthesea_module, underthesea_dir

# A stray space after a bare onset: the onset cannot be a syllable on its own. The match is the space, found first
# (a literal the regex engine looks for fast), then checked: a vowel after it, a bare onset before it.
BROKEN_SYLLABLE = regex.compile(
    r" (?=[aăâeêioôơuưyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ])"
    r"(?<=(?<![\p{L}\p{M}])(?:ngh|ch|gh|kh|ng|nh|ph|th|tr|[bcdđghklmnprstvx]) )"
)

# The longest run of non-space characters the segmenter reads in one piece (real text has none above ~20).
MAX_RUN = 100
LONG_RUN = regex.compile(rf"\S{{{MAX_RUN + 1},}}")

WordTokenizer = Callable[[str], list[str]]


def model_view(text: str, start: int, end: int, wraps: set[int]) -> tuple[str, list[int]]:
    """The view of `text[start:end]` the segmenter reads, and the original offset of each view character."""
    view = text[start:end]
    inner = [i - start for i in wraps if start <= i < end]
    if inner:
        chars = list(view)
        for i in inner:
            chars[i] = " "
        view = "".join(chars)
    gaps = [match.start() for match in BROKEN_SYLLABLE.finditer(view)]
    if not gaps:
        return view, list(range(start, end))
    gap_set = set(gaps)
    kept = [i for i in range(len(view)) if i not in gap_set]
    return "".join(view[i] for i in kept), [start + i for i in kept]


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


# The segmenter's (word index, B/I/O) of every token, one list on the Doc (`doc._.word_tags`, from
# `token_word_tags`): `token._.word_index` and `token._.word_bio` read it. Set token by token, they cost a Python
# object per token and attribute.
WORD_TAGS = "word_tags"
NO_WORD = (None, None)


def token_word_tags(words: list[tuple[int, int]], token_starts, token_is_space) -> list[tuple[int | None, str | None]]:
    """(word index, "B" or "I") of each token that starts or continues one of `words` (character spans, in order),
    (None, "O") of any other token, and (None, None) of a whitespace token."""
    ends = {start: (index, end) for index, (start, end) in enumerate(words)}
    current, current_end = None, -1
    tags = []
    for start, is_space in zip(token_starts, token_is_space):
        if is_space:
            tags.append(NO_WORD)
        elif start in ends:
            current, current_end = ends[start]
            tags.append((current, "B"))
        elif start < current_end:
            tags.append((current, "I"))
        else:
            tags.append((None, "O"))
    return tags


# Where underthesea keeps its word segmentation model, and the rule file of its character normaliser.
WORD_MODEL = Path("pipeline", "word_tokenize", "models", "ws_crf_vlsp2013_20230727")
NORMALIZER_RULES = Path("pipeline", "text_normalize", "tn_rules_2023_07_14.bin")
REGEX_TOKENIZER = "pipeline.word_tokenize.regex_tokenize"
# underthesea_core's feature template syntax: T[offset] or T[first,last], then an optional .function.
TEMPLATE = re.compile(r"T\[(-?\d+)(?:,(-?\d+))?\](?:\.(lower|isdigit|istitle|is_in_dict))?")
# underthesea_core's `isdigit` is "parses as a Rust i32".
INTEGER = re.compile(r"[+-]?[0-9]+")
I32 = range(-(2**31), 2**31)
# underthesea_core writes a boolean feature as Python's str of it.
TRUTH = {False: "False", True: "True"}
# How many distinct windows of each width the featurizer remembers the strings of: 284 dataset documents hold
# 4,762 distinct syllables, 30,516 pairs and 57,374 triples. A window holds the model's own copies of its strings,
# so this many of each take under 10 MB (8.5 MB after those documents).
WINDOW_MEMO_SIZE = 1 << 15
# How many runs of non-space characters the tokenizer remembers the tokens of: the 416 composed documents hold
# 10,247 distinct runs.
RUN_MEMO_SIZE = 1 << 15


def read_pickle(path: Path):
    """An object that joblib.dump stored without numpy arrays, so a plain pickle (joblib takes seconds to import)."""
    with path.open("rb") as fh:
        return pickle.load(fh)


def parse_template(template: str) -> tuple[str, int, int, str | None]:
    """(template, first offset, last offset, function) of a feature template; a single offset is first and last.

    Raises:
        ModelError: the template is not in underthesea_core's syntax, or its last offset comes before its first.
    """
    match = TEMPLATE.fullmatch(template)
    offsets = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else None
    if offsets is None or offsets[1] < offsets[0]:
        raise ModelError(f"underthesea word segmentation feature {template!r} is not understood; "
                         "install the underthesea version in requirements.lock")
    return template, *offsets, match.group(3)


def is_i32(text: str) -> bool:
    return INTEGER.fullmatch(text) is not None and int(text) in I32


def starts_upper(text: str) -> bool:
    """underthesea_core's `istitle`: every space-separated part starts with a character that upper-casing keeps."""
    if " " in text:
        return all(starts_upper(part) for part in text.split(" "))
    first = text[:1]
    return first == first.upper()


class WordFeaturizer:
    """underthesea_core's CRFFeaturizer on one column of tokens.

    A template reads the window of tokens from `first` to `last` around a position, joined by spaces (BOS or EOS
    when one end leaves the sentence, `first` checked before `last`), and applies its function: lower, isdigit,
    istitle or is_in_dict (the lower-cased text is in the dictionary).

    A window's feature strings depend on its tokens only, so they are made once per distinct window, for every
    template of its width at once, and remembered (up to `memo_size` windows of each width): syllables are a closed
    set and common pairs and triples recur, so most of a sentence's strings are looked up, not built.

    Given the model's `attributes`, a row keeps only the strings among them: the tagger skips the others (over two
    fifths of them), each only after copying it in.
    """

    def __init__(self, templates: list[str], dictionary: set[str], memo_size: int = WINDOW_MEMO_SIZE,
                 attributes: frozenset[str] | None = None):
        self.templates = [parse_template(template) for template in templates]
        self.dictionary = dictionary
        self.memo_size = memo_size
        self.attributes = attributes
        # Each attribute by itself: a remembered string is the model's own copy, or "" for one the model lacks.
        self.canonical = None if attributes is None else {attribute: attribute for attribute in attributes}
        # How far any template reaches from its position: sentences are read padded with that many BOS and EOS.
        self.reach = max(max(-first, last) for _, first, last, _ in self.templates) if self.templates else 0
        self.width_templates: dict[int, list[tuple[str, str | None]]] = {}
        for name, first, last, function in self.templates:
            self.width_templates.setdefault(last - first + 1, []).append((name, function))
        self.edges = {width: tuple(tuple(self.known([f"{name}={edge}" for name, _ in named]))
                                   for edge in ("BOS", "EOS"))
                      for width, named in self.width_templates.items()}
        self.memos: dict[int, dict] = {width: {} for width in self.width_templates}
        # Each template's width, first offset and place among the strings of a window of that width.
        slots = {name: slot for named in self.width_templates.values() for slot, (name, _) in enumerate(named)}
        self.layout = [(last - first + 1, first, itemgetter(slots[name])) for name, first, last, _ in self.templates]

    def __call__(self, tokens: list[str]) -> list[tuple[str, ...]]:
        """The feature strings of each token of one sentence."""
        n = len(tokens)
        if not n:
            return []
        windows = {width: self.padded_windows(width, tokens) for width in self.width_templates}
        at = self.reach
        columns = [list(map(get, windows[width][at + first : at + first + n])) for width, first, get in self.layout]
        rows = zip(*columns)
        return list(rows) if self.attributes is None else [tuple(filter(None, row)) for row in rows]

    def known(self, strings: list[str]) -> list[str]:
        """`strings`, each replaced by the model's copy of it, or by "" (which rows leave out) when the model has no
        such attribute."""
        if self.canonical is None:
            return strings
        return list(map(self.canonical.get, strings, repeat("")))

    def padded_windows(self, width: int, tokens: list[str]) -> list[tuple[str, ...]]:
        """The strings of every window of `width` tokens from the one that starts `reach` tokens before the sentence
        to the one that ends `reach` tokens after it, in order: BOS's while a window starts before the sentence,
        EOS's once it ends after it."""
        count = len(tokens) + 2 * self.reach - width + 1
        before = min(self.reach, count)
        inside = max(len(tokens) - width + 1, 0)
        bos, eos = self.edges[width]
        return [bos] * before + self.inside_windows(width, tokens, inside) + [eos] * (count - before - inside)

    def inside_windows(self, width: int, tokens: list[str], count: int) -> list[tuple[str, ...]]:
        """The strings of the first `count` windows of `width` tokens that lie inside the sentence, from the memo or
        made now (all new windows of the sentence together) and remembered."""
        if not count:
            return []
        keys = tokens if width == 1 else list(zip(*(tokens[offset:] for offset in range(width))))
        memo = self.memos[width]
        known = list(map(memo.get, keys))
        missing = list(dict.fromkeys(key for key, strings in zip(keys, known) if strings is None))
        if not missing:
            return known
        made = dict(zip(missing, self.window_strings(width, missing)))
        if len(memo) + len(made) > self.memo_size:
            memo.clear()  # a worker's memory stays flat over a long corpus; the common windows come back at once
        memo.update(made)
        return [made[key] if strings is None else strings for key, strings in zip(keys, known)]

    def window_strings(self, width: int, keys: list) -> list[tuple[str, ...]]:
        """The strings of the templates of `width` for each window (a token, or a tuple of `width` tokens)."""
        texts = keys if width == 1 else [" ".join(key) for key in keys]
        lowered = [text.lower() for text in texts]
        columns = []
        for name, function in self.width_templates[width]:
            if function is None:
                values = texts
            elif function == "lower":
                values = lowered
            elif function == "istitle":
                values = [TRUTH[starts_upper(text)] for text in texts]
            elif function == "is_in_dict":
                dictionary = self.dictionary
                values = [TRUTH[text in dictionary] for text in lowered]
            else:
                values = [TRUTH[is_i32(text)] for text in texts]
            columns.append(self.known(list(map(f"{name}=".__add__, values))))
        return list(zip(*columns))


class UndertheseaSegmenter:
    """underthesea's `word_tokenize(view, use_token_normalize=False)`: the words of `view`, each its tokens
    joined by single spaces."""

    def __init__(self, tokenize: Callable[[str], list[str]], featurize: WordFeaturizer, tagger: CRFTagger):
        self.tokenize = tokenize
        self.featurize = featurize
        self.tagger = tagger

    def __call__(self, view: str) -> list[str]:
        tokens = self.tokenize(view)
        if not tokens:
            return []
        words: list[str] = []
        for token, tag in zip(tokens, self.tagger.tag(self.featurize(tokens))):
            if tag == "I-W" and words:
                words[-1] += " " + token
            else:
                words.append(token)
        return words


def regex_tokenizer(package: Path) -> Callable[[str], list[str]]:
    """underthesea's regex tokenizer, with its character normalisation (NFC, then its character map) and without
    token normalisation. Its module imports the text normaliser's functions, whose module loads its rule file with
    joblib: stand-ins give the same character normalisation from the same rule file, read as a pickle."""
    character_map = read_pickle(package / NORMALIZER_RULES)["character"]

    def normalize_characters_in_text(text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        for character, standard in character_map.items():
            text = text.replace(character, standard)
        return text

    def token_normalize(token: str, use_character_normalize: bool = True) -> str:
        raise NotImplementedError("vipie tokenizes with use_token_normalize=False")

    text_normalize = ModuleType("underthesea.pipeline.text_normalize")
    text_normalize.__path__ = []
    text_normalize.token_normalize = token_normalize
    character_normalize = ModuleType("underthesea.pipeline.text_normalize.character_normalize")
    character_normalize.normalize_characters_in_text = normalize_characters_in_text
    module = import_underthesea_module(REGEX_TOKENIZER, {module.__name__: module for module in (
        text_normalize, character_normalize)})
    patterns = module.patterns

    run_memo: dict[str, list[str]] = {}

    def tokens_of(piece: str) -> list[str]:
        return [match.group() for match in patterns.finditer(piece)]

    def tokenize(text: str) -> list[str]:
        """`module.tokenize(text, use_token_normalize=False)`. Each alternative of its pattern is one named group
        around the whole alternative, so the token its `extract_match` finds (in a dict of every group, built per
        token) is the whole match.

        No alternative matches or crosses whitespace, and what its lookarounds read at a run of non-space
        characters' edges is whitespace or an end of the text. So the tokens of the text are those of each run,
        read followed by a space (every run but the last) or by the text's trailing whitespace (the last: "$"
        tells "TP." and ":D" at the end from those inside); the runs recur, so their tokens are remembered."""
        normalized = normalize_characters_in_text(text)
        runs = normalized.split()
        if not runs:
            return []
        if len(run_memo) + len(runs) > RUN_MEMO_SIZE:
            run_memo.clear()  # a worker's memory stays flat over a long corpus
        tokens = []
        for run in runs[:-1]:
            found = run_memo.get(run)
            if found is None:
                found = run_memo[run] = tokens_of(run + " ")
            tokens.extend(found)
        tail = normalized[len(normalized.rstrip()):]
        return tokens + tokens_of(runs[-1] + tail)

    return tokenize


@lru_cache(maxsize=1)
def underthesea_segmenter() -> UndertheseaSegmenter:
    """underthesea's word segmenter from the files the installed underthesea ships, loaded once per process.

    Raises:
        ModelError: underthesea is not installed, or its model files are not where this version keeps them.
    """
    package = underthesea_dir()
    model = package / WORD_MODEL
    if not (model / "models.bin").is_file():
        raise ModelError(f"{model}: underthesea's word segmentation model is missing; "
                         "install the underthesea version in requirements.lock")
    tagger = CRFTagger()
    tagger.load(str(model / "models.bin"))
    featurize = WordFeaturizer(read_pickle(model / "features.bin"), read_pickle(model / "dictionary.bin"),
                               attributes=model_attributes(model / "models.bin"))
    return UndertheseaSegmenter(regex_tokenizer(package), featurize, tagger)

