"""Entities from rules and gazetteers: the recognizer that works before any training.

The core (`RuleRecognizer.find`) is pure: text in, candidate spans out, each
with the rule that found it. Candidates are chosen longest first, so the outer
name wins ("UBND tỉnh Lào Cai" is one AGENCY, not a LOCATION inside one);
ties go to the rule with the higher prior score. TITLE is decided last, from
what follows it: a post is tagged when it is held by someone, i.e. when a body,
a person or another post follows it, or it follows a person's name.
"""

from dataclasses import dataclass

import regex

from pipeline.gazetteers import load_lines
from pipeline.numbers import (
    COMPARATIVES,
    MULTIPLIERS,
    QUALIFIER_SIGNS,
    QUALIFIER_WORDS,
    RATE_PER,
    UNITS,
)
from pipeline.provinces import ProvinceResolver
from pipeline.recognize.not_metric import not_a_metric

LETTER = r"[\p{L}\p{M}\d_]"
START = rf"(?<!{LETTER})"
END = rf"(?!{LETTER})"
CAP_WORD = r"\p{Lu}[\p{L}\p{M}]*"
YEAR = r"(?:19|20)\d{2}"
DAY = r"\d{1,2}"
NUM = r"\d+(?:[.,]\d+)*"
NUMBER_START = r"(?<![\p{L}\p{M}\d_.,/:\-])"
NUMBER_END = r"(?![\p{L}\p{M}\d_/:]|[.,]\d)"
RANK_WORDS = "nhất|nhì|hai|ba|tư|bốn|năm|sáu|bảy|tám|chín|mười"
DOCUMENT_TYPES = (
    "Thông tư liên tịch", "Nghị định", "Quyết định", "Nghị quyết", "Thông tư", "Chỉ thị", "Kế hoạch",
    "Công văn", "Luật", "Thông báo", "Công điện", "Hướng dẫn", "Chương trình", "Đề án",
)
LOCALITY_PREFIXES = r"(?:[Tt]ỉnh|[Tt]hành\s+phố|TP\.?|Tp\.)"
DISTRICT_PREFIXES = r"(?:[Hh]uyện|[Qq]uận|[Tt]hị\s+xã|[Tt]hị\s+trấn|[Xx]ã|[Pp]hường)"

# The next word of a body's name, after its head ("Ban Chỉ đạo [xây] [dựng] ...").
NAME_WORD = regex.compile(r"\s+([\p{L}\p{M}\d]+(?:[&\-][\p{L}\p{M}\d]+)*)")
PRIOR = {"gazetteer": 0.95, "pattern": 0.85, "head": 0.8, "title": 0.8}


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    label: str
    score: float
    rule: str


def phrase(text: str, fold_tail: bool = False) -> str:
    """A pattern for a phrase whose words may be separated by any whitespace (line wraps too).

    With `fold_tail`, everything after the first character matches in any letter case.
    """
    body = r"\s+".join(regex.escape(word) for word in text.split())
    if fold_tail and len(text) > 1:
        first = regex.escape(text[0])
        tail = r"\s+".join(regex.escape(word) for word in text[1:].split())
        body = first + ("" if text[1] != " " else r"\s+") + f"(?i:{tail})"
    return body


def alternation(phrases, fold_tail: bool = False) -> str:
    ordered = sorted(set(phrases), key=len, reverse=True)
    return "(?:" + "|".join(phrase(p, fold_tail) for p in ordered) + ")"


def first_upper(text: str) -> str:
    """A pattern for `text` whose first letter may be written in either case."""
    return f"[{text[0].upper()}{text[0].lower()}]" + phrase(text)[len(regex.escape(text[0])):]


