"""A saved news page: the article's main text (trafilatura) and the metadata the page
itself states (meta tags, JSON-LD, the article's <time>). Nothing is guessed: trafilatura's
own date search (which falls back on dates in the text or the address) is not used."""
from __future__ import annotations

import json
import logging
import re

from ..errors import InputError
from .base import Extracted

log = logging.getLogger(__name__)

# Meta tags that state a page's facts, most specific first (property= or name= or itemprop=).
_DATE_META = ("article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate",
              "publish-date", "publish_date", "date", "dc.date", "dc.date.issued", "sailthru.date",
              "parsely-pub-date")
_TITLE_META = ("og:title", "twitter:title", "headline")
_OUTLET_META = ("og:site_name", "application-name", "publisher")
_AUTHOR_META = ("author", "article:author", "dc.creator", "byl")
_URL_META = ("og:url",)
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_HEADING = re.compile(r"^(#{1,6})\s+")


def _meta(tree) -> dict[str, str]:
    out: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        value = (el.get("content") or "").strip()
        if key and value and key not in out:
            out[key] = value
    return out


def _json_ld(tree) -> list[dict]:
    """Every JSON-LD object of the page, flattened out of lists and @graph."""
    found: list[dict] = []

    def walk(obj) -> None:
        if isinstance(obj, list):
            for o in obj:
                walk(o)
        elif isinstance(obj, dict):
            found.append(obj)
            walk(obj.get("@graph", []))

    for el in tree.iter("script"):
        if (el.get("type") or "").lower() != "application/ld+json" or not el.text:
            continue
        try:
            walk(json.loads(el.text))
        except ValueError:
            log.info("a JSON-LD block that is not JSON was ignored")
    return found


def _names(value) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, dict):
        return _names(value.get("name", ""))
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


def _article_ld(objects: list[dict]) -> dict:
    for o in objects:
        kind = o.get("@type", "")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(str(k).endswith(("Article", "NewsArticle", "BlogPosting", "Report")) for k in kinds):
            return o
    return {}


def page_metadata(tree) -> dict:
    """What the page states about its article: title, date, outlet, authors, url."""
    meta, ld = _meta(tree), _article_ld(_json_ld(tree))
    first = lambda keys: next((meta[k] for k in keys if meta.get(k)), "")  # noqa: E731
    date = str(ld.get("datePublished") or "").strip() or first(_DATE_META)
    if not date:
        for el in tree.iter("time"):
            if el.get("datetime") and (el.get("itemprop") == "datePublished" or el.get("pubdate") is not None
                                       or any(a.tag == "article" for a in el.iterancestors())):
                date = el.get("datetime").strip()
                break
    title = str(ld.get("headline") or "").strip() or first(_TITLE_META)
    if not title:
        h1 = next(tree.iter("h1"), None)
        title = " ".join(h1.text_content().split()) if h1 is not None else ""
    if not title:
        t = next(tree.iter("title"), None)
        title = " ".join(t.text_content().split()) if t is not None and t.text_content() else ""
    outlet = first(_OUTLET_META) or next(iter(_names(ld.get("publisher"))), "")
    authors = _names(ld.get("author")) or [a for a in [first(_AUTHOR_META)] if a and "://" not in a]
    canonical = next((el.get("href") for el in tree.iter("link")
                      if "canonical" in (el.get("rel") or "").lower().split() and el.get("href")), "")
    url = canonical or first(_URL_META) or str(ld.get("mainEntityOfPage") or ld.get("url") or "")
    return {"title": title, "date": date, "outlet": outlet, "authors": tuple(dict.fromkeys(authors)),
            "url": url if isinstance(url, str) else ""}


def body_text(markdown: str) -> str:
    """trafilatura's Markdown as article text: its escapes undone, headings kept as ``##``."""
    lines = []
    for line in markdown.splitlines():
        line = _MARKDOWN_ESCAPE.sub(r"\1", line).rstrip()
        lines.append(_HEADING.sub("## ", line) if _HEADING.match(line) else line)
    return "\n".join(lines).strip()


class HtmlReader:
    kind = "html"
    suffixes = (".html", ".htm")

    def looks_like(self, head: bytes) -> bool:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        return start.startswith((b"<!doctype html", b"<html", b"<!--", b"<head", b"<meta", b"<?xml")) \
            or b"<html" in head.lower() or b"<body" in head.lower()

    def extract(self, data: bytes, name: str) -> Extracted:
        try:
            import lxml.html
            import trafilatura
        except ImportError as exc:  # an optional extra
            raise InputError(f"{name}: reading .html needs the ingest extra: pip install 'rag-zh-news[ingest]'") from exc
        text = _decode(data, name)
        try:
            # Parsed from bytes in the charset already applied: lxml refuses a decoded string
            # that keeps its XML declaration (XHTML pages open with one).
            tree = lxml.html.fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
        except (ValueError, lxml.etree.ParserError) as exc:
            raise InputError(f"{name}: not a readable HTML page ({exc})") from exc
        facts = page_metadata(tree)  # read before trafilatura, which prunes the tree it is given
        body = trafilatura.extract(tree, output_format="markdown", include_comments=False, include_tables=True,
                                   include_images=False, include_links=False, with_metadata=False)
        body = body_text(body or "")
        if len(body) < 20:
            raise InputError(f"{name}: no article text found on the page (a list, a front page or a "
                             "page that loads its article with JavaScript)")
        title = facts["title"]
        return Extracted(text=(f"# {title}\n\n" if title else "") + body + "\n", kind=self.kind, title=title,
                         date=facts["date"], outlet=facts["outlet"], authors=facts["authors"], url=facts["url"])


_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.IGNORECASE)


def _decode(data: bytes, name: str) -> str:
    """A page's text: its declared charset (many Chinese pages are GB18030 or Big5), else UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    m = _CHARSET.search(data[:4096])
    charset = m.group(1).decode("ascii").lower() if m else "utf-8"
    if charset in ("gb2312", "gbk"):
        charset = "gb18030"  # a superset: pages labelled GB2312 use GBK's characters
    try:
        return data.decode(charset)
    except LookupError:
        raise InputError(f"{name}: the page declares an unknown character set {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not valid {charset} at byte {exc.start}; re-save the page") from exc
