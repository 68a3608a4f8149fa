"""Facts: every METRIC linked to value, unit, qualifier, indicator, province, year and status.

The core (`link_facts`) is pure: the text, its entities and layout in, one fact
per METRIC out. Province and year follow the resolution order of
ANNOTATION_GUIDELINES.md and stay null when nothing fixes them; each fact says
which evidence decided them.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice

import regex

from pipeline.labels import NATIONAL
from pipeline.numbers import parse_metric
from pipeline.provinces import ProvinceResolver

NATIONAL_MARKERS = ("cả nước", "toàn quốc")
# Words that refer to the document's own province (ANNOTATION_GUIDELINES.md).
SELF_MARKERS = ("tỉnh ta", "của tỉnh", "trên địa bàn tỉnh", "toàn tỉnh")
# Words that open a comparison: what follows is about another subject or a baseline.
COMPARISON_MARKERS = regex.compile(
    r"(?:,\s*)?\b(?:trong khi|so với|còn ở|cao hơn|thấp hơn|nơi|dẫn đầu|đứng đầu|thuộc nhóm|cách làm của|"
    r"kinh nghiệm của)\b", regex.IGNORECASE)
# A figure that counts provinces is about the country ("63/63 tỉnh, thành phố", "19/63 địa phương").
PROVINCE_COUNT = regex.compile(r"^\s*(?:tỉnh,?\s*thành(?:\s*phố)?|tỉnh/thành(?:\s*phố)?|địa phương)\b", regex.IGNORECASE)
# Bodies whose own figures are national when the text gives no province of its own.
NATIONAL_BODY = regex.compile(r"^(?:Bộ(?! phận)|Chính phủ|Văn phòng Chính phủ|Thủ tướng|Quốc hội|Cục|Tổng cục)\b")
NOW_MARKERS = ("đến nay", "hiện nay", "năm nay")
BASELINE_MARKER = "so với"
TARGET_MARKERS = ("phấn đấu", "mục tiêu", "chỉ tiêu", "kế hoạch", "đặt ra", "phải", "cần", "sẽ", "hướng tới",
                  "thời gian tới", "dự kiến", "yêu cầu", "đến năm", "đến hết năm")
# Cues of a reported result; a target cue before one of these no longer frames what follows.
RESULT_MARKERS = ("đã", "hiện nay", "đến nay", "mới đạt", "chỉ đạt", "kết quả", "tiếp nhận", "ghi nhận")
# After the figure, words of obligation make it a target ("100% máy chủ ... phải được giám sát").
OBLIGATION_MARKERS = ("phải", "cần", "sẽ")
# Words that leave it open whether the figure was reached.
HEDGE_MARKERS = ("nếu", "dự báo", "ước tính")
# Words that end an indicator phrase after the number (verbs and linkers of the clause).
INDICATOR_STOPS = frozenset(
    "đã đang sẽ được là bằng đạt còn trong đó với của cho từ đến qua theo tại trên và nhưng để thì vào chưa hoàn".split()
)
# Words before a number that link it to what it measures ("đạt 75%", "bằng 70,6%").
LINK_VERBS = frozenset("đạt bằng là chiếm lên đến khoảng có".split())
MAX_INDICATOR_WORDS = 10
PROVINCE_WEIGHT = {"sentence": 0.95, "agency": 0.9, "paragraph": 0.85, "title": 0.8, "meta": 0.75, "document": 0.7,
                   None: 0.5}
YEAR_WEIGHT = {"sentence": 0.95, "paragraph": 0.85, "published": 0.7, None: 0.5}
YEAR_IN_TEXT = regex.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
WORD = regex.compile(r"[\p{L}\p{M}\d][\p{L}\p{M}\d.,/%&\-]*[\p{L}\p{M}\d%]|[\p{L}\p{M}\d]")


@dataclass(frozen=True)
class EntitySpan:
    start: int
    end: int
    label: str
    text: str


@dataclass(frozen=True)
class Resolved:
    """A resolved province or year: its value, which step decided it, and the span that says so."""

    value: str | int | None = None
    evidence: str | None = None
    span: tuple[int, int] | None = None


@dataclass
class LinkContext:
    """What the linker may read besides the entities: layout spans and document metadata."""

    sentences: list[tuple[int, int]]
    paragraphs: list[tuple[int, int]]
    title: tuple[int, int] | None = None
    meta: dict = field(default_factory=dict)


def enclosing(spans: list[tuple[int, int]], pos: int) -> tuple[int, int] | None:
    for start, end in spans:
        if start <= pos < end:
            return (start, end)
    return None


def comparison_segments(text: str, sentences: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Parts of sentences that open with a comparison and run to the next one or the sentence end."""
    segments = []
    for start, end in sentences:
        markers = list(COMPARISON_MARKERS.finditer(text, start, end))
        for marker, following in zip(markers, [*markers[1:], None]):
            segments.append((marker.start(), following.start() if following else end))
    return segments


