"""Fold Traditional/Simplified script and full/half width, for matching only.

What a reader sees is never folded: folding is applied to index text and to
questions, and citations quote the original.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

import opencc

from .sanitize import sanitize


@lru_cache(maxsize=None)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def fold_width(text: str) -> str:
    """Full-width ASCII and ideographic space to half width (NFKC), lower-cased."""
    return unicodedata.normalize("NFKC", text).lower()


def fold(text: str, target: str = "simplified") -> str:
    """Text for matching: sanitized, width-folded, lower-cased, converted to one script."""
    text = fold_width(sanitize(text))
    return _converter("t2s" if target == "simplified" else "s2t").convert(text)


def to_script(text: str, script: str) -> str:
    """Convert display text to the asker's script ("traditional": OpenCC s2t).
    Invisible and control characters are dropped: they are never shown."""
    text = sanitize(text)
    if script == "simplified":
        return _converter("t2s").convert(text)
    if script == "traditional":
        return _converter("s2t").convert(text)
    return text


def in_script(text: str, script: str) -> tuple[str, bool]:
    """Display text in the asker's script, converted only when it is written in the
    other one: a Traditional quote shown to a Traditional reader is the original,
    character for character (OpenCC's s2t would turn a Hong Kong "宣布" into "宣佈").
    Returns (text, whether it was converted)."""
    clean = sanitize(text)
    written = detect_script(clean)
    if script not in ("traditional", "simplified") or written in ("unknown", script):
        return clean, False
    out = to_script(clean, script)
    return out, out != clean


def detect_script(text: str) -> str:
    """"traditional", "simplified" or "unknown" (no Han character that differs between them)."""
    trad = simp = 0
    for ch in text:
        if not ("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"):
            continue
        if _converter("t2s").convert(ch) != ch:
            trad += 1
        elif _converter("s2t").convert(ch) != ch:
            simp += 1
    if trad > simp:
        return "traditional"
    if simp > trad:
        return "simplified"
    return "unknown"
