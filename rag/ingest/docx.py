"""A Word file: its paragraphs in order (headings as ``##``, the title as ``#``) and its
core properties (title, author, created). The file is a zip: its size once unpacked is
checked from the zip's own directory before anything is unpacked (a zip bomb is refused)."""
from __future__ import annotations

import io
import zipfile

from ..errors import InputError
from .base import Extracted, join_paragraphs

MAX_UNPACKED_BYTES = 200_000_000  # all parts, unpacked
MAX_RATIO = 200  # unpacked / packed, for any one part: Word's XML packs about 10:1


def check_zip(data: bytes, name: str) -> None:
    """Refuse what is not a Word file's zip, or would unpack to far more than it holds."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{name}: not a Word file (not a readable zip: {exc})") from exc
    if "word/document.xml" not in names:
        raise InputError(f"{name}: a zip without word/document.xml, not a Word (.docx) file")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED_BYTES:
        raise InputError(f"{name}: would unpack to {total:,} bytes (over {MAX_UNPACKED_BYTES:,}); not read")
    for i in infos:
        if i.file_size > 1_000_000 and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise InputError(f"{name}: its part {i.filename} unpacks {i.file_size // max(i.compress_size, 1):,} "
                             "times its size (a zip bomb?); not read")


def _heading_level(style_name: str) -> int:
    """0 for the title, 1-9 for a heading, -1 for body text (English and Chinese style names)."""
    s = (style_name or "").strip().lower()
    if s in ("title", "標題", "标题"):
        return 0
    for prefix in ("heading ", "標題 ", "标题 "):
        if s.startswith(prefix) and s[len(prefix):].strip().isdigit():
            return int(s[len(prefix):])
    return -1


class DocxReader:
    kind = "docx"
    suffixes = (".docx",)

    def looks_like(self, head: bytes) -> bool:
        return head.startswith(b"PK\x03\x04")

    def extract(self, data: bytes, name: str) -> Extracted:
        try:
            import docx
        except ImportError as exc:
            raise InputError(f"{name}: reading .docx needs the ingest extra: pip install 'rag-zh-news[ingest]'") from exc
        check_zip(data, name)
        try:
            d = docx.Document(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds on a damaged part
            raise InputError(f"{name}: a damaged Word file ({type(exc).__name__}: {str(exc)[:120]})") from exc
        props = d.core_properties
        title = (props.title or "").strip()
        paragraphs: list[str] = []
        for p in _body_paragraphs(d):
            text = p.text.strip()
            if not text:
                continue
            level = _heading_level(p.style.name if p.style is not None else "")
            if level == 0:
                title = title or text
                paragraphs.append("# " + text)
            elif level > 0:
                paragraphs.append("## " + text)
            else:
                paragraphs.append(text)
        if not any(not p.startswith("#") for p in paragraphs):
            raise InputError(f"{name}: the Word file holds no text")
        if title and not paragraphs[0].startswith("# "):
            paragraphs.insert(0, "# " + title)
        created = props.created
        return Extracted(text=join_paragraphs(paragraphs), kind=self.kind, title=title,
                         created=created.date().isoformat() if created is not None else "",
                         authors=tuple(a.strip() for a in (props.author or "").replace("、", ";").split(";")
                                       if a.strip()))


def _body_paragraphs(d):
    """The body's paragraphs in order, those inside tables too (a table cell is text)."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for block in d.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield Paragraph(block, d)
        elif tag == "tbl":
            for row in Table(block, d).rows:
                for cell in row.cells:
                    yield from cell.paragraphs
