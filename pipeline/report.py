"""`vipie report`: a structured corpus as one self-contained HTML report with interactive charts.

Every count is computed by DuckDB, so the page holds aggregates, not the
corpus: facts per province and year, the most frequent indicators, how
provinces and years were resolved (the share left null, each kind of
evidence), entities per label and the documents with errors. Charts are
Plotly's, with its JavaScript bundle inlined, so nothing is fetched. The
searchable table of facts embeds its columns, each value stored once, as
gzipped JSON that the browser unpacks itself (DecompressionStream), and draws
one page of rows at a time, so 100,000 facts never become 100,000 rows of DOM;
past `max_rows` the table is cut, with a note. Each row links to its fact's
sentence (`report.html#fact-N`), shown with the figure marked.
"""

import base64
import gzip
import html
import json

from pipeline.errors import InputError
from pipeline.labels import LABELS, PROVINCE_EVIDENCE, YEAR_EVIDENCE
from pipeline.show import web_url

NONE = "(none)"
# The fact table's columns, and the corpus's expressions for them.
FACT_COLUMNS = {"doc": "doc_id", "figure": "metric_text", "value": "value", "value_max": "value_max",
                "qualifier": "qualifier", "unit": "unit", "indicator": "indicator", "province": "province",
                "year": "year", "status": "status", "score": "round(score, 3)", "sentence": "sentence",
                "province_evidence": "province_evidence", "year_evidence": "year_evidence"}
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
    [(id, errors)] (at most `max_error_docs`), and the fact table (see `fact_table`).
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
    """The first `max_rows` facts (by document and position), column by column, each value stored once.

    Returns `facts_held` (the number of rows), `fact_columns` {name: {"values": [distinct values],
    "codes": [for each row, the index of its value]}} for the names of FACT_COLUMNS, and `document_urls`: the
    url of each document in the `doc` column's values (None when it has none, or one that is not http(s)).
    """
    rows = fetch(con, f"SELECT {', '.join(FACT_COLUMNS.values())} FROM facts ORDER BY doc_id, metric_start "
                      "LIMIT ?", [max_rows])
    columns = {}
    for n, name in enumerate(FACT_COLUMNS):
        index: dict = {}
        codes = [index.setdefault(row[n], len(index)) for row in rows]
        columns[name] = {"values": list(index), "codes": codes}
    doc_ids = columns["doc"]["values"]
    urls = dict(fetch(con, "SELECT id, any_value(url) FROM documents WHERE url IS NOT NULL AND id IN "
                           "(SELECT unnest(?::VARCHAR[])) GROUP BY id", [doc_ids])) if doc_ids else {}
    return {"facts_held": len(rows), "fact_columns": columns,
            "document_urls": [web_url(urls.get(doc_id)) for doc_id in doc_ids]}


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


def indicator_chart(rows: list[tuple], label_chars: int = 60):
    """Horizontal bars of the most frequent indicators; a long indicator's label is cut, its hover text is whole."""
    import plotly.graph_objects as go

    words = [w for w, _ in rows]
    figure = go.Figure(go.Bar(x=[n for _, n in rows], y=words, orientation="h", marker_color="#ff7f0e",
                              hovertemplate="%{y}: %{x} facts<extra></extra>"))
    figure.update_layout(title=f"The {len(rows)} most frequent indicators", height=max(360, 120 + 24 * len(rows)),
                         yaxis={"autorange": "reversed", "automargin": True, "tickvals": words,
                                "ticktext": [w if len(w) <= label_chars else w[: label_chars - 1] + "…"
                                             for w in words]})
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
    return (f'<table class="plain"><thead><tr><th>document</th><th>errors</th></tr></thead><tbody>{rows}</tbody>'
            f"</table>{more}")


def table_note(figures: dict, corpus_name: str) -> str:
    held, facts = figures["facts_held"], figures["totals"]["facts"]
    if held == facts:
        return ""
    return (f'<p class="note">The table holds the first {held:,} of {facts:,} facts (by document); '
            f'<code>vipie sql {html.escape(corpus_name)} "SELECT * FROM facts"</code> lists them all.</p>')


def packed(value) -> str:
    """`value` as gzipped JSON in base64, which the page's script unpacks: text compresses about threefold, and the
    repeated values of a column further."""
    raw = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 1.5em 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
