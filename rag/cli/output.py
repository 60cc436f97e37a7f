"""How the command line words the library's records: terminal-safe text, one-line JSON,
answers, updates and provenance."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ..presentation.strings import answer_text, filter_text, notice_text, page_text
from ..text.sanitize import INVISIBLE, terminal_text


def safe_text(value: object) -> str:
    """A field for the terminal (titles, ids, quotes, paths come from documents and file
    names): no escape sequence, control character or line break gets through. ``--json``
    output is exact instead (JSON escapes control characters itself)."""
    return terminal_text(str(value))


_JSON_UNSAFE = re.compile(f"[\x7f-\x9f\u2028\u2029{INVISIBLE}]")


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def to_json_line(obj: object) -> str:
    """One line of JSON with the exact strings; characters a terminal would act on or
    hide (C1 controls, bidi and other invisible characters, line separators) are
    written as \\u escapes, which every JSON reader turns back into the same text."""
    return _JSON_UNSAFE.sub(lambda m: _json_escape(m.group()), json.dumps(obj, ensure_ascii=False))


def print_update(verb: str, report, index: Path) -> None:
    b = report.build
    for s in b.skipped:  # other files of the corpus the build could not read
        print(f"skipped: {safe_text(s.reason)}", file=sys.stderr)
    print(f"{verb}; index {safe_text(index)} now holds {b.documents} documents in {b.chunks} chunks "
          f"({b.embedded_vectors} embedded, {b.reused_vectors} reused) after {b.seconds.get('total', 0):.1f}s")


def print_answer(a, as_json: bool, docs: dict | None = None) -> None:
    from ..presentation.shapes import answer_to_json

    docs = docs or {}
    if as_json:
        print(to_json_line(answer_to_json(a)))
        return
    if a.searched_question != a.question:
        print(f"(searched: {safe_text(a.searched_question)})")
    said_filter, notice = filter_text(a), notice_text(a)
    if said_filter:
        print(f"（{safe_text(said_filter)}）")
    if a.generated:
        print("（生成答案，已逐句核對原文 · generated, each sentence checked against its source）")
    elif notice:
        print(f"（{safe_text(notice)}）")
    if a.short_text:
        print(f"答案：{safe_text(a.short_text)}\n")
    print(safe_text(answer_text(a)))
    if a.converted:
        marks = "".join(f"[{m}]" for m in a.converted)
        print(f"（{marks} 原文是另一種字體，上面已轉寫；下面的引文是原文。 converted to your script; quotes below are verbatim）")
    if a.citations:
        print()
        shown = set()
        for c in a.citations:
            if c.marker in shown:
                print(f"    「{safe_text(c.quote)}」 ({c.start}-{c.end})")
                continue
            shown.add(c.marker)
            section = f" · {safe_text(c.section)}" if c.section and c.section != c.title else ""
            print(f"[{c.marker}] {safe_text(title_of(docs.get(c.doc_id), c.title))}{section} · "
                  f"{safe_text(provenance_line(docs.get(c.doc_id)))}")
            page = f"{page_text(c.page)}  " if c.page else ""
            print(f"    {safe_text(c.chunk_id)}  {page}offsets {c.start}-{c.end}")
            print(f"    「{safe_text(c.quote)}」")
    elif a.related:
        print("\n可能相關 / possibly related (not evidence):")
        for c in a.related:
            print(f"  - {safe_text(c.title)} ({safe_text(c.chunk_id)}): {safe_text(c.quote[:60])}")


def provenance_line(doc) -> str:
    """Date, authors, outlet and references of a document, or says they are unknown
    (``rag.provenance.line``: the same line the page and MCP give)."""
    from .. import provenance

    if doc is None:
        return ""
    return provenance.line(provenance.of(doc), "no date", "no outlet", "references: ")


def title_of(doc, fallback: str) -> str:
    from .. import provenance

    if doc is not None and provenance.title_is_guessed(doc):
        return f"(no headline) {doc.title}…"
    return doc.title if doc is not None else fallback
