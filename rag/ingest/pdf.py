"""A PDF's text layer in reading order, with the page each character came from.

pdfminer.six gives every character with its position (chosen over pypdf by measurement:
``eval/ingest_bench.py``; pypdf has no positions to order columns by and keeps the gaps it
infers between Chinese and Latin characters as spaces). Lines are ordered column by
column; running headers and footers (a line at a page's top or bottom that recurs, with
its digits ignored, on most pages) and page numbers are removed; wrapped lines are joined
into paragraphs. A PDF without a text layer (a scan) holds no article here: OCR is out of
scope."""
from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass

from ..errors import InputError
from .base import Extracted

MAX_PAGES = 2_000
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
_PAGE_NUMBER = re.compile(r"^(?:第\s*\d+\s*[頁页]|[-–—\s]*\d+[-–—\s]*|page\s*\d+(?:\s*(?:of|/)\s*\d+)?"
                          r"|\d+\s*/\s*\d+|[頁页]\s*\d+)$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_LATIN_WORD = re.compile(r"[A-Za-z0-9@&._%+/-]+")
_SENTENCE_END = re.compile(r"[。！？!?；;：:」』”）)]$")


@dataclass
class _Line:
    page: int
    x0: float
    x1: float
    top: float  # distance from the page's top edge
    height: float
    size: float  # the font size of most of its characters
    text: str
    column: int = 0


def _line_chars(line) -> list[tuple[float, str, bool]]:
    """A text line's characters as (x, character, drawn): spaces pdfminer inferred from a
    gap are not drawn, and take the position just after the character before them."""
    from pdfminer.layout import LTAnno, LTChar

    out: list[tuple[float, str, bool]] = []
    for c in line:
        if isinstance(c, LTChar):
            out.append((c.x0, c.get_text(), True))
        elif isinstance(c, LTAnno) and c.get_text() == " " and out:
            out.append((out[-1][0] + 1e-3, " ", False))
    return out


def _chars_text(chars: list[tuple[float, str, bool]]) -> str:
    """Characters in order of position; a space inferred from a gap is kept only between
    two Latin characters: a gap beside a Chinese character is typesetting ("15 所"), not text."""
    chars = sorted(chars, key=lambda c: c[0])
    out: list[str] = []
    for i, (_, ch, drawn) in enumerate(chars):
        if not drawn:
            after = next((c for _, c, _ in chars[i + 1:] if c.strip()), "")
            if not out or not after or out[-1] == " " or _CJK.match(out[-1]) or _CJK.match(after):
                continue
        out.append(ch)
    return "".join(out).strip()


def _page_lines(layout, page_no: int) -> list[_Line]:
    from pdfminer.layout import LTChar, LTTextBox, LTTextLine

    raw: list[tuple[float, float, float, float, float, list]] = []  # x0, x1, top, height, size, chars

    def walk(el) -> None:
        if isinstance(el, LTTextLine):
            chars = _line_chars(el)
            if any(c.strip() for _, c, _ in chars):
                sizes = sorted(round(c.size, 1) for c in el if isinstance(c, LTChar))
                size = sizes[len(sizes) // 2] if sizes else el.height
                raw.append((el.x0, el.x1, layout.height - el.y1, el.height, size, chars))
        elif isinstance(el, LTTextBox) or hasattr(el, "__iter__"):
            for child in el:
                walk(child)

    for el in layout:
        walk(el)
    # Pieces of one line that pdfminer split (a glyph from a fallback font, a quote mark
    # drawn as its own run) share its baseline and overlap or touch it: one line again.
    raw.sort(key=lambda r: (round(r[2]), r[0]))
    merged: list[list] = []
    for r in raw:
        host = next((m for m in merged if abs(m[2] - r[2]) < 0.3 * max(m[4], r[4])
                     and r[0] <= m[1] + 0.5 * m[4] and m[0] <= r[1] + 0.5 * r[4]), None)
        if host is None:
            merged.append(list(r))
        else:
            host[0], host[1], host[5] = min(host[0], r[0]), max(host[1], r[1]), host[5] + r[5]
    return [_Line(page_no, x0, x1, top, height, size, text)
            for x0, x1, top, height, size, chars in merged if (text := _chars_text(chars))]


def _columns(lines: list[_Line], width: float) -> None:
    """Number each line's column: gutters are vertical strips no line crosses (at least 2%
    of the page wide) between the leftmost and rightmost text."""
    if not lines:
        return
    left, right = int(min(ln.x0 for ln in lines)), int(max(ln.x1 for ln in lines)) + 1
    covered = bytearray(right - left + 1)
    for ln in lines:
        covered[int(ln.x0) - left:int(ln.x1) - left + 1] = b"\1" * (int(ln.x1) - int(ln.x0) + 1)
    gutters, run = [], 0
    for i, c in enumerate(covered):
        if not c:
            run += 1
        else:
            if run >= max(8.0, 0.02 * width):
                gutters.append(left + i - run / 2)
            run = 0
    for ln in lines:
        ln.column = sum(1 for g in gutters if (ln.x0 + ln.x1) / 2 > g)


def _furniture(pages: list[list[_Line]]) -> set[tuple[int, int]]:
    """(page, index) of running headers, footers and page numbers: the first and last two
    lines of a page that recur (digits ignored) on at least half the pages, or that are a
    bare page number."""
    keyed = []
    for lines in pages:
        by_top = sorted(range(len(lines)), key=lambda i: lines[i].top)
        edge = by_top[:2] + by_top[-2:]
        keyed.append([(i, _DIGITS.sub("#", lines[i].text.replace(" ", ""))) for i in dict.fromkeys(edge)])
    counts = Counter(k for page in keyed for k in {k for _, k in page})
    recurring = {k for k, n in counts.items() if len(pages) >= 2 and n >= max(2, len(pages) / 2)}
    out = set()
    for p, page in enumerate(keyed):
        for i, key in page:
            if key in recurring or _PAGE_NUMBER.match(pages[p][i].text):
                out.add((p, i))
    return out


def _join(a: str, b: str) -> str:
    """Two wrapped pieces of one paragraph: Chinese runs on; Latin words get a space."""
    if a and b and a[-1].isascii() and a[-1].isalnum() and b[0].isascii() and b[0].isalnum():
        return a + " " + b
    if a.endswith("-") and len(a) > 1 and a[-2].isalpha() and b[:1].islower():
        return a[:-1] + b
    return a + b


def layout_text(pages: list[list[_Line]], widths: list[float]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Paragraph text of the pages' lines and where each page starts in it (pure: the
    lines are what pdfminer read)."""
    drop = _furniture(pages)
    paragraphs: list[tuple[str, int]] = []  # (text, page it starts on)
    ordered: list[list[_Line]] = []
    for p, lines in enumerate(pages):
        kept = [ln for i, ln in enumerate(lines) if (p, i) not in drop]
        _columns(kept, widths[p])
        ordered.append(sorted(kept, key=lambda ln: (ln.column, ln.top, ln.x0)))
    # The usual distance from one line's top to the next's within a paragraph, per unit of
    # font size: a wider one is a paragraph's or heading's spacing.
    pitches = sorted((b.top - a.top) / a.size for page in ordered for a, b in zip(page, page[1:])
                     if a.column == b.column and abs(a.size - b.size) < 0.5 and b.top > a.top and a.size > 0)
    pitch = pitches[len(pitches) // 4] if pitches else 0.0
    cur, cur_page, prev = "", 0, None
    starts: list[tuple[int, int, int]] = []  # (paragraph index, offset in it, page) of each page's first line
    for p, kept in enumerate(ordered):
        col_right = {c: max(ln.x1 for ln in kept if ln.column == c) for c in {ln.column for ln in kept}}
        first = True
        for ln in kept:
            new_para = prev is None
            if prev is not None:
                same_flow = prev.page == ln.page and prev.column == ln.column
                # A paragraph's last line stops short of the column's edge; a wrapped line
                # may too, by a character or two (CJK line-breaking rules).
                if prev.page == ln.page:
                    # ...or by a whole Latin word that did not fit ("InnoHK…" moved down).
                    word = _LATIN_WORD.match(ln.text)
                    room = max(2.5, 0.6 * len(word.group()) + 0.5 if word else 0.0) * prev.size
                    short = prev.x1 < col_right.get(prev.column, prev.x1) - room
                else:
                    short = bool(_SENTENCE_END.search(prev.text))
                spaced = same_flow and pitch > 0 and ln.top - prev.top > 1.2 * pitch * prev.size
                new_para = short or spaced or abs(ln.size - prev.size) > 0.08 * prev.size
            if new_para and cur:
                paragraphs.append((cur, cur_page))
                cur = ""
            if not cur:
                cur_page = p + 1
            if first:
                starts.append((len(paragraphs), len(cur), p + 1))
                first = False
            cur = _join(cur, ln.text) if cur else ln.text
            prev = ln
    if cur:
        paragraphs.append((cur, cur_page))
    # Offsets: paragraphs joined by a blank line; a page starts where its first line went.
    offsets, pos = [], 0
    for text, _ in paragraphs:
        offsets.append(pos)
        pos += len(text) + 2
    marks = tuple((offsets[para] + within if para < len(offsets) else pos, page) for para, within, page in starts)
    return "\n\n".join(t for t, _ in paragraphs) + ("\n" if paragraphs else ""), marks


class PdfReader:
    kind = "pdf"
    suffixes = (".pdf",)

    def looks_like(self, head: bytes) -> bool:
        return b"%PDF-" in head[:1024]

    def extract(self, data: bytes, name: str) -> Extracted:
        try:
            from pdfminer.high_level import extract_pages
            from pdfminer.layout import LAParams
            from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
            from pdfminer.pdfparser import PDFParser
        except ImportError as exc:
            raise InputError(f"{name}: reading .pdf needs the ingest extra: pip install 'rag-zh-news[ingest]'") from exc
        try:
            doc = PDFDocument(PDFParser(io.BytesIO(data)))
            info = _info(doc)
            pages, widths = [], []
            for i, layout in enumerate(extract_pages(io.BytesIO(data), laparams=LAParams(line_margin=0.3))):
                if i >= MAX_PAGES:
                    raise InputError(f"{name}: over {MAX_PAGES:,} pages; split the file")
                pages.append(_page_lines(layout, i + 1))
                widths.append(layout.width)
        except InputError:
            raise
        except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
            raise InputError(f"{name}: the PDF is encrypted ({type(exc).__name__}); save an unprotected copy") from exc
        except Exception as exc:  # noqa: BLE001 - a damaged file may break pdfminer anywhere (PDFSyntaxError, …)
            if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
                raise InputError(f"{name}: the PDF is encrypted; save an unprotected copy") from exc
            raise InputError(f"{name}: a damaged PDF ({type(exc).__name__}: {str(exc)[:120]})") from exc
        if not pages:
            raise InputError(f"{name}: the PDF has no pages")
        text, marks = layout_text(pages, widths)
        if sum(1 for c in text if not c.isspace()) < 20:
            raise InputError(f"{name}: no text layer ({len(pages)} pages of images, a scan?); "
                             "OCR the file first (this product does not)")
        return Extracted(text=text, kind=self.kind, title=info.get("title", ""), created=info.get("date", ""),
                         authors=tuple(a for a in [info.get("author", "")] if a), pages=marks)


_PDF_DATE = re.compile(r"^D?:?(\d{4})(\d{2})?(\d{2})?")


def _info(doc) -> dict[str, str]:
    """The document information dictionary: title, author, and creation date (as a date)."""
    from pdfminer.psparser import PSLiteral
    from pdfminer.pdftypes import resolve1

    out: dict[str, str] = {}
    for info in doc.info or []:
        for key, value in info.items():
            value = resolve1(value)
            if isinstance(value, PSLiteral):
                continue
            if isinstance(value, bytes):
                value = _pdf_string(value)
            if not isinstance(value, str) or not value.strip():
                continue
            if key == "Title":
                out["title"] = value.strip()
            elif key == "Author":
                out["author"] = value.strip()
            elif key == "CreationDate":
                m = _PDF_DATE.match(value.strip())
                if m and m.group(2) and m.group(3):
                    out["date"] = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    return out


def _pdf_string(raw: bytes) -> str:
    if raw.startswith((b"\xfe\xff", b"\xff\xfe")):
        return raw.decode("utf-16", errors="replace")
    from pdfminer.utils import decode_text

    return decode_text(raw)
