"""HTML pages, WARC archives, sites' provinces and user metadata (sidecars, --meta CSV) as `vipie extract` inputs."""

import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.document import iter_documents, read_meta_table
from pipeline.errors import InputError
from pipeline.web import load_site_provinces, parse_site_provinces, read_warc
from tests.conftest import CHECK_CONTRACT

VIPIE = str(Path(sys.executable).parent / "vipie")
BODY = ("<p>Năm 2021, tỉnh Lào Cai có trên 888.000 văn bản điện tử được gửi nhận qua hệ thống quản lý văn bản. "
        "Tỷ lệ hồ sơ trực tuyến đạt 70,6%.</p><p>UBND tỉnh phấn đấu đến năm 2025 đạt 95% dịch vụ công trực tuyến "
        "mức độ 4.</p>")


def page(title: str, url: str | None, published: str | None, body: str = BODY) -> bytes:
    """A news page as a site serves it: menu, article, footer, and the metadata tags crawlers read."""
    head = [f"<title>{title}</title>", '<meta charset="utf-8">']
    if url:
        head.append(f'<link rel="canonical" href="{url}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{published}T08:00:00+07:00">')
    return (f"<!DOCTYPE html><html><head>{''.join(head)}</head><body><nav><a href='/'>Trang chủ</a></nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>Bản quyền thuộc về cơ quan</footer>"
            "</body></html>").encode()


PAGES = {
    "lao-cai": page("Lào Cai đẩy mạnh chuyển đổi số", "https://baolaocai.vn/chuyen-doi-so-123", "2022-03-01"),
    "portal": page("Kết quả cải cách hành chính", "https://stttt.quangninh.gov.vn/tin/9", "2023-05-02",
                   BODY.replace("Lào Cai", "Quảng Ninh")),
    "no-meta": page("Tin không có thẻ", None, None),
}
# A page whose text a script fills in: nothing to extract from the HTML as served.
NO_TEXT = "<html><head><title>Trang trống</title></head><body><script>render()</script></body></html>".encode()
BROKEN = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\xff\xd8\xff"


