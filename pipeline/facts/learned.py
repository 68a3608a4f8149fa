"""The learned linker: rankers for province and year and a CRF for the indicator span, over the rules' facts.

`LearnedLinker.refine` takes the rule linker's facts (value, unit, qualifier and status stay the rules')
and replaces province, year and indicator with the learned choices; the rule decisions enter as
features. `train_linker` fits all three on gold documents and writes them into a folder:

    linker.json          format, the two rankers, the indicator model's file name and SHA-256
    indicator.crfsuite   the indicator CRF
    province_cross_encoder/, year_cross_encoder/
                         with the transformer backend, cross-encoders (`pipeline.facts.cross_encoder`) in
                         place of the feature rankers; linker.json lists the SHA-256 of each of their files

Loading verifies the checksums before the CRF library or transformers reads a file, so a corrupt or foreign
file is a one-line error, never a crash. torch and transformers are imported only when a cross-encoder is
trained or loaded.
"""

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.errors import ModelError
from pipeline.facts.candidates import (
    Candidate,
    DocumentView,
    FigureView,
    figure_view,
    province_candidates,
    year_candidates,
)
from pipeline.facts.indicator import (
    NAME_LABELS,
    IndicatorTagger,
    choose_indicator,
    sentence_tokens,
    span_tags,
    token_features,
)
from pipeline.facts.link import EntitySpan, FactLinker, LinkContext, Resolved, indicator_span_of
from pipeline.facts.ranker import CandidateRanker
from pipeline.labels import NATIONAL
from pipeline.model import check_listed_file, sha256

LINKER_FILE = "linker.json"
INDICATOR_FILE = "indicator.crfsuite"
# 2: pairwise rankers (weights only, scores compared by softmax); 1 was pointwise with an intercept.
FORMAT = "vipie-linker/2"
# 3: a ranker is features (as in 2) or a cross-encoder folder. Linkers with feature rankers only are still written
# as 2, so that they load in a vipie that knows no cross-encoder.
CROSS_ENCODER_FORMAT = "vipie-linker/3"
FEATURES, CROSS_ENCODER = "features", "cross-encoder"
ROLES = ("province", "year")


@dataclass
class FigureInputs:
    """Everything the learned linker reads for one figure."""

    province: list[Candidate]
    year: list[Candidate]
    tokens: list[tuple[int, int]]
    token_features: list[list[bytes]]
    rule_indicator: tuple[int, int] | None
    document: DocumentView  # what a cross-encoder reads: the text and its layout around the figure
    figure: FigureView


def figure_inputs(view: DocumentView, metric: EntitySpan, rule_fact: dict, labels: list[tuple[int, int, str]]) -> FigureInputs:
    """What the learned linker reads for the figure `metric`."""
    fig = figure_view(view, metric)
    rule_province = Resolved(rule_fact["province"], rule_fact["evidence"]["province"])
    rule_year = Resolved(rule_fact["year"], rule_fact["evidence"]["year"])
    tokens = sentence_tokens(view.text, fig.sentence, (metric.start, metric.end), view.sentence_tokens)
    rule_indicator = indicator_span_of(view.text, metric, fig.clause)
    return FigureInputs(
        province_candidates(view, fig, rule_province),
        year_candidates(view, fig, rule_year),
        tokens,
        token_features(view.text, tokens, (metric.start, metric.end), labels, rule_indicator, view.indicator_tokens),
        rule_indicator,
        view,
        fig,
    )


def figures_of(linker: FactLinker, text: str, entities: list[EntitySpan], context: LinkContext, facts: list[dict]):
    """(fact, its METRIC, what the learned linker reads for it) for each rule fact; the document is viewed once."""
    if not facts:
        return
    view = DocumentView(text, entities, context, linker)
    metrics = {(e.start, e.end): e for e in entities if e.label == "METRIC"}
    labels = [(e.start, e.end, e.label) for e in entities]
    for fact in facts:
        metric = metrics[(fact["metric"]["start"], fact["metric"]["end"])]
        yield fact, metric, figure_inputs(view, metric, fact, labels)


def ranked(ranker, candidates: list[Candidate], inputs: FigureInputs) -> tuple[Candidate, float]:
    """The ranker's choice among `candidates` and its probability; a cross-encoder also reads the figure's text."""
    if isinstance(ranker, CandidateRanker):
        return ranker.choose(candidates)
    return ranker.choose(candidates, inputs.document, inputs.figure)


def cross_encoder_folder(role: str) -> str:
    return f"{role}_cross_encoder"


