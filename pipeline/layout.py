"""Where things are in an article: title, paragraphs, sentences, dateline, byline, photo credits.

All positions are `[start, end)` character offsets into the original text.
Articles in the genre carry hard line wraps inside sentences; a newline is a
wrap when the line before it does not end a sentence and either the next line
goes on in lower case or the line before is long enough to be body text.
Tables written as text ("Chỉ tiêu | Năm 2021 | Năm 2023", one row a line) are
never wrapped: consecutive rows make one paragraph, and each row is a sentence.
"""

import re
from dataclasses import dataclass, field

from pipeline.gazetteers import load_lines

SENTENCE_END = ".!?…:;|"
CLOSERS = "\"'”’)]»"
# A line at least this long that does not end a sentence is body text cut by a hard wrap.
MIN_WRAPPED_LINE = 45
TITLE_MIN_WORDS = 5
TITLE_MAX_CHARS = 250
# Abbreviations whose period does not end a sentence ("TP. Hồ Chí Minh").
ABBREVIATIONS = frozenset({"TP", "Tp", "TS", "ThS", "PGS", "GS", "BS", "KS", "St", "Mr", "Ms", "Dr"})

DATELINE = re.compile(r"^(?:(\d{1,2}):(\d{2}),?\s+)?(?:[^\d\n,]{2,12},\s*)?(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
# A portal's dateline in its other common forms: a date with a time, a weekday, "Cập nhật", separators, in any order
# ("Thứ Bảy, 11/12/2021 - 10:15", "10:22 | 14/04/2023", "Cập nhật: 07:40 - 10/10/2024", "22/11/2024 14:45").
DATE_IN_LINE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
DATELINE_REST = re.compile(r"(?:\s|[|,:\-–()+]|\d{1,2}:\d{2}(?::\d{2})?|\d{1,2}h\d{2}|cập nhật|lúc|ngày|đăng|gmt\s*\+\s*\d{1,2}|lượt xem:?\s*[\d.]+|"
                           r"thứ\s*(?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ nhật|sa|ch|am|pm)*", re.IGNORECASE)
# A news lead's dateline: the place, the day, a dash, then the story ("Hà Nội, ngày 28/12/2024 – Tại hội nghị ...",
# "Cao Bằng, 18/4/2021 - ..."), with the source in brackets before it or after the day where a portal or an agency
# puts one ("(phuyen.gov.vn) - ", "Bình Phước, ngày 15/12/2023 (TTXVN) – ").
SOURCE = r"\([^()\n]{1,40}\)"
LEAD_DATELINE = re.compile(rf"(?:{SOURCE}\s*[-–]?\s*)?([^\W\d_][^\d,.;:!?\n]{{0,40}}),\s*(?:ngày\s*)?"
                           rf"(\d{{1,2}})/(\d{{1,2}})/(\d{{4}})\s*(?:{SOURCE}\s*)?[-–]\s", re.IGNORECASE)
DATELINE_MAX_CHARS = 60
DATELINE_LINES = 6
PHOTO_CREDIT = re.compile(r"\(\s*(?:Ảnh|Nguồn|Video)\s*:[^()\n]{1,80}\)")
# A cell separator inside a line (not a caption's trailing "|"): the line may be a table row.
INNER_BAR = re.compile(r"\S\s*\|\s*\S")
SENTENCE_BREAK = re.compile(r"([.!?…]+[\"'”’)\]»]*|\s\|)(\s+)(?=[\"“'(\[«]?[\w\d])")


@dataclass
class Layout:
    """The structure of one text; every span is a `(start, end)` pair into it."""

    title: tuple[int, int] | None = None
    paragraphs: list[tuple[int, int]] = field(default_factory=list)
    sentences: list[tuple[int, int]] = field(default_factory=list)
    wraps: list[int] = field(default_factory=list)
    excluded: list[tuple[int, int]] = field(default_factory=list)
    published: str | None = None
    byline: str | None = None


def split_lines(text: str) -> list[tuple[int, int]]:
    """Each non-blank line as `(start, end)`, trimmed of surrounding whitespace."""
    lines = []
    pos = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            start = pos + raw.index(stripped[0])
            lines.append((start, start + len(stripped)))
        pos += len(raw) + 1
    return lines


def ends_sentence(line: str) -> bool:
    return line.rstrip(CLOSERS)[-1:] in SENTENCE_END if line.rstrip(CLOSERS) else True


def is_wrap(text: str, prev: tuple[int, int], nxt: tuple[int, int]) -> bool:
    """True when the line break between two adjacent lines cuts a sentence."""
    prev_line, next_line = text[prev[0] : prev[1]], text[nxt[0] : nxt[1]]
    if "\n" in text[prev[1] : nxt[0]].replace("\n", "", 1):
        return False  # a blank line always separates paragraphs
    if ends_sentence(prev_line):
        return False
    first = next_line[0]
    return first.islower() or first.isdigit() or len(prev_line) >= MIN_WRAPPED_LINE


def table_rows(text: str, lines: list[tuple[int, int]]) -> set[int]:
    """Indices of the lines that are table rows: a cell separator inside the line, and a line next to it (no blank
    line between) that has one too, so a lone "10:22 | 14/04/2023" dateline is no table."""
    barred = [INNER_BAR.search(text[start:end]) is not None for start, end in lines]
    rows = set()
    for i in range(len(lines) - 1):
        if barred[i] and barred[i + 1] and text.count("\n", lines[i][1], lines[i + 1][0]) == 1:
            rows.update((i, i + 1))
    return rows


def find_title(text: str, lines: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The headline: among the first three lines, the first that reads as one (no final stop, 5+ words)."""
    for start, end in lines[:3]:
        line = text[start:end]
        if not ends_sentence(line) and len(line.split()) >= TITLE_MIN_WORDS and len(line) <= TITLE_MAX_CHARS:
            return (start, end)
    return None


def dateline_date(line: str) -> tuple[int, int, int] | None:
    """(day, month, year) when `line` is a dateline ("15:30, 12/03/2021", "Thứ Bảy, 11/12/2021 - 10:15") or opens a
    news lead with one ("Hà Nội, ngày 28/12/2024 – ..."), else None."""
    match = DATELINE.match(line)
    lead = None if match else LEAD_DATELINE.match(line)
    if match:
        day, month, year = int(match.group(3)), int(match.group(4)), int(match.group(5))
    elif lead and lead.group(1)[0].isupper():
        day, month, year = int(lead.group(2)), int(lead.group(3)), int(lead.group(4))
    else:
        match = DATE_IN_LINE.search(line)
        if not (match and len(line) <= DATELINE_MAX_CHARS
                and DATELINE_REST.fullmatch(line[: match.start()] + " " + line[match.end() :])):
            return None
        day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    return (day, month, year) if 1 <= day <= 31 and 1 <= month <= 12 else None


def find_published(text: str, lines: list[tuple[int, int]]) -> str | None:
    """The publication date from a dateline among the first DATELINE_LINES lines, as YYYY-MM-DD."""
    for start, end in lines[:DATELINE_LINES]:
        date = dateline_date(text[start:end])
        if date:
            return f"{date[2]:04d}-{date[1]:02d}-{date[0]:02d}"
    return None


def find_byline(text: str, lines: list[tuple[int, int]], boilerplate: frozenset[str]) -> tuple[int, int] | None:
    """The author line at the end: 2-4 capitalised words, after any trailing boilerplate lines."""
    for start, end in reversed(lines[-4:]):
        line = text[start:end]
        if line in boilerplate:
            continue
        words = line.split()
        if 2 <= len(words) <= 4 and all(w[0].isupper() and w.isalpha() for w in words):
            return (start, end)
        return None
    return None


def find_sentences(text: str, paragraph: tuple[int, int]) -> list[tuple[int, int]]:
    """Split one paragraph into sentences at final punctuation followed by a new sentence."""
    start, end = paragraph
    chunk = text[start:end]
    sentences = []
    sent_start = 0
    for match in SENTENCE_BREAK.finditer(chunk):
        before = chunk[sent_start : match.start()].split()
        if match.group(1) == "." and before and before[-1] in ABBREVIATIONS:
            continue
        sent_end = match.end(1)
        sentences.append((start + sent_start, start + sent_end))
        sent_start = match.end()
    if sent_start < len(chunk):
        sentences.append((start + sent_start, end))
    return sentences


def analyse_layout(text: str, boilerplate: frozenset[str]) -> Layout:
    """Find the structure of `text`; pure, no spaCy."""
    lines = split_lines(text)
    layout = Layout(title=find_title(text, lines), published=find_published(text, lines))
    rows = table_rows(text, lines)
    paragraphs: list[list] = []  # [start, end, the rows of a table or None]
    for i, (start, end) in enumerate(lines):
        prev = lines[i - 1] if i else None
        if i in rows and i - 1 in rows:
            paragraphs[-1][1] = end
            paragraphs[-1][2].append((start, end))
        elif i in rows:
            paragraphs.append([start, end, [(start, end)]])
        elif prev and i - 1 not in rows and prev != layout.title and is_wrap(text, prev, (start, end)):
            layout.wraps.append(text.index("\n", prev[1]))
            paragraphs[-1][1] = end
        else:
            paragraphs.append([start, end, None])
    layout.paragraphs = [(start, end) for start, end, _ in paragraphs]
    for start, end, table in paragraphs:
        layout.sentences.extend(table if table else find_sentences(text, (start, end)))
    byline = find_byline(text, lines, boilerplate)
    if byline:
        layout.byline = text[byline[0] : byline[1]]
        layout.excluded.append(byline)
    layout.excluded.extend(m.span() for m in PHOTO_CREDIT.finditer(text))
    for start, end in lines:
        if text[start:end] in boilerplate:
            layout.excluded.append((start, end))
    return layout


def load_boilerplate() -> frozenset[str]:
    return frozenset(load_lines("boilerplate.txt"))
