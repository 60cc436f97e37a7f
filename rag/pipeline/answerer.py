"""Read and decide: what to quote, or to abstain. Two answerers give the same record: the
trained reader (``rag.reader.answerer``) and the word-overlap heuristics (here)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from .. import answering
from ..answering import ScoredSentence
from ..index import LoadedIndex
from ..records import Citation, Hit, ShortAnswer
from ..settings import Settings
from .query import Query


@dataclass(frozen=True)
class Decided:
    """What an answerer decided: the sentences to quote (best first; empty when it
    abstains), what the decision saw (``evidence``), and, for the reader, the span
    that answers (``best``) and every passage's margin (``read_margins``)."""

    chosen: tuple[ScoredSentence, ...]
    abstain: bool
    evidence: dict[str, float]
    best: object = None  # a rag.reader.decide.ReadSpan, or None
    read_margins: tuple[tuple[str, float], ...] = ()


class Answerer(Protocol):
    """Decides from the retrieved passages what the answer quotes."""

    name: str

    def decide(self, query: Query, hits: Sequence[Hit], scored: Sequence[ScoredSentence], ix: LoadedIndex,
               timings: dict[str, float]) -> Decided: ...

    def short_answer(self, decided: Decided, citations: Sequence[Citation], ix: LoadedIndex) -> ShortAnswer | None:
        """The bold short answer, when the answerer has one it is sure of."""
        ...


class OverlapAnswerer:
    """The word-overlap heuristics: the best-covering sentences, abstaining when the best
    covers too little of the question or (with a dense leg) is far from it."""

    name = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def decide(self, query: Query, hits: Sequence[Hit], scored: Sequence[ScoredSentence], ix: LoadedIndex,
               timings: dict[str, float]) -> Decided:
        quotable = answering.select_sentences(scored, self.settings.max_answer_sentences)
        evidence = self.evidence(hits, scored, quotable)
        abstain = self.no_evidence(evidence, query.mode)
        return Decided(() if abstain else tuple(quotable), abstain, evidence)

    def short_answer(self, decided: Decided, citations: Sequence[Citation], ix: LoadedIndex) -> ShortAnswer | None:
        return None

    @staticmethod
    def evidence(hits: Sequence[Hit], scored: Sequence[ScoredSentence],
                 quotable: Sequence[ScoredSentence]) -> dict[str, float]:
        # The dense test looks at the chunks the answer would quote (``quotable``), not
        # at any hit: a passage close to the question with nothing usable in it (say, a
        # planted instruction) must not vouch for sentences from other passages.
        dense_of = {h.chunk_id: h.dense_score for h in hits if h.dense_score is not None}
        return {
            "dense": max((dense_of.get(s.chunk_id, 0.0) for s in quotable), default=0.0),
            "coverage": max((s.coverage for s in scored[:5]), default=0.0),
        }

    def no_evidence(self, evidence: dict[str, float], mode: str) -> bool:
        """Abstain when the best sentence covers too little of the question, or (with a
        dense leg) when even the closest passage is far from it."""
        if evidence["coverage"] < self.settings.min_coverage:
            return True
        return mode != "bm25" and evidence["dense"] < self.settings.dense_threshold()
