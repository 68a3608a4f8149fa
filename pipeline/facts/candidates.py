"""Candidates for a figure's province and year, each described by features for the learned ranker.

For a METRIC the province candidates are every LOCATION or AGENCY that names a province, the
document's own province (title, metadata, the only one named), "Việt Nam" and null; the year
candidates are every DATE with a year, the publication year and null. Each candidate carries
string features (binary indicators): where it stands relative to the figure (clause, sentence,
paragraph, heading, title), how far, what lies between (so với, từ … lên, trong khi, trong đó,
another figure, a semicolon), the cue words around it, and what the rule linker decided, so the
rules are knowledge the ranker weighs rather than the decision. Everything here is pure: text,
entities and layout in, candidates out.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

import regex

from pipeline.facts.link import (
    COMPARISON_MARKERS,
    NATIONAL_BODY,
    NATIONAL_MARKERS,
    PROVINCE_COUNT,
    SELF_MARKERS,
    EntitySpan,
    FactLinker,
    LinkContext,
    Resolved,
    clause_of,
    is_baseline,
    published_year,
    year_of,
)
from pipeline.labels import NATIONAL

NULL = "null"
OWN = "own"
WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]")
# "Hiện", "tới nay" … : a figure stated as current takes the publication year (guidelines v2, years rule 5). "hiện"
# alone is the adverb "currently" only outside the words it forms a part of: "thực hiện" (carry out), "phát hiện",
# "thể hiện", "xuất hiện", "biểu hiện", "hiện đại" (modern), "hiện trường" (the scene), "hiện thực", "hiện hành" …
CURRENT = regex.compile(r"(?<![\p{L}])(?:đến nay|tới nay|hiện nay|hiện có|năm nay|tính đến thời điểm này|"
                        r"đến thời điểm này|hiện tại|"
                        r"(?<!(?:thực|phát|thể|xuất|biểu|tái|hiển|ẩn)\s)hiện"
                        r"(?!\s(?:đại|trường|thực|hành|tượng|diện|vật|hữu|hình|ra|lên|rõ|thân)(?![\p{L}])))"
                        r"(?![\p{L}])", regex.IGNORECASE)
CONTINUATION = regex.compile(r"^\s*(?:[-+•*]\s*)?(?:trong đó|cụ thể|riêng|ngoài ra|bên cạnh đó)\b", regex.IGNORECASE)
BULLET = regex.compile(r"^\s*(?:[-+•*–]|\d+[.)]|[a-zđ][.)])\s")
TARGET_WORDS = regex.compile(r"(?<![\p{L}])(?:phấn đấu|mục tiêu|chỉ tiêu|kế hoạch|dự kiến|hướng tới|đặt ra|sẽ)(?![\p{L}])",
                             regex.IGNORECASE)
NATIONAL_WORDS = regex.compile(r"(?<![\p{L}])(?:cả nước|toàn quốc|quốc gia|các bộ, ngành|bộ, ngành)(?![\p{L}])",
                               regex.IGNORECASE)
# An average over provinces is the country's figure ("mức trung bình của cả nước", "DTI trung bình cấp tỉnh").
NATIONAL_AGGREGATE = regex.compile(r"(?<![\p{L}])(?:trung bình|bình quân)(?![\p{L}])", regex.IGNORECASE)
# A rank's word right before the figure: "xếp thứ [44/63] tỉnh" ranks a province, "[43/63] tỉnh" counts provinces.
RANKED = regex.compile(r"(?<![\p{L}])(?:thứ|hạng|xếp|vị trí|top)\s*$", regex.IGNORECASE)
# Words naming the country or its ministries as a subject ("Ở khối bộ, ngành, ...", "Ở cấp quốc gia, ...").
NATIONAL_SUBJECT_WORDS = regex.compile(
    r"(?<![\p{L}])(?:cả nước|toàn quốc|cấp quốc gia|khối bộ|cơ quan ngang bộ|(?:của|các) \d+ tỉnh)(?![\p{L}])",
    regex.IGNORECASE)
# The province or district itself as a subject ("Tỉnh cũng là ...", "từ tỉnh đến 152 xã"), not a count of them
# ("63 tỉnh, thành phố", "các tỉnh").
LOCAL_WORDS = regex.compile(r"(?<![\p{L}])(?<!(?:\d|các|những)\s)(?:tỉnh|huyện)(?![\p{L}])(?!,?\s*thành|/)",
                            regex.IGNORECASE)
# "cả nước" right after a figure belongs to that figure's rank ("đứng [thứ hai] cả nước; ...").
RANK_SCOPE = regex.compile(r"\W*(?:cả nước|toàn quốc)(?![\p{L}])", regex.IGNORECASE)
# Provinces left unnamed ("một số địa phương", "có 18 tỉnh", "địa phương xếp cuối"): their figure has no province.
UNNAMED_PROVINCES = regex.compile(
    r"(?<![\p{L}])(?:(?:một số|nhiều|một|có|những)\s+(?:\d+\s+)?(?:tỉnh|địa phương|thành phố)|"
    r"địa phương (?:xếp cuối|thấp nhất|đứng cuối|cuối bảng))(?![\p{L}])", regex.IGNORECASE)
# A site's list of related articles after the body: their headlines' figures, places and dates are not the body's.
RELATED_NEWS = regex.compile(r"^[ \t]*(?:Tin liên quan|Xem thêm|Bài liên quan|Đọc thêm|Tin cùng chuyên mục)(?![\p{L}])",
                             regex.MULTILINE | regex.IGNORECASE)
# A province named by its part in the 2025 mergers: a former one ("Hà Giang (cũ)", "Lào Cai cũ"), the merged one
# ("tỉnh Quảng Ngãi (mới)"), or one of those a merger joined ("trên cơ sở hợp nhất tỉnh Quảng Ngãi và tỉnh Kon Tum").
# Which one a figure belongs to is learned from the gold: the merged province unless the figure is told of a former
# one's area ("các xã thuộc địa bàn Hà Giang (cũ)").
FORMER_AFTER = regex.compile(r"\s*(?:\(\s*cũ\s*\)|cũ(?![\p{L}]))")
MERGED_AFTER = regex.compile(r"\s*(?:\(\s*mới\s*\)|mới\s*\(|sau (?:khi )?(?:sáp nhập|hợp nhất))")
MERGING_BEFORE = regex.compile(r"(?:sáp nhập|hợp nhất)(?:[^.;:!?\n]{0,40})$", regex.IGNORECASE)
MERGER_WORDS = regex.compile(r"\(\s*cũ\s*\)|(?<![\p{L}])(?:sáp nhập|hợp nhất)(?![\p{L}])", regex.IGNORECASE)
RANK_CUES = regex.compile(r"(?<![\p{L}])(?:xếp|đứng|vị trí|xếp hạng|thứ|top|tăng|giảm|bậc)(?![\p{L}])", regex.IGNORECASE)
DISTANCE_BUCKETS = (0, 2, 5, 10, 20, 40, 80)
# Region of a chosen mention → the evidence name written in its fact.
MENTION_EVIDENCE = {"clause": "sentence", "sentence": "sentence", "paragraph": "paragraph", "title": "title"}
SENTENCE_END = regex.compile(r"[.!?]\s")
# What the words since the previous date or punctuation call a DATE: the period a review reports ("Kết quả công tác
# năm 2018", "Tổng kết ... năm 2022") or the next period's tasks ("và nhiệm vụ năm 2019", "phương hướng năm 2024").
REVIEW_WORDS = regex.compile(r"(?<![\p{L}])(?:kết quả|tổng kết|sơ kết|đánh giá|nhìn lại)(?![\p{L}])", regex.IGNORECASE)
PLAN_WORDS = regex.compile(r"(?<![\p{L}]|thực hiện )(?:nhiệm vụ|phương hướng|định hướng)(?![\p{L}])", regex.IGNORECASE)
CLAUSE_BREAK = regex.compile(r"[.;:!?\n,]")
STRONG_BREAK = regex.compile(r"[.;:!?\n]")  # punctuation stronger than a comma
LIST_ITEM = regex.compile(r"\s*[(:]\s*")  # "Tây Ninh (58,4%)", "Tỷ lệ ...: 45%"
NEAR_SUBJECT = regex.compile(r"[^.;()\n]{0,40}")
BRACKET_OR_BREAK = regex.compile(r"[()\n]")
YEAR_RANGE = regex.compile(r"\d{4}\s*[-–]\s*\d{4}")
PRECISE_DATE = regex.compile(r"(?:ngày|tháng|quý|\d{1,2}[/-])")
# A date that says when something was published or signed, not what period a figure measures.
ISSUED = regex.compile(r"(?<![\p{L}])(?:công bố|ban hành|ký|phát hành|đăng)(?:\s+(?:vào|ngày|tháng|năm))*\s*$")
# What may lie between a mention and the figure; each is found once per document and looked up by position, so a
# long document costs one pass per cue rather than one per (figure, candidate) pair.
GAP_CUES = (
    ("semicolon", regex.compile(";")), ("newline", regex.compile("\n")), ("colon", regex.compile(":")),
    ("bracket", regex.compile(r"[()]")), ("so_voi", regex.compile("so với", regex.IGNORECASE)),
    ("trong_khi", regex.compile("trong khi", regex.IGNORECASE)),
    ("trong_do", regex.compile("trong đó", regex.IGNORECASE)),
    ("len", regex.compile(r"(?<![\p{L}])lên(?![\p{L}])", regex.IGNORECASE)), ("comparison", COMPARISON_MARKERS),
    ("sentence_end", SENTENCE_END), ("current", CURRENT),
)
# What a DATE's preceding words make of it: a baseline, a start, a target, the end of a change, a frame, a vision.
LEADS = tuple((name, regex.compile(pattern)) for name, pattern in (
    ("so_voi", r"so với\s*(?:cùng kỳ\s*)?(?:cuối\s*)?$"), ("tu", r"(?<![\p{L}])từ\s*$"),
    ("den", r"(?<![\p{L}])(?:đến|tới)(?:\s*hết)?\s*$"), ("len", r"(?<![\p{L}])lên\s*$"),
    ("trong", r"(?<![\p{L}])trong\s*$"), ("tam_nhin", r"tầm nhìn\s*(?:đến\s*)?$")))


@dataclass
class Candidate:
    """One possible answer for a figure's province or year, with where it was read and its features."""

    value: str | int | None
    kind: str  # mention, own, published, national, null
    span: tuple[int, int] | None
    features: dict[str, float] = field(default_factory=dict)
    evidence: str | None = None  # how a fact that takes this candidate names its evidence


