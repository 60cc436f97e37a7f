"""Files in: one small reader per format behind one protocol (``FormatReader``), each
turning a file's bytes into article text, the metadata the file states, and (for PDF) where
each page starts. ``.txt``/``.md`` need nothing extra; ``.html``/``.htm``, ``.pdf`` and
``.docx`` need the ``ingest`` extra (trafilatura, pdfminer.six, python-docx)."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .base import Extracted, FormatReader, page_at
from .docx import DocxReader
from .html import HtmlReader
from .pdf import PdfReader

TEXT_SUFFIXES = (".txt", ".md")
READERS: tuple[FormatReader, ...] = (HtmlReader(), PdfReader(), DocxReader())
SUFFIXES = TEXT_SUFFIXES + tuple(s for r in READERS for s in r.suffixes)
_KINDS = {"pdf": "a PDF", "docx": "a Word (.docx) file", "html": "an HTML page"}


def reader_for(path: Path) -> FormatReader | None:
    """The reader of ``path``'s format by its suffix; None for a text article."""
    suffix = path.suffix.lower()
    return next((r for r in READERS if suffix in r.suffixes), None)


def sniff(head: bytes) -> str:
    """What a file's first bytes say it is: "pdf", "docx" (any zip), "html" or "" (text or
    unknown). The binary formats are asked first: a PDF or a zip may hold "<html" bytes."""
    binary_first = sorted(READERS, key=lambda r: r.kind == "html")
    return next((r.kind for r in binary_first if r.looks_like(head)), "")


def extract(path: Path, data: bytes, name: str) -> Extracted:
    """The article of a non-text corpus file (``reader_for(path)`` is not None), or
    InputError naming the file and why: its content is another format than its name
    says, or its reader found no article."""
    reader = reader_for(path)
    if reader is None:
        raise InputError(f"{name}: not a format this product reads ({', '.join(SUFFIXES)})")
    if not reader.looks_like(data[:4096]):
        what = _KINDS.get(sniff(data[:4096]), "not " + _KINDS[reader.kind])
        raise InputError(f"{name}: the name says {path.suffix.lower()} but the file is {what}; "
                         "rename it to its real format")
    return reader.extract(data, name)


__all__ = ["Extracted", "FormatReader", "READERS", "SUFFIXES", "TEXT_SUFFIXES", "extract", "page_at", "reader_for",
           "sniff"]
