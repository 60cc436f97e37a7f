"""Citation lookup: a chunk id or a span, with its context; passages supporting a claim."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Container

from .errors import InputError
from .records import Chunk, Document

# A reference is "<doc id>#<n>" (a chunk) or "<doc id>:<start>-<end>" (a span). A doc id is
# a file name and may hold anything, "#", ":", spaces and newlines included, so a
# reference is read from its end, and a document part is checked against the index.
_CHUNK_TAIL = re.compile(r"#(\d+)\Z")
_SPAN_TAIL = re.compile(r":(\d+)-(\d+)\Z")
_TYPED_DOC = re.compile(r"[^#:\s]+\Z")  # what a hand-typed document part looks like
MAX_REF_CHARS = 2000  # a file name is at most 255 bytes; anything longer is not a reference
MAX_NUMBER_DIGITS = 9  # no document has a billion characters or chunks
MAX_CONTEXT_CHARS = 5000


@dataclass(frozen=True)
class Ref:
    """A parsed reference: a chunk (``n``) or a span (``span``) of one document."""

    doc_id: str
    n: int | None = None
    span: tuple[int, int] | None = None


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
    def page(self) -> int:
        """The page of a paged source (PDF) the passage starts on; 0 when not paged."""
        return self.doc.page_at(self.start)

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


def _number(digits: str, ref: str) -> int:
    if len(digits) > MAX_NUMBER_DIGITS:
        raise InputError(f"the number {digits[:12]}… in {ref[:60]!r} has {len(digits)} digits; chunk numbers and "
                         f"offsets have at most {MAX_NUMBER_DIGITS}")
    return int(digits)


def _parse(candidate: str) -> Ref | None:
    if m := _CHUNK_TAIL.search(candidate):
        return Ref(candidate[: m.start()], n=_number(m.group(1), candidate)) if m.start() else None
    if m := _SPAN_TAIL.search(candidate):
        span = (_number(m.group(1), candidate), _number(m.group(2), candidate))
        return Ref(candidate[: m.start()], span=span) if m.start() else None
    return None


def parse_ref(ref: str, known_docs: Container[str] | None = None) -> Ref:
    """'<doc>#<n>' -> Ref(doc, n=n); '<doc>:<start>-<end>' -> Ref(doc, span=(start, end)).

    With ``known_docs``, a reference as written (surrounding spaces included, since a
    file name may start or end with one) is preferred when it names a known document;
    otherwise the trimmed reference is returned. InputError when it is neither form."""
    if not isinstance(ref, str):
        raise InputError(f"a reference must be text, not {type(ref).__name__}")
    if len(ref) > MAX_REF_CHARS:
        raise InputError(f"a reference of {len(ref):,} characters is not a chunk id or span (at most {MAX_REF_CHARS})")
    candidates = [ref] if ref == ref.strip() else [ref, ref.strip()]
    parsed = [r for r in map(_parse, candidates) if r is not None]
    if known_docs is not None:
        for r in parsed:
            if r.doc_id in known_docs:
                return r
    if parsed:
        return parsed[-1]
    raise InputError(f"{ref[:80]!r} is neither a chunk id like 000_0f407bbef8b93a09#3 nor a span like "
                     "000_0f407bbef8b93a09:120-180")


def is_ref(text: str, known_docs: Container[str] | None = None) -> bool:
    """True for a chunk id (``doc#n``) or a span (``doc:start-end``) of a known
    document, or one that looks typed as a reference (no space, '#' or ':' in the
    document part): "did you mean" then helps with a mistyped id."""
    try:
        r = parse_ref(text, known_docs)
    except InputError:
        # Shaped like a reference but unusable (a 5,000-digit chunk number): it is one,
        # so that the lookup says what is wrong with it instead of searching for it.
        return isinstance(text, str) and len(text) <= MAX_REF_CHARS and bool(_CHUNK_TAIL.search(text.strip())
                                                                                or _SPAN_TAIL.search(text.strip()))
    return (known_docs is not None and r.doc_id in known_docs) or bool(_TYPED_DOC.match(r.doc_id))


def lookup_chunk(doc: Document, chunk: Chunk, context_chars: int = 200) -> Lookup:
    """A chunk of ``doc`` with its context, from the records themselves (no parsing)."""
    a, b = context_bounds(doc.text, chunk.start, chunk.end, context_chars)
    return Lookup(doc, chunk.start, chunk.end, a, b, chunk.chunk_id, chunk.section)


def did_you_mean(name: str, docs: dict[str, Document], limit: int = 3) -> list[str]:
    """Document ids close to ``name``: ids that start with it or hold it ("000",
    "0f407bbe"), ids difflib finds close, and documents whose title holds it."""
    import difflib

    name = str(name)[:200]
    if not name.strip():
        return []
    found = [d for d in docs if d.startswith(name)] + [d for d in docs if name in d]
    found += difflib.get_close_matches(name, list(docs), n=limit, cutoff=0.6)
    found += [d for d, doc in docs.items() if len(name) >= 2 and name in doc.title]
    return list(dict.fromkeys(found))[:limit]


def unknown_document(name: str, docs: dict[str, Document]) -> InputError:
    """The error for a document id the index does not have, with the closest ids."""
    close = did_you_mean(name, docs)
    hint = f" (did you mean {', '.join(close)}?)" if close else "; list them with: rag docs"
    return InputError(f"no document {str(name)[:80]!r} in this index{hint}", "unknown_document", str(name)[:80])


def lookup(ref: str, docs: dict[str, Document], chunks: dict[str, Chunk], context_chars: int = 200) -> Lookup:
    """Look a chunk id or span up in the index's records; InputError saying what is wrong."""
    if isinstance(context_chars, bool) or not isinstance(context_chars, int) \
            or not 0 <= context_chars <= MAX_CONTEXT_CHARS:
        raise InputError(f"context of {context_chars!r} characters: give 0 to {MAX_CONTEXT_CHARS}")
    r = parse_ref(ref, docs)
    doc_id, n, span = r.doc_id, r.n, r.span
    doc = docs.get(doc_id)
    if doc is None:
        raise unknown_document(doc_id, docs)
    if n is not None:
        chunk = chunks.get(f"{doc_id}#{n}")
        if chunk is None:
            last = max((c.n for c in chunks.values() if c.doc_id == doc_id), default=-1)
            raise InputError(f"no chunk {doc_id!r}#{n}: that document has chunks #0 to #{last}")
        return lookup_chunk(doc, chunk, context_chars)
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