def merger_role(text: str, entity: EntitySpan) -> str | None:
    """A province mention's part in a 2025 merger: "former", "merged", "merging" (named in the merger itself), or
    None."""
    if FORMER_AFTER.match(text, entity.end):
        return "former"
    if MERGED_AFTER.match(text, entity.end):
        return "merged"
    if MERGING_BEFORE.search(text[max(0, entity.start - 60) : entity.start]):
        return "merging"
    return None


def bucket(distance: int) -> str:
    for limit in DISTANCE_BUCKETS:
        if distance <= limit:
            return str(limit)
    return "far"


@dataclass
class DocumentView:
    """What every figure of one document shares: token starts, layout regions, comparisons, own province."""

    text: str
    entities: list[EntitySpan]
    context: LinkContext
    linker: FactLinker
    token_starts: list[int] = field(init=False)
    fenced: list[tuple[int, int]] = field(init=False)
    own: Resolved = field(init=False)
    published: int | None = field(init=False)
    year_counts: dict[int, int] = field(init=False)
    first_body_year: int | None = field(init=False)

    def __post_init__(self):
        self.token_starts = [m.start() for m in WORD.finditer(self.text)]
        self.fenced = self.linker.comparison_segments(self.text, tuple(self.context.sentences))
        self.own = self.linker.own_province(self.text, self.entities, self.context)
        self.published = published_year(self.context.meta)
        self.dates = [(e, year_of(e.text)) for e in self.entities if e.label == "DATE" and year_of(e.text)]
        self.year_counts = {}
        for _, year in self.dates:
            self.year_counts[year] = self.year_counts.get(year, 0) + 1
        title_end = self.context.title[1] if self.context.title else 0
        body = [year for e, year in self.dates if e.start >= title_end]
        self.first_body_year = body[0] if body else None
        self.title_years = {year for e, year in self.dates if self.in_title(e.start)}
        self.latest_year = max((year for _, year in self.dates), default=None)
        # A document about the whole country: it names national bodies or "cả nước"/"toàn quốc" and never refers
        # to a province of its own ("của tỉnh", "toàn tỉnh": a provincial report whose province went unnamed).
        lowered = self.text.lower()
        self.national_document = not any(marker in lowered for marker in SELF_MARKERS) and (
            any(marker in lowered for marker in NATIONAL_MARKERS)
            or any(e.label == "AGENCY" and NATIONAL_BODY.match(e.text) for e in self.entities))
        self.figures = [(e.start, e.end) for e in self.entities if e.label == "METRIC"]
        self.figures_sorted = sorted(self.figures)
        self.figure_starts = [start for start, _ in self.figures_sorted]
        self.sentence_starts = [start for start, _ in self.context.sentences]
        self.paragraph_starts = [start for start, _ in self.context.paragraphs]
        self.date_spans = sorted((e.start, e.end) for e, _ in self.dates)
        self.date_starts = [start for start, _ in self.date_spans]
        self.system_spans = sorted((e.start, e.end) for e in self.entities if e.label == "SYSTEM")
        self.cues = {name: [(m.start(), m.end()) for m in pattern.finditer(self.text)] for name, pattern in GAP_CUES}
        self.cue_starts = {name: [start for start, _ in matches] for name, matches in self.cues.items()}
        self.open_brackets = innermost_open_brackets(self.text)
        self.openings: dict[int, tuple[bool, bool, bool]] = {}
        self.date_words: dict[int, tuple] = {}
        self.indicator_tokens: dict = {}  # the indicator CRF's strings of each token (pipeline.facts.indicator)
        self.sentence_tokens: dict = {}  # each sentence's tokens, for its other figures (pipeline.facts.indicator)
        self.bodies_and_places = sorted((e for e in self.entities if e.label in ("AGENCY", "LOCATION")),
                                        key=lambda e: e.start)
        self.body_and_place_starts = [e.start for e in self.bodies_and_places]
        related = RELATED_NEWS.search(self.text, self.context.title[1] if self.context.title else 0)
        self.related_news_start = related.start() if related else len(self.text)
        self.province_mentions = [(e, province) for e in self.entities if e.label in ("LOCATION", "AGENCY")
                                  for province in [self.linker.province_of_entity(e)] if province]
        self.post_merger = bool(MERGER_WORDS.search(self.text))
        self.merger_roles = ({e.start: merger_role(self.text, e) for e, _ in self.province_mentions}
                             if self.post_merger else {})

    @staticmethod
    def count_between(starts: list[int], a: int, b: int) -> int:
        """How many of the sorted `starts` lie in [a, b) (entities are flat, so a start inside means the span is)."""
        return bisect_left(starts, b) - bisect_left(starts, a)

    def sentence_order(self, sentence: tuple[int, int]) -> str:
        """How a sentence pairs its years and figures (guidelines v2, rule 1: each figure takes its own year):
        "date_first" when a year opens the sequence ("năm 2022 lên 27,4% và năm 2023 đạt 46,8%"), "figure_first"
        when a figure opens it and a year closes it ("từ 45% năm 2019 lên 90% năm 2023"), else "mixed"."""
        a, b = sentence
        dates = self.date_starts[bisect_left(self.date_starts, a) : bisect_left(self.date_starts, b)]
        figures = self.figure_starts[bisect_left(self.figure_starts, a) : bisect_left(self.figure_starts, b)]
        if not dates or not figures:
            return "mixed"
        if dates[0] < figures[0]:
            return "date_first"
        return "figure_first" if dates[-1] > figures[-1] else "mixed"

    def has_cue(self, name: str, a: int, b: int) -> bool:
        """Whether a match of the GAP_CUES pattern `name` lies within [a, b)."""
        index = bisect_left(self.cue_starts[name], a)
        matches = self.cues[name]
        return index < len(matches) and matches[index][1] <= b

    def bracket_of(self, pos: int) -> int | None:
        """Where the innermost "(" still open at `pos` in its line stands, or None outside brackets."""
        opened = self.open_brackets[pos]
        return opened if opened >= 0 else None

    def nearest_figure(self, span: tuple[int, int]) -> tuple[int, int] | None:
        """The METRIC closest to `span` in characters, ties to the one after it (a figure follows its frame).
        Entities do not overlap, so it is the last figure before the span or the first one after it."""
        after = bisect_left(self.figure_starts, span[1])
        options = []
        if after < len(self.figures_sorted):
            start, end = self.figures_sorted[after]
            options.append(((start - span[1], False), (start, end)))
        if after > 0:
            start, end = self.figures_sorted[after - 1]
            if end <= span[0]:
                options.append(((span[0] - end, True), (start, end)))
        return min(options)[1] if options else None

    def token_index(self, pos: int) -> int:
        return bisect_right(self.token_starts, pos)

    def tokens_between(self, a: int, b: int) -> int:
        return abs(self.token_index(b) - self.token_index(a))

    def in_title(self, pos: int) -> bool:
        return bool(self.context.title and self.context.title[0] <= pos < self.context.title[1])

    @staticmethod
    def region_index(regions: list[tuple[int, int]], starts: list[int], pos: int) -> int:
        """The index of the region (sorted, disjoint) that holds `pos`, or -1."""
        index = bisect_right(starts, pos) - 1
        return index if index >= 0 and pos < regions[index][1] else -1

    def paragraph_index(self, pos: int) -> int:
        return self.region_index(self.context.paragraphs, self.paragraph_starts, pos)

    def sentence_of(self, pos: int) -> tuple[int, int] | None:
        index = self.region_index(self.context.sentences, self.sentence_starts, pos)
        return self.context.sentences[index] if index >= 0 else None

    def paragraph_of(self, pos: int) -> tuple[int, int] | None:
        index = self.paragraph_index(pos)
        return self.context.paragraphs[index] if index >= 0 else None

    def date_cues(self, entity: EntitySpan) -> tuple[dict[str, float], bool, bool, bool, bool, bool]:
        """What a DATE's own words say, whichever figure asks (once per DATE): its LEADS features, and whether it is a
        baseline, a period, a precise date, the date something was issued or published, and in a question."""
        if entity.start not in self.date_words:
            text = self.text
            lead = text[max(0, entity.start - 14) : entity.start].lower()
            lowered = entity.text.lower()
            leads = {f"lead={name}": 1.0 for name, pattern in LEADS if pattern.search(lead)}
            index = bisect_left(self.date_starts, entity.start)
            since = max(0, entity.start - 80, self.date_spans[index - 1][1] if index > 0 else 0)
            words = text[since : entity.start]
            words = words[max((m.end() for m in CLAUSE_BREAK.finditer(words)), default=0) :]
            if REVIEW_WORDS.search(words):
                leads["lead=review"] = 1.0
            if PLAN_WORDS.search(words):
                leads["lead=plan"] = 1.0
            # A date that a target follows ("năm 2020 tỉnh đặt mục tiêu …", "năm 2026 phấn đấu …") frames a target.
            after = text[entity.end : entity.end + 40]
            cut = STRONG_BREAK.search(after)
            if TARGET_WORDS.search(after[: cut.start()] if cut else after):
                leads["follow=target"] = 1.0
            host = self.sentence_of(entity.start)
            self.date_words[entity.start] = (
                leads,
                is_baseline(text, entity),
                bool(lowered.startswith("giai đoạn") or YEAR_RANGE.search(entity.text)),
                bool(PRECISE_DATE.match(lowered)),
                bool(ISSUED.search(text[max(0, entity.start - 24) : entity.start].lower())),
                # An interviewer's question names the period the answer's figures report ("kế hoạch năm 2020 ra sao?").
                bool(host and text[host[0] : host[1]].rstrip().endswith("?")),
            )
        return self.date_words[entity.start]

    def opening(self, pos: int) -> tuple[bool, bool, bool]:
        """Whether a mention at `pos` opens its sentence, opens its paragraph, and leads a heading (its line ends
        with ":"); worked out once per mention, as every figure of the document asks."""
        if pos not in self.openings:
            host = self.sentence_of(pos)
            opens_sentence = bool(host and self.tokens_between(host[0], pos) <= 3)
            paragraph = self.paragraph_of(pos)
            opens_paragraph = bool(paragraph and self.tokens_between(paragraph[0], pos) <= 3)
            heading_lead = False
            if opens_paragraph:
                line_end = self.text.find("\n", pos)
                heading_lead = self.text[paragraph[0] : line_end if line_end >= 0 else paragraph[1]].rstrip().endswith(":")
            self.openings[pos] = (opens_sentence, opens_paragraph, heading_lead)
        return self.openings[pos]


