"""Numbers the guidelines say are no METRIC (ANNOTATION_GUIDELINES.md, "Not METRIC", v2).

Levels and versions ("mức độ 3, 4", "Tier 3"), document and phase numbers ("Đề án 06", "giai đoạn 1"), numbers
inside names and addresses ("Quốc lộ 9", "phường 3"), counts that structure the text or give an age ("4 nhóm nhiệm
vụ", "3 giải pháp", "từ 14 tuổi"), a count of provinces that introduces their list ("nhóm 5 địa phương dẫn đầu
gồm: ..."), durations ("gần 2 năm"), event ordinals ("năm thứ hai liên tiếp", "kỳ họp thứ hai"), the number of
provinces a rank is out of ("thứ nhất trong 63 tỉnh"), weekdays of a date ("Thứ năm, 20/12/2018"), phone numbers
and hotlines, list markers ("1. Về chính quyền số") and row numbers of a table ("TT" column), page-view counters
("Lượt xem: 1.245"), "24/7". `not_a_metric` is the pure check, with its reason; the words it reads live in the
gazetteer `not_metric_context.tsv`.
"""

from functools import cache

import regex

from pipeline.gazetteers import load_pairs
from pipeline.numbers import DURATION_WORDS

WEEKDAY = regex.compile(r"(?i)^thứ\s+(?:hai|ba|tư|năm|sáu|bảy)$")
# A weekday is a date's, not a rank, when a date or the other weekend day follows it, or "ngày" comes before it.
WEEKDAY_AFTER = regex.compile(r"^\s*,?\s*(?:\d{1,2}/\d{1,2}|chủ nhật)", regex.IGNORECASE)
WEEKDAY_BEFORE = regex.compile(r"(?i)(?:ngày|các|sáng|chiều|tối|\")\s*$")
PHONE = regex.compile(r"^0\d{2,3}(?:[.\s]?\d){6,8}$|^1[89]00[.\s]?\d{4}$")
DIGITS_ONLY = regex.compile(r"^[\d.\s]+$")
DAY_MONTH = regex.compile(r"^\d{1,2}/\d{1,2}$")
LIST_MARKER_AFTER = regex.compile(r"^[.)]\s")
# A level list goes on after its noun: "mức độ 3, 4", and "mức độ 3 và 4." where no noun follows ("mức độ 3 và 4 dịch
# vụ" counts services).
LEVEL_LIST = regex.compile(r"\d\s*(,|và)\s*$")
LEVELS = ("1", "2", "3", "4")  # online-service and security levels go up to 4
# The words after a number, up to four syllables (the longest "after" phrase: "nhiệm vụ trọng tâm").
NEXT_WORDS = regex.compile(r"\s*([\p{L}\p{M}]+(?:\s+[\p{L}\p{M}]+){0,3})")
# The number a rank is out of: "đứng thứ nhất trong [63] tỉnh, thành phố" (the rank is the METRIC).
RANK_OUT_OF = regex.compile(r"thứ\s+[\p{L}\p{M}\d]+\s+trong\s*$")
TABLE_CELL_AFTER = regex.compile(r"^\s*\|")
# Where the clause of a list's lead ends: the list's items come after ":" or "gồm", not after a full stop.
CLAUSE_END = regex.compile(r"[.;!?\n]")
LIST_LEAD_CHARS = 80
ROUND_THE_CLOCK = "24/7"


@cache
def contexts() -> dict[str, tuple[str, ...]]:
    """The words of `not_metric_context.tsv` by their kind (before, after, phone, ordinal, ...), in lower case."""
    table: dict[str, list[str]] = {}
    for where, words in load_pairs("not_metric_context.tsv"):
        table.setdefault(where, []).append(words.lower())
    return {where: tuple(words) for where, words in table.items()}


def ends_with_words(text: str, words: str) -> bool:
    return text.endswith(words) and (len(text) == len(words) or not text[-len(words) - 1].isalnum())


