"""Split text into sentences: exact (start, end) spans, nothing lost or moved."""
from __future__ import annotations

import re

# A sentence ends after one of these (a run of them counts once), optionally
# followed by closing quotes or brackets; a line break always ends a sentence.
_END = "。！？；!?;…"
_CLOSE = "」』”’\"'）)》〉】"
_BOUNDARY = re.compile(rf"(?:[{_END}]+|\.\.\.|\.(?=\s|$))[{re.escape(_CLOSE)}]*|\n+")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of ``text[start:end]``, trimmed of surrounding whitespace.

    Every non-space character of the range lies in exactly one span, in order.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _BOUNDARY.finditer(text, start, end):
        _add(text, pos, m.end(), spans)
        pos = m.end()
    _add(text, pos, end, spans)
    return spans


def trim_span(text: str, a: int, b: int) -> tuple[int, int]:
    """``(a, b)`` narrowed past surrounding whitespace (empty when ``a == b``)."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _add(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> None:
    a, b = trim_span(text, a, b)
    if a < b:
        spans.append((a, b))
