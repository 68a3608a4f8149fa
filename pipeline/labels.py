"""The label set and the fact fields: the one source for rules, models, annotation and evaluation.

Everything that needs a label name, a colour for Label Studio or the list of
fact qualifiers takes it from here (ANNOTATION_GUIDELINES.md defines them).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    name: str
    description: str
    colour: str


LABELS: tuple[Label, ...] = (
    Label("AGENCY", "a specific state, party or public body, or a named organization", "#1f77b4"),
    Label("OFFICIAL", "a person's name, without honorific or title", "#d62728"),
    Label("TITLE", "a post held by a specific person, role words only", "#9467bd"),
    Label("SYSTEM", "a specific information system, platform, portal, software, database or data centre", "#2ca02c"),
    Label("METRIC", "a quantitative value: qualifier + number + unit of measure", "#ff7f0e"),
    Label("DATE", "an explicit calendar expression: year, day, month, quarter or period", "#8c564b"),
    Label("LOCATION", "a geographical name with its administrative prefix", "#17becf"),
    Label("DOCUMENT", "a legal or policy document cited by its number/symbol", "#7f7f7f"),
)

LABEL_NAMES: tuple[str, ...] = tuple(label.name for label in LABELS)

QUALIFIERS: tuple[str, ...] = ("gt", "gte", "approx", "lt", "lte")
STATUSES: tuple[str, ...] = ("achieved", "target")
# "document" extends the contract's lists: for a province, the only one the text names when title and meta name
# none; for a year, a DATE elsewhere in the document (the article's period, guidelines v2). "title" extends the
# year's list: the title's year.
PROVINCE_EVIDENCE: tuple[str, ...] = ("sentence", "paragraph", "title", "meta", "agency", "document")
YEAR_EVIDENCE: tuple[str, ...] = ("sentence", "paragraph", "published", "title", "document")
NATIONAL = "Việt Nam"
