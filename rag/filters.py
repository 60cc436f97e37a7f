"""Filters by date and source: which documents a question may be answered from.

A document's date and outlet are what the cleaner found (front matter, dateline, source
line, byline; ``rag.provenance``); a document without a date has none, and a date
filter leaves it out (and says so). Pure functions.
"""
from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from . import provenance
from .errors import InputError
from .records import Document
from .text.fold import fold

_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
MAX_SOURCES = 20


@dataclass(frozen=True)
class DocFilter:
    """Dates are ISO ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (a bound covers its whole
    year or month); ``sources`` match a document's outlet (either script, any part)."""

    since: str = ""
    until: str = ""
    sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.sources)


def _bounds(value: str, what: str) -> tuple[str, str]:
    """(first day, last day) that an ISO date or partial date covers; InputError otherwise."""
    m = _DATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if not m:
        raise InputError(f"{what} {str(value)[:30]!r} is not a date; write it as 2024, 2024-06 or 2024-06-30")
    y, mo, d = int(m.group(1)), m.group(2), m.group(3)
    try:
        if d:
            day = datetime.date(y, int(mo), int(d)).isoformat()
            return day, day
        if mo:
            last = calendar.monthrange(y, int(mo))[1]
            return f"{y:04d}-{int(mo):02d}-01", f"{y:04d}-{int(mo):02d}-{last:02d}"
    except (ValueError, calendar.IllegalMonthError):
        raise InputError(f"{what} {value!r} is not a date in the calendar") from None
    return f"{y:04d}-01-01", f"{y:04d}-12-31"


def check_filter(f: DocFilter) -> DocFilter:
    """``f`` with its dates checked and its sources cleaned; InputError naming the bad value."""
    if f.since:
        _bounds(f.since, "--since")
    if f.until:
        _bounds(f.until, "--until")
    if f.since and f.until and _bounds(f.since, "--since")[0] > _bounds(f.until, "--until")[1]:
        raise InputError(f"--since {f.since} is after --until {f.until}; swap them")
    sources = tuple(s.strip() for s in f.sources if isinstance(s, str) and s.strip())
    if len(sources) > MAX_SOURCES or any(len(s) > 100 for s in sources):
        raise InputError(f"give at most {MAX_SOURCES} sources of at most 100 characters each")
    return DocFilter(f.since.strip(), f.until.strip(), sources)


def _in_dates(doc: Document, f: DocFilter) -> bool:
    found = provenance.date(doc)
    m = _DATE.match(found) if found else None
    if not m:
        return False
    first, last = _bounds(m.group(0), "date")
    lo = _bounds(f.since, "--since")[0] if f.since else "0000"
    hi = _bounds(f.until, "--until")[1] if f.until else "9999"
    return last >= lo and first <= hi


def _from_source(doc: Document, f: DocFilter) -> bool:
    outlet = fold(provenance.outlet(doc))
    return bool(outlet) and any(fold(s) in outlet or outlet in fold(s) for s in f.sources)


def matching(documents: Mapping[str, Document], f: DocFilter) -> list[str]:
    """The ids of the documents ``f`` lets through, in the index's order."""
    dated = bool(f.since or f.until)
    return [d for d, doc in documents.items()
            if (not dated or _in_dates(doc, f)) and (not f.sources or _from_source(doc, f))]


def describe(f: DocFilter, script: str = "traditional") -> str:
    """The filter in words, for the answer ("只搜尋 2024-01-01 至 2024-12-31、來源為 信報 的文章")."""
    trad = script == "traditional"
    parts = []
    if f.since or f.until:
        lo = _bounds(f.since, "--since")[0] if f.since else ""
        hi = _bounds(f.until, "--until")[1] if f.until else ""
        parts.append(f"{lo or '…'} 至 {hi or '…'}")
    if f.sources:
        parts.append(("來源為 " if trad else "来源为 ") + "、".join(f.sources))
    return ("只搜尋 " if trad else "只搜寻 ") + "、".join(parts) + " 的文章"


def nothing_left(documents: Mapping[str, Document], f: DocFilter) -> InputError:
    """The error for a filter that no document passes, saying what the index holds."""
    dates = sorted(provenance.date(d) for d in documents.values() if provenance.date(d))
    outlets = sorted({provenance.outlet(d) for d in documents.values() if provenance.outlet(d)})
    held = (f"{len(documents)} documents; {len(dates)} dated"
            + (f" ({dates[0]} to {dates[-1]})" if dates else "")
            + (f"; outlets: {', '.join(outlets[:8])}" if outlets else "; no outlet known"))
    return InputError(f"no document passes the filter ({describe(f, 'simplified')}); the index holds {held}. "
                      "Widen the dates or name another source.")


def restrict(documents: Mapping[str, Document], f: DocFilter, doc_ids: Sequence[str] | None) -> list[str] | None:
    """The document ids to search: ``doc_ids`` (None: all) narrowed by ``f``; InputError
    when nothing is left."""
    if not f:
        return list(doc_ids) if doc_ids else None
    allowed = matching(documents, f)
    if doc_ids:
        keep = set(doc_ids)
        allowed = [d for d in allowed if d in keep]
    if not allowed:
        raise nothing_left(documents, f)
    return allowed
