"""Citation lookup: a chunk id or a span, with its context; passages supporting a claim."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InputError
from .records import Chunk, Document

_SPAN_REF = re.compile(r"^(?P<doc>[^#:\s]+):(?P<start>\d+)-(?P<end>\d+)$")
_CHUNK_REF = re.compile(r"^(?P<doc>[^#:\s]+)#(?P<n>\d+)$")


@dataclass(frozen=True)
class Lookup:
    """A passage of a document with its surrounding context (all offsets into the original)."""

    doc: Document
    start: int
    end: int
    context_start: int
    context_end: int
    chunk_id: str = ""
    section: str = ""

    @property
    def quote(self) -> str:
        return self.doc.text[self.start:self.end]

    @property
    def before(self) -> str:
        return self.doc.text[self.context_start:self.start]

    @property
    def after(self) -> str:
        return self.doc.text[self.end:self.context_end]


def context_bounds(text: str, start: int, end: int, chars: int = 200) -> tuple[int, int]:
    """About ``chars`` characters of context each side, widened to whole lines or sentences."""
    a = max(0, start - chars)
    if a > 0:
        cut = max(text.rfind("\n", 0, a), max(text.rfind(p, 0, a) for p in "。！？"))
        a = cut + 1 if cut >= 0 and start - cut < chars * 2 else a
    b = min(len(text), end + chars)
    if b < len(text):
        cuts = [i for i in (text.find("\n", b), *(text.find(p, b) for p in "。！？")) if i >= 0]
        if cuts and min(cuts) - end < chars * 2:
            b = min(cuts) + 1
    return a, b


def is_ref(text: str) -> bool:
    """True for a chunk id (``doc#n``) or a span (``doc:start-end``)."""
    t = text.strip()
    return bool(_CHUNK_REF.match(t) or _SPAN_REF.match(t))


def parse_ref(ref: str) -> tuple[str, int | None, tuple[int, int] | None]:
    """'<doc>#<n>' -> (doc, n, None); '<doc>:<start>-<end>' -> (doc, None, (start, end))."""
    ref = ref.strip()
    if m := _CHUNK_REF.match(ref):
        return m.group("doc"), int(m.group("n")), None
    if m := _SPAN_REF.match(ref):
        return m.group("doc"), None, (int(m.group("start")), int(m.group("end")))
    raise InputError(f"{ref!r} is neither a chunk id like 000_0f407bbef8b93a09#3 nor a span like "
                     "000_0f407bbef8b93a09:120-180")


def lookup(ref: str, docs: dict[str, Document], chunks: dict[str, Chunk], context_chars: int = 200) -> Lookup:
    doc_id, n, span = parse_ref(ref)
    doc = docs.get(doc_id)
    if doc is None:
        close = [d for d in docs if d.startswith(doc_id[:3])][:3]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError(f"no document {doc_id!r} in this index{hint}")
    if n is not None:
        chunk = chunks.get(f"{doc_id}#{n}")
        if chunk is None:
            last = max((c.n for c in chunks.values() if c.doc_id == doc_id), default=-1)
            raise InputError(f"no chunk {doc_id}#{n}: that document has chunks #0 to #{last}")
        a, b = context_bounds(doc.text, chunk.start, chunk.end, context_chars)
        return Lookup(doc, chunk.start, chunk.end, a, b, chunk.chunk_id, chunk.section)
    start, end = span  # type: ignore[misc]
    if not 0 <= start < end <= len(doc.text):
        raise InputError(f"span {start}-{end} is outside document {doc_id} (0-{len(doc.text)})")
    a, b = context_bounds(doc.text, start, end, context_chars)
    section = ""
    owner = ""
    for c in chunks.values():
        if c.doc_id == doc_id and c.start <= start and end <= c.end:
            section, owner = c.section, c.chunk_id
            break
    return Lookup(doc, start, end, a, b, owner, section)