@dataclass
class FigureView:
    """Regions around one figure."""

    metric: EntitySpan
    sentence: tuple[int, int]
    clause: tuple[int, int]
    paragraph: tuple[int, int]
    paragraph_index: int
    table_cell: int | None  # the figure's cell in a table row below the table's header row, else None


def figure_view(doc: DocumentView, metric: EntitySpan) -> FigureView:
    sentence = doc.sentence_of(metric.start) or (metric.start, metric.end)
    paragraph = doc.paragraph_of(metric.start) or sentence
    below_header = paragraph[0] != sentence[0]  # a table is one paragraph whose first row is its header
    return FigureView(metric, sentence, clause_of(doc.text, sentence, metric.start), paragraph,
                      doc.paragraph_index(metric.start),
                      table_cell(doc.text, sentence, metric.start) if below_header else None)


def between_features(doc: DocumentView, fig: FigureView, span: tuple[int, int], prefix: str) -> dict[str, float]:
    """What lies between a mention and the figure."""
    a, b = (span[1], fig.metric.start) if span[1] <= fig.metric.start else (fig.metric.end, span[0])
    features = {f"{prefix}between:{name}": 1.0 for name, _ in GAP_CUES if doc.has_cue(name, a, b)}
    mention_bracket, figure_bracket = doc.bracket_of(span[0]), doc.bracket_of(fig.metric.start)
    if mention_bracket != figure_bracket:
        features[f"{prefix}bracket:" + ("mention_inside" if mention_bracket is not None else "figure_inside")] = 1.0
    elif mention_bracket is not None:
        features[f"{prefix}bracket:same"] = 1.0
    figures = doc.count_between(doc.figure_starts, a, b)
    dates = doc.count_between(doc.date_starts, a, b)
    features[f"{prefix}between:figures={min(figures, 3)}"] = 1.0
    features[f"{prefix}between:dates={min(dates, 2)}"] = 1.0
    return features


