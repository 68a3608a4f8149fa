"""The learned linker: rankers for province and year and a CRF for the indicator span, over the rules' facts.

`LearnedLinker.refine` takes the rule linker's facts (value, unit, qualifier and status stay the rules')
and replaces province, year and indicator with the learned choices; the rule decisions enter as
features. `train_linker` fits all three on gold documents and writes them into a folder:

    linker.json          format, the two rankers' weights, the indicator model's file name and SHA-256
    indicator.crfsuite   the indicator CRF

Loading verifies the checksum before the CRF library reads the file, so a corrupt or foreign file is a
one-line error, never a crash.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ModelError
from pipeline.facts.candidates import (
    Candidate,
    DocumentView,
    figure_view,
    province_candidates,
    year_candidates,
)
from pipeline.facts.indicator import (
    IndicatorTagger,
    sentence_tokens,
    span_tags,
    tagged_span,
    token_features,
    usable_indicator,
)
from pipeline.facts.link import EntitySpan, FactLinker, LinkContext, Resolved, indicator_span_of
from pipeline.facts.ranker import CandidateRanker
from pipeline.labels import NATIONAL
from pipeline.model import sha256

LINKER_FILE = "linker.json"
INDICATOR_FILE = "indicator.crfsuite"
# 2: pairwise rankers (weights only, scores compared by softmax); 1 was pointwise with an intercept.
FORMAT = "vipie-linker/2"


@dataclass
class FigureInputs:
    """Everything the learned linker reads for one figure."""

    province: list[Candidate]
    year: list[Candidate]
    tokens: list[tuple[int, int]]
    token_features: list[list[str]]
    rule_indicator: tuple[int, int] | None


def figure_inputs(view: DocumentView, metric: EntitySpan, rule_fact: dict, labels: list[tuple[int, int, str]]) -> FigureInputs:
    fig = figure_view(view, metric)
    rule_province = Resolved(rule_fact["province"], rule_fact["evidence"]["province"])
    rule_year = Resolved(rule_fact["year"], rule_fact["evidence"]["year"])
    tokens = sentence_tokens(view.text, fig.sentence, (metric.start, metric.end))
    rule_indicator = indicator_span_of(view.text, metric, fig.clause)
    return FigureInputs(
        province_candidates(view, fig, rule_province),
        year_candidates(view, fig, rule_year),
        tokens,
        token_features(view.text, tokens, (metric.start, metric.end), labels, rule_indicator),
        rule_indicator,
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


class LearnedLinker:
    def __init__(self, province: CandidateRanker, year: CandidateRanker, indicator: IndicatorTagger):
        self.province = province
        self.year = year
        self.indicator = indicator

    def refine(self, linker: FactLinker, text: str, entities: list[EntitySpan], context: LinkContext,
               facts: list[dict]) -> list[dict]:
        """The rule facts with province, year, indicator, evidence, spans and score from the learned models."""
        figures = [(e.start, e.end) for e in entities if e.label == "METRIC"]
        for fact, metric, inputs in figures_of(linker, text, entities, context, facts):
            province, p_province = self.province.choose(inputs.province)
            year, p_year = self.year.choose(inputs.year)
            # The CRF rarely leaves a figure without an indicator when one is written; where it tags nothing,
            # the rule heuristic's phrase stands in (about 5% of gold indicators are null).
            span = tagged_span(inputs.tokens, self.indicator.tag(inputs.token_features), text,
                               (metric.start, metric.end), figures)
            if span is None and usable_indicator(text, inputs.rule_indicator, figures):
                span = inputs.rule_indicator
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
        folder.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "province": self.province.to_dict(), "year": self.year.to_dict(),
                "indicator": {"file": INDICATOR_FILE, "sha256": sha256(folder / INDICATOR_FILE)},
                "trained_on": trained_on}
        (folder / LINKER_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LearnedLinker":
        """Raises ModelError: the files are missing, not the linker's format, or changed since training."""
        path = folder / LINKER_FILE
        if not path.is_file():
            raise ModelError(f"{folder}: no {LINKER_FILE}; the model's learned linker is missing, rebuild it with "
                             f"`vipie train` or use a model whose fact linker is in rules mode")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: not valid JSON ({exc}); the file is corrupt, rebuild it with `vipie train`") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"{path}: not a vipie linker ({FORMAT}); rebuild it with `vipie train`")
        indicator = data.get("indicator") if isinstance(data.get("indicator"), dict) else {}
        crf_path = folder / INDICATOR_FILE
        if not crf_path.is_file():
            raise ModelError(f"{folder}: no {INDICATOR_FILE}; the model folder is incomplete, rebuild it with `vipie train`")
        if sha256(crf_path) != indicator.get("sha256"):
            raise ModelError(f"{crf_path}: checksum differs from {LINKER_FILE}; the file is corrupt or was replaced, "
                             f"rebuild the model with `vipie train`")
        return cls(CandidateRanker.from_dict(data.get("province"), f"{path} (province)"),
                   CandidateRanker.from_dict(data.get("year"), f"{path} (year)"),
                   IndicatorTagger.load(crf_path))


def linker_training_data(structured: list[tuple[dict, LinkContext]], linker: FactLinker):
    """(province groups, year groups, indicator sequences) from gold documents with their layout contexts."""
    province_groups, year_groups, sequences = [], [], []
    for gold, context in structured:
        entities = [EntitySpan(e["start"], e["end"], e["label"], e["text"]) for e in gold["entities"]]
        rule_facts = linker.link_facts(gold["text"], entities, context)
        gold_facts = {(f["metric"]["start"], f["metric"]["end"]): f for f in gold["facts"]}
        for fact, metric, inputs in figures_of(linker, gold["text"], entities, context, rule_facts):
            gold_fact = gold_facts.get((metric.start, metric.end))
            if gold_fact is None:
                continue
            province_groups.append((inputs.province, gold_fact.get("province")))
            year_groups.append((inputs.year, gold_fact.get("year")))
            span = gold_fact.get("indicator_span")
            sequences.append((inputs.token_features,
                              span_tags(inputs.tokens, (span["start"], span["end"]) if span else None)))
    return province_groups, year_groups, sequences


def train_linker(structured: list[tuple[dict, LinkContext]], linker: FactLinker, folder: Path, c: float = 1.0,
                 seed: int = 13) -> LearnedLinker:
    """Fit the rankers and the indicator CRF on gold documents and write them into `folder`."""
    province_groups, year_groups, sequences = linker_training_data(structured, linker)
    folder.mkdir(parents=True, exist_ok=True)
    learned = LearnedLinker(CandidateRanker.train(province_groups, c, seed), CandidateRanker.train(year_groups, c, seed),
                            IndicatorTagger.train(sequences, folder / INDICATOR_FILE))
    learned.save(folder, {"documents": len(structured), "facts": len(province_groups)})
    return learned