def clause_of(text: str, sentence: tuple[int, int], pos: int) -> tuple[int, int]:
    """The part of `sentence` that holds `pos`, cut at semicolons and at comparisons ("trong khi", "so với")."""
    start, end = sentence
    before = text.rfind(";", start, pos)
    after = text.find(";", pos, end)
    start, end = (before + 1 if before >= 0 else start, after if after >= 0 else end)
    for marker in COMPARISON_MARKERS.finditer(text, start, end):
        if marker.end() <= pos:
            start = marker.start()
        elif marker.start() > pos:
            end = marker.start()
            break
    return start, end


def published_year(meta: dict) -> int | None:
    match = YEAR_IN_TEXT.match(str(meta.get("published") or ""))
    return int(match.group()) if match else None


class FactLinker:
    """Links METRIC entities to facts; holds the province resolver it needs."""

    def __init__(self, provinces: ProvinceResolver):
        self.provinces = provinces
        # The learned linker asks for each entity once per figure: a document's names are few, its figures many.
        self.named_by = lru_cache(maxsize=1 << 14)(provinces.named_by)
        # The rules and then the learned linker's view of the same document read its comparison segments.
        self.comparison_segments = lru_cache(maxsize=1)(comparison_segments)

    def link_facts(self, text: str, entities: list[EntitySpan], context: LinkContext) -> list[dict]:
        """One fact per METRIC entity, in text order."""
        facts = []
        fenced = self.comparison_segments(text, tuple(context.sentences))
        own = self.own_province(text, entities, context)
        for metric in (e for e in entities if e.label == "METRIC"):
            sentence = enclosing(context.sentences, metric.start) or (metric.start, metric.end)
            clause = clause_of(text, sentence, metric.start)
            paragraph = enclosing(context.paragraphs, metric.start) or sentence
            parsed = parse_metric(metric.text, following=text[metric.end : metric.end + 12])
            indicator = indicator_span_of(text, metric, clause)
            province = self.resolve_province(text, entities, metric, clause, sentence, paragraph, own, fenced)
            year = self.resolve_year(text, entities, metric, clause, sentence, paragraph, context)
            score = (1.0 if parsed.value is not None else 0.3) * PROVINCE_WEIGHT[province.evidence] * YEAR_WEIGHT[year.evidence]
            facts.append(
                {
                    "metric": {"start": metric.start, "end": metric.end, "text": metric.text},
                    "value": parsed.value,
                    "value_max": parsed.value_max,
                    "unit": parsed.unit,
                    "qualifier": parsed.qualifier,
                    "indicator": text[indicator[0] : indicator[1]] if indicator else None,
                    "indicator_span": as_span(indicator),
                    "province": province.value,
                    "province_2025": NATIONAL if province.value == NATIONAL else self.provinces.after_merger(province.value),
                    "year": year.value,
                    "status": status_of(text, metric, clause, sentence, entities),
                    "evidence": {"province": province.evidence, "year": year.evidence},
                    "province_span": as_span(province.span),
                    "year_span": as_span(year.span),
                    "score": round(score, 3),
                    "sentence": text[sentence[0] : sentence[1]],
                }
            )
        return facts

    def province_of_entity(self, entity: EntitySpan) -> str | None:
        """The province a LOCATION or AGENCY names, if any ("UBND tỉnh Cà Mau" → "Cà Mau")."""
        return self.named_by(entity.label, entity.text)

    def provinces_in(self, entities, region: tuple[int, int], anchor: int, evidence: str | None = None,
                     fenced: list[tuple[int, int]] = ()) -> list[Resolved]:
        """Provinces named in `region`, nearest before `anchor` first, then those after it; a name inside a
        `fenced` segment (a comparison) counts only for a figure in that same segment."""
        found = []
        own_fence = [f for f in fenced if f[0] <= anchor < f[1]]
        for entity in entities:
            if not (region[0] <= entity.start and entity.end <= region[1]):
                continue
            if any(f[0] <= entity.start < f[1] for f in fenced) and not any(f[0] <= entity.start < f[1] for f in own_fence):
                continue
            province = self.province_of_entity(entity)
            if province:
                how = evidence or ("agency" if entity.label == "AGENCY" else "sentence")
                found.append((entity.start, Resolved(province, how, (entity.start, entity.end))))
        before = sorted((f for f in found if f[0] < anchor), key=lambda f: -f[0])
        after = sorted((f for f in found if f[0] >= anchor), key=lambda f: f[0])
        return [resolved for _, resolved in before + after]

    def resolve_province(self, text, entities, metric, clause, sentence, paragraph, own: Resolved, fenced) -> Resolved:
        """Clause, sentence, paragraph, then the document's `own` province (`own_province`: title, metadata, the only
        one named), in that order; `Resolved()` when nothing says.

        `fenced` are the document's comparison segments (`comparison_segments`)."""
        clause_text = text[clause[0] : clause[1]].lower()
        if PROVINCE_COUNT.match(text[metric.end : clause[1]]):
            return Resolved(NATIONAL, "sentence")
        for region in (clause, sentence):
            named = self.provinces_in(entities, region, metric.start, fenced=fenced)
            if named:
                return named[0]
            if region == clause and any(marker in clause_text for marker in NATIONAL_MARKERS):
                return Resolved(NATIONAL, "sentence")
        self_reference = any(marker in text[sentence[0] : sentence[1]].lower() for marker in SELF_MARKERS)
        if self_reference and own.value:
            return own
        named = self.provinces_in(entities, paragraph, metric.start, evidence="paragraph", fenced=fenced)
        if named:
            return named[0]
        if own.value or self_reference:
            return own
        bodies = [e for e in entities if e.label == "AGENCY" and sentence[0] <= e.start < sentence[1]
                  and NATIONAL_BODY.match(e.text)]
        return Resolved(NATIONAL, "agency", (bodies[0].start, bodies[0].end)) if bodies else Resolved()

    def own_province(self, text: str, entities, context: LinkContext) -> Resolved:
        """The document's own province: named in its title, else in its metadata, else the only province its text names."""
        if context.title:
            named = self.provinces_in(entities, context.title, context.title[0], evidence="title")
            if named:
                return named[0]
            title = text[context.title[0] : context.title[1]]
        else:
            title = str(context.meta.get("title") or "")
        found = self.provinces.find(title)
        if found:
            span = (context.title[0] + found[0], context.title[0] + found[1]) if context.title else None
            return Resolved(found[2], "title", span)
        meta_province = self.provinces.resolve(str(context.meta.get("province") or ""))
        if meta_province:
            return Resolved(meta_province, "meta")
        named = {r.value: r for r in self.provinces_in(entities, (0, len(text)), len(text), evidence="document")}
        return next(iter(named.values())) if len(named) == 1 else Resolved()

    def resolve_year(self, text, entities, metric, clause, sentence, paragraph, context) -> Resolved:
        """A year in the clause or sentence, the paragraph's framing year, or the publication year."""
        for region in (clause, sentence):
            years = sorted(
                (is_period(e.text), abs(e.start - metric.start), e.start > metric.start, year_of(e.text), e.start, e.end)
                for e in entities
                if e.label == "DATE" and region[0] <= e.start and e.end <= region[1] and not is_baseline(text, e)
                and year_of(e.text) is not None
            )
            if years:
                *_, year, start, end = years[0]
                return Resolved(year, "sentence", (start, end))
        framing = framing_date(text, entities, paragraph, context.sentences, metric.start)
        if framing:
            return Resolved(year_of(framing.text), "paragraph", (framing.start, framing.end))
        lowered = text[sentence[0] : sentence[1]].lower()
        year = published_year(context.meta)
        if year and any(marker in lowered for marker in NOW_MARKERS):
            return Resolved(year, "published")
        return Resolved()


