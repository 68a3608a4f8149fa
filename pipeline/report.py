"""`vipie report`: a structured corpus as one self-contained HTML report with interactive charts.

Every count is computed by DuckDB, so the page holds aggregates, not the
corpus: facts per province and year, the most frequent indicators, how
provinces and years were resolved (the share left null, each kind of
evidence), entities per label and the documents with errors. Charts are
Plotly's, with its JavaScript bundle inlined, so nothing is fetched. The
searchable table of facts embeds its rows as JSON (sentences stored once) and
draws one page of them at a time, so 100,000 facts never become 100,000 rows
of DOM; past `max_rows` the table is cut, with a note. Each row links to its
fact's sentence (`report.html#fact-N`), shown with the figure marked.
"""

import html
import json

from pipeline.errors import InputError
from pipeline.labels import LABELS, PROVINCE_EVIDENCE, YEAR_EVIDENCE

NONE = "(none)"
FACT_COLUMNS = ("doc", "figure", "value", "value_max", "qualifier", "unit", "indicator", "province", "year",
                "status", "score", "sentence", "province_evidence", "year_evidence")
PAGE_ROWS = 50


def fetch(con, sql: str, params: list | None = None) -> list[tuple]:
    """The rows of `sql` on `con`.

    Raises:
        InputError: the corpus lacks a table or column the report reads (written by an older vipie).
    """
    import duckdb

    try:
        return con.execute(sql, params or []).fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"the corpus cannot be reported on ({first}); extract it again with this vipie "
                         "(`vipie extract ... --out NAME.duckdb --overwrite`)") from exc


def corpus_figures(con, top_indicators: int = 20, max_rows: int = 100_000, max_error_docs: int = 100) -> dict:
    """What the report shows, computed in DuckDB on `con` (tables documents, entities, facts by those names).

    Returns a dict of plain values: `totals`, `by_province_year` [(province, year, facts)], `indicators`
    [(words, facts)], `evidence` [(field, evidence, facts)], `labels` [(label, entities)], `error_documents`
    [(id, errors)] (at most `max_error_docs`), and the fact table: `facts` (rows in FACT_COLUMNS order, at most
    `max_rows`, `doc` and `sentence` as indexes into `documents` [(id, url)] and `sentences`).
    """
    documents, with_errors = fetch(con, "SELECT count(*), count(*) FILTER (WHERE len(errors) > 0) FROM documents")[0]
    facts, null_province, null_year = fetch(con, "SELECT count(*), count(*) FILTER (WHERE province IS NULL), "
                                                 "count(*) FILTER (WHERE year IS NULL) FROM facts")[0]
    totals = {"documents": documents, "documents_with_errors": with_errors,
              "entities": fetch(con, "SELECT count(*) FROM entities")[0][0], "facts": facts,
              "null_province": null_province, "null_year": null_year}
    figures = {
        "totals": totals,
        "by_province_year": fetch(con, f"SELECT coalesce(province, '{NONE}'), coalesce(CAST(year AS VARCHAR), "
                                       f"'{NONE}'), count(*) FROM facts GROUP BY ALL ORDER BY ALL"),
        # An indicator span may run across a hard line wrap: the same words count as one indicator.
        "indicators": fetch(con, "SELECT regexp_replace(indicator, '\\s+', ' ', 'g') AS words, count(*) FROM facts "
                                 "WHERE indicator IS NOT NULL GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT ?",
                            [top_indicators]),
        "evidence": fetch(con, f"SELECT 'province', coalesce(province_evidence, '{NONE}'), count(*) FROM facts "
                               f"GROUP BY ALL UNION ALL SELECT 'year', coalesce(year_evidence, '{NONE}'), count(*) "
                               "FROM facts GROUP BY ALL ORDER BY ALL"),
        "labels": fetch(con, "SELECT label, count(*) FROM entities GROUP BY ALL ORDER BY 2 DESC, 1"),
        "error_documents": fetch(con, "SELECT id, errors FROM documents WHERE len(errors) > 0 ORDER BY id LIMIT ?",
                                 [max_error_docs]),
    }
    return figures | fact_table(con, max_rows)


