"""The Label Studio labeling config, generated from the one label list of `pipeline.labels`.

Two columns: the article on the left, the selected METRIC's fact form on the right.
One `Labels` control over the article text (the eight entity types, with their
colours and descriptions), a second one for INDICATOR spans (guidelines v2),
relations `province`, `year` and `indicator` from a METRIC to the span that fixes
its province or year or says what it measures, and per-region fields on a METRIC
for the fact attributes that are not spans (`value` required: the editor refuses to
submit without it). The names defined here (controls, fields, relations) are the
schema that `tasks.py` writes and `gold.py` reads.
"""

import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.labels import LABELS, NATIONAL, QUALIFIERS, STATUSES, Label

TEXT = "text"  # the Text object tag, and the task data key holding the article
DOC_ID = "doc_id"  # task data key of the document id (Label Studio's own `id` is the task's)
META = "meta"  # task data key of the document metadata
LABELS_CONTROL = "label"
PROVINCE_RELATION = "province"
YEAR_RELATION = "year"
# Guidelines v2: the indicator is a span of the figure's sentence, drawn as an INDICATOR region (its own
# control, so it may overlap entities) and linked from its METRIC by an `indicator` relation.
INDICATOR_CONTROL = "indicator_span"
INDICATOR_LABEL = "INDICATOR"
INDICATOR_RELATION = "indicator"
INDICATOR_COLOUR = "#bcbd22"
RELATIONS: tuple[str, ...] = (PROVINCE_RELATION, YEAR_RELATION, INDICATOR_RELATION)


@dataclass(frozen=True)
class FactField:
    """A fact attribute that is not a span: a per-region control on a METRIC."""

    name: str
    tag: str  # Label Studio control tag: Number, TextArea or Choices
    hint: str

    @property
    def result_type(self) -> str:
        """The `type` of this field's items in an annotation result."""
        return self.tag.lower()

    @property
    def value_key(self) -> str:
        """The key of `value` that holds what the annotator entered."""
        return {"Number": "number", "TextArea": "text", "Choices": "choices"}[self.tag]


FACT_FIELDS: tuple[FactField, ...] = (
    FactField("value", "Number", "value (required): the number as a float: 888.000 → 888000, 70,6% → 70.6"),
    FactField("value_max", "Number", "value_max: upper end of a range (35%-40% → 40)"),
    FactField("unit", "TextArea", "unit: %, tỷ đồng, km, rank (thứ N) ...; empty when none is written"),
    FactField("qualifier", "Choices", "qualifier: gt trên/hơn, gte ít nhất, approx khoảng, lt dưới, lte tối đa"),
    FactField("indicator", "TextArea", "indicator: only when no INDICATOR span of the sentence says it"),
    FactField("province", "Choices",
              "province: only when no span near the figure fixes it (title, metadata, national)"),
    FactField("year", "Number", "year: only when no DATE near the figure fixes it (title, 'đến nay')"),
    FactField("status", "Choices", "status: achieved or target; none when unclear"),
)
FIELDS_BY_NAME: dict[str, FactField] = {f.name: f for f in FACT_FIELDS}
# A METRIC without these is unfinished: every figure has a number (its indicator may be null, guidelines v2).
REQUIRED_FIELDS: tuple[str, ...] = ("value",)
YEAR_RANGE = (1900, 2100)
# Two columns: the article on the left, the selected METRIC's form on the right, kept in view while the article
# scrolls, so that the annotator edits a figure's fields beside it, not 14,000 characters below it.
WORKSPACE_STYLE = "display: flex; align-items: flex-start; gap: 1em"
ARTICLE_STYLE = "flex: 3; min-width: 0"
FORM_STYLE = "flex: 2; min-width: 18em; position: sticky; top: 0; max-height: 100vh; overflow-y: auto"
FORM_CLASS = "vipie-fact-form"
# Label Studio draws every Header as a large title; field names in the form are small labels instead.
FORM_CSS = (f".{FORM_CLASS} h4 {{ font-size: 13px !important; line-height: 1.3 !important; "
            f"margin: 8px 0 2px !important; }}")
