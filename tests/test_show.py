"""`vipie show`: each document drawn by displaCy with its facts beside their paragraphs, the spans that decided
each fact underlined at the right offsets, the page whole offline in a real browser, and the CLI's inputs and
errors."""

import sys
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

import pipeline.cli.show  # noqa: F401  (registers `vipie show`)
from pipeline.cli import app, main
from pipeline.errors import InputError
from pipeline.show import (SPAN_KINDS, blocks, fact_key, fact_spans, is_extraction, pick, render_block, show_page,
                           web_url)
from tests.browser import browser_page  # noqa: F401
from tests.seed_corpus import seed_corpus

SPAN_FIELDS = {"metric": "metric", "indicator": "indicator_span", "province": "province_span", "year": "year_span"}


@pytest.fixture(scope="module")
def corpus(nlp, tmp_path_factory, seed_paths) -> dict:
    return seed_corpus(nlp, tmp_path_factory.getbasetemp(), tuple(seed_paths))


@pytest.fixture(scope="module")
def page(corpus) -> str:
    return show_page(corpus["records"], "seeds")


class PageText(HTMLParser):
    """The text a page shows, piece by piece, with the classes and data-facts of the elements around each piece;
    `<br>` is read as the newline displaCy drew it for, and entity labels are left out."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[dict] = []
        self.pieces: list[tuple[str, list[dict]]] = []
        self.marks = 0

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.pieces.append(("\n", list(self.stack)))
            return
        self.marks += tag == "mark" and ("class", "entity") in attrs
        self.stack.append({"tag": tag, **dict(attrs)})

    def handle_endtag(self, tag):
        if tag != "br":
            self.stack.pop()

    def handle_data(self, data):
        if not any(e.get("class") == "entity-label" for e in self.stack):
            self.pieces.append((data, list(self.stack)))


def shown(markup: str) -> PageText:
    parser = PageText()
    parser.feed(markup)
    parser.close()
    return parser


def test_blocks_cover_every_character_and_never_cut_an_entity(corpus):
    for record in corpus["records"][:-1]:
        text, entities = record["text"], record["entities"]
        found = blocks(text, entities)
        covered = {i for start, end in found for i in range(start, end)}
        assert all(text[i].isspace() for i in range(len(text)) if i not in covered)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(found, found[1:]))
        assert len(found) > 3
        assert not any(start < e["start"] < end < e["end"] for start, end in found for e in entities)
    assert blocks("", []) == []


def test_each_block_shows_its_text_exactly_with_every_fact_span_underlined_where_it_stands(corpus):
    kinds = set()
    for doc_index, record in enumerate(corpus["records"][:-1]):
        text, entities, facts = record["text"], record["entities"], record["facts"]
        spans = fact_spans(facts, doc_index)
        underlined: dict[tuple[str, str], str] = {}
        for start, end in blocks(text, entities):
            markup = shown(render_block(text, start, end, entities, spans))
            assert "".join(piece for piece, _ in markup.pieces).strip("\n") == text[start:end]
            for piece, around in markup.pieces:
                for element in around:
                    for kind in SPAN_KINDS:
                        if f"fs-{kind}" in element.get("class", "").split():
                            for key in element["data-facts"].split():
                                underlined[(kind, key)] = underlined.get((kind, key), "") + piece
        # A newline inside a span is displaCy's <br>, drawn between the underlined pieces, not in one of them.
        expected = {(kind, fact_key(doc_index, n)): text[f[field]["start"] : f[field]["end"]].replace("\n", "")
                    for n, f in enumerate(facts) for kind, field in SPAN_FIELDS.items() if f.get(field)}
        assert underlined == expected
        kinds |= {kind for kind, _ in expected}
    assert kinds == set(SPAN_KINDS)


def test_page_has_every_entity_and_fact_and_nothing_to_fetch(corpus, page):
    records = corpus["records"]
    markup = shown(page)
    assert markup.marks == sum(len(r["entities"]) for r in records)
    assert page.count('<tr class="fact"') == sum(len(r["facts"]) for r in records)
    assert "empty document" in page  # the rejected document is shown with its reason
    assert not any(needle in page for needle in ("http://", "https://", "<link", "src="))


def test_fact_row_says_what_decided_province_and_year(corpus, page):
    doc_index, n, fact = next((d, n, f) for d, r in enumerate(corpus["records"]) for n, f in enumerate(r["facts"])
                              if f.get("province_span") and f.get("year_span"))
    text = corpus["records"][doc_index]["text"]
    row = page.split(f'data-fact="{fact_key(doc_index, n)}"')[1].split("</tr>")[0]
    for field in ("province", "year"):
        words = " ".join(text[fact[f"{field}_span"]["start"] : fact[f"{field}_span"]["end"]].split())
        assert f"{fact['evidence'][field]} “{words}”" in row


def test_extraction_jsonl_is_told_from_a_jsonl_of_documents(corpus, tmp_path):
    documents = tmp_path / "documents.jsonl"
    documents.write_text('{"id": "a", "text": "Năm 2022, tỉnh Lào Cai có 1.726 dịch vụ công."}\n', encoding="utf-8")
    assert is_extraction(corpus["jsonl"]) and not is_extraction(documents)


def test_only_web_addresses_become_links():
    page = show_page([{"id": "x", "text": "Năm 2022.", "meta": {"url": "javascript:alert(1)"}, "entities": [],
                       "facts": []}], "x")
    assert "javascript:" not in page and web_url("https://baolaocai.vn/a") == "https://baolaocai.vn/a"


def test_pick_keeps_input_order_and_refuses_an_unknown_id(corpus):
    records = corpus["records"]
    ids = [records[3]["id"], records[1]["id"]]
    assert [r["id"] for r in pick(records, ids)] == [records[1]["id"], records[3]["id"]]
    assert pick(records, []) == records
    with pytest.raises(InputError, match="--id nope: no document has this id"):
        pick(records, ["nope"])


def test_cli_shows_an_extraction_by_id_and_runs_the_model_on_raw_text(corpus, seed_paths, tmp_path):
    runner = CliRunner()
    wanted = corpus["records"][3]
    out = tmp_path / "one.html"
    result = runner.invoke(app, ["show", str(corpus["jsonl"]), "--id", wanted["id"], "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert shown(page).marks == len(wanted["entities"]) and page.count('<tr class="fact"') == len(wanted["facts"])

    raw = tmp_path / "raw.html"
    result = runner.invoke(app, ["show", str(seed_paths[3]), "--out", str(raw)])
    assert result.exit_code == 0, result.output
    assert raw.read_text(encoding="utf-8") == page


@pytest.mark.parametrize("args, message", [
    (["{jsonl}", "--out", "{tmp}/page.txt"], "the page is HTML; give a name ending in .html"),
    (["{jsonl}", "--out", "{tmp}/exists.html"], "exists; add --overwrite"),
    (["{tmp}/missing.jsonl", "--out", "{tmp}/p.html"], "missing.jsonl"),
    (["{jsonl}", "--id", "nope", "--out", "{tmp}/p.html"], "--id nope"),
])
def test_cli_errors_exit_2_with_one_line(corpus, tmp_path, monkeypatch, capsys, args, message):
    (tmp_path / "exists.html").write_text("mine", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["vipie", "show", *(a.format(jsonl=corpus["jsonl"], tmp=tmp_path) for a in args)])
    with pytest.raises(SystemExit) as stopped:
        main()
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and message in err
    assert (tmp_path / "exists.html").read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "p.html").exists()


def test_page_in_a_browser_offline(browser_page, corpus, page, tmp_path):  # noqa: F811
    browser, console_errors = browser_page
    records = corpus["records"]
    path = tmp_path / "seeds.html"
    path.write_text(page, encoding="utf-8")
    requested = []
    browser.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (requested.append(route.request.url), route.abort()))
    browser.goto(path.as_uri())
    assert browser.locator("mark.entity").count() == sum(len(r["entities"]) for r in records)
    assert browser.locator("tr.fact").count() == sum(len(r["facts"]) for r in records)
    fact = records[0]["facts"][0]
    key = fact_key(0, 0)
    browser.hover(f'tr.fact[data-fact="{key}"]')
    lit = browser.locator(f'.fs.hot[data-facts~="{key}"]').all_inner_texts()
    assert fact["metric"]["text"] in "".join(lit)
    browser.screenshot(path=tmp_path / "show.png")
    assert (tmp_path / "show.png").stat().st_size > 10_000
    assert requested == [] and console_errors == []