.tiles { display: flex; flex-wrap: wrap; gap: 1em; }
.tile { border: 1px solid #ddd; border-radius: .4em; padding: .5em 1em; min-width: 9em; }
.tile b { display: block; font-size: 1.5em; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1em; }
.chart { border: 1px solid #eee; border-radius: .4em; min-width: 0; }
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

# The fact table: its columns live in the page as gzipped JSON, unpacked by the browser, and one page of rows at a
# time becomes DOM. The search matches words in the document id, figure, indicator, province, year, status and
# sentence; `#fact-N` shows fact N's sentence.
SCRIPT = """
(function () {
  var SIGN = {gt: '>', gte: '≥', approx: '≈', lt: '<', lte: '≤'};
  var PAGE = __PAGE_ROWS__, page = 0, data = null, matching = [], haystack = null;
  var body = document.querySelector('#facts tbody'), count = document.getElementById('count');
  function esc(s) {
    return s == null ? '' : String(s).replace(/[&<>"]/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; });
  }
  function get(name, i) { var column = data.columns[name]; return column.values[column.codes[i]]; }
  function value(i) {
    if (get('value', i) == null) return '';
    var most = get('value_max', i) == null ? '' : '–' + get('value_max', i);
    return (SIGN[get('qualifier', i)] || '') + get('value', i) + most;
  }
  function draw() {
    var first = page * PAGE, last = Math.min(matching.length, first + PAGE), out = [];
    for (var k = first; k < last; k++) {
      var i = matching[k];
      var cells = [get('doc', i), get('figure', i), value(i), get('unit', i), get('indicator', i), get('province', i),
        get('year', i), get('status', i), get('score', i)];
      out.push('<tr class="fact"><td>' + cells.map(esc).join('</td><td>') +
        '</td><td><a class="to-sentence" href="#fact-' + i + '">sentence</a></td></tr>');
    }
    body.innerHTML = out.join('');
    count.textContent = matching.length ? (first + 1) + '–' + last + ' of ' + matching.length + ' facts'
                                        : 'no fact matches';
    document.getElementById('previous').disabled = page === 0;
    document.getElementById('next').disabled = last >= matching.length;
  }
  function search(words) {
    if (!haystack) {
      haystack = [];
      for (var i = 0; i < data.n; i++) {
        haystack.push(['doc', 'figure', 'indicator', 'province', 'year', 'status', 'sentence']
          .map(function (name) { return get(name, i); }).join(' ').normalize('NFC').toLowerCase());
      }
    }
    var terms = words.normalize('NFC').toLowerCase().split(/\\s+/).filter(Boolean);
    matching = [];
    for (var k = 0; k < haystack.length; k++) {
      if (terms.every(function (t) { return haystack[k].indexOf(t) >= 0; })) matching.push(k);
    }
    page = 0; draw();
  }
  function showSentence() {
    var panel = document.getElementById('sentence'), m = /^#fact-(\\d+)$/.exec(location.hash);
    var i = m ? +m[1] : -1;
    if (!data || i < 0 || i >= data.n) { panel.classList.remove('open'); return; }
    var sentence = get('sentence', i) || '', figure = get('figure', i), at = sentence.indexOf(figure);
    var url = data.urls[data.columns.doc.codes[i]];
    var marked = at < 0 ? esc(sentence) : esc(sentence.slice(0, at)) + '<mark>' + esc(figure) + '</mark>' +
      esc(sentence.slice(at + figure.length));
    // A text fragment (#:~:text=) makes the browser scroll the source page to the sentence and highlight it.
    var source = url ? ' · <a href="' + esc(url + '#:~:text=' + encodeURIComponent(sentence.split(/\\s+/).join(' '))) +
      '">in the source</a>' : '';
    panel.innerHTML = '<b>' + esc(get('doc', i)) + '</b>' + source +
      ' · province ' + esc(get('province', i) || '—') + ' (' + esc(get('province_evidence', i) || 'none') + ')' +
      ' · year ' + esc(get('year', i) || '—') + ' (' + esc(get('year_evidence', i) || 'none') + ')' +
      ' · <a href="#facts-section">close</a><p class="fact-sentence">' + marked + '</p>';
    panel.classList.add('open');
  }
  function unpack(text) {
    var binary = atob(text), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text().then(JSON.parse);
  }
  unpack(document.getElementById('fact-data').textContent.trim()).then(function (unpacked) {
    data = unpacked;
    for (var i = 0; i < data.n; i++) matching.push(i);
    var timer = null;
    document.getElementById('search').addEventListener('input', function (event) {
      clearTimeout(timer); timer = setTimeout(function () { search(event.target.value); }, 150);
    });
    document.getElementById('previous').addEventListener('click', function () { page--; draw(); });
    document.getElementById('next').addEventListener('click', function () { page++; draw(); });
    window.addEventListener('hashchange', showSentence);
    draw(); showSentence();
  });
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
    data = {"n": figures["facts_held"], "columns": figures["fact_columns"], "urls": figures["document_urls"]}
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
        f'<span id="count">unpacking the facts…</span></div>'
        f'<table id="facts"><thead><tr>{header}</tr></thead><tbody></tbody></table>'
        '<div id="sentence"></div>'
        f'<script type="text/plain" id="fact-data">{packed(data)}</script>'
        f"<script>{SCRIPT.replace('__PAGE_ROWS__', str(PAGE_ROWS))}</script></body></html>"
    )
