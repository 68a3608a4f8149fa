"""The spaCy components of vipie: thin wrappers, registered by factory, over the pure cores.

    vipie_layout            title, paragraphs, sentences, dateline, byline (pipeline.layout)
    vipie_word_segmenter    underthesea words as token attributes (pipeline.segment)
    vipie_rule_recognizer   entities from rules and gazetteers (pipeline.recognize.rules)
    vipie_crf_recognizer    CRF entities merged with the rules' (pipeline.recognize.crf, .merge)
    vipie_transformer_recognizer  fine-tuned transformer entities merged with the rules' (pipeline.recognize.transformer)
    vipie_fact_linker       one fact per METRIC (pipeline.facts.link)

Document metadata travels in `doc._.meta`; what the pipeline infers (title,
published, byline) is added there. Problems that do not stop a document
(a span that does not align to tokens) are listed in `doc._.warnings`.
"""

import shutil
from pathlib import Path

import numpy
from spacy.attrs import IDX, IS_SPACE, SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from pipeline.errors import ModelError
from pipeline.facts.learned import LearnedLinker, linker_files
from pipeline.facts.link import EntitySpan, FactLinker, LinkContext
from pipeline.facts.officials import link_officials
from pipeline.labels import LABEL_NAMES
from pipeline.layout import analyse_layout, load_boilerplate
from pipeline.provinces import default_resolver
from pipeline.recognize.crf import MODEL_FILE, CrfModel, spans_to_tags, token_features
from pipeline.recognize.merge import SourcedSpan, keep_labels, merge_spans, tagged_spans
from pipeline.recognize.not_metric import not_a_metric
from pipeline.recognize.rules import RuleRecognizer
from pipeline.segment import (NO_WORD, WORD_TAGS, WordTokenizer, segment_words, token_word_tags,
                              underthesea_segmenter)
from pipeline.tokenize import doc_text
from pipeline.training_data import paragraph_examples

# Where the rule recognizer leaves its spans for a statistical recognizer to use and merge.
RULE_SPANS = "rule_ents"
# Which recognizer wins an overlap, per label: rules for the regular labels, the CRF for names.
DEFAULT_PRECEDENCE = {
    "METRIC": ["rules", "crf"], "DATE": ["rules", "crf"], "DOCUMENT": ["rules", "crf"],
    "default": ["crf", "rules"],
}
# How the fact linker decides province, year and indicator: the rule order, or the learned linker over it.
LINKER_MODES = ("rules", "learned")
TRANSFORMER_PRECEDENCE = {label: [("transformer" if source == "crf" else source) for source in order]
                          for label, order in DEFAULT_PRECEDENCE.items()}


def word_tag(token: Token) -> tuple[int | None, str | None]:
    """(word index, "B"/"I"/"O") of `token` from the segmenter; (None, None) for whitespace or an unsegmented Doc."""
    tags = token.doc._.get(WORD_TAGS)
    return tags[token.i] if tags else NO_WORD


def register_extensions() -> None:
    """Declare the custom attributes vipie sets (idempotent)."""
    for name, default in (("meta", None), ("warnings", None), ("facts", None), ("wraps", None), ("province", None),
                          ("officials", None)):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=default)
    if not Doc.has_extension(WORD_TAGS):
        Doc.set_extension(WORD_TAGS, default=None)
    for position, name in enumerate(("word_index", "word_bio")):
        if not Token.has_extension(name):
            Token.set_extension(name, getter=lambda token, position=position: word_tag(token)[position])
    for name in ("score", "source"):
        if not Span.has_extension(name):
            Span.set_extension(name, default=None)


register_extensions()


def char_spans(doc: Doc, spans, label: str) -> list[Span]:
    """Token spans for character spans; one that does not align is reported in `doc._.warnings`."""
    result = []
    for start, end in spans:
        span = doc.char_span(start, end, label=label, alignment_mode="strict")
        if span is None:
            warn(doc, f"{label} span {doc_text(doc)[start:end]!r} at [{start}, {end}) does not align to tokens")
        else:
            result.append(span)
    return result


def warn(doc: Doc, message: str) -> None:
    if doc._.warnings is None:
        doc._.warnings = []
    doc._.warnings.append(message)


class LayoutComponent:
    def __init__(self):
        self.boilerplate = load_boilerplate()

    def __call__(self, doc: Doc) -> Doc:
        text = doc_text(doc)
        layout = analyse_layout(text, self.boilerplate)
        meta = dict(doc._.meta or {})
        if layout.title and "title" not in meta:
            meta["title"] = text[layout.title[0] : layout.title[1]]
        if layout.published and not meta.get("published"):
            meta["published"] = layout.published
        if layout.byline:
            meta.setdefault("byline", layout.byline)
        doc._.meta = meta
        doc._.wraps = layout.wraps
        doc.spans["paragraphs"] = char_spans(doc, layout.paragraphs, "PARAGRAPH")
        doc.spans["title"] = char_spans(doc, [layout.title] if layout.title else [], "TITLE")
        doc.spans["excluded"] = char_spans(doc, layout.excluded, "EXCLUDED")
        sentences = char_spans(doc, layout.sentences, "SENTENCE")
        doc.spans["sentences"] = sentences
        starts = {span.start for span in sentences} | {0}
        # One array write: setting `token.is_sent_start` token by token rescans the whole Doc each time (quadratic).
        sent_starts = numpy.array([1 if i in starts else -1 for i in range(len(doc))], dtype="int64")
        doc.from_array([SENT_START], sent_starts.view("uint64"))
        return doc