def as_span(span: tuple[int, int] | None) -> dict | None:
    return {"start": span[0], "end": span[1]} if span else None


def is_period(date_text: str) -> bool:
    """A plan period ("giai đoạn 2021-2025") names a plan's scope; a figure takes its year only as a last resort."""
    return date_text.lower().startswith("giai đoạn")


def year_of(date_text: str) -> int | None:
    """The year a DATE fixes; for a period, its last year ("giai đoạn 2021-2025" → 2025)."""
    years = YEAR_IN_TEXT.findall(date_text)
    return int(years[-1]) if years else None


def is_baseline(text: str, date: EntitySpan) -> bool:
    """A year introduced by "so với" is a baseline, not the figure's year."""
    return text[max(0, date.start - 12) : date.start].lower().rstrip().endswith(BASELINE_MARKER)


def opening_date(text: str, entities: list[EntitySpan], region: tuple[int, int]) -> EntitySpan | None:
    """A DATE with a year among the first four words of `region` ("Năm 2024, ...", "Trong năm 2020, ...")."""
    opening_end = region[0]
    for match in islice(WORD.finditer(text, region[0], region[1]), 4):
        opening_end = match.end()
    for entity in entities:
        if entity.label == "DATE" and region[0] <= entity.start < opening_end and year_of(entity.text):
            return entity
    return None