def innermost_open_brackets(text: str) -> list[int]:
    """For each position of `text` (and its end), where the innermost "(" still open there in its line stands, or
    -1: one pass, so that every mention's bracket is a look-up. Only brackets and line breaks change it, so the
    positions between two of them share one value."""
    innermost, opened, pos = [], [], 0
    for match in BRACKET_OR_BREAK.finditer(text):
        at = match.start()
        innermost += [opened[-1] if opened else -1] * (at + 1 - pos)
        if text[at] == "(":
            opened.append(at)
        elif text[at] == ")":
            if opened:
                opened.pop()
        else:
            opened.clear()
        pos = at + 1
    innermost += [opened[-1] if opened else -1] * (len(text) + 1 - pos)
    return innermost


def table_cell(text: str, row: tuple[int, int], pos: int) -> int | None:
    """The cell index of `pos` in a table row (cells split by "|"), or None when the row is no table row."""
    if "|" not in text[row[0] : row[1]].strip(" |"):
        return None
    return text.count("|", row[0], pos)


def table_features(doc: "DocumentView", fig: "FigureView", span: tuple[int, int]) -> dict[str, float]:
    """Where a date stands in the table that holds the figure: in the header row above the figure's column, above
    the first column, above another column, or in the figure's own row (a table's first row is its header)."""
    if fig.table_cell is None:
        return {}
    if fig.sentence[0] <= span[0] < fig.sentence[1]:
        return {"table:same_row": 1.0}
    header = doc.sentence_of(fig.paragraph[0])
    if header and header[0] <= span[0] < header[1]:
        column = table_cell(doc.text, header, span[0])
        # The first column's header ("Chỉ tiêu năm 2022 | Mục tiêu") names the whole table's period.
        where = "same_column" if column == fig.table_cell else "first_column" if column == 0 else "other_column"
        return {f"table:header_{where}": 1.0}
    return {"table:outside": 1.0}


