"""Cite and compose: the decided sentences become verified citations and the answer's
text in the asker's script; with nothing to cite, the answer abstains and offers the
nearest passages, plainly not as evidence."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .. import answering
from ..answering import ScoredSentence
from ..index import LoadedIndex
from ..records import Citation, Hit, ShortAnswer
from ..text.fold import fold
from .answerer import Answerer, Decided
from .query import Query
from .years import other_year


@dataclass(frozen=True)
class Draft:
    """An answer before generation: its text, citations (or related passages when it
    abstains), the segments it is made of and which of them were converted."""

    text: str
    abstain: bool
    citations: tuple[Citation, ...]
    related: tuple[Citation, ...]
    segments: tuple = ()
    converted: tuple = ()
    short: ShortAnswer | None = None
    generated: bool = False
    generation: dict = field(default_factory=dict)
    reason: str = "answered"  # Answer.reason
    other_year: tuple[str, str] | None = None  # Answer.other_year
    searched_titles: tuple[str, ...] = ()  # Answer.searched_titles


def nearest_passages(hits: Sequence[Hit], scored: Sequence[ScoredSentence], ix: LoadedIndex) -> list[Citation]:
    """The best sentence of each of the top three chunks (offered when abstaining)."""
    nearest = []
    for h in hits[:3]:
        best = next((s for s in scored if s.chunk_id == h.chunk_id), None)
        if best is None:
            a, b = ix.chunk_by_id[h.chunk_id].sentences[0]
            best = ScoredSentence(h.chunk_id, h.doc_id, a, b, h.score, 0.0)
        nearest.append(best)
    return answering.make_citations(nearest, ix.chunk_by_id, ix.documents)


def compose(query: Query, decided: Decided, hits: Sequence[Hit], scored: Sequence[ScoredSentence],
            ix: LoadedIndex, answerer: Answerer) -> Draft:
    """The answer from what was decided."""
    documents = ix.documents
    citations = answering.make_citations(list(decided.chosen), ix.chunk_by_id, documents)
    short = answerer.short_answer(decided, citations, ix)
    other = None
    best = decided.best
    if best is not None and not decided.abstain:
        # The year asked about against the year the answer is dated with: never a figure
        # of another year as the answer; the quote stays, said to be of that year.
        other = other_year(query.folded, fold(documents[best.doc_id].text[best.sentence[0]:best.end]))
        if other is not None:
            short = None
    abstain, related = decided.abstain, []
    if not citations:
        abstain, related = True, nearest_passages(hits, scored, ix)
    # A question with no Chinese character is not answered, and says why (the answer
    # would quote Chinese text that the asker's words never matched).
    if not query.chinese and not abstain:
        abstain, related, citations, short = True, citations, [], None
    segments, converted = ([], []) if abstain else answering.answer_segments(citations, query.script)
    titles = [documents[d].title for d in dict.fromkeys(query.doc_ids or []) if d in documents]
    # No prose here: an abstention is its reason code (and the articles searched), worded
    # by rag.presentation.strings for each interface.
    text = "" if abstain else answering.compose_answer(segments)
    reason = ("not_chinese" if not query.chinese else "no_evidence" if abstain
              else "other_year" if other else "answered")
    return Draft(text, abstain, tuple(citations), tuple(related), tuple(segments), tuple(converted), short,
                 reason=reason, other_year=None if abstain else other, searched_titles=tuple(titles))
