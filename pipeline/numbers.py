"""Vietnamese numbers, ranges, fractions, ranks, qualifiers and units.

Conventions of the genre: "." groups thousands ("888.000"), "," marks decimals
("70,6"). A lone comma is always a decimal mark ("1,500" is 1.5); a dot is a
thousands mark only when every group after it has three digits ("87.5" is a
decimal written the English way). Spelled-out numbers are read from words.
"""

import math
import re
from dataclasses import dataclass

# Qualifier words before a number, longest first, and what they mean (ANNOTATION_GUIDELINES.md).
QUALIFIER_WORDS: dict[str, str] = {
    "xấp xỉ": "approx",
    "khoảng": "approx",
    "gần": "approx",
    "chừng": "approx",
    "ít nhất": "gte",
    "tối thiểu": "gte",
    "không dưới": "gte",
    "tối đa": "lte",
    "không quá": "lte",
    "trên": "gt",
    "hơn": "gt",
    "chưa tới": "lt",
    "chưa đến": "lt",
    "dưới": "lt",
}
# Signs written before a number, with or without a space ("≥ 90%", "<0,3").
QUALIFIER_SIGNS: dict[str, str] = {"≥": "gte", "≤": "lte", ">": "gt", "<": "lt"}
# "hơn" after these words is a comparison ("cao hơn 5%"), not a qualifier of the figure. After a change ("tăng hơn
# 3,6 lần", "giảm hơn 30%") it is one: the change was more than the figure (annotations/README.md).
COMPARATIVES = frozenset({"cao", "thấp", "nhiều", "ít", "lớn", "nhỏ"})
AT_LEAST_AFTER = "trở lên"
TIMES = "gấp"

# Units kept inside a METRIC span, longest first; the value is the written number.
UNITS: dict[str, str] = {
    "điểm phần trăm": "điểm phần trăm",  # before "phần trăm": the longer unit is read first
    "phần trăm": "%",
    "%": "%",
    "nghìn tỷ đồng": "nghìn tỷ đồng",
    "tỷ đồng": "tỷ đồng",
    "triệu đồng": "triệu đồng",
    "nghìn đồng": "nghìn đồng",
    "ngàn đồng": "nghìn đồng",
    "đồng": "đồng",
    "tỷ USD": "tỷ USD",
    "triệu USD": "triệu USD",
    "USD": "USD",
    "km²": "km²",
    "m²": "m²",
    "km": "km",
    "cây số": "km",
    "mét": "m",
    "m": "m",
    "kg": "kg",
    "ha": "ha",
    "lần": "lần",
    "điểm": "điểm",
    "bậc": "bậc",
    "Mbps": "Mbps",
    "Gbps": "Gbps",
    "petabyte": "petabyte",
    "PB": "PB",
    "TB": "TB",
    "GB": "GB",
    "MW": "MW",
    "tấn": "tấn",
}
# What a rate is counted per when no number comes before it: "12%/năm", "320 cuộc gọi/ngày", "04 người/xã".
RATE_PER = ("năm", "tháng", "quý", "tuần", "ngày", "giờ", "người", "hộ", "xã", "thôn", "tổ", "kg")
# Scale words that multiply the value when no currency follows ("2 triệu" lượt truy cập).
MULTIPLIERS: dict[str, float] = {"nghìn": 1e3, "ngàn": 1e3, "triệu": 1e6, "tỷ": 1e9}
# Words after a number that make it a duration, not a METRIC ("gần 2 năm", "02 năm").
DURATION_WORDS = frozenset({"năm", "tháng", "ngày", "tuần", "giờ", "tiếng", "phút", "giây", "quý", "thập"})

DIGITS = {
    "không": 0, "một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "lăm": 5,
    "sáu": 6, "bảy": 7, "tám": 8, "chín": 9, "nhất": 1, "nhì": 2,
}
NUMBER_WORDS = frozenset(DIGITS) | {"mười", "mươi", "trăm", "nghìn", "ngàn", "triệu", "tỷ", "linh", "lẻ"}

_NUMERAL = re.compile(r"^\d+(?:[.,]\d+)*$")


@dataclass(frozen=True)
class MetricValue:
    value: float | None
    value_max: float | None = None
    unit: str | None = None
    qualifier: str | None = None


def parse_numeral(text: str) -> float | None:
    """A number written with digits in Vietnamese style: "888.000" → 888000, "70,6" → 70.6, "01" → 1."""
    text = text.strip()
    if not _NUMERAL.match(text):
        return None
    if "." in text and "," in text:
        return float(text.replace(".", "").replace(",", "."))
    if "," in text:
        head, _, tail = text.partition(",")
        if "," in tail:
            return float(text.replace(",", ""))
        return float(f"{head}.{tail}")
    if "." in text:
        groups = text.split(".")
        if all(len(group) == 3 for group in groups[1:]):
            return float("".join(groups))
        if len(groups) == 2:
            return float(text)
        return None
    return float(text)


