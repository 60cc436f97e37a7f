"""Split text into sentences: exact (start, end) spans, nothing lost or moved."""
from __future__ import annotations

import re

# A sentence ends after one of these (a run of them counts once), optionally
# followed by closing quotes or brackets; a line break always ends a sentence.
_END = "。！？；!?;…"
_CLOSE = "」』”’\"'）)》〉】"
# A "sentence" longer than this (a scraped line with no punctuation, say) is cut,
# at the last comma or space before the limit when there is one, so that no chunk,
# jieba call or embedding input grows with a broken file. The longest sentence in
# the seeds has 195 characters; in CMRC dev, 297.
MAX_SENTENCE_CHARS = 400
_SOFT_BREAK = re.compile(r"[，,、：:\s]")
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
    while b - a > MAX_SENTENCE_CHARS:
        limit = a + MAX_SENTENCE_CHARS
        cut = limit
        for m in _SOFT_BREAK.finditer(text, a + MAX_SENTENCE_CHARS // 2, limit):
            cut = m.end()
        head = trim_span(text, a, cut)
        if head[0] < head[1]:
            spans.append(head)
        a, b = trim_span(text, cut, b)
    if a < b:
        spans.append((a, b))