def checked_files(folder: Path, names: object, where: str) -> dict[str, str]:
    """The {file name: SHA-256} map `names` of a cross-encoder folder, after checking each file against it.

    Raises:
        ModelError: the map is not one of plain file names, or a file is missing or differs from its checksum.
    """
    if not isinstance(names, dict) or not names or not all(
            isinstance(name, str) and isinstance(digest, str) and name not in ("", ".", "..")
            and PurePosixPath(name).name == name for name, digest in names.items()):
        raise ModelError(f"{where}: not a list of the cross-encoder's files; rebuild it with `vipie train`")
    for name, digest in names.items():
        check_listed_file(folder / name, digest, LINKER_FILE)
    return names


def load_ranker(folder: Path, data: dict, role: str):
    """The `role` ranker that linker.json `data` describes: feature weights, or a cross-encoder folder whose files
    are checked before transformers reads them.

    Raises:
        ModelError: the entry is neither, or a file of its cross-encoder is missing or changed.
    """
    entry = data.get(role)
    where = f"{folder / LINKER_FILE} ({role})"
    if data["format"] == FORMAT or (isinstance(entry, dict) and entry.get("kind") == FEATURES):
        return CandidateRanker.from_dict(entry, where)
    if not (isinstance(entry, dict) and entry.get("kind") == CROSS_ENCODER
            and entry.get("folder") == cross_encoder_folder(role)):
        raise ModelError(f"{where}: not a linker ranker ({FEATURES} or {CROSS_ENCODER}); rebuild it with `vipie train`")
    checked_files(folder / entry["folder"], entry.get("files"), where)
    from pipeline.facts.cross_encoder import CrossEncoderRanker

    return CrossEncoderRanker.load(folder / entry["folder"])


def read_linker_file(folder: Path) -> dict:
    """linker.json of `folder`, checked to be a linker of a format this vipie reads.

    Raises:
        ModelError: the file is missing, not JSON, or not a vipie linker.
    """
    path = folder / LINKER_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: no {LINKER_FILE}; the model's learned linker is missing, rebuild it with "
                         f"`vipie train` or use a model whose fact linker is in rules mode")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc}); the file is corrupt, rebuild it with `vipie train`") from exc
    if not isinstance(data, dict) or data.get("format") not in (FORMAT, CROSS_ENCODER_FORMAT):
        raise ModelError(f"{path}: not a vipie linker ({FORMAT} or {CROSS_ENCODER_FORMAT}); rebuild it with "
                         "`vipie train`")
    return data


def linker_files(folder: Path) -> list[str]:
    """The files of the learned linker in `folder`, relative to it: what a copy of the model must carry."""
    data = read_linker_file(folder)
    names = [LINKER_FILE, INDICATOR_FILE]
    for role in ROLES:
        entry = data.get(role)
        if data["format"] == CROSS_ENCODER_FORMAT and isinstance(entry, dict) and entry.get("kind") == CROSS_ENCODER:
            names += [f"{entry['folder']}/{name}" for name in entry["files"]]
    return names


class LearnedLinker:
    """Province and year rankers (feature rankers, or cross-encoders with the transformer backend) and the
    indicator CRF."""

    def __init__(self, province, year, indicator: IndicatorTagger):
        self.province = province
        self.year = year
        self.indicator = indicator

    def refine(self, linker: FactLinker, text: str, entities: list[EntitySpan], context: LinkContext,
               facts: list[dict]) -> list[dict]:
        """The rule facts with province, year, indicator, evidence, spans and score from the learned models."""
        figures = [(e.start, e.end) for e in entities if e.label == "METRIC"]
        names = [(e.start, e.end) for e in entities if e.label in NAME_LABELS]
        indicators = {}
        for fact, metric, inputs in figures_of(linker, text, entities, context, facts):
            province, p_province = ranked(self.province, inputs.province, inputs)
            year, p_year = ranked(self.year, inputs.year, inputs)
            span = indicators[(metric.start, metric.end)] = choose_indicator(
                text, (metric.start, metric.end), inputs.tokens, self.indicator.tag(inputs.token_features),
                inputs.rule_indicator, figures, names, indicators)
            fact.update({
                "indicator": text[span[0]:span[1]] if span else None,
                "indicator_span": {"start": span[0], "end": span[1]} if span else None,
                "province": province.value,
                "province_2025": NATIONAL if province.value == NATIONAL else linker.provinces.after_merger(province.value),
                "year": year.value,
                "evidence": {"province": province.evidence, "year": year.evidence},
                "province_span": {"start": province.span[0], "end": province.span[1]} if province.span and province.value else None,
                "year_span": {"start": year.span[0], "end": year.span[1]} if year.span and year.value else None,
                "score": round(p_province * p_year, 3),
            })
        return facts

    def save(self, folder: Path, trained_on: dict) -> None:
        """Write linker.json, and each cross-encoder's folder, beside the indicator CRF already in `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        rankers = (("province", self.province), ("year", self.year))
        features_only = all(isinstance(ranker, CandidateRanker) for _, ranker in rankers)
        data = {"format": FORMAT if features_only else CROSS_ENCODER_FORMAT}
        for role, ranker in rankers:
            if features_only:
                data[role] = ranker.to_dict()
            elif isinstance(ranker, CandidateRanker):
                data[role] = {"kind": FEATURES, **ranker.to_dict()}
            else:
                ranker.save(folder / cross_encoder_folder(role))
                files = sorted(p for p in (folder / cross_encoder_folder(role)).iterdir() if p.is_file())
                data[role] = {"kind": CROSS_ENCODER, "folder": cross_encoder_folder(role),
                              "files": {p.name: sha256(p) for p in files}}
        data.update({"indicator": {"file": INDICATOR_FILE, "sha256": sha256(folder / INDICATOR_FILE)},
                     "trained_on": trained_on})
        (folder / LINKER_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LearnedLinker":
        """Raises ModelError: the files are missing, not the linker's format, or changed since training."""
        data = read_linker_file(folder)
        indicator = data.get("indicator") if isinstance(data.get("indicator"), dict) else {}
        crf_path = folder / INDICATOR_FILE
        check_listed_file(crf_path, indicator.get("sha256"), LINKER_FILE)
        return cls(load_ranker(folder, data, "province"), load_ranker(folder, data, "year"),
                   IndicatorTagger.load(crf_path))