def parse_number_words(text: str) -> float | None:
    """A number spelled in words: "hai" → 2, "mười hai" → 12, "ba mươi lăm" → 35, "hai nghìn" → 2000."""
    words = text.lower().split()
    if not words or any(w not in NUMBER_WORDS for w in words):
        return None
    total, group, current = 0.0, 0.0, 0.0
    for word in words:
        if word in DIGITS:
            current = DIGITS[word]
        elif word == "mười":
            group += 10
        elif word == "mươi":
            group += current * 10
            current = 0
        elif word == "trăm":
            group += current * 100
            current = 0
        elif word in ("linh", "lẻ"):
            continue
        else:
            scale = MULTIPLIERS[word]
            total += (group + current or 1) * scale
            group, current = 0.0, 0.0
    return total + group + current


def parse_vietnamese_number(text: str) -> float | None:
    """Digits or number words as a float, or None when `text` is not a number."""
    value = parse_numeral(text)
    return value if value is not None else parse_number_words(text)


def split_qualifier(text: str) -> tuple[str | None, str]:
    """Strip a leading qualifier word or sign: "trên 888.000" → ("gt", "888.000"), "≥ 90%" → ("gte", "90%")."""
    if text[:1] in QUALIFIER_SIGNS:
        return QUALIFIER_SIGNS[text[0]], text[1:].strip()
    lowered = text.lower()
    for words, code in QUALIFIER_WORDS.items():
        if lowered.startswith(words + " "):
            return code, text[len(words) :].strip()
    return None, text


def split_unit(text: str) -> tuple[str, str | None, float]:
    """Strip a trailing unit or scale word: ("70,6%") → ("70,6", "%", 1)."""
    for written, unit in UNITS.items():
        if text.endswith(written) and (written == "%" or text[: -len(written)].endswith(" ")):
            return text[: -len(written)].strip(), unit, 1.0
    for written, scale in MULTIPLIERS.items():
        if text.endswith(" " + written):
            return text[: -len(written)].strip(), None, scale
    return text, None, 1.0


_RANGE = re.compile(r"^(?P<low>.+?)\s*(?:-|–|đến)\s*(?P<high>[^-–]+)$")
# "5/6", "3.412/3.650": the quotient; a score out of a maximum ("81,36/100 điểm", "8,65/9,50"), with a decimal
# or the unit "điểm", takes the score as its value (annotations/README.md).
_FRACTION = re.compile(r"^(?P<top>\d[\d.,]*)/(?P<bottom>\d[\d.,]*)$")
_RANK = re.compile(r"^(?:thứ|vị trí(?:\s+số)?)\s+(?P<rank>\S+?)(?:/(?P<of>\d+))?$", re.IGNORECASE)
# A rate unit stays in the span (guidelines v2): "41,5 thuê bao/100 dân", "12%/năm", "5.000 đến 8.000 đồng/kg".
_RATE = re.compile(r"^(?P<number>\d[\d.,]*(?:\s*%?\s*(?:-|–|đến)\s*\d[\d.,]*)?)\s*"
                   r"(?P<unit>(?:%|[^\W\d_][^/]*?)(?:/[^/]+)+)$")


def finite(value: float | None) -> float | None:
    """`value`, or None when a float cannot hold it (hundreds of digits): JSON has no infinity."""
    return value if value is None or math.isfinite(value) else None


def parse_metric(text: str, following: str = "") -> MetricValue:
    """Read a METRIC span: value, upper bound of a range, unit and qualifier.

    Args:
        text: the span text, e.g. "trên 888.000", "35%-40%", "5/6", "thứ 13/63", "1,5 tỷ đồng".
        following: the text right after the span; "trở lên" there makes the qualifier gte.

    Returns:
        The parsed value; `value` is None when the number cannot be read.
    """
    text = " ".join(text.split())
    qualifier, rest = split_qualifier(text)
    if rest.lower().startswith(TIMES + " "):  # "gần gấp ba lần": the multiple is the number
        rest = rest[len(TIMES) + 1 :]
    if following.lstrip().lower().startswith(AT_LEAST_AFTER):
        qualifier = "gte"
    rank = _RANK.match(rest)
    if rank:
        return MetricValue(finite(parse_vietnamese_number(rank.group("rank"))), None, "rank", qualifier)
    rate = _RATE.match(rest)
    number, unit, scale = (rate.group("number"), rate.group("unit"), 1.0) if rate else split_unit(rest)
    fraction = _FRACTION.match(number)
    if fraction:
        top, bottom = parse_numeral(fraction.group("top")), parse_numeral(fraction.group("bottom"))
        if unit == "điểm" or "," in number:
            value = top
        else:
            value = top / bottom if top is not None and bottom else None
        return MetricValue(finite(value), None, unit, qualifier)
    value = parse_vietnamese_number(number)
    value_max = None
    if value is None:
        bounds = _RANGE.match(number)
        if bounds:
            low, low_unit, _ = split_unit(bounds.group("low"))
            value = parse_vietnamese_number(low)
            # "60% đến dưới 75%": the upper end's qualifier says where the range stops, not what the figure is
            # (guidelines v2: value 60, value_max 75, qualifier null).
            value_max = parse_vietnamese_number(split_qualifier(bounds.group("high"))[1])
            unit = unit or low_unit
    if value is not None:
        value *= scale
    if value_max is not None:
        value_max *= scale
    return MetricValue(finite(value), finite(value_max), unit, qualifier)
