"""`vipie show`: documents with their entities and facts as one self-contained HTML page.

Each document is cut into the paragraphs layout finds; each paragraph is drawn
by spaCy's displaCy (entity style, manual input, one colour per label) and has
its facts beside it: figure, value, unit, qualifier, indicator, province, year
and status, with the spans that decided them. Those spans (the figure, its
indicator, the province's and the year's evidence) are underlined in the text,
and hovering a fact lights up its spans and hovering a span lights up its
facts. CSS and script are inline and nothing is fetched, so the page works
offline and as a file attached to an email.
"""

import html
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from pipeline.corpus import partial_path, replace_file
from pipeline.document import read_gold_documents
from pipeline.errors import InputError, OutputError
from pipeline.labels import LABELS
from pipeline.layout import analyse_layout, load_boilerplate

# What a fact points at in the text, in the order the legend lists them.
SPAN_KINDS = ("metric", "indicator", "province", "year")
SPAN_KIND_NAMES = {"metric": "figure", "indicator": "indicator", "province": "province's evidence",
                   "year": "year's evidence"}
QUALIFIER_SIGNS = {"gt": ">", "gte": "≥", "approx": "≈", "lt": "<", "lte": "≤"}
# displaCy's template for one entity, without the whitespace and inline styles of its default: the label sits in a
# span of its own, so that the text of a paragraph can be told from the labels when its spans are underlined.
ENTITY_TEMPLATE = ('<mark class="entity" data-label="{label}" style="background: {bg}">{text}'
                   '<span class="entity-label">{label}</span></mark>')
PAGE_GENERATOR = "vipie show"


@dataclass(frozen=True)
class FactSpan:
    """A stretch `[start, end)` of the text that fact `fact` points at, as its `kind` (SPAN_KINDS)."""

    start: int
    end: int
    kind: str
    fact: str


def fact_key(doc_index: int, fact_index: int) -> str:
    """The id that ties a fact's row to its spans in the page."""
    return f"d{doc_index}f{fact_index}"


def fact_spans(facts: list[dict], doc_index: int) -> list[FactSpan]:
    """Every span the facts of one document point at: figure, indicator span, province span, year span."""
    spans = []
    for n, fact in enumerate(facts):
        for kind, span in (("metric", fact.get("metric")), ("indicator", fact.get("indicator_span")),
                           ("province", fact.get("province_span")), ("year", fact.get("year_span"))):
            if isinstance(span, dict) and span.get("start") is not None and span.get("end") is not None:
                spans.append(FactSpan(span["start"], span["end"], kind, fact_key(doc_index, n)))
    return spans


@cache
def boilerplate():
    """The layout's boilerplate lines, read once per process (a page shows many documents)."""
    return load_boilerplate()


def blocks(text: str, entities: list[dict]) -> list[tuple[int, int]]:
    """The text cut at the title and every paragraph layout finds, as `(start, end)` pairs that cover every
    non-blank character; a cut never falls inside an entity."""
    layout = analyse_layout(text, boilerplate())
    cuts = {0, *(start for start, _ in layout.paragraphs), *([layout.title[0]] if layout.title else [])}
    cuts = sorted(c for c in cuts if not any(e["start"] < c < e["end"] for e in entities))
    found = []
    for start, end in zip(cuts, cuts[1:] + [len(text)]):
        end = start + len(text[start:end].rstrip())
        if end > start:
            found.append((start, end))
    return found