def training_figures(structured: list[tuple[dict, LinkContext]], linker: FactLinker):
    """(what the learned linker reads, the gold fact) for each rule fact of gold documents that gold has too."""
    for gold, context in structured:
        entities = [EntitySpan(e["start"], e["end"], e["label"], e["text"]) for e in gold["entities"]]
        rule_facts = linker.link_facts(gold["text"], entities, context)
        gold_facts = {(f["metric"]["start"], f["metric"]["end"]): f for f in gold["facts"]}
        for _, metric, inputs in figures_of(linker, gold["text"], entities, context, rule_facts):
            gold_fact = gold_facts.get((metric.start, metric.end))
            if gold_fact is not None:
                yield inputs, gold_fact


def training_groups(figures):
    """(province groups, year groups, indicator sequences) of `training_figures`."""
    province_groups, year_groups, sequences = [], [], []
    for inputs, gold_fact in figures:
        province_groups.append((inputs.province, gold_fact.get("province")))
        year_groups.append((inputs.year, gold_fact.get("year")))
        span = gold_fact.get("indicator_span")
        sequences.append((inputs.token_features,
                          span_tags(inputs.tokens, (span["start"], span["end"]) if span else None)))
    return province_groups, year_groups, sequences


def linker_training_data(structured: list[tuple[dict, LinkContext]], linker: FactLinker):
    """(province groups, year groups, indicator sequences) from gold documents with their layout contexts."""
    return training_groups(training_figures(structured, linker))


def train_linker(structured: list[tuple[dict, LinkContext]], linker: FactLinker, folder: Path, c: float = 1.0,
                 seed: int = 13, cross_encoder: dict | None = None) -> LearnedLinker:
    """Fit the rankers and the indicator CRF on gold documents and write them into `folder`.

    With `cross_encoder` (keyword arguments of `CrossEncoderRanker.train`: base_model, epochs, learning_rate,
    device), province and year are ranked by cross-encoders fine-tuned from its base model instead of feature
    rankers regularised by `c`."""
    figures = list(training_figures(structured, linker))
    province_groups, year_groups, sequences = training_groups(figures)
    folder.mkdir(parents=True, exist_ok=True)
    trained_on = {"documents": len(structured), "facts": len(figures)}
    if cross_encoder is None:
        province, year = CandidateRanker.train(province_groups, c, seed), CandidateRanker.train(year_groups, c, seed)
    else:
        from pipeline.facts.cross_encoder import CrossEncoderRanker

        province, year = (CrossEncoderRanker.train([(getattr(inputs, role), inputs.document, inputs.figure,
                                                     gold.get(role)) for inputs, gold in figures], seed=seed,
                                                   **cross_encoder) for role in ROLES)
        trained_on["cross_encoder"] = {"base_model": cross_encoder["base_model"], "province": province.training,
                                       "year": year.training}
    learned = LearnedLinker(province, year, IndicatorTagger.train(sequences, folder / INDICATOR_FILE))
    learned.save(folder, trained_on)
    return learned