def mention_evidence(region: str, label: str) -> str:
    """How a fact's `evidence` names a mention chosen from `region` (CONTRACT.md, extended by "document")."""
    evidence = MENTION_EVIDENCE.get(region, "document")
    return "agency" if evidence == "sentence" and label == "AGENCY" else evidence


def position_features(doc: DocumentView, fig: FigureView, span: tuple[int, int],
                      prefix: str) -> tuple[str, dict[str, float]]:
    """Where a mention stands relative to the figure: its region, and features of region, side, distance, and
    whether it opens its clause."""
    start, end = span
    if fig.clause[0] <= start and end <= fig.clause[1]:
        region = "clause"
    elif fig.sentence[0] <= start and end <= fig.sentence[1]:
        region = "sentence"
    elif fig.paragraph[0] <= start and end <= fig.paragraph[1]:
        region = "paragraph"
    elif doc.in_title(start):
        region = "title"
    else:
        steps = fig.paragraph_index - doc.paragraph_index(start)
        region = f"paragraph-{min(steps, 3)}" if steps > 0 else "later"
    side = "before" if end <= fig.metric.start else "after"
    distance = doc.tokens_between(end if side == "before" else start, fig.metric.start if side == "before" else fig.metric.end)
    features = {
        f"{prefix}region={region}": 1.0,
        f"{prefix}side={side}": 1.0,
        f"{prefix}region_side={region}:{side}": 1.0,
        f"{prefix}distance={bucket(distance)}": 1.0,
    }
    if region in ("clause", "sentence", "paragraph"):
        features[f"{prefix}distance_in_region={region}:{bucket(distance)}"] = 1.0
    opens_sentence, opens_paragraph, heading_lead = doc.opening(start)
    if opens_sentence:
        features[f"{prefix}opens_sentence"] = 1.0
        features[f"{prefix}opens_sentence:{region}"] = 1.0
    if opens_paragraph:
        features[f"{prefix}opens_paragraph:{region}"] = 1.0
        if heading_lead:
            features[f"{prefix}heading_lead"] = 1.0
            features[f"{prefix}heading_lead:{region}"] = 1.0
    if region not in ("title", "later"):
        features.update(between_features(doc, fig, span, prefix))
        if doc.nearest_figure(span) != (fig.metric.start, fig.metric.end):
            features[f"{prefix}nearer_figure:{region}"] = 1.0
    return region, features