def warc_bytes(pages: dict[str, bytes], gzip: bool = True, others: bool = True) -> bytes:
    """An archive as a crawler writes it: a request and a response per page, then (`others`) an image and a 404."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzip)

    def response(url: str, body: bytes, content_type: str = "text/html; charset=utf-8", status: str = "200 OK"):
        headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers))

    for name, html in pages.items():
        url = f"https://laocai.gov.vn/tin/{name}"
        request = StatusAndHeaders(f"GET /tin/{name} HTTP/1.1", [("Host", "laocai.gov.vn")], is_http_request=True)
        writer.write_record(writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=request))
        response(url, html)
    if others:
        response("https://laocai.gov.vn/logo.png", BROKEN, "image/png")
        response("https://laocai.gov.vn/missing", b"<html><body><p>Not found</p></body></html>",
                 status="404 Not Found")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def web_inputs(tmp_path_factory) -> Path:
    """A folder of saved pages (three good, one without text, one not HTML) and a .warc.gz of the good ones."""
    folder = tmp_path_factory.mktemp("web")
    for name, html in PAGES.items():
        (folder / f"{name}.html").write_bytes(html)
    (folder / "empty.htm").write_bytes(NO_TEXT)
    (folder / "broken.html").write_bytes(BROKEN)
    (folder / "crawl.warc.gz").write_bytes(warc_bytes({"a": PAGES["lao-cai"], "b": PAGES["no-meta"], "c": NO_TEXT}))
    return folder


@pytest.fixture(scope="module")
def extracted(web_inputs, tmp_path_factory) -> tuple[dict, subprocess.CompletedProcess, Path]:
    """One `vipie extract` of the folder, with a --meta CSV that dates the page without tags."""
    folder = tmp_path_factory.mktemp("out")
    out, csv = folder / "web.jsonl", folder / "meta.csv"
    csv.write_text(f"path,published\n{web_inputs / 'no-meta.html'},2020-01-02\n", encoding="utf-8")
    result = subprocess.run([VIPIE, "extract", str(web_inputs), "--out", str(out), "--meta", str(csv)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    records = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    return records, result, out


def test_pages_and_archive_pass_the_contract_check(extracted):
    _, _, out = extracted
    check = subprocess.run([sys.executable, CHECK_CONTRACT, out], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.strip().endswith("0 problems"), check.stdout


def test_a_page_gives_its_main_text_url_title_date_site_and_province(extracted):
    records, _, _ = extracted
    record = records["lao-cai"]
    assert record["meta"] == {"url": "https://baolaocai.vn/chuyen-doi-so-123", "title": "Lào Cai đẩy mạnh chuyển đổi số",
                              "published": "2022-03-01", "site": "baolaocai.vn", "province": "Lào Cai"}
    assert "888.000 văn bản" in record["text"] and "Trang chủ" not in record["text"]
    assert "Bản quyền" not in record["text"] and not record["errors"]
    assert {f["value"] for f in record["facts"]} >= {888000.0, 70.6}
    assert all(record["text"][e["start"]:e["end"]] == e["text"] for e in record["entities"])


def test_a_department_site_gets_its_province_and_a_page_without_tags_gets_none(extracted):
    records, _, _ = extracted
    assert records["portal"]["meta"]["province"] == "Quảng Ninh"
    assert records["portal"]["meta"]["site"] == "stttt.quangninh.gov.vn"
    assert records["no-meta"]["meta"] == {"title": "Tin không có thẻ", "published": "2020-01-02"}  # from --meta
    assert records["no-meta"]["facts"]


def test_pages_without_text_and_files_that_are_not_html_are_error_records(extracted):
    records, result, _ = extracted
    assert "no main text found" in records["empty"]["errors"][0]
    assert "no main text found" in records["broken"]["errors"][0]
    assert records["empty"]["entities"] == records["broken"]["entities"] == []
    assert "rejected broken" in result.stderr


def test_warc_responses_become_documents_identified_by_their_url(extracted):
    records, result, _ = extracted
    page_a = records["https://laocai.gov.vn/tin/a"]
    assert page_a["text"] == records["lao-cai"]["text"]
    assert page_a["meta"]["url"] == "https://baolaocai.vn/chuyen-doi-so-123"  # the page's canonical URL
    page_b = records["https://laocai.gov.vn/tin/b"]
    assert page_b["meta"] == {"url": "https://laocai.gov.vn/tin/b", "title": "Tin không có thẻ",
                              "site": "laocai.gov.vn", "province": "Lào Cai"}
    assert "no main text found" in records["https://laocai.gov.vn/tin/c"]["errors"][0]
    assert "WARC request records" in result.stderr and "not HTML" in result.stderr


def test_warc_records_that_are_not_pages_are_skipped_and_counted(web_inputs):
    skipped = Counter()
    documents = list(read_warc(web_inputs / "crawl.warc.gz", 10_000, load_site_provinces(), skipped))
    assert len(documents) == 3
    assert skipped == {"WARC request records": 3, "WARC responses that are not HTML": 1,
                       "WARC responses with a non-2xx status": 1}


@pytest.mark.parametrize("gzip", [True, False])
def test_a_truncated_archive_keeps_its_whole_records_and_reports_the_cut(tmp_path, gzip):
    data = warc_bytes({"a": PAGES["lao-cai"], "b": PAGES["portal"]}, gzip=gzip, others=False)
    # Cut inside the last page's body (compressed: inside its last gzip member); the first page stays whole.
    cut = len(data) - 30 if gzip else data.rindex(b"888.000")
    archive = tmp_path / ("cut.warc.gz" if gzip else "cut.warc")
    archive.write_bytes(data[:cut])
    documents = list(read_warc(archive, 10_000, load_site_provinces(), Counter()))
    assert [d.id for d in documents] == ["https://laocai.gov.vn/tin/a", "https://laocai.gov.vn/tin/b"]
    assert not documents[0].errors and "record 4 is truncated" in documents[1].errors[0]


def test_an_archive_that_is_not_a_warc_is_one_error_record(tmp_path):
    (tmp_path / "x.warc").write_bytes(b"this is not an archive\n" * 10)
    document, = read_warc(tmp_path / "x.warc", 10_000, load_site_provinces(), Counter())
    assert "x.warc: cannot read record 1 (ValueError: not a WARC record)" in document.errors[0]
    assert document.id == "x.warc:1"


def test_a_sidecar_and_a_csv_add_metadata_and_later_sources_win(tmp_path):
    (tmp_path / "a.txt").write_text("Năm 2021 tỉnh đạt 70%.", encoding="utf-8")
    (tmp_path / "a.meta.json").write_text(json.dumps({"published": "2021-06-30", "province": "Lào Cai",
                                                      "url": "https://laocai.gov.vn/a", "n": 3}), encoding="utf-8")
    (tmp_path / "b.txt").write_text("Năm 2022 tỉnh đạt 80%.", encoding="utf-8")
    (tmp_path / "docs.jsonl").write_text(json.dumps({"id": "j", "text": "Năm 2023.", "meta": {"title": "T"}}) + "\n",
                                         encoding="utf-8")
    csv = tmp_path / "meta.csv"
    csv.write_text("id,path,published,province\n,b.txt,2022,Yên Bái\nj,,,Sơn La\na,,2021-07-01,\n", encoding="utf-8")
    docs = {d.id: d for d in iter_documents([tmp_path], meta_table=read_meta_table(csv))}
    assert docs["a"].meta == {"published": "2021-07-01", "province": "Lào Cai", "url": "https://laocai.gov.vn/a",
                              "n": 3}
    assert docs["b"].meta == {"published": "2022", "province": "Yên Bái"}
    assert docs["j"].meta == {"title": "T", "province": "Sơn La"}


@pytest.mark.parametrize("content, message", [
    ("{not json", "a.meta.json: not valid JSON"),
    ("[1, 2]", "a.meta.json: must hold a JSON object"),
    ('{"published": "30/06/2021"}', "a.meta.json: published '30/06/2021' is not YYYY-MM-DD or YYYY"),
])
def test_a_bad_sidecar_makes_its_document_an_error_record_naming_it(tmp_path, content, message):
    (tmp_path / "a.txt").write_text("Năm 2021 tỉnh đạt 70%.", encoding="utf-8")
    (tmp_path / "a.meta.json").write_text(content, encoding="utf-8")
    doc, = iter_documents([tmp_path])
    assert message in doc.errors[0] and doc.text == ""


@pytest.mark.parametrize("content, message", [
    ("name,published\nx,2021\n", "meta.csv:1: the header needs an 'id' or a 'path' column"),
    ("id,published\na,2021\nb\n", "meta.csv:3: 1 fields where the header has 2"),
    ("id,published\na,2021\n,2022\n", "meta.csv:3: neither an id nor a path"),
    ("id,published\na,2021\na,2022\n", "meta.csv:3: id 'a' is given again (row 2)"),
    ("path,published\nx.txt,2021-02-30\n", "meta.csv:2: published '2021-02-30' is not a date"),
])
def test_a_bad_csv_row_is_one_line_naming_file_and_row(tmp_path, content, message):
    (tmp_path / "meta.csv").write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_meta_table(tmp_path / "meta.csv")


def test_the_shipped_site_mapping_covers_every_province_and_bad_lines_are_named():
    from pipeline.provinces import default_resolver

    sites = load_site_provinces()
    assert set(sites.domains.values()) == set(default_resolver().canonical_names)
    assert sites.province("https://www.baoquangninh.vn/x") == "Quảng Ninh" and sites.province("vnexpress.net") is None
    with pytest.raises(InputError, match="my.tsv:2: unknown province 'Atlantis'"):
        parse_site_provinces("a.vn\tLào Cai\nb.vn\tAtlantis\n", "my.tsv")
    with pytest.raises(InputError, match="my.tsv:1: expected DOMAIN<TAB>PROVINCE"):
        parse_site_provinces("a.vn Lào Cai\n", "my.tsv")


def test_a_users_site_mapping_replaces_the_shipped_one(web_inputs):
    sites = parse_site_provinces("baolaocai.vn\tYên Bái\n", "sites.tsv")
    document, = iter_documents([web_inputs / "lao-cai.html"], sites=sites)
    assert document.meta["province"] == "Yên Bái"


@pytest.mark.parametrize("flag, content, message", [
    ("--meta", None, "no.csv: cannot read the metadata file"),
    ("--site-provinces", "baolaocai.vn Lào Cai\n", "no.csv:1: expected DOMAIN<TAB>PROVINCE"),
])
def test_bad_meta_or_site_files_stop_the_run_with_one_line(tmp_path, web_inputs, flag, content, message):
    if content:
        (tmp_path / "no.csv").write_text(content, encoding="utf-8")
    result = subprocess.run([VIPIE, "extract", web_inputs, "--out", tmp_path / "o.jsonl", flag, tmp_path / "no.csv"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr
    assert not (tmp_path / "o.jsonl").exists()
