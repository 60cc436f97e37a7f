"""The citation gate: every generated sentence is checked, in code, before anyone sees it.

A sentence passes only when (1) it is Chinese and asks nothing of its reader (no order
to the model, no "visit this link", "enter your password", "call this number"); (2) it
carries markers, all of passages that were given; (3) every figure and name in it occurs
in a cited passage (a quick test); and (4) the claim check (``claims.verdict.judge``,
the same comparison of meaning as ``rag cite --claim``) calls it *supported* by a
sentence of a cited passage: every figure with its unit, currency and qualifier, every
year, person, place and organisation, the same polarity and direction, and no content
the passage lacks. That sentence, with its offsets, is the citation shown. A sentence
that is contradicted, partly supported or not found is dropped with its reason. Pure
functions (the tagger is passed in).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from ..answering import is_instruction
from ..claims.language import asks_reader_to_act, language_of
from ..claims.verdict import CONTRADICTED, PARTLY, SUPPORTED, Tag, judge, named_in
from ..text.entities import find_entities
from ..text.fold import fold
from ..text.numbers import quantities, same_value
from .prompt import NO_EVIDENCE

MARKER = re.compile(r"\s*[\[［【]\s*(\d{1,3})\s*[\]］】]")
_END = "。！？!?"
_CLOSE = "」』”’\"'）)》"
_BREAK = re.compile(f"[{re.escape(_END)}\n]")

# Why a sentence was dropped (counted in Answer.generation["reasons"]).
REASONS = ("no_marker", "unknown_marker", "unsupported_figure", "unsupported_name", "contradicted", "partly_supported",
           "not_supported", "instruction", "other_language")


@dataclass(frozen=True)
class SourceSentence:
    """A sentence of a passage given to the model: offsets into its document, folded
    text, and the folded sentences before it (news names the company there)."""

    start: int
    end: int
    folded: str
    before: str = ""
    earlier: str = ""


@dataclass(frozen=True)
class Source:
    """Passage ``n`` as the gate sees it."""

    n: int
    chunk_id: str
    doc_id: str
    folded: str  # the whole passage, folded (where figures and names are looked for)
    sentences: tuple[SourceSentence, ...]


@dataclass(frozen=True)
class GatedSentence:
    """One generated sentence and the gate's decision. ``text`` is as generated, markers
    removed; ``support`` is (passage n, sentence) when it passed."""

    text: str
    markers: tuple[int, ...]
    reason: str = ""  # "" when it passed; one of REASONS otherwise
    support: tuple[int, SourceSentence] | None = None

    @property
    def passed(self) -> bool:
        return not self.reason


def strip_markers(sentence: str) -> tuple[str, tuple[int, ...]]:
    markers = tuple(int(m) for m in MARKER.findall(sentence))
    return MARKER.sub("", sentence).strip(), markers


def is_no_evidence(sentence: str) -> bool:
    """The fixed no-evidence sentence (either script, with or without a marker)."""
    text = fold(strip_markers(sentence)[0]).rstrip("。.！!")
    return any(text == fold(s).rstrip("。") for s in NO_EVIDENCE.values())


def _figures_found(claim: str, cited: str) -> bool:
    """Every number of the claim, with or without a unit ("三万份" too, which the claim
    check leaves aside), has its value in the cited text (and its unit, when both have one)."""
    have = quantities(cited)
    return all(any(same_value(x, q) and (x.kind == q.kind or not (x.kind and q.kind)) for x in have)
               for q in quantities(claim))


def _names_found(claim: str, cited: str) -> bool:
    """Every company, place and year of the claim is named in the cited text (or a short
    form of it is), as the claim check matches names."""
    names = [e for e in find_entities(claim) if e.kind in ("org", "place", "year")]
    there = find_entities(cited) if names else []
    return all(named_in(e, cited, there) for e in names)


def check_sentence(sentence: str, sources: Mapping[int, Source], idf: Callable[[str], float],
                   tag: Tag | None = None) -> GatedSentence:
    """The gate's decision on one generated sentence (see the module doc)."""
    text, markers = strip_markers(sentence)
    claim = fold(text)
    if is_instruction(claim) or asks_reader_to_act(claim):
        return GatedSentence(text, markers, "instruction")
    if language_of(claim) not in ("zh", ""):
        return GatedSentence(text, markers, "other_language")
    if not markers:
        return GatedSentence(text, markers, "no_marker")
    if any(m not in sources for m in markers):
        return GatedSentence(text, markers, "unknown_marker")
    cited = [sources[m] for m in dict.fromkeys(markers)]
    together = "\n".join(s.folded for s in cited)
    if not _figures_found(claim, together):
        return GatedSentence(text, markers, "unsupported_figure")
    if not _names_found(claim, together):
        return GatedSentence(text, markers, "unsupported_name")
    best: tuple[float, int, SourceSentence] | None = None
    verdicts: set[str] = set()
    for src in cited:
        for s in src.sentences:
            j = judge(claim, s.folded, idf, s.before, s.earlier, tag)
            verdicts.add(j.verdict)
            if j.verdict == SUPPORTED and (best is None or j.topic > best[0]):
                best = (j.topic, src.n, s)
    if best is None:
        reason = CONTRADICTED if CONTRADICTED in verdicts else PARTLY if PARTLY in verdicts else "not_supported"
        return GatedSentence(text, markers, reason)
    return GatedSentence(text, markers, "", (best[1], best[2]))


