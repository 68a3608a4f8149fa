"""`vipie annotate config`: the labeling config comes from pipeline.labels and names what gold.py reads."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.annotate.config import FACT_FIELDS, labeling_config, province_choices
from pipeline.labels import LABELS, NATIONAL, QUALIFIERS, STATUSES, Label
from pipeline.provinces import default_resolver

VIPIE = str(Path(sys.executable).parent / "vipie")


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml)


def test_config_labels_are_the_package_labels_with_colours_and_descriptions():
    root = parse(labeling_config(default_resolver().canonical_names))
    spans = root.find(".//Labels")
    assert spans.get("name") == "label" and spans.get("toName") == "text"
    assert [(x.get("value"), x.get("background"), x.get("hint")) for x in spans.findall("Label")] == [
        (label.name, label.colour, label.description) for label in LABELS]
    assert root.find(".//Text").attrib == {"name": "text", "value": "$text"}


def test_config_follows_the_label_list_it_is_given():
    labels = (Label("PLACE", "a place", "#000000"), Label("METRIC", "a figure", "#ffffff"))
    root = parse(labeling_config(["Lào Cai"], labels=labels, qualifiers=("gt",), statuses=("target",)))
    assert [x.get("value") for x in root.find(".//Labels").iter("Label")] == ["PLACE", "METRIC"]
    assert [c.get("value") for c in root.find(".//Choices[@name='qualifier']")] == ["gt"]
    assert [c.get("value") for c in root.find(".//Choices[@name='status']")] == ["target"]
    assert [c.get("value") for c in root.find(".//Choices[@name='province']")] == [NATIONAL, "Lào Cai"]


def test_config_has_province_year_and_indicator_relations_and_an_indicator_control():
    root = parse(labeling_config(default_resolver().canonical_names))
    assert [r.get("value") for r in root.find(".//Relations")] == ["province", "year", "indicator"]
    indicator = root.find(".//Labels[@name='indicator_span']")
    assert indicator.get("toName") == "text" and [x.get("value") for x in indicator] == ["INDICATOR"]


def test_config_fact_fields_are_per_region_on_metric():
    root = parse(labeling_config(default_resolver().canonical_names))
    fact_view = root.find(".//View[@whenLabelValue='METRIC']")
    assert fact_view.get("visibleWhen") == "region-selected" and fact_view.get("whenTagName") == "label"
    controls = [c for c in fact_view if c.tag != "Header"]
    assert [(c.tag, c.get("name")) for c in controls] == [(f.tag, f.name) for f in FACT_FIELDS]
    assert [f.name for f in FACT_FIELDS] == ["value", "value_max", "unit", "qualifier", "indicator", "province",
                                             "year", "status"]
    assert all(c.get("perRegion") == "true" and c.get("toName") == "text" for c in controls)
    assert [c.get("value") for c in fact_view.find("Choices[@name='qualifier']")] == list(QUALIFIERS)
    assert [c.get("value") for c in fact_view.find("Choices[@name='status']")] == list(STATUSES)


def test_province_choices_are_national_then_the_63_provinces():
    names = default_resolver().canonical_names
    choices = province_choices(names)
    assert choices[0] == NATIONAL and sorted(choices[1:]) == sorted(names) and len(choices) == 64
    assert choices.index("Đà Nẵng") > choices.index("Cần Thơ") and choices.index("Đà Nẵng") < choices.index("Gia Lai")


def test_cli_config_prints_the_config(tmp_path):
    result = subprocess.run([VIPIE, "annotate", "config"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == labeling_config(default_resolver().canonical_names)
    out = tmp_path / "config.xml"
    subprocess.run([VIPIE, "annotate", "config", "--out", str(out)], check=True, timeout=120)
    assert out.read_text(encoding="utf-8") == result.stdout


def test_core_modules_never_import_label_studio_or_the_annotation_tools():
    import ast

    package = Path(__file__).resolve().parent.parent / "pipeline"
    core = [package / "document.py", package / "tokenize.py", *package.glob("recognize/*.py"),
            *package.glob("facts/*.py")]
    for path in core:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith(("label_studio", "pipeline.annotate")) for n in names), path


def test_config_puts_the_fact_form_beside_the_text_in_two_columns():
    root = parse(labeling_config(default_resolver().canonical_names))
    article, form = root.findall("View")
    assert "display: flex" in root.get("style") and "flex" in article.get("style") and "sticky" in form.get("style")
    assert article.find("Text") is not None and form.find(".//Text") is None
    assert form.find("View[@whenLabelValue='METRIC']").find("Number[@name='value']") is not None


def test_config_requires_a_value_on_every_metric_and_nothing_else():
    root = parse(labeling_config(default_resolver().canonical_names))
    required = [c for c in root.iter() if c.get("required") == "true"]
    assert [(c.tag, c.get("name"), c.get("perRegion"), c.get("whenLabelValue")) for c in required] == [
        ("Number", "value", "true", "METRIC")]
    assert "value" in required[0].get("requiredMessage")
