"""Web pages and web archives as documents: saved HTML files and the HTML responses of WARC archives.

The main text, title, canonical URL and publication date of a page come from
trafilatura; its date search is htmldate's, restricted to the page's markup
(`extensive_search` off), so that a date merely mentioned in the body never
becomes the publication date. WARC archives are read with warcio: only
`response` records with a 2xx status and an HTML content type are pages; every
other record is skipped and counted. The text of a document is the extracted
main text (offsets index it); `meta` gets `url`, `title`, `published` and
`site` (the host name), and `province` from the site's domain when the page
gives none (a province's own portal or newspaper, `SiteProvinces`).

What cannot be a document still comes out as one with `errors`: a page with no
extractable text, content that is not HTML, a truncated WARC record, or an
archive that cannot be read past some point (its earlier records are kept).
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.document import Document, make_document, printable
from pipeline.errors import InputError

SITE_PROVINCES_FILE = "site_provinces.tsv"
HTML_TYPES = ("text/html", "application/xhtml+xml")
# Dates from the page's own markup only (meta tags, time elements, URL), oldest first: the publication, not an update.
DATE_SEARCH = {"extensive_search": False, "original_date": True}


@dataclass(frozen=True)
class SiteProvinces:
    """Domains of provincial sites and their canonical pre-2025 province; a subdomain belongs to its domain
    (`stttt.laocai.gov.vn` is Lào Cai's because `laocai.gov.vn` is)."""

    domains: dict[str, str] = field(default_factory=dict)

    def province(self, url: str | None) -> str | None:
        """The province of the site that `url` (or a bare host name) belongs to, or None."""
        host = site_of(url)
        while host:
            if host in self.domains:
                return self.domains[host]
            _, _, host = host.partition(".")
        return None


def site_of(url: str | None) -> str | None:
    """The host name of `url` in lower case without `www.`, or None (a bare host name is its own site)."""
    if not url:
        return None
    host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").removeprefix("www.")
    return host or None


def parse_site_provinces(text: str, name: str) -> SiteProvinces:
    """The mapping of a `domain<TAB>province` file (`#` starts a comment); provinces in any spelling the province
    resolver knows, stored as their canonical name.

    Raises:
        InputError: a line is not two tab-separated fields, names an unknown province, or repeats a domain.
    """
    from pipeline.provinces import default_resolver

    lines = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        domain, tab, spelling = line.partition("\t")
        if not tab or not domain.strip() or not spelling.strip():
            raise InputError(f"{name}:{line_no}: expected DOMAIN<TAB>PROVINCE; fix the line or remove it")
        lines.append((f"{name}:{line_no}", site_of(domain.strip().lower()), spelling.strip()))
    resolver, domains = default_resolver(), {}
    for where, domain, spelling in lines:
        province = resolver.resolve(spelling)
        if province is None:
            raise InputError(f"{where}: unknown province {spelling!r}; write one of the 63 provinces' names")
        if domain in domains:
            raise InputError(f"{where}: domain {domain} is given twice; keep one line for it")
        domains[domain] = province
    return SiteProvinces(domains)


def load_site_provinces(path: Path | None = None) -> SiteProvinces:
    """The domain → province mapping of `path`, or the one shipped in `pipeline/gazetteers/site_provinces.tsv`.

    Raises:
        InputError: the file cannot be read or has a bad line.
    """
    if path is None:
        return parse_site_provinces(files("pipeline.gazetteers").joinpath(SITE_PROVINCES_FILE).read_text("utf-8"),
                                    SITE_PROVINCES_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8"
        raise InputError(f"{printable(path)}: cannot read the site mapping ({reason}); give a UTF-8 TSV file") from exc
    return parse_site_provinces(text, printable(path))


@lru_cache(maxsize=1)
def default_site_provinces() -> SiteProvinces:
    """The shipped mapping, read once per process."""
    return load_site_provinces()


def page_meta(result, url: str | None, sites: SiteProvinces) -> dict:
    """What trafilatura found about a page as the contract's metadata, plus `site`; empty values are left out."""
    url = result.url or url
    meta = {"url": url, "title": result.title, "published": result.date, "site": site_of(url) or result.hostname}
    meta["province"] = sites.province(meta["site"])
    return {key: value for key, value in meta.items() if value}


def page_document(html: bytes, doc_id: str, where: str, url: str | None, max_chars: int,
                  sites: SiteProvinces) -> Document:
    """The document of one HTML page: its main text and metadata, or a record with `errors` saying why not."""
    import trafilatura

    try:
        result = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                             date_extraction_params=DATE_SEARCH)
    except Exception as exc:  # noqa: BLE001  (a library fails in its own ways on hostile markup; one page must not stop a run)
        return Document(id=doc_id, text="", meta={"url": url} if url else {},
                        errors=[f"{where}: not a readable HTML page ({type(exc).__name__})"])
    if result is None or not (result.text or "").strip():
        return Document(id=doc_id, text="", meta={"url": url} if url else {},
                        errors=[f"{where}: no main text found in the page (not HTML, or a page without an article)"])
    return make_document(doc_id, result.text, page_meta(result, url, sites), max_chars)


def read_html(path: Path, max_chars: int, sites: SiteProvinces) -> Document:
    """One saved page; its id is the file stem, as for a .txt file."""
    from pipeline.document import txt_id

    name = printable(path)
    try:
        html = path.read_bytes()
    except OSError as exc:
        return Document(id=txt_id(path), text="", errors=[f"{name}: cannot be read ({exc.strerror})"])
    return page_document(html, txt_id(path), name, None, max_chars, sites)


def skip_reason(record) -> str | None:
    """Why a WARC record is not a page to extract, or None when it is an HTML response with a 2xx status."""
    if record.rec_type != "response":
        return f"WARC {record.rec_type} records"
    if record.http_headers is None:
        return "WARC responses without HTTP headers"
    status = record.http_headers.get_statuscode() or ""
    if not status.startswith("2"):
        return "WARC responses with a non-2xx status"
    content_type = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type not in HTML_TYPES:
        return "WARC responses that are not HTML"
    return None


def read_warc(path: Path, max_chars: int, sites: SiteProvinces, skipped: Counter) -> Iterator[Document]:
    """Yield one document per HTML response of a .warc or .warc.gz archive, its id the record's target URI.

    Other records are counted in `skipped` by reason. A record cut short becomes an error record; an archive that
    cannot be read further ends with one error record (what came before it is kept).
    """
    from warcio.archiveiterator import ArchiveIterator

    name, stem = printable(path), printable(path.name)
    whole = 0  # records read to their end
    try:
        with path.open("rb") as fh:
            for number, record in enumerate(ArchiveIterator(fh), 1):
                if not record.format.startswith("warc"):  # warcio reads any text as a legacy ARC record
                    raise ValueError("not a WARC record")
                reason = skip_reason(record)
                if reason:
                    skipped[reason] += 1
                else:
                    yield warc_page(record, number, name, stem, max_chars, sites)
                whole = number
    except Exception as exc:  # noqa: BLE001  (warcio raises many kinds on a damaged archive; the run goes on)
        yield Document(id=f"{stem}:{whole + 1}", text="",
                       errors=[f"{name}: cannot read record {whole + 1} ({type(exc).__name__}: {exc}); "
                               "truncated or not a WARC archive"])


def warc_page(record, number: int, name: str, stem: str, max_chars: int, sites: SiteProvinces) -> Document:
    """The document of an HTML response record, or an error record when the archive cut it short."""
    url = record.rec_headers.get_header("WARC-Target-URI")
    doc_id, where = url or f"{stem}:{number}", f"{name}: record {number}"
    html = record.content_stream().read()
    if record.raw_stream.limit > 0:  # fewer bytes than its Content-Length: the archive was cut
        return Document(id=doc_id, text="", meta={"url": url} if url else {},
                        errors=[f"{where} is truncated ({record.raw_stream.limit} bytes missing)"])
    return page_document(html, doc_id, where, url, max_chars, sites)
