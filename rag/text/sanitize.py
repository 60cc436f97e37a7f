"""Make untrusted text safe to hand to OpenCC, jieba and the tokenizer.

OpenCC is C++: text it cannot encode as UTF-8 (lone surrogates) makes the Python
binding raise, and its native converter has aborted the process on malformed
UTF-8 before (OpenCC #844). jieba is pure Python but slow on pathological input
(jieba #782), so its input is bounded by the question limit and by the sentence
cap in ``sentences.py``. Everything here is pure and keeps no state.
"""
from __future__ import annotations

import re

# Characters a reader cannot see: zero-width spaces and joiners, bidi controls,
# the word joiner family, soft hyphen, BOM. Hidden text is made of these.
INVISIBLE = "\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
# C0/C1 control characters other than tab and line breaks.
CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate_at(text: str) -> int | None:
    """Position of the first lone surrogate (a byte that was not UTF-8), if any."""
    m = _SURROGATE.search(text)
    return m.start() if m else None


def has_surrogates(text: str) -> bool:
    """True when ``text`` holds lone surrogates (bytes that were not UTF-8)."""
    return surrogate_at(text) is not None


def sanitize(text: str) -> str:
    """``text`` without invisible characters, with control characters as spaces and
    lone surrogates as U+FFFD: always encodable as UTF-8, never longer."""
    text = _SURROGATE.sub("\ufffd", text)
    text = _INVISIBLE.sub("", text)
    return _CONTROL.sub(" ", text)


def has_words(text: str) -> bool:
    """True when ``text`` has a letter, digit or CJK character to search for."""
    return any(ch.isalnum() for ch in text)
