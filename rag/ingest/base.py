"""What every format's reader returns, and the protocol they share.

A reader turns one file's bytes into plain article text plus what the file itself says
about the article (headline, date, outlet, author, address) and, for a paged format, where
each page starts in that text. Nothing is guessed: a field the file does not give is empty.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Extracted:
    """One file's article as text. ``pages`` are (offset into ``text``, page number) in
    order, for a paged format (PDF); empty otherwise. ``kind`` names the format read.
    ``date`` is a publication date the file states (a page's published time); ``created``
    when the file was made (a PDF's or Word file's properties), used only when the text
    names no date."""

    text: str
    kind: str
    title: str = ""
    date: str = ""
    created: str = ""
    outlet: str = ""
    authors: tuple[str, ...] = ()
    url: str = ""
    pages: tuple[tuple[int, int], ...] = ()


class FormatReader(Protocol):
    """Reads one format: ``suffixes`` it claims, ``looks_like`` (does the file's content
    match the format, whatever its name says) and ``extract`` (bytes to Extracted, or
    InputError saying why the file holds no article)."""

    kind: str
    suffixes: tuple[str, ...]

    def looks_like(self, head: bytes) -> bool: ...

    def extract(self, data: bytes, name: str) -> Extracted: ...


def page_at(pages: tuple[tuple[int, int], ...], offset: int) -> int:
    """The page that holds character ``offset`` of a paged text (0 when not paged)."""
    if not pages:
        return 0
    i = bisect.bisect_right([start for start, _ in pages], offset) - 1
    return pages[max(i, 0)][1]


def join_paragraphs(paragraphs: list[str]) -> str:
    """Paragraphs as article text: one per line, a blank line between, none empty."""
    return "\n\n".join(p.strip() for p in paragraphs if p and p.strip()) + "\n"