def framing_date(text, entities, paragraph, sentences, pos: int) -> EntitySpan | None:
    """The DATE that frames `pos`: the paragraph's opening date, or that of the nearest earlier sentence of the
    paragraph that opens with one ("... năm 2021. Năm 2021, cơ bản các mục tiêu ... 100% mạng LAN ...")."""
    framing = None
    for start, end in sentences:
        if paragraph[0] <= start and start <= pos and end <= paragraph[1]:
            framing = opening_date(text, entities, (start, end)) or framing
    return framing or opening_date(text, entities, paragraph)


def masked(text: str, entities: list[EntitySpan], region: tuple[int, int]) -> str:
    """`text[region]` lower-cased with names blanked, so they never read as cue words ("Cần Thơ" is not
    "cần"), and figures as "#", so a cue that is a figure's counted noun ("36 mục tiêu") is told apart."""
    chars = list(text[region[0] : region[1]].lower())
    for e in entities:
        if region[0] <= e.start and e.end <= region[1]:
            chars[e.start - region[0] : e.end - region[0]] = ("#" if e.label == "METRIC" else " ") * (e.end - e.start)
    return "".join(chars)


@lru_cache(maxsize=None)
def cue_pattern(cue: str) -> regex.Pattern:
    """`cue` as a whole word or phrase that no figure ("#") stands just before; compiled once per cue."""
    return regex.compile(rf"(?<!#\s{{1,3}})(?<!\w){regex.escape(cue)}(?!\w)")


def last_cue(text: str, cues) -> int:
    """Position of the last cue word or phrase in `text` that is not a figure's counted noun, or -1."""
    positions = [m.start() for cue in cues for m in cue_pattern(cue).finditer(text)]
    return max(positions, default=-1)


def status_of(text: str, metric: EntitySpan, clause: tuple[int, int], sentence: tuple[int, int],
              entities: list[EntitySpan]) -> str | None:
    """"target" when a plan frames the figure, None when the text hedges, else "achieved" (the genre reports results).

    A plan frames the figure when the last target cue before it in the sentence comes after the last
    result cue ("đặt mục tiêu 100% ...; tối thiểu 20% ..." but "phải đạt 40%, hiện nay mới đạt 29,6%"),
    or when an obligation follows a figure that opens its clause ("100% máy chủ ... phải được giám sát").
    """
    before = masked(text, entities, (sentence[0], metric.start))
    if last_cue(before, TARGET_MARKERS) > last_cue(before, RESULT_MARKERS):
        return "target"
    clause_before = masked(text, entities, (clause[0], metric.start)).split()
    after = masked(text, entities, (metric.end, clause[1]))
    if len(clause_before) <= 2 and last_cue(after, OBLIGATION_MARKERS) >= 0:
        return "target"
    if last_cue(masked(text, entities, clause), HEDGE_MARKERS) >= 0:
        return None
    return "achieved"


def indicator_span_of(text: str, metric: EntitySpan, clause: tuple[int, int]) -> tuple[int, int] | None:
    """Where the figure's indicator stands: the words after it up to a verb or punctuation, else the phrase before
    it (up to MAX_INDICATOR_WORDS words); None when neither has a word."""
    after = []
    for match in WORD.finditer(text, metric.end, clause[1]):
        gap = text[(after[-1].end() if after else metric.end) : match.start()]
        if gap.strip() or match.group().lower() in INDICATOR_STOPS or len(after) >= MAX_INDICATOR_WORDS:
            break
        after.append(match)
    if after:
        return after[0].start(), after[-1].end()
    before = list(WORD.finditer(text, clause[0], metric.start))
    while before and before[-1].group().lower() in LINK_VERBS:
        before.pop()
    phrase = []
    for match in reversed(before):
        nxt = phrase[0].start() if phrase else before[-1].end() if before else metric.start
        if text[match.end() : nxt].strip() or match.group().lower() in INDICATOR_STOPS or len(phrase) >= MAX_INDICATOR_WORDS:
            break
        phrase.insert(0, match)
    return (phrase[0].start(), phrase[-1].end()) if phrase else None
