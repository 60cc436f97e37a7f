"""Pure decisions on what the reader returned: map each passage's best span to the
original text, find the sentence that holds it, drop spans in instruction-shaped
sentences, score each span with the ``Decision`` (the reader's margin and how much of
the question the span's context names) and rank them by that score."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

from ..answering import is_instruction
from ..claims.verdict import subject_conflict
from ..records import Chunk, Document, Hit
from ..text.fold import fold
from ..text.tokenize import content_terms
from .features import SpanScore
from .spans import FoldedText

# Not part of an answer at its edges ("13層，" -> "13層").
_EDGE = set(" \t\r\n\u3000，。、；：！？,.;:!?「」『』“”\"'（）()《》【】[]〈〉…—-·")


FEATURES = ("margin", "missing_weight", "rarest_missing")


@dataclass(frozen=True)
class ReadSpan:
    """A span the reader found, in original offsets, with the sentence holding it.
    ``margin`` is the reader's (span score minus no-answer score); ``score`` is the
    decision's over ``features`` (FEATURES order); ``rank`` the passage's place among
    the hits read."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    margin: float
    sentence: tuple[int, int]
    score: float = 0.0
    features: tuple[float, ...] = ()
    rank: int = 0


@dataclass(frozen=True)
class Decision:
    """Whether a read span answers the question: a logistic score over FEATURES,
    standardised by ``mean`` and ``scale``, against ``threshold``. Fitted on held-out
    training articles through the product's own pipeline (``rag.reader.calibrate``).
    ``early_exit``: a span of the first passage scoring above it is taken without
    reading the others (None: always read them all)."""

    weights: tuple[float, ...]
    bias: float
    threshold: float
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    scale: tuple[float, ...] = (1.0, 1.0, 1.0)
    early_exit: float | None = None

    @classmethod
    def margin_only(cls, threshold: float) -> "Decision":
        """The reader's margin alone against ``threshold`` (readers without a fitted decision)."""
        return cls((1.0, 0.0, 0.0), 0.0, float(threshold))

    @classmethod
    def from_manifest(cls, manifest: Mapping) -> "Decision":
        """The manifest's fitted decision, or its margin threshold when it has none."""
        d = manifest.get("decision")
        if not d:
            return cls.margin_only(float(manifest.get("no_answer_threshold", 0.0)))
        if tuple(d.get("features", ())) != FEATURES:
            raise ValueError(f"reader decision features {d.get('features')!r} are not {FEATURES!r}; "
                             "recalibrate with: python -m eval.train_reader --calibrate-only")
        exit_ = d.get("early_exit")
        return cls(tuple(map(float, d["weights"])), float(d["bias"]), float(d["threshold"]),
                   tuple(map(float, d["mean"])), tuple(map(float, d["scale"])),
                   None if exit_ is None else float(exit_))

    def to_manifest(self) -> dict:
        return {"features": list(FEATURES), "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6), "mean": [round(m, 6) for m in self.mean],
                "scale": [round(s, 6) for s in self.scale], "threshold": round(self.threshold, 4),
                "early_exit": None if self.early_exit is None else round(self.early_exit, 4)}

    def score(self, features: Sequence[float]) -> float:
        return self.bias + sum(w * (x - m) / s for w, x, m, s in zip(self.weights, features, self.mean, self.scale))

    def answers(self, span: ReadSpan) -> bool:
        return span.score > self.threshold

    def exits(self, span: ReadSpan) -> bool:
        """Whether ``span`` (of the first passage) is taken without reading the others."""
        return self.early_exit is not None and span.rank == 0 and span.score > self.early_exit

    def without_abstention(self) -> "Decision":
        """The same ranking, answering whatever it reads (risk-coverage curves)."""
        return replace(self, threshold=-math.inf, early_exit=None)


def missing_terms(terms: Sequence[str], idf: Callable[[str], float], context: str) -> tuple[float, float]:
    """How much of the question ``context`` does not name: the share of the idf weight of
    the question's content ``terms`` that do not occur in it, and 1.0 when the rarest
    term does not (else 0.0). A confident span next to none of the question's rare words
    ("黑尾前肛鳗", "2023年") is usually about something else."""
    weights = {t: idf(t) for t in dict.fromkeys(terms)}
    total = sum(weights.values())
    if not weights or total <= 0:
        return 0.0, 0.0
    missing = sum(w for t, w in weights.items() if t not in context)
    rarest = max(weights, key=lambda t: weights[t])
    return missing / total, 0.0 if rarest in context else 1.0


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` without punctuation or spaces at either edge (may become empty)."""
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    return start, end


def rank_spans(hits: Sequence[Hit], chunks: dict[str, Chunk], documents: dict[str, Document],
               folded: Sequence[FoldedText], spans: Sequence[SpanScore | None], fold_target: str,
               question: str = "", decision: Decision | None = None, idf: Callable[[str], float] | None = None,
               first_rank: int = 0) -> list[ReadSpan]:
    """One ReadSpan per passage that has a usable span, best decision score first
    (without ``decision``: the margin). Given the (folded, Simplified) ``question``,
    spans from sentences about another company, place or year than the question's are
    dropped. ``first_rank``: the place of ``hits[0]`` among all the hits read."""
    decision = decision or Decision.margin_only(0.0)
    terms = content_terms(question) if question else []
    out = []
    for rank, (h, f, sp) in enumerate(zip(hits, folded, spans), first_rank):
        if sp is None or sp.end <= sp.start:
            continue
        chunk, doc = chunks[h.chunk_id], documents[h.doc_id]
        a, b = trim(doc.text, *f.to_original(sp.start, sp.end))
        if a >= b:
            continue
        sentence = next(((s0, s1) for s0, s1 in chunk.sentences if s0 <= a < s1), None)
        if sentence is None or is_instruction(fold(doc.text[sentence[0]:sentence[1]], fold_target)):
            continue
        # The sentence with the three before it in the passage, where news names its subject.
        before = chunk.starts_before(sentence[0])
        window = fold(doc.text[before[0] if before else sentence[0]:sentence[1]], "simplified")
        if question and subject_conflict(question, window):
            # It must be about the question's company, place and year: a span read from a
            # sentence about another company is not an answer, however confident.
            continue
        margin = sp.score - sp.null
        features = (margin, *missing_terms(terms, idf, window)) if idf is not None and terms else (margin, 0.0, 0.0)
        out.append(ReadSpan(chunk.chunk_id, doc.doc_id, a, min(b, sentence[1]), margin, sentence,
                            decision.score(features), features, rank))
    out.sort(key=lambda r: -r.score)
    return out