class SentenceStream:
    """Cuts streamed text into sentences as they complete: a sentence ends at 。！？!? or a
    line break, with the closing quotes and markers that follow it. Text that may still
    grow (an end mark at the very end of what came so far) is held back."""

    def __init__(self) -> None:
        self._buf = ""

    def feed(self, delta: str) -> list[str]:
        self._buf += delta
        return self._cut(final=False)

    def close(self) -> list[str]:
        out = self._cut(final=True)
        rest, self._buf = self._buf.strip(), ""
        return out + ([rest] if rest else [])

    def _cut(self, final: bool) -> list[str]:
        # One pass with a moving position and one slice at the end: re-slicing the buffer
        # for every sentence was quadratic (one event of 20,000 sentences took 38 s).
        out, buf, pos = [], self._buf, 0
        while True:
            m = _BREAK.search(buf, pos)
            if m is None:
                break
            j = m.end()
            while True:  # the end marks, quotes and markers that belong to this sentence
                mk = MARKER.match(buf, j)
                if mk:
                    j = mk.end()
                elif j < len(buf) and (buf[j] in _END or buf[j] in _CLOSE):
                    j += 1
                else:
                    break
            if j >= len(buf) and not final:
                break  # a marker may still come
            if j < len(buf) and buf[j] in "[［【" and not final:
                break  # a marker in the making ("[1")
            sentence, pos = buf[pos:j].strip(), j
            if sentence:
                out.append(sentence)
        self._buf = buf[pos:]
        return out


def gate_sources(passages: Sequence[tuple[int, str, str, str, Sequence[tuple[int, int]]]],
                 target: str = "simplified") -> dict[int, Source]:
    """Sources from (n, chunk_id, doc_id, document text, the chunk's sentence spans),
    each sentence with the (up to three) sentences of the chunk before it, as the claim
    check reads them."""
    out = {}
    for n, chunk_id, doc_id, text, spans in passages:
        sents = []
        for i, (a, b) in enumerate(spans):
            prior = [x for x, _ in spans[max(0, i - 3):i]]
            before = fold(text[prior[-1]:a], target) if prior else ""
            earlier = fold(text[prior[0]:prior[-1]], target) if len(prior) > 1 else ""
            sents.append(SourceSentence(a, b, fold(text[a:b], target), before, earlier))
        out[n] = Source(n, chunk_id, doc_id, "".join(x.folded for x in sents), tuple(sents))
    return out