class SpanUnderliner(HTMLParser):
    """Re-writes displaCy's markup of `text[base:]` with each stretch of text that fact spans cover wrapped in
    `<span class="fs fs-KIND..." data-facts="KEY...">`: the markup is parsed, not guessed at, so the stretches
    may cross entity boundaries."""

    def __init__(self, base: int, spans: list[FactSpan]):
        super().__init__(convert_charrefs=True)
        self.position = base  # in the text; not `offset`, which HTMLParser keeps for itself
        self.spans = spans
        self.parts: list[str] = []
        self.in_label = False

    def handle_starttag(self, tag, attrs):
        if tag == "br":  # displaCy writes each newline of the text as <br>
            self.position += 1
        self.in_label = self.in_label or ("class", "entity-label") in attrs
        self.parts.append(self.get_starttag_text())

    def handle_endtag(self, tag):
        if tag == "span":
            self.in_label = False
        self.parts.append(f"</{tag}>")

    def handle_data(self, data):
        if self.in_label:
            self.parts.append(html.escape(data, quote=False))
            return
        start, end = self.position, self.position + len(data)
        cuts = sorted({start, end, *(p for s in self.spans for p in (s.start, s.end) if start < p < end)})
        for a, b in zip(cuts, cuts[1:]):
            piece = html.escape(data[a - start : b - start], quote=False)
            covering = [s for s in self.spans if s.start <= a and b <= s.end]
            self.parts.append(underlined(piece, covering) if covering else piece)
        self.position = end


def underlined(piece: str, spans: list[FactSpan]) -> str:
    kinds = sorted({s.kind for s in spans}, key=SPAN_KINDS.index)
    keys = " ".join(dict.fromkeys(s.fact for s in spans))
    what = "; ".join(SPAN_KIND_NAMES[kind] for kind in kinds)
    return (f'<span class="fs {" ".join("fs-" + k for k in kinds)}" data-facts="{keys}" '
            f'title="{html.escape(what)}">{piece}</span>')


def render_block(text: str, start: int, end: int, entities: list[dict], spans: list[FactSpan]) -> str:
    """displaCy's entity markup of `text[start:end]`, with the fact spans in it underlined."""
    from spacy import displacy

    inside = sorted((e for e in entities if start <= e["start"] and e["end"] <= end), key=lambda e: e["start"])
    markup = displacy.render(
        {"text": text[start:end], "title": None,
         "ents": [{"start": e["start"] - start, "end": e["end"] - start, "label": e["label"]} for e in inside]},
        style="ent", manual=True, page=False, jupyter=False,
        options={"colors": {label.name: label.colour for label in LABELS}, "template": ENTITY_TEMPLATE})
    underliner = SpanUnderliner(start, [s for s in spans if s.start < end and start < s.end])
    underliner.feed(markup)
    underliner.close()
    return "".join(underliner.parts)


def web_url(value) -> str | None:
    """`value` when it is an http(s) address, else None: a document's url is untrusted input, and a link to
    `javascript:` would run in the page."""
    return value if isinstance(value, str) and value.lower().startswith(("http://", "https://")) else None


def quoted(text: str, span: dict | None) -> str:
    """The words of `span` in `text`, quoted, or "" when there is no span."""
    if not isinstance(span, dict) or span.get("start") is None:
        return ""
    return f"“{' '.join(text[span['start'] : span['end']].split())}”"


def value_text(fact: dict) -> str:
    value = fact.get("value")
    if value is None:
        return ""
    shown = f"{value:g}" if fact.get("value_max") is None else f"{value:g}–{fact['value_max']:g}"
    return QUALIFIER_SIGNS.get(fact.get("qualifier"), "") + shown


def decided_by(text: str, fact: dict, field: str) -> str:
    """A fact's province or year with what decided it: the evidence's kind and, when a span did, its words."""
    value = fact.get(field)
    evidence = (fact.get("evidence") or {}).get(field)
    how = " ".join(part for part in (evidence or "", quoted(text, fact.get(f"{field}_span"))) if part)
    shown = "—" if value is None else html.escape(str(value))
    return f'{shown}<div class="how">{html.escape(how)}</div>' if how else shown


def fact_row(text: str, fact: dict, key: str) -> str:
    cells = [
        f'{html.escape(fact["metric"]["text"])}<div class="how">{html.escape(fact.get("status") or "")}</div>',
        html.escape(value_text(fact)),
        html.escape(fact.get("unit") or ""),
        html.escape(fact.get("qualifier") or ""),
        html.escape(fact.get("indicator") or ""),
        decided_by(text, fact, "province"),
        decided_by(text, fact, "year"),
    ]
    return f'<tr class="fact" data-fact="{key}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