class WordSegmenter:
    def __init__(self, tokenize_words: WordTokenizer | None = None):
        # Loaded now, not at the first document: forked workers then share the one copy the parent loaded.
        self.tokenize_words = tokenize_words or underthesea_segmenter()

    def __call__(self, doc: Doc) -> Doc:
        paragraphs = [(s.start_char, s.end_char) for s in doc.spans.get("paragraphs", [])]
        words = segment_words(doc_text(doc), paragraphs, set(doc._.wraps or ()), self.tokenize_words)
        starts, spaces = zip(*doc.to_array([IDX, IS_SPACE]).tolist()) if len(doc) else ((), ())
        doc._.set(WORD_TAGS, token_word_tags(words, starts, spaces))
        return doc


class RuleEntityRecognizer:
    def __init__(self):
        self.recognizer = RuleRecognizer(default_resolver())

    def __call__(self, doc: Doc) -> Doc:
        excluded = [(s.start_char, s.end_char) for s in doc.spans.get("excluded", [])]
        text = doc_text(doc)
        ents = []
        for candidate in self.recognizer.find(text, excluded):
            span = doc.char_span(candidate.start, candidate.end, label=candidate.label, alignment_mode="strict")
            if span is None:
                warn(doc, f"{candidate.label} {text[candidate.start:candidate.end]!r} at "
                          f"[{candidate.start}, {candidate.end}) does not align to tokens")
                continue
            span._.score = candidate.score
            span._.source = f"rule:{candidate.rule}"
            ents.append(span)
        doc.ents = ents
        doc.spans[RULE_SPANS] = ents
        return doc


def set_merged_ents(doc: Doc, model_spans: list[SourcedSpan], precedence: dict[str, list[str]],
                    rule_labels: list[str]) -> None:
    """Set `doc.ents` from a statistical recognizer's spans merged with the rules' (`doc.spans[RULE_SPANS]`) of
    `rule_labels` (the model folder's config says which); each entity keeps the score and source of the span that
    won."""
    rules = list(doc.spans.get(RULE_SPANS, []))
    sources = {(s.start_char, s.end_char, s.label_): s._.source for s in rules}
    # A model trained on a few writers still tags what the guidelines exclude ("mức độ 3, 4", hotlines).
    text = doc_text(doc)
    model_spans = [s for s in model_spans if s.label != "METRIC" or not not_a_metric(text, s.start, s.end)]
    candidates = keep_labels([SourcedSpan(s.start_char, s.end_char, s.label_, s._.score or 0.0, "rules")
                              for s in rules], rule_labels)
    ents = []
    for chosen in merge_spans(candidates + model_spans, precedence):
        span = doc.char_span(chosen.start, chosen.end, label=chosen.label, alignment_mode="strict")
        if span is None:
            warn(doc, f"{chosen.label} {text[chosen.start:chosen.end]!r} does not align to tokens")
            continue
        span._.score = round(chosen.score, 4)
        span._.source = sources[(chosen.start, chosen.end, chosen.label)] if chosen.source == "rules" else chosen.source
        ents.append(span)
    doc.ents = ents


class CrfEntityRecognizer:
    """Tags paragraphs with the CRF (rule tags as features unless `rule_features` is off) and merges its spans with
    the rules' spans of `rule_labels`.

    A CRF span whose mean marginal probability is below `min_score` is not a candidate.
    """

    def __init__(self, precedence: dict[str, list[str]], min_score: float, rule_labels: list[str],
                 rule_features: bool):
        self.precedence = precedence
        self.min_score = min_score
        self.rule_labels = rule_labels
        self.rule_features = rule_features
        self.model: CrfModel | None = None
        self.model_path: Path | None = None

    def __call__(self, doc: Doc) -> Doc:
        if self.model is None:
            raise ModelError("the CRF recognizer has no trained model; load a model folder made by `vipie train`")
        rule_spans = ([(s.start_char, s.end_char, s.label_) for s in doc.spans.get(RULE_SPANS, [])]
                      if self.rule_features else [])
        spans = []
        for example in paragraph_examples(doc):
            rule_tags = spans_to_tags(example.starts, example.ends, rule_spans)
            features = token_features(example.tokens, example.word_ids, rule_tags, self.model.attributes)
            tags, marginals = self.model.tag(features)
            spans.extend(tagged_spans(example.starts, example.ends, tags, marginals, "crf", self.min_score))
        set_merged_ents(doc, spans, self.precedence, self.rule_labels)
        return doc

    def use_model_file(self, model_file: Path) -> None:
        self.model_path = model_file
        self.model = CrfModel.load(model_file.parent)

    def to_disk(self, path, *, exclude=()):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.model_path and self.model_path.resolve() != (path / MODEL_FILE).resolve():
            shutil.copyfile(self.model_path, path / MODEL_FILE)

    def from_disk(self, path, *, exclude=()):
        model_file = Path(path) / MODEL_FILE
        if not model_file.is_file():
            raise ModelError(f"{path}: no {MODEL_FILE}; the model folder is incomplete, rebuild it with `vipie train`")
        self.use_model_file(model_file)
        return self