def fact_table(con, max_rows: int) -> dict:
    """The first `max_rows` facts (by document and position) as rows, documents and sentences stored once."""
    rows = fetch(con, "SELECT doc_id, metric_text, value, value_max, qualifier, unit, indicator, province, year, "
                      "status, round(score, 3), sentence, province_evidence, year_evidence FROM facts "
                      "ORDER BY doc_id, metric_start LIMIT ?", [max_rows])
    doc_ids = sorted({row[0] for row in rows})
    urls = dict(fetch(con, "SELECT id, any_value(url) FROM documents WHERE url IS NOT NULL AND id IN "
                           "(SELECT unnest(?::VARCHAR[])) GROUP BY id", [doc_ids])) if doc_ids else {}
    doc_index = {doc_id: n for n, doc_id in enumerate(doc_ids)}
    sentence_index: dict[str, int] = {}
    table = []
    for row in rows:
        sentence = sentence_index.setdefault(row[11] or "", len(sentence_index))
        table.append([doc_index[row[0]], *row[1:11], sentence, *row[12:]])
    return {"facts": table, "documents": [(doc_id, urls.get(doc_id)) for doc_id in doc_ids],
            "sentences": list(sentence_index)}


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def province_year_chart(rows: list[tuple]):
    """A heatmap of facts per province (rows, most facts first) and year (columns, in order, unknown last)."""
    import plotly.graph_objects as go

    totals: dict[str, int] = {}
    for province, _, n in rows:
        totals[province] = totals.get(province, 0) + n
    provinces = sorted(totals, key=lambda p: (p == NONE, -totals[p], p))
    years = sorted({year for _, year, _ in rows}, key=lambda y: (y == NONE, y))
    counts = {(p, y): n for p, y, n in rows}
    z = [[counts.get((p, y)) for y in years] for p in provinces]
    figure = go.Figure(go.Heatmap(z=z, x=years, y=provinces, colorscale="Blues", hoverongaps=False, texttemplate="%{z}",
                                  hovertemplate="%{y}, %{x}: %{z} facts<extra></extra>"))
    figure.update_layout(title="Facts per province and year", xaxis={"type": "category"},
                         yaxis={"type": "category", "autorange": "reversed"},
                         height=max(360, 120 + 22 * len(provinces)))
    return figure


def indicator_chart(rows: list[tuple]):
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(x=[n for _, n in rows], y=[words for words, _ in rows], orientation="h",
                              marker_color="#ff7f0e", hovertemplate="%{y}: %{x} facts<extra></extra>"))
    figure.update_layout(title=f"The {len(rows)} most frequent indicators", yaxis={"autorange": "reversed"},
                         height=max(360, 120 + 24 * len(rows)), margin={"l": 300})
    return figure


def evidence_chart(rows: list[tuple], totals: dict):
    """Grouped bars: how many facts had their province, and their year, from each kind of evidence (or none)."""
    import plotly.graph_objects as go

    known = list(dict.fromkeys([*PROVINCE_EVIDENCE, *YEAR_EVIDENCE]))
    kinds = sorted({kind for _, kind, _ in rows}, key=lambda k: (k == NONE, known.index(k) if k in known else 99, k))
    counts = {(field, kind): n for field, kind, n in rows}
    figure = go.Figure([go.Bar(name=field, x=kinds, y=[counts.get((field, k), 0) for k in kinds],
                               hovertemplate=f"{field} from %{{x}}: %{{y}} facts<extra></extra>")
                        for field in ("province", "year")])
    facts = totals["facts"]
    figure.update_layout(title=f"How figures were resolved: province null for {share(totals['null_province'], facts)}"
                               f", year null for {share(totals['null_year'], facts)}",
                         barmode="group", xaxis_title="evidence", yaxis_title="facts", height=400)
    return figure


def label_chart(rows: list[tuple]):
    import plotly.graph_objects as go

    colours = {label.name: label.colour for label in LABELS}
    figure = go.Figure(go.Bar(x=[label for label, _ in rows], y=[n for _, n in rows],
                              marker_color=[colours.get(label, "#999") for label, _ in rows],
                              hovertemplate="%{x}: %{y} entities<extra></extra>"))
    figure.update_layout(title="Entities per label", yaxis_title="entities", height=400)
    return figure


def chart_html(figure, name: str) -> str:
    """A figure's div and the script that draws it; the Plotly bundle itself is in the page's head, once."""
    import plotly.io as pio

    return pio.to_html(figure, full_html=False, include_plotlyjs=False, div_id=f"chart-{name}",
                       config={"displaylogo": False, "responsive": True})