# Label Studio draws a selected span's resize handles as <area> elements. Browsers that follow the HTML rendering
# rules (Chromium 156 does) never display an <area> outside an image map, so the handles vanished and a span's end
# could not be dragged; this shows them again.
HANDLE_CSS = ".lsf-richtext .htx-highlight area { display: inline-block !important; }"


def province_choices(canonical_names: Sequence[str]) -> list[str]:
    """The province field's options: "Việt Nam" first, then the provinces in Vietnamese alphabetical order."""
    def folded(name: str) -> str:
        base = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))
        return base.replace("Đ", "D~").replace("đ", "d~").lower()

    return [NATIONAL] + sorted((n for n in canonical_names if n != NATIONAL), key=folded)


def labeling_config(
    province_names: Sequence[str],
    labels: Sequence[Label] = LABELS,
    qualifiers: Sequence[str] = QUALIFIERS,
    statuses: Sequence[str] = STATUSES,
) -> str:
    """The labeling config XML for `labels`, the fact fields and the province options.

    Args:
        province_names: canonical pre-2025 province names (`default_resolver().canonical_names`).
        labels, qualifiers, statuses: default to the package's one list in `pipeline.labels`.

    Returns:
        The XML as a string, ready for a Label Studio project's `label_config`.
    """
    view = ET.Element("View", style=WORKSPACE_STYLE)
    article = ET.SubElement(view, "View", style=ARTICLE_STYLE)
    ET.SubElement(article, "Header", value=f"${DOC_ID}", size="5")
    span_labels = ET.SubElement(article, "Labels", name=LABELS_CONTROL, toName=TEXT, showInline="true")
    for label in labels:
        ET.SubElement(span_labels, "Label", value=label.name, background=label.colour, hint=label.description)
    indicator = ET.SubElement(article, "Labels", name=INDICATOR_CONTROL, toName=TEXT, showInline="true")
    ET.SubElement(indicator, "Label", value=INDICATOR_LABEL, background=INDICATOR_COLOUR,
                  hint="what a figure counts or measures: select it in the figure's sentence, then relate the METRIC to it")
    relations = ET.SubElement(article, "Relations")
    for relation in RELATIONS:
        ET.SubElement(relations, "Relation", value=relation)
    ET.SubElement(article, "Text", name=TEXT, value=f"${TEXT}")
    ET.SubElement(view, "Style").text = FORM_CSS + "\n" + HANDLE_CSS
    form = ET.SubElement(view, "View", style=FORM_STYLE, className=FORM_CLASS)
    fact_view = ET.SubElement(form, "View", visibleWhen="region-selected", whenTagName=LABELS_CONTROL,
                              whenLabelValue="METRIC")
    ET.SubElement(fact_view, "Header", value="Fact of the selected METRIC", size="5")
    options = {"qualifier": qualifiers, "status": statuses, "province": province_choices(province_names)}
    for field in FACT_FIELDS:
        ET.SubElement(fact_view, "Header", value=field.hint, size="6")
        attrs = {"name": field.name, "toName": TEXT, "perRegion": "true"}
        if field.name in REQUIRED_FIELDS:
            # Label Studio refuses to submit while a METRIC region lacks it (and selects that region).
            attrs.update(required="true", whenLabelValue="METRIC",
                         requiredMessage=f"Every METRIC needs its {field.name}: select the METRIC and enter it.")
        if field.tag == "Number":
            attrs.update(step="1" if field.name == "year" else "any")
            if field.name == "year":
                attrs.update(min=str(YEAR_RANGE[0]), max=str(YEAR_RANGE[1]))
            ET.SubElement(fact_view, "Number", attrs)
        elif field.tag == "TextArea":
            attrs.update(editable="true", maxSubmissions="1", rows="1", placeholder=field.name)
            ET.SubElement(fact_view, "TextArea", attrs)
        else:
            attrs["choice"] = "single"
            if field.name == "province":  # 64 options: a drop-down, not a row of buttons
                attrs["layout"] = "select"
            else:
                attrs["showInline"] = "true"
            choices = ET.SubElement(fact_view, "Choices", attrs)
            for option in options[field.name]:
                ET.SubElement(choices, "Choice", value=option)
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"