def link_context(doc: Doc) -> LinkContext:
    """The layout and metadata the fact linker reads, from a Doc that went through `vipie_layout`."""
    title = doc.spans.get("title")
    return LinkContext(
        sentences=[(s.start_char, s.end_char) for s in doc.spans.get("sentences", [])],
        paragraphs=[(s.start_char, s.end_char) for s in doc.spans.get("paragraphs", [])],
        title=(title[0].start_char, title[0].end_char) if title else None,
        meta=doc._.meta or {},
    )


class FactLinkerComponent:
    """Rule facts, refined by the learned linker (`pipeline.facts.learned`) when `mode` is "learned"."""

    def __init__(self, mode: str):
        if mode not in LINKER_MODES:
            raise ModelError(f"fact linker mode {mode!r}: choose one of {', '.join(LINKER_MODES)}")
        self.mode = mode
        self.linker = FactLinker(default_resolver())
        self.learned: LearnedLinker | None = None
        self.learned_from: Path | None = None

    def __call__(self, doc: Doc) -> Doc:
        entities = [EntitySpan(e.start_char, e.end_char, e.label_, e.text) for e in doc.ents]
        context = link_context(doc)
        text = doc_text(doc)
        facts = self.linker.link_facts(text, entities, context)
        if self.mode == "learned":
            if self.learned is None:
                raise ModelError("the learned fact linker has no trained model; load a model folder made by `vipie train`")
            facts = self.learned.refine(self.linker, text, entities, context, facts)
        doc._.facts = facts
        doc._.province = self.linker.own_province(text, entities, context).value
        doc._.officials = link_officials(text, entities, self.linker.province_of_entity, doc._.province)
        return doc

    def use_folder(self, folder: Path) -> None:
        """Use the learned linker stored in `folder` (made by `pipeline.facts.learned.train_linker`)."""
        self.learned = LearnedLinker.load(folder)
        self.learned_from = folder

    def to_disk(self, path, *, exclude=()):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.learned_from and self.learned_from.resolve() != path.resolve():
            for name in linker_files(self.learned_from):
                (path / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.learned_from / name, path / name)

    def from_disk(self, path, *, exclude=()):
        if self.mode == "learned":
            self.use_folder(Path(path))
        return self


@Language.factory("vipie_layout", assigns=["doc.spans", "token.is_sent_start", "doc._.meta"])
def make_layout(nlp: Language, name: str) -> LayoutComponent:
    return LayoutComponent()


@Language.factory("vipie_word_segmenter", assigns=["token._.word_index", "token._.word_bio", f"doc._.{WORD_TAGS}"])
def make_word_segmenter(nlp: Language, name: str) -> WordSegmenter:
    return WordSegmenter()


@Language.factory("vipie_rule_recognizer", assigns=["doc.ents"])
def make_rule_recognizer(nlp: Language, name: str) -> RuleEntityRecognizer:
    return RuleEntityRecognizer()


# A config without `rule_labels` (a folder written before models said which) merges every rule label, as it did.
@Language.factory("vipie_crf_recognizer", assigns=["doc.ents"], requires=["doc.spans"],
                  default_config={"precedence": DEFAULT_PRECEDENCE, "min_score": 0.0, "rule_labels": list(LABEL_NAMES),
                                  "rule_features": True})
def make_crf_recognizer(nlp: Language, name: str, precedence: dict, min_score: float, rule_labels: list[str],
                        rule_features: bool) -> CrfEntityRecognizer:
    return CrfEntityRecognizer(precedence, min_score, rule_labels, rule_features)


@Language.factory("vipie_transformer_recognizer", assigns=["doc.ents"], requires=["doc.spans"],
                  default_config={"precedence": TRANSFORMER_PRECEDENCE, "device": "auto", "batch_size": 8,
                                  "rule_labels": list(LABEL_NAMES)})
def make_transformer_recognizer(nlp: Language, name: str, precedence: dict, device: str, batch_size: int,
                                rule_labels: list[str]):
    # Imported here: torch and transformers load only for pipelines that use this component.
    from pipeline.recognize.transformer import TransformerEntityRecognizer

    return TransformerEntityRecognizer(precedence, device, batch_size, rule_labels)


@Language.factory("vipie_fact_linker", assigns=["doc._.facts", "doc._.province", "doc._.officials"],
                  requires=["doc.ents"], default_config={"mode": "rules"})
def make_fact_linker(nlp: Language, name: str, mode: str) -> FactLinkerComponent:
    return FactLinkerComponent(mode)