def starts_with_words(text: str, words: str) -> bool:
    return text.startswith(words) and not text[len(words) : len(words) + 1].isalnum()


def not_a_metric(text: str, start: int, end: int) -> str | None:
    """Why the METRIC candidate text[start:end] is no METRIC under the guidelines, or None when nothing says so."""
    span = text[start:end]
    before = text[max(0, start - 40) : start].lower()
    bare = before.rstrip()
    after = text[end : end + 40]
    ordinal_or_rank = span.lower().startswith("thứ")
    if ordinal_or_rank:
        for noun in contexts()["ordinal"]:
            if ends_with_words(bare, noun):
                return f"ordinal of {noun!r}"  # "năm thứ hai liên tiếp", "kỳ họp thứ hai"
    if WEEKDAY.match(span):
        return "weekday" if WEEKDAY_AFTER.match(after) or WEEKDAY_BEFORE.search(before) else None
    if span == ROUND_THE_CLOCK:
        return "round the clock"
    if ordinal_or_rank:
        return None  # a rank ("ở mức thứ 9")
    if PHONE.match(span) or (DIGITS_ONLY.match(span) and sum(ch.isdigit() for ch in span) >= 4
                             and any(cue in before[-30:] for cue in contexts()["phone"])):
        return "phone number"  # a cue a few words before: "tổng đài hỗ trợ 1900 [1812]"
    if span.isdigit() and any(ends_with_words(bare, cue) for cue in contexts()["phone"]):
        return "phone number"  # a short number right after its cue: "đường dây nóng 113"
    if DAY_MONTH.match(span) and ends_with_words(bare, "ngày"):
        return "date"
    if not span[-1].isdigit() or "/" in span:
        return None  # a unit, a percent or a share follows the number: a measure
    line_start = text.rfind("\n", 0, start) + 1
    if span.isdigit() and not text[line_start:start].strip():
        if LIST_MARKER_AFTER.match(after):
            return "list marker"
        if TABLE_CELL_AFTER.match(after) and table_header(text, line_start).lower() in contexts()["row_number"]:
            return "row number"
    level_list = LEVEL_LIST.search(bare)
    if level_list and span in LEVELS and (level_list.group(1) == "," or not NEXT_WORDS.match(after)):
        bare = bare[: level_list.start()].rstrip()
    for words in contexts()["before"]:
        if ends_with_words(bare, words):
            return f"after {words!r}"
    if RANK_OUT_OF.search(bare):
        return "what a rank is out of"
    following = NEXT_WORDS.match(after)
    if following:
        phrase = following.group(1).lower()
        if phrase.split()[0] in DURATION_WORDS:
            return "duration"
        for noun in contexts()["after"]:
            if phrase == noun or phrase.startswith(noun + " "):
                return f"counts {noun!r}"
        if introduces_list(text, end + following.start(1)):
            return "a count of provinces that introduces their list"
    return None


def introduces_list(text: str, pos: int) -> bool:
    """Whether the words from `pos` (right after a bare number) count the leading provinces and list them in the same
    clause ("[5] địa phương dẫn đầu năm 2023 gồm Hà Nội (0,6935), ..."); "vào nhóm [20] địa phương dẫn đầu" is a
    target, a METRIC."""
    after = text[pos : pos + LIST_LEAD_CHARS].lower()
    if not any(starts_with_words(after, noun) for noun in contexts()["list_count"]):
        return False
    end = CLAUSE_END.search(after)
    return any(cue in after[: end.start() if end else len(after)] for cue in contexts()["list_cue"])


def table_header(text: str, line_start: int) -> str:
    """The first cell of the header row of the table whose row starts at `line_start` (its first line of cells)."""
    header = line_start
    while header > 0:
        previous = text.rfind("\n", 0, header - 1) + 1
        if "|" not in text[previous : header - 1]:
            break
        header = previous
    return text[header : text.find("|", header)].strip()