class RuleRecognizer:
    """Finds AGENCY, OFFICIAL, TITLE, SYSTEM, METRIC, DATE, LOCATION and DOCUMENT by rule."""

    def __init__(self, provinces: ProvinceResolver):
        self.provinces = provinces
        province = alternation(provinces.spellings)
        self.stopwords = frozenset(load_lines("agency_stopwords.txt"))
        self.surnames = frozenset(load_lines("surnames.txt"))
        self.heads = [(head, regex.compile(START + phrase(head) + END)) for head in load_lines("agency_heads.txt")]
        locality = rf"{LOCALITY_PREFIXES}(?:\s+{province})?"
        systems = load_lines("systems.txt")
        single_systems = [s for s in systems if " " not in s]
        system_heads = alternation(load_lines("system_heads.txt"))
        qualifier = ("(?:(?:" + "|".join(first_upper(q) for q in QUALIFIER_WORDS) + r")\s+|["
                     + "".join(QUALIFIER_SIGNS) + r"]\s*)")
        unit_words = sorted([*UNITS, *MULTIPLIERS], key=len, reverse=True)
        # "điểm" before a place noun counts places ("46 điểm phát wifi", "122 điểm cầu"): the noun is the indicator.
        places = alternation(load_lines("counted_points.txt"))
        unit = (rf"(?:\s*%|\s+(?!điểm\s+(?i:{places}){END})(?:"
                + "|".join(regex.escape(u).replace(r"\ ", r"\s+") for u in unit_words if u != "%") + rf"){END})")
        doc_types = "(?:" + "|".join(first_upper(t) for t in DOCUMENT_TYPES) + ")"

        self.patterns: list[tuple[str, str, float, regex.Pattern]] = []

        def add(label: str, rule: str, prior: str, pattern: str, flags: int = 0) -> None:
            self.patterns.append((label, rule, PRIOR[prior], regex.compile(START + pattern + END, flags)))

        add("LOCATION", "province", "gazetteer", rf"(?:{LOCALITY_PREFIXES}\s+)?{province}")
        add("LOCATION", "district", "pattern", rf"{DISTRICT_PREFIXES}\s+{CAP_WORD}(?:\s+{CAP_WORD}){{0,2}}")
        add("LOCATION", "country", "gazetteer", alternation(load_lines("countries.txt")))
        add("SYSTEM", "system", "gazetteer", alternation([s for s in systems if " " in s], fold_tail=True))
        add("SYSTEM", "system-name", "gazetteer", rf"(?:{system_heads}\s+)?{alternation(single_systems)}", regex.IGNORECASE)
        add("AGENCY", "organization", "gazetteer", alternation(load_lines("organizations.txt")) + r"(?!\s+(?:điện\s+tử|số)\b)")
        add("AGENCY", "department", "pattern",
            rf"(?:Sở|Bộ)\s+{alternation(load_lines('departments.txt'))}(?:\s+{locality}|\s+{province})?")
        add("AGENCY", "people-committee", "pattern",
            rf"(?:Văn\s+phòng\s+)?{alternation(load_lines('agency_bodies.txt'))}\s+"
            rf"(?:{locality}|{DISTRICT_PREFIXES}\s+{CAP_WORD}(?:\s+{CAP_WORD}){{0,2}}|{province})")
        add("OFFICIAL", "person", "pattern", rf"{alternation(self.surnames)}(?:\s+{CAP_WORD}){{1,3}}")
        add("DOCUMENT", "document", "pattern",
            rf"(?:{doc_types}\s+(?:số\s+)?)?\d+(?:/{YEAR})?(?:/|-(?=\p{{Lu}}+/))\p{{Lu}}[\p{{L}}\d]*(?:[-/][\p{{L}}\d]+)*"
            # a named programme cited by its number alone (guidelines: "Đề án 06")
            + r"|Đề\s+án\s+(?:số\s+)?\d+(?![\p{L}\d/])")
        add("DATE", "time-date", "pattern", rf"{DAY}:\d{{2}},?\s+{DAY}/{DAY}/{YEAR}")
        add("DATE", "day", "pattern",
            rf"(?:[Nn]gày\s+)?{DAY}/{DAY}/{YEAR}|[Nn]gày\s+{DAY}(?:[/-]{DAY}|\s+tháng\s+{DAY})(?:(?:/|\s+năm\s+){YEAR})?")
        add("DATE", "day-after-part-of-day", "pattern",
            rf"(?<=(?:[Ss]áng|[Cc]hiều|[Tt]ối|[Tt]rưa|[Đđ]êm)\s+){DAY}[-/]{DAY}(?![/\d])")
        add("DATE", "period", "pattern", rf"(?:\d+|[Mm]ột|[Hh]ai|[Bb]a|[Ss]áu|[Cc]hín)\s+tháng\s+(?:đầu|cuối)\s+năm\s+{YEAR}")
        add("DATE", "quarter", "pattern", rf"[Qq]uý\s+(?:IV|I{{1,3}}|[1-4])(?:/|\s+năm\s+){YEAR}")
        add("DATE", "month", "pattern", rf"[Tt]háng\s+{DAY}(?:(?:/|\s+năm\s+){YEAR})?")
        add("DATE", "year", "pattern", rf"(?:(?:[Gg]iai\s+đoạn|[Nn]ăm)\s+)?{YEAR}(?:\s*[-–]\s*{YEAR})?(?!\s*%)")
        add("METRIC", "rank", "pattern", rf"{first_upper('thứ')}\s+(?:{NUM}(?:/{NUM})?|{RANK_WORDS})"
            rf"|{first_upper('vị trí')}\s+(?:{NUM}/{NUM}|số\s+(?:một|{RANK_WORDS}))")
        # A multiple in words ("gần gấp ba lần", "khoảng hai lần"); "một lần" (once) and "lần thứ" count no measure.
        add("METRIC", "times-in-words", "pattern",
            rf"(?:{qualifier})?(?:gấp\s+)?(?:hai|ba|bốn|sáu|bảy|tám|chín|mười)\s+lần(?!\s+thứ{END})")
        # A rate keeps its unit (guidelines v2): "41,5 thuê bao/100 dân", "12%/năm", "5.000 đến 8.000 đồng/kg".
        word = r"[\p{L}\p{M}]+"
        rate = (rf"{NUM}(?:\s*%?\s*(?:-|–|đến)\s*{NUM})?(?:\s*%|\s*{word}(?:\s+{word})?)"
                rf"(?:/{NUM}\s+{word}(?:\s+{word})?|(?:/(?:{'|'.join(RATE_PER)}))+)")
        add("METRIC", "number", "pattern",
            # A bracket in words stops below its upper end (guidelines v2: "từ 60% đến dưới 75%" is one METRIC);
            # "từ 8 đến gần 3.000 dịch vụ" is a change, two METRICs.
            rf"(?:{qualifier})?{NUMBER_START}(?:{rate}|{NUM}(?:\s*%)?\s*(?:-|–|đến(?:\s+dưới)?)\s*{NUM}"
            rf"(?:\s*%|\s+phần\s+trăm|{unit})?"
            rf"|{NUM}/{NUM}{unit}?|{NUM}{unit}?){NUMBER_END}")
        self._locality = regex.compile(rf"{LOCALITY_PREFIXES}(?:\s+{province})?{END}")
        self._party_committee = regex.compile(r"(?:Tỉnh|Thành)\s+[uủ]ỷ?y?\b")
        self.title_pattern = regex.compile(START + alternation(load_lines("titles.txt")) + END)

    def find(self, text: str, excluded: list[tuple[int, int]] = ()) -> list[Candidate]:
        """All entities in `text`, non-overlapping and sorted, none inside an `excluded` region."""
        candidates = []
        for label, rule, prior, pattern in self.patterns:
            for match in pattern.finditer(text, overlapped=False):
                candidate = self._check(text, Candidate(match.start(), match.end(), label, prior, rule))
                if candidate:
                    candidates.append(candidate)
        candidates.extend(self._bodies_by_head(text))
        chosen = select_longest(candidates, len(text), excluded)
        return sorted(chosen + self._titles(text, chosen, excluded), key=lambda c: c.start)

    def _check(self, text: str, c: Candidate) -> Candidate | None:
        """Apply the context conditions a pattern alone cannot express; None rejects the candidate."""
        before = text[max(0, c.start - 30) : c.start].split()
        after = text[c.end : c.end + 30].split()
        span = text[c.start : c.end]
        if c.label == "METRIC":
            return self._check_metric(text, c, span, before, after)
        if c.label == "DATE" and c.rule == "year" and " " not in span and before:
            if any(" ".join(before[-len(q.split()):]).lower() == q for q in QUALIFIER_WORDS):
                return None
        return c

    def _check_metric(self, text, c, span, before, after) -> Candidate | None:
        if not_a_metric(text, c.start, c.end):
            return None  # a level, a document's number, a weekday, a hotline ... (guidelines, "Not METRIC")
        words = span.split()
        if c.rule == "rank":
            if before and before[-1].lower() == "lần":
                return None  # an event ordinal: "lần thứ ba"
            opens_clause = not before or before[-1][-1:] in ".;:!?"
            in_list = not words[1][0].isdigit() and opens_clause and after[:1] and after[0][:1] in ",:"
            return None if in_list else c  # "Thứ nhất, ..." orders a list; "đứng thứ hai," is a rank
        if words[0].lower() == "hơn" and before and before[-1].lower() in COMPARATIVES:
            offset = text.index(words[1], c.start)
            c = Candidate(offset, c.end, c.label, c.score, c.rule)
            words = text[c.start : c.end].split()
        number = words[-1]
        if len(words) == 1 and regex.fullmatch(rf"{YEAR}", number):
            return None  # a bare year is a DATE
        if regex.fullmatch(r"\d\.0", number):
            return None  # a version such as "4.0"
        if regex.fullmatch(rf"{YEAR}\s*[-–]\s*{YEAR}", span):
            return None
        return c

    def _bodies_by_head(self, text: str) -> list[Candidate]:
        """Named bodies found from their head ("Ban Chỉ đạo ...", "Trung tâm ...").

        The name runs on word by word until punctuation, a stop word, a person's
        name, or a locality ("tỉnh", "tỉnh Cà Mau"), which ends it.
        """
        found = []
        for head, head_pattern in self.heads:
            needs_capital = not head.startswith("Ban ")
            for match in head_pattern.finditer(text):
                end, count = match.end(), 0
                while count < 10:
                    nxt = NAME_WORD.match(text, end)
                    if not nxt:
                        break
                    token = nxt.group(1)
                    if count == 0 and needs_capital and not token[0].isupper():
                        break
                    if token.lower() in self.stopwords and token not in ("Thông", "Đầu"):
                        break
                    following = NAME_WORD.match(text, nxt.end())
                    if token in self.surnames and following and following.group(1)[0].isupper():
                        break  # a person's name starts here
                    end, count = nxt.end(), count + 1
                    if token.lower() in ("tỉnh", "thành") and not self._party_committee.match(text, nxt.start(1)):
                        end = self._extend_locality(text, nxt.start(1))
                        break
                if count or not needs_capital:
                    found.append(Candidate(match.start(), end, "AGENCY", PRIOR["head"], f"head:{head}"))
        return found

    def _extend_locality(self, text: str, start: int) -> int:
        """End of the locality starting at `start` ("tỉnh", "tỉnh Cà Mau", "thành phố Cần Thơ")."""
        match = self._locality.match(text, start)
        return match.end() if match else start + len(text[start:].split()[0])

    def _titles(self, text: str, chosen: list[Candidate], excluded) -> list[Candidate]:
        """Posts held by someone: followed by a body, a person or another post, or after a person's name."""
        by_start = {c.start: c for c in chosen}
        by_end = {c.end: c for c in chosen}
        titles = []
        matches = list(self.title_pattern.finditer(text))
        title_starts = {m.start() for m in matches}
        for match in matches:
            start, end = match.span()
            if any(c.start < end and start < c.end for c in chosen) or inside(start, end, excluded):
                continue
            gap_after = len(text[end:]) - len(text[end:].lstrip())
            following = by_start.get(end + gap_after)
            before = text[:start].rstrip()
            preceding = by_end.get(len(before) - 1) if before.endswith(",") else None
            held = (following and following.label in ("AGENCY", "OFFICIAL")) or (end + gap_after in title_starts)
            if held or (preceding and preceding.label == "OFFICIAL"):
                titles.append(Candidate(start, end, "TITLE", PRIOR["title"], "title"))
        return titles


def inside(start: int, end: int, regions) -> bool:
    return any(s < end and start < e for s, e in regions)


def select_longest(candidates: list[Candidate], length: int, excluded) -> list[Candidate]:
    """Non-overlapping candidates, longest first, then by prior score, then leftmost."""
    taken = bytearray(length)
    chosen = []
    for c in sorted(candidates, key=lambda c: (c.start - c.end, -c.score, c.start)):
        if any(taken[c.start : c.end]) or inside(c.start, c.end, excluded):
            continue
        taken[c.start : c.end] = b"\x01" * (c.end - c.start)
        chosen.append(c)
    return chosen