def error_section(figures: dict) -> str:
    total = figures["totals"]["documents_with_errors"]
    listed = figures["error_documents"]
    if not total:
        return "<p>No document has errors.</p>"
    rows = "".join(f"<tr><td>{html.escape(str(doc_id))}</td><td>{html.escape('; '.join(errors))}</td></tr>"
                   for doc_id, errors in listed)
    more = f"<p>The first {len(listed)} of {total} are listed.</p>" if len(listed) < total else ""
    return f'<table class="plain"><thead><tr><th>document</th><th>errors</th></tr></thead><tbody>{rows}</tbody></table>{more}'


def table_note(figures: dict, corpus_name: str) -> str:
    held, facts = len(figures["facts"]), figures["totals"]["facts"]
    if held == facts:
        return ""
    return (f'<p class="note">The table holds the first {held:,} of {facts:,} facts (by document); '
            f'<code>vipie sql {html.escape(corpus_name)} "SELECT * FROM facts"</code> lists them all.</p>')


def embedded_json(value) -> str:
    """JSON safe inside a <script> element: "</" cannot end it early."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False).replace("</", "<\\/")


STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 1.5em 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
.tiles { display: flex; flex-wrap: wrap; gap: 1em; }
.tile { border: 1px solid #ddd; border-radius: .4em; padding: .5em 1em; min-width: 9em; }
.tile b { display: block; font-size: 1.5em; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 1em; }
.chart { border: 1px solid #eee; border-radius: .4em; }
table.plain, table#facts { border-collapse: collapse; font-size: .85em; width: 100%; }
th { text-align: left; color: #555; border-bottom: 1px solid #ccc; padding: .2em .4em; }
td { vertical-align: top; padding: .2em .4em; border-bottom: 1px solid #f0f0f0; }
.controls { display: flex; gap: 1em; align-items: center; margin: .5em 0; }
#search { font-size: 1em; padding: .3em .5em; width: 28em; }
.note { color: #555; }
#sentence { position: fixed; left: 0; right: 0; bottom: 0; background: #fffbe6; border-top: 2px solid #e0b000;
            padding: .8em 1.5em; display: none; max-height: 40vh; overflow: auto; }
#sentence.open { display: block; }
#sentence mark { background: #ff7f0e; color: #fff; padding: 0 .2em; border-radius: .2em; }
"""