def figure_features(doc: DocumentView, fig: FigureView) -> dict[str, float]:
    """Features of the figure itself, shared by all its candidates (crossed with the candidate kind)."""
    text = doc.text
    features = {}
    paragraph_text = text[fig.paragraph[0] : fig.paragraph[1]]
    if CONTINUATION.match(text[fig.sentence[0] : fig.sentence[1]]) or CONTINUATION.match(paragraph_text):
        features["fig:continuation"] = 1.0
    if BULLET.match(paragraph_text):
        features["fig:bullet"] = 1.0
    if fig.paragraph_index <= 2:
        features["fig:early_paragraph"] = 1.0
    if doc.in_title(fig.metric.start):
        features["fig:in_title"] = 1.0
    if fig.metric.start >= doc.related_news_start:
        features["fig:related_news"] = 1.0
    before = text[fig.sentence[0] : fig.metric.start]
    if TARGET_WORDS.search(before):
        features["fig:target_cue"] = 1.0
    if RANK_CUES.search(text[max(fig.clause[0], fig.metric.start - 20) : fig.metric.end]):
        features["fig:rank_cue"] = 1.0
    return features


def cross(base: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}&{key}": value for key, value in base.items()}


def with_shared_features(candidates: list[Candidate], rule: Resolved, shared: dict[str, float],
                         context: str) -> list[Candidate]:
    """Add what every candidate of a figure carries: a bias, whether the rule order chose its value, and the
    figure's own features and `context` (how many names or years its sentence has) crossed with its kind."""
    for candidate in candidates:
        candidate.features["bias"] = 1.0
        kind = candidate.kind
        if candidate.value == rule.value:
            candidate.features["rule_choice"] = 1.0
            candidate.features[f"rule_choice&evidence={rule.evidence}"] = 1.0
        candidate.features[f"{context}&kind={kind}"] = 1.0
        candidate.features.update(cross(shared, f"kind={kind}"))
    return candidates


def national_cues(doc: DocumentView, fig: FigureView) -> tuple[dict[str, float], list[EntitySpan]]:
    """What says a figure is the country's (guidelines v2): "cả nước"/"toàn quốc", a count of provinces, a national
    body, "Việt Nam", an average over provinces, a national article; and the national bodies of its sentence."""
    text, metric = doc.text, fig.metric
    clause_text = text[fig.clause[0] : fig.clause[1]]
    sentence_text = text[fig.sentence[0] : fig.sentence[1]]
    cues = {}
    words = national_words(doc, fig)
    if any(word in NATIONAL_MARKERS and fig.clause[0] <= at < fig.clause[1] for at, word in words):
        cues["national_marker:clause"] = 1.0
    elif words:
        cues["national_marker:sentence"] = 1.0
    if PROVINCE_COUNT.match(text[metric.end : fig.clause[1]]):
        ranked = RANKED.search(text[fig.clause[0] : metric.start])
        cues["province_count:rank" if ranked else "province_count"] = 1.0
    bodies = [e for e in doc.entities if e.label == "AGENCY" and fig.sentence[0] <= e.start < fig.sentence[1]
              and NATIONAL_BODY.match(e.text)]
    if bodies:
        cues["national_body:sentence"] = 1.0
        if any(fig.clause[0] <= e.start < fig.clause[1] for e in bodies):
            cues["national_body:clause"] = 1.0
    if any(e.label == "LOCATION" and e.text == NATIONAL and fig.sentence[0] <= e.start < fig.sentence[1]
           for e in doc.entities):
        cues["viet_nam:sentence"] = 1.0
    if NATIONAL_AGGREGATE.search(clause_text):
        cues["aggregate:clause"] = 1.0
    elif NATIONAL_AGGREGATE.search(sentence_text):
        cues["aggregate:sentence"] = 1.0
    if doc.national_document:
        cues["national_document"] = 1.0
    if national_subject(doc, fig):
        cues["national_subject"] = 1.0
    return cues, bodies


def national_words(doc: DocumentView, fig: FigureView) -> list[tuple[int, str]]:
    """The national words of a figure's sentence (offset, lowercased word), leaving out those inside a SYSTEM's name:
    "Cổng Dịch vụ công quốc gia" is a portal a province uses, not national evidence (guidelines v2)."""
    names = [span for span in doc.system_spans if fig.sentence[0] <= span[0] < fig.sentence[1]]
    words = [(fig.sentence[0] + m.start(), m.group().lower())
             for m in NATIONAL_WORDS.finditer(doc.text[fig.sentence[0] : fig.sentence[1]])]
    return [(at, word) for at, word in words if not any(start <= at < end for start, end in names)]


def national_body(entity: EntitySpan) -> bool:
    """A ministry, the government or a national body ("Bảo hiểm xã hội Việt Nam", "Ban Cơ yếu Chính phủ")."""
    return entity.label == "AGENCY" and bool(NATIONAL_BODY.match(entity.text) or entity.text.endswith(
        ("Chính phủ", "Việt Nam")))


