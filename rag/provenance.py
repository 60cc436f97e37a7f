"""Where a document comes from, as a reader needs it next to a quote: its date, its
outlet and what its title really is. Pure functions over ``Document``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlparse

from .records import Document

# Site names of the outlets Chinese business news links to most (a link's domain says
# who published it better than the link text, which is usually a headline).
OUTLETS = {
    "jiemian.com": "界面新闻", "sina.com.cn": "新浪", "36kr.com": "36氪", "scmp.com": "南華早報",
    "hk01.com": "香港01", "mingpao.com": "明報", "hket.com": "香港經濟日報", "wenweipo.com": "文匯報",
    "takungpao.com": "大公報", "rthk.hk": "香港電台", "news.gov.hk": "香港政府新聞網", "info.gov.hk": "政府新聞公報",
    "xinhuanet.com": "新华网", "news.cn": "新华网", "people.com.cn": "人民网", "chinadaily.com.cn": "中国日报",
    "caixin.com": "财新", "yicai.com": "第一财经", "thepaper.cn": "澎湃新闻", "ifeng.com": "凤凰网", "qq.com": "腾讯网",
    "163.com": "网易", "sohu.com": "搜狐", "stcn.com": "证券时报", "21jingji.com": "21世纪经济报道",
    "bbc.com": "BBC", "reuters.com": "Reuters", "bloomberg.com": "Bloomberg", "ft.com": "Financial Times",
}


def outlet_of_url(url: str) -> str:
    """The outlet a link points to ("https://www.jiemian.com/…" -> "界面新闻"), or its domain."""
    host = (urlparse(url).hostname or "").lower()
    if not host:
        return ""
    for domain, name in OUTLETS.items():
        if host == domain or host.endswith("." + domain):
            return name
    return host.removeprefix("www.")


def outlet(doc: Document) -> str:
    """The outlet that published the document (a source line or the reporter's byline),
    or "" when the document does not say. Linked references are not the outlet."""
    return doc.meta("outlet")


def references(doc: Document) -> list[str]:
    """The outlets of the articles the document links to as its sources, in order, once each."""
    out: list[str] = []
    for s in doc.sources:
        name = outlet_of_url(s.url) if s.url else ""
        if name and name not in out:
            out.append(name)
    return out


def date(doc: Document) -> str:
    """The document's date as written in its metadata or dateline ("2025-06-30"), or ""."""
    return doc.date[:10] if doc.date else ""


def title_is_guessed(doc: Document) -> bool:
    """True when the document has no headline and its title is its first words."""
    return doc.meta("title_from") == "first sentence"


@dataclass(frozen=True)
class Provenance:
    """Where a document comes from, as every interface shows it (the CLI, the page and
    MCP word it from this one record, so they never disagree)."""

    date: str  # "2025-06-30", or "" when the document gives none
    outlet: str  # who published it, or ""
    authors: tuple[str, ...]
    references: tuple[str, ...]  # outlets of the articles it links to (not its own outlet)
    title_guessed: bool  # no headline: the title is the first words


def of(doc: Document) -> Provenance:
    """The provenance of ``doc``."""
    return Provenance(date(doc), outlet(doc), tuple(doc.authors), tuple(references(doc)), title_is_guessed(doc))


def to_json(p: Provenance) -> dict:
    return {"date": p.date, "outlet": p.outlet, "authors": list(p.authors), "references": list(p.references)}


def line(p: Provenance, no_date: str, no_outlet: str, references_label: str,
         clean: Callable[[str, int], str] = lambda text, limit: text, max_references: int = 4) -> str:
    """One line: date · authors · outlet · references, in the interface's words for an
    unknown date or outlet (a reader must not guess what "今年" means); ``clean`` fits
    a field to the interface (the page's one-line, capped display)."""
    bits = [clean(p.date, 10) or no_date, clean("、".join(p.authors), 60), clean(p.outlet, 40) or no_outlet]
    if p.references and references_label:
        bits.append(references_label + clean("、".join(p.references[:max_references]), 60))
    return " · ".join(b for b in bits if b)