# The fact table: rows live in the page as JSON and one page of them at a time becomes DOM. The search matches
# words in the document id, figure, indicator, province, year, status and sentence; `#fact-N` shows a sentence.
SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('fact-data').textContent);
  var C = {}; data.columns.forEach(function (name, i) { C[name] = i; });
  var SIGN = {gt: '>', gte: '≥', approx: '≈', lt: '<', lte: '≤'};
  var PAGE = __PAGE_ROWS__, page = 0, matching = data.rows.map(function (_, i) { return i; }), haystack = null;
  var body = document.querySelector('#facts tbody'), count = document.getElementById('count');
  function esc(s) {
    return s == null ? '' : String(s).replace(/[&<>"]/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; });
  }
  function value(r) {
    if (r[C.value] == null) return '';
    return (SIGN[r[C.qualifier]] || '') + r[C.value] + (r[C.value_max] == null ? '' : '–' + r[C.value_max]);
  }
  function draw() {
    var first = page * PAGE, last = Math.min(matching.length, first + PAGE), out = [];
    for (var k = first; k < last; k++) {
      var i = matching[k], r = data.rows[i];
      out.push('<tr class="fact"><td>' + esc(data.documents[r[C.doc]][0]) + '</td><td>' + esc(r[C.figure]) +
        '</td><td>' + esc(value(r)) + '</td><td>' + esc(r[C.unit]) + '</td><td>' + esc(r[C.indicator]) +
        '</td><td>' + esc(r[C.province]) + '</td><td>' + esc(r[C.year]) + '</td><td>' + esc(r[C.status]) +
        '</td><td>' + esc(r[C.score]) + '</td><td><a class="to-sentence" href="#fact-' + i + '">sentence</a></td></tr>');
    }
    body.innerHTML = out.join('');
    count.textContent = matching.length ? (first + 1) + '–' + last + ' of ' + matching.length + ' facts' : 'no fact matches';
    document.getElementById('previous').disabled = page === 0;
    document.getElementById('next').disabled = last >= matching.length;
  }
  function search(words) {
    if (!haystack) haystack = data.rows.map(function (r) {
      return [data.documents[r[C.doc]][0], r[C.figure], r[C.indicator], r[C.province], r[C.year], r[C.status],
              data.sentences[r[C.sentence]]].join(' ').normalize('NFC').toLowerCase();
    });
    var terms = words.normalize('NFC').toLowerCase().split(/\\s+/).filter(Boolean);
    matching = [];
    for (var i = 0; i < haystack.length; i++) {
      if (terms.every(function (t) { return haystack[i].indexOf(t) >= 0; })) matching.push(i);
    }
    page = 0; draw();
  }
  function showSentence() {
    var panel = document.getElementById('sentence'), m = /^#fact-(\\d+)$/.exec(location.hash);
    var r = m && data.rows[+m[1]];
    if (!r) { panel.classList.remove('open'); return; }
    var doc = data.documents[r[C.doc]], sentence = data.sentences[r[C.sentence]], at = sentence.indexOf(r[C.figure]);
    var marked = at < 0 ? esc(sentence) : esc(sentence.slice(0, at)) + '<mark>' + esc(r[C.figure]) + '</mark>' +
      esc(sentence.slice(at + r[C.figure].length));
    var source = doc[1] ? ' · <a href="' + esc(doc[1] + '#:~:text=' + encodeURIComponent(sentence.split(/\\s+/).join(' '))) +
      '">in the source</a>' : '';
    panel.innerHTML = '<b>' + esc(doc[0]) + '</b>' + source + ' · province ' + esc(r[C.province] || '—') + ' (' +
      esc(r[C.province_evidence] || 'none') + '), year ' + esc(r[C.year] || '—') + ' (' + esc(r[C.year_evidence] || 'none') +
      ') · <a href="#facts-section">close</a><p class="fact-sentence">' + marked + '</p>';
    panel.classList.add('open');
  }
  var timer = null;
  document.getElementById('search').addEventListener('input', function (event) {
    clearTimeout(timer); timer = setTimeout(function () { search(event.target.value); }, 150);
  });
  document.getElementById('previous').addEventListener('click', function () { page--; draw(); });
  document.getElementById('next').addEventListener('click', function () { page++; draw(); });
  window.addEventListener('hashchange', showSentence);
  draw(); showSentence();
})();
"""


def report_page(figures: dict, title: str, corpus_name: str) -> str:
    """A self-contained HTML report (Plotly's bundle, CSS, script and data inline; nothing fetched) of `figures`
    (as `corpus_figures` returns them)."""
    from plotly.offline import get_plotlyjs

    totals = figures["totals"]
    tiles = "".join(f'<div class="tile"><b>{value}</b>{name}</div>' for name, value in (
        ("documents", f"{totals['documents']:,}"), ("with errors", f"{totals['documents_with_errors']:,}"),
        ("entities", f"{totals['entities']:,}"), ("facts", f"{totals['facts']:,}"),
        ("province null", share(totals["null_province"], totals["facts"])),
        ("year null", share(totals["null_year"], totals["facts"]))))
    charts = "".join(f'<div class="chart">{chart_html(figure, name)}</div>' for name, figure in (
        ("province-year", province_year_chart(figures["by_province_year"])),
        ("indicators", indicator_chart(figures["indicators"])),
        ("evidence", evidence_chart(figures["evidence"], totals)),
        ("labels", label_chart(figures["labels"]))))
    data = {"columns": list(FACT_COLUMNS), "rows": figures["facts"], "documents": figures["documents"],
            "sentences": figures["sentences"]}
    header = "".join(f"<th>{name}</th>" for name in ("document", "figure", "value", "unit", "indicator", "province",
                                                     "year", "status", "score", ""))
    return (
        f'<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><meta name="generator" content="vipie report">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<h1>{html.escape(title)}</h1><p class=\"note\">{html.escape(corpus_name)}</p>"
        f'<div class="tiles">{tiles}</div><div class="charts">{charts}</div>'
        f"<h2>Documents with errors</h2>{error_section(figures)}"
        f'<h2 id="facts-section">Facts</h2>{table_note(figures, corpus_name)}'
        '<div class="controls"><input id="search" type="search" placeholder="search: words of the document, figure, '
        'indicator, province, year, sentence"><button id="previous">previous</button><button id="next">next</button>'
        f'<span id="count"></span></div><table id="facts"><thead><tr>{header}</tr></thead><tbody></tbody></table>'
        '<div id="sentence"></div>'
        f'<script type="application/json" id="fact-data">{embedded_json(data)}</script>'
        f"<script>{SCRIPT.replace('__PAGE_ROWS__', str(PAGE_ROWS))}</script></body></html>"
    )