FACT_HEADER = ("<thead><tr><th>figure</th><th>value</th><th>unit</th><th>qualifier</th><th>indicator</th>"
               "<th>province</th><th>year</th></tr></thead>")


def facts_table(text: str, facts: list[tuple[int, dict]], doc_index: int) -> str:
    if not facts:
        return ""
    rows = "".join(fact_row(text, fact, fact_key(doc_index, n)) for n, fact in facts)
    return f'<table class="facts">{FACT_HEADER}<tbody>{rows}</tbody></table>'


def document_section(record: dict, doc_index: int) -> str:
    """One document: a heading with its metadata and problems, then each paragraph beside its facts."""
    text = record.get("text") or ""
    entities = record.get("entities") or []
    facts = record.get("facts") or []
    spans = fact_spans(facts, doc_index)
    meta = record.get("meta") or {}
    details = [f"{len(entities)} entities", f"{len(facts)} facts"]
    details += [f"{key}: {html.escape(str(meta[key]))}" for key in ("published", "province") if meta.get(key)]
    if web_url(meta.get("url")):
        details.append(f'<a href="{html.escape(meta["url"])}">source</a>')
    problems = "".join(f'<p class="problem">{html.escape(str(p))}</p>'
                       for p in [*(record.get("errors") or []), *(record.get("warnings") or [])])
    parts = [f'<section class="document" id="doc-{doc_index}"><h2>{html.escape(str(record.get("id")))}'
             f'{" — " + html.escape(str(meta["title"])) if meta.get("title") else ""}</h2>'
             f'<p class="details">{" · ".join(details)}</p>{problems}']
    for start, end in blocks(text, entities):
        here = [(n, f) for n, f in enumerate(facts) if start <= f["metric"]["start"] < end]
        parts.append(f'<div class="block"><div class="text">{render_block(text, start, end, entities, spans)}</div>'
                     f'<div class="side">{facts_table(text, here, doc_index)}</div></div>')
    parts.append("</section>")
    return "".join(parts)


def legend() -> str:
    labels = "".join(f'<span class="key" style="background: {label.colour}" title="{html.escape(label.description)}">'
                     f"{label.name}</span>" for label in LABELS)
    kinds = "".join(f'<span class="fs fs-{kind}">{SPAN_KIND_NAMES[kind]}</span>' for kind in SPAN_KINDS)
    return f'<div class="legend"><div>{labels}</div><div>underlined: {kinds}</div></div>'


STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 1.5em 2em; color: #222; }
header { position: sticky; top: 0; background: #fff; padding: .5em 0; border-bottom: 1px solid #ddd; z-index: 1; }
h1 { font-size: 1.3em; margin: .3em 0; } h2 { font-size: 1.1em; margin: 1.5em 0 .2em; }
.details { color: #555; margin: 0 0 .5em; } .problem { color: #b00020; margin: .2em 0; }
.legend { font-size: .85em; display: flex; flex-wrap: wrap; gap: .4em 2em; }
.key { display: inline-block; padding: .1em .5em; margin: .15em; border-radius: .3em; color: #fff; font-weight: bold; }
.block { display: grid; grid-template-columns: minmax(0, 11fr) minmax(0, 9fr); gap: 1.5em;
         border-top: 1px solid #eee; padding: .3em 0; }
.entities { line-height: 2.1; }
.legend .fs { margin-right: 1em; }
mark.entity { padding: .2em .4em; margin: 0 .15em; border-radius: .35em; line-height: 1; color: #fff; }
.entity-label { font-size: .65em; font-weight: bold; margin-left: .4em; vertical-align: middle; opacity: .85; }
.fs-indicator { text-decoration: underline 2px #333; text-underline-offset: 3px; }
.fs-province { border-bottom: 2px dashed #0b7285; }
.fs-year { border-bottom: 2px dotted #6b3e26; }
.fs-metric { border-bottom: 2px solid #222; }
.fs.hot, tr.fact.hot { background: #ffe066; color: #000; }
table.facts { border-collapse: collapse; font-size: .85em; width: 100%; }
table.facts th { text-align: left; color: #555; font-weight: 600; border-bottom: 1px solid #ccc; }
table.facts td { vertical-align: top; padding: .2em .3em; border-bottom: 1px solid #f0f0f0; }
.how { color: #666; font-size: .85em; }
"""

# Hovering a fact's row lights up its spans in the text, and hovering a span lights up the rows of its facts.
SCRIPT = """
document.addEventListener('mouseover', function (event) {
  document.querySelectorAll('.hot').forEach(function (el) { el.classList.remove('hot'); });
  var row = event.target.closest('tr.fact'), span = event.target.closest('.fs[data-facts]');
  var keys = row ? [row.dataset.fact] : span ? span.dataset.facts.split(' ') : [];
  keys.forEach(function (key) {
    document.querySelectorAll('tr.fact[data-fact="' + key + '"], .fs[data-facts~="' + key + '"]')
      .forEach(function (el) { el.classList.add('hot'); });
  });
});
"""


def show_page(records: list[dict], title: str) -> str:
    """A self-contained HTML page (inline CSS and script, nothing fetched) of `records` in the contract's format."""
    sections = "".join(document_section(record, n) for n, record in enumerate(records))
    return (f'<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><meta name="generator" '
            f'content="{PAGE_GENERATOR}"><title>{html.escape(title)}</title><style>{STYLE}</style></head><body>'
            f"<header><h1>{html.escape(title)}</h1>{legend()}</header><main>{sections}</main>"
            f"<script>{SCRIPT}</script></body></html>")


def is_extraction(path: Path) -> bool:
    """Whether `path` is a JSONL file of output records (it has entities), not of documents to extract."""
    if path.suffix.lower() != ".jsonl" or not path.is_file():
        return False
    with path.open(encoding="utf-8", errors="replace") as fh:
        first = next((line for line in fh if line.strip()), "")
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and "entities" in record


def read_records(inputs: Iterable[Path], nlp_loader, max_chars: int) -> Iterator[dict]:
    """Output records of every input, in order: extraction JSONL files as they are, anything else (.txt, JSONL
    of documents, folders) run through the model that `nlp_loader()` loads, once, when first needed."""
    from pipeline.document import iter_documents
    from pipeline.extract import process_document

    nlp = None
    for path in inputs:
        if is_extraction(path):
            yield from read_gold_documents(path, required=("id", "text", "entities", "facts"))
            continue
        for document in iter_documents([path], max_chars):
            nlp = nlp or nlp_loader()
            yield process_document(nlp, document)


def pick(records: Iterable[dict], ids: list[str]) -> list[dict]:
    """The records whose id is in `ids` (all of them when `ids` is empty), in input order.

    Raises:
        InputError: an id in `ids` names no record.
    """
    records = list(records)
    if not ids:
        return records
    known = {str(r.get("id")) for r in records}
    missing = [i for i in ids if i not in known]
    if missing:
        sample = ", ".join(sorted(known)[:5]) + (", ..." if len(known) > 5 else "")
        raise InputError(f"--id {missing[0]}: no document has this id in the inputs (ids: {sample})")
    return [r for r in records if str(r.get("id")) in ids]


def check_page_out(out: Path, overwrite: bool) -> None:
    """Refuse, before anything is read or run, an `out` the page cannot or must not be written to.

    Raises:
        OutputError: `out` does not end in .html, its folder is missing, or it exists and `overwrite` is not set.
    """
    if out.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"--out {out}: the page is HTML; give a name ending in .html")
    if not out.parent.is_dir():
        raise OutputError(f"--out {out}: folder {out.parent} does not exist; create it or choose another --out")
    if out.exists() and not overwrite:
        raise OutputError(f"--out {out}: exists; add --overwrite to replace it or choose another --out")


def write_page(page: str, out: Path, overwrite: bool) -> None:
    """Write an HTML page to `out` through a temporary file, so that a failed write leaves no half page.

    Raises:
        OutputError: see `check_page_out`, or the file cannot be written.
    """
    check_page_out(out, overwrite)
    partial = partial_path(out)
    try:
        partial.write_text(page, encoding="utf-8")
        replace_file(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OutputError(f"--out {out}: cannot be written ({exc.strerror}); choose another --out") from exc