def lead_starts(doc: DocumentView, fig: FigureView) -> tuple[int, int | None]:
    """Where the words leading to the figure start: after its sentence's start or last semicolon, and after the
    figure before it in that stretch (None when there is none)."""
    metric = fig.metric
    start = max(fig.sentence[0], doc.text.rfind(";", fig.sentence[0], metric.start) + 1)
    before = bisect_left(doc.figure_starts, metric.start)
    if before and doc.figures_sorted[before - 1][0] >= start:
        return start, doc.figures_sorted[before - 1][1]
    return start, None


def national_subject(doc: DocumentView, fig: FigureView) -> bool:
    """Whether the words leading to the figure name the country, its ministries or all provinces and nothing local
    (a province, a local body, "tỉnh ta"): from its sentence's start, or from the figure before it in that sentence
    ("..., trong khi Bạc Liêu đạt 27,5% và mức trung bình của cả nước là [22%]"). Guidelines v2: such a figure is the
    country's own."""
    text, metric = doc.text, fig.metric
    start, previous_end = lead_starts(doc, fig)
    leads = [start]
    if previous_end is not None:
        scope = RANK_SCOPE.match(text, previous_end)
        leads.append(scope.end() if scope else previous_end)
    for lead_start in leads:
        lead = text[lead_start : metric.start]
        inside = doc.bodies_and_places[bisect_left(doc.body_and_place_starts, lead_start):
                                       bisect_left(doc.body_and_place_starts, metric.start)]
        national = [national_body(e) for e in inside]
        local = any(not is_national and e.text != NATIONAL for e, is_national in zip(inside, national))
        if local or LOCAL_WORDS.search(lead) or any(marker in lead.lower() for marker in SELF_MARKERS):
            continue
        if any(national) or NATIONAL_SUBJECT_WORDS.search(lead):
            return True
    return False


def unnamed_subject(doc: DocumentView, fig: FigureView) -> bool:
    """Whether the words leading to the figure, since its sentence, a semicolon or the figure before it, speak of
    provinces left unnamed ("trong khi địa phương xếp cuối chỉ đạt [0,19 điểm]")."""
    start, previous_end = lead_starts(doc, fig)
    return bool(UNNAMED_PROVINCES.search(doc.text, start if previous_end is None else previous_end, fig.metric.start))


def province_candidates(doc: DocumentView, fig: FigureView, rule: Resolved) -> list[Candidate]:
    """Province candidates of one figure; the rule linker's choice (`rule`) is a feature of each."""
    text = doc.text
    metric = fig.metric
    shared = figure_features(doc, fig)
    sentence_text = text[fig.sentence[0] : fig.sentence[1]]
    lowered_sentence = sentence_text.lower()
    candidates: list[Candidate] = []
    named_in_sentence = set()
    own_fence = [f for f in doc.fenced if f[0] <= metric.start < f[1]]
    for entity, province in doc.province_mentions:
        span = (entity.start, entity.end)
        if fig.sentence[0] <= entity.start < fig.sentence[1]:
            named_in_sentence.add(province)
        features = {"kind=mention": 1.0, f"label={entity.label}": 1.0}
        region, located = position_features(doc, fig, span, "")
        features.update(located)
        in_fence = any(f[0] <= entity.start < f[1] for f in doc.fenced)
        if in_fence and not any(f[0] <= entity.start < f[1] for f in own_fence):
            features["fenced_other"] = 1.0
        if in_fence and any(f[0] <= entity.start < f[1] for f in own_fence):
            features["fenced_same"] = 1.0
        after = text[entity.end : metric.start]
        if span[1] <= metric.start and LIST_ITEM.fullmatch(after):
            features["list_item_of"] = 1.0
        if span[1] <= metric.start and NEAR_SUBJECT.fullmatch(after) and "," not in after:
            features["near_subject"] = 1.0
        if province == doc.own.value:
            features["is_own"] = 1.0
        role = doc.merger_roles.get(entity.start)
        if role:
            features[f"merger={role}"] = 1.0
            features[f"merger={role}:{region}"] = 1.0
        if entity.start >= doc.related_news_start > metric.start:
            features["related_news"] = 1.0
        candidates.append(Candidate(province, "mention", span, features, mention_evidence(region, entity.label)))
    if doc.own.value:
        features = {"kind=own": 1.0, f"own_source={doc.own.evidence}": 1.0}
        if any(marker in lowered_sentence for marker in SELF_MARKERS):
            features["self_marker"] = 1.0
        if doc.post_merger:
            features["post_merger"] = 1.0
        candidates.append(Candidate(doc.own.value, "own", doc.own.span, features, doc.own.evidence))
    cues, bodies = national_cues(doc, fig)
    national = {"kind=national": 1.0, **cues}
    if not doc.own.value:
        national["no_own_province"] = 1.0
    # Guidelines v2: a figure is national on national evidence, not for want of a province.
    if cues:
        candidates.append(Candidate(NATIONAL, "national", (bodies[0].start, bodies[0].end) if bodies else None,
                                    national, "agency" if bodies else "sentence"))
    null = {"kind=null": 1.0, f"named_in_sentence={min(len(named_in_sentence), 3)}": 1.0}
    if unnamed_subject(doc, fig):
        null["unnamed_subject"] = 1.0
    if not doc.own.value:
        null["no_own_province"] = 1.0
    candidates.append(Candidate(None, "null", None, null, None))
    return with_shared_features(candidates, rule, shared, f"named_in_sentence={min(len(named_in_sentence), 3)}")


NEAR_REGIONS = ("region=clause", "region=sentence", "region=paragraph", "region=title")
FRAMES = ("opens_paragraph:", "heading_lead", "opens_sentence:paragraph-1")


def may_frame(features: dict[str, float], first_body_year: bool) -> bool:
    """Whether a DATE may give a figure its year (guidelines v2, years 1-4): one in the figure's clause, sentence or
    paragraph, or the title; further away only as a frame (a year opening a paragraph or leading a heading) or as
    the article's period (the first year of the body, unless it is a plan period or a target "đến năm"). A plan
    period elsewhere frames only the figures near it (rule 6)."""
    if any(features.get(region) for region in NEAR_REGIONS):
        return True
    if any(key.startswith(FRAMES) for key in features):
        return True
    return first_body_year and not (features.get("period") or features.get("lead=den") or features.get("lead=tam_nhin"))


def year_candidates(doc: DocumentView, fig: FigureView, rule: Resolved) -> list[Candidate]:
    """Year candidates of one figure; the rule linker's choice (`rule`) is a feature of each."""
    text = doc.text
    metric = fig.metric
    shared = figure_features(doc, fig)
    figure_bracket = doc.bracket_of(metric.start)
    order = doc.sentence_order(fig.sentence)
    candidates: list[Candidate] = []
    for entity, year in doc.dates:
        span = (entity.start, entity.end)
        features = {"kind=mention": 1.0}
        region, located = position_features(doc, fig, span, "")
        features.update(located)
        leads, baseline, period, precise, issued, question = doc.date_cues(entity)
        features.update(leads)
        if baseline:
            features["baseline"] = 1.0
        if period:
            features["period"] = 1.0
            # Rule 6: a plan period gives its last year only to figures it frames, not to the whole article.
            features[f"period&region={region}"] = 1.0
        if precise:
            features["precise_date"] = 1.0
        if question:
            features[f"question&region={region}"] = 1.0
        if issued:
            features["issued"] = 1.0
        if entity.start >= doc.related_news_start > metric.start:
            features["related_news"] = 1.0
        features.update(table_features(doc, fig, span))
        if span[0] >= metric.end and doc.tokens_between(metric.end, span[0]) <= 2:
            features["right_after_figure"] = 1.0
        if region in ("clause", "sentence"):
            side = "before" if span[1] <= metric.start else "after"
            features[f"order={order}&side={side}"] = 1.0
        if figure_bracket is not None and span[1] <= figure_bracket and not text[span[1]:figure_bracket].strip():
            features["figure_in_bracket_after"] = 1.0  # "so với năm 2019 ([16.200] hồ sơ)": the date's own figure
        if doc.published is not None:
            features["vs_published=" + ("same" if year == doc.published else "later" if year > doc.published else "earlier")] = 1.0
        if year in doc.title_years:
            features["title_year"] = 1.0
        # The first year of the body only admits a far candidate (may_frame); as a feature it was a writer's habit:
        # leaving it out raised year accuracy in leave-one-writer-out CV on train+dev from 0.912 to 0.919.
        if not may_frame(features, year == doc.first_body_year):
            continue
        features[f"year_count={min(doc.year_counts.get(year, 0), 4)}"] = 1.0
        if doc.latest_year - year > 5:
            features["long_before_latest"] = 1.0
        features[f"decade={year // 10 * 10}"] = 1.0
        features[f"region={region}&published={doc.published is not None}"] = 1.0
        if shared.get("fig:bullet"):
            features[f"region={region}&bullet"] = 1.0
        target_figure = "target" if shared.get("fig:target_cue") else "result"
        for key in [k for k in features if k.startswith(("lead=", "follow="))]:
            features[f"{key}&fig={target_figure}"] = 1.0
        candidates.append(Candidate(year, "mention", span, features, mention_evidence(region, entity.label)))
    if doc.published is not None:
        features = {"kind=published": 1.0}
        sentence_before = text[fig.sentence[0] : metric.start]
        paragraph_before = text[fig.paragraph[0] : metric.start]
        if CURRENT.search(text[fig.clause[0] : fig.clause[1]]):
            features["current:clause"] = 1.0
        elif CURRENT.search(text[fig.sentence[0] : fig.sentence[1]]):
            features["current:sentence"] = 1.0
        elif CURRENT.search(paragraph_before):
            features["current:paragraph_before"] = 1.0
        if CURRENT.search(sentence_before):
            features["current:before_in_sentence"] = 1.0
        if not doc.dates:
            features["no_dates"] = 1.0
        if doc.published in doc.year_counts:
            features["published_named"] = 1.0
        candidates.append(Candidate(doc.published, "published", None, features, "published"))
    null = {"kind=null": 1.0, f"doc_dates={min(len(doc.dates), 3)}": 1.0}
    if doc.published is None:
        null["no_published"] = 1.0
    if CURRENT.search(text[fig.sentence[0] : fig.sentence[1]]):
        null["current:sentence"] = 1.0
    candidates.append(Candidate(None, "null", None, null, None))
    years_in_sentence = {year for e, year in doc.dates if fig.sentence[0] <= e.start < fig.sentence[1]}
    return with_shared_features(candidates, rule, shared, f"years_in_sentence={min(len(years_in_sentence), 2)}")
