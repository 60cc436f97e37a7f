"""Typed records that cross module boundaries."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .filters import DocFilter


@dataclass(frozen=True)
class Source:
    """A source link found in a document (for example a Markdown footnote)."""

    label: str
    url: str = ""
    note: str = ""


@dataclass(frozen=True)
class Section:
    """A run of kept text of a document, between two headings.

    ``spans`` are (start, end) character offsets into the original text; text
    between spans (markup, footnote markers, boilerplate) was dropped by cleaning.
    """

    title: str
    spans: tuple[tuple[int, int], ...]
    kind: str = "article"  # "article" or "related" (a teaser of another article)
    truncated: bool = False  # a teaser that the page cut off ("[…]")


@dataclass(frozen=True)
class Document:
    """One corpus file: its original text, metadata and cleaned sections."""

    doc_id: str
    path: str
    text: str
    title: str
    sections: tuple[Section, ...]
    date: str = ""
    sources: tuple[Source, ...] = ()
    authors: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()  # other key/value facts (tags, photo credits…)
    sha256: str = ""
    # The format the text was extracted from ("text", "html", "pdf", "docx"), and for a
    # paged one (PDF) where each page starts in ``text``: (offset, page number) in order.
    file_format: str = "text"
    pages: tuple[tuple[int, int], ...] = ()

    def meta(self, key: str) -> str:
        return dict(self.metadata).get(key, "")

    @property
    def page_count(self) -> int:
        """Pages of a paged source (PDF); 0 for a document without pages."""
        return self.pages[-1][1] if self.pages else 0

    def page_at(self, offset: int) -> int:
        """The page that holds character ``offset`` (0 for a document without pages)."""
        from .ingest.base import page_at

        return page_at(self.pages, offset)


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: whole sentences of one section of one document.

    ``text == document.text[start:end]`` always holds; ``sentences`` are the
    exact spans of the sentences in it (markup between them is not part of any).
    """

    chunk_id: str
    doc_id: str
    section: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    kind: str = "article"
    truncated: bool = False

    def starts_before(self, offset: int, count: int = 3) -> list[int]:
        """Start offsets of the last ``count`` sentences that end at or before ``offset``:
        where news names the subject of the sentence at ``offset``."""
        return [a for a, b in self.sentences if b <= offset][-count:]

    @property
    def n(self) -> int:
        return int(self.chunk_id.rsplit("#", 1)[1])


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and its rank in each leg (1-based, None if absent)."""

    chunk_id: str
    doc_id: str
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """A verified quote: ``quote == document.text[start:end]`` and lies inside the chunk."""

    marker: int
    chunk_id: str
    doc_id: str
    title: str
    section: str
    start: int
    end: int
    quote: str
    page: int = 0  # the page of a paged source (PDF) the quote starts on; 0: not paged


@dataclass(frozen=True)
class ShortAnswer:
    """The reader's answer span: ``text == document.text[start:end]`` (verified), inside
    the sentence the answer cites. ``margin`` is the span score minus the no-answer score."""

    text: str
    chunk_id: str
    doc_id: str
    start: int
    end: int
    margin: float


@dataclass(frozen=True)
class Part:
    """One part of a question that asks several things ("…多少家？首期入駐率？"): whether it
    was answered, its short answer, and the markers of the sentences that answer it."""

    question: str
    answered: bool
    short_text: str = ""
    markers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    script: str  # script of the answer text: "traditional" or "simplified"
    timings_ms: dict[str, float] = field(default_factory=dict)
    searched_question: str = ""  # the question actually searched (after a follow-up rewrite)
    related: tuple[Citation, ...] = ()  # nearest passages offered when abstaining (not citations)
    # What the abstention test saw: best dense cosine and best question coverage.
    evidence: dict[str, float] = field(default_factory=dict)
    # The answer as (sentence as displayed, marker) pairs; ``answer`` is their join.
    # Renderers use these, never a parse of ``answer``, so a "[1]" inside a source
    # can never pose as a marker.
    segments: tuple[tuple[str, int], ...] = ()
    # Markers of the quotes shown converted to the asker's script (the others are verbatim).
    converted: tuple[int, ...] = ()
    index_id: str = ""  # the build of the index that answered (its manifest checksum)
    short_answer: ShortAnswer | None = None  # the reader's span, when it is confident
    short_text: str = ""  # the short answer in the answer's script (display form)
    reader: str = ""  # which reader decided ("" for the overlap heuristics)
    # The reader's margin (best span score minus no-answer score) per passage it read, in
    # the order the answer decision ranked them (the span that answers first).
    read_margins: tuple[tuple[str, float], ...] = ()
    # Generated answers: True when ``answer`` is the model's gated sentences (each
    # segment's marker cites the sentence that supports it); ``generation`` says what
    # the gate did (model, passed, dropped, reasons, error, seconds; empty when no model
    # is configured), also when the quoted answer is shown instead (model unreachable,
    # nothing passed the gate).
    generated: bool = False
    generation: dict = field(default_factory=dict)
    filters: DocFilter | None = None  # the date and source filter applied (None: none)
    # What happened, as a code an interface words for itself (``rag.presentation.strings``):
    # "answered", "no_evidence" (nothing clears the decision), "not_chinese" (a question
    # without Chinese), "other_year" (answered with a quote the archive dates with another
    # year than asked), "generated" (the model's gated sentences), "generation_fallback"
    # (the model was asked, the quoted answer is shown: ``generation`` says why).
    reason: str = "answered"
    # The library words nothing: ``answer`` is empty when it abstains, and
    # ``presentation.strings.answer_text``/``notice_text`` word the reason for an interface.
    other_year: tuple[str, str] | None = None  # (year asked, year the quoted figure is of)
    searched_titles: tuple[str, ...] = ()  # the articles a --doc filter limited the search to
    # A question in several parts is answered part by part (``rag.pipeline.parts``): each
    # part, answered or not (empty: the question asks one thing).
    parts: tuple[Part, ...] = ()

    @property
    def unanswered_parts(self) -> tuple[str, ...]:
        """The parts of the question no evidence was found for (while others were answered)."""
        return tuple(p.question for p in self.parts if not p.answered) if not self.abstained else ()


@dataclass(frozen=True)
class ClaimCheck:
    """The archive's verdict on one claim.

    ``verdict``: "supported" (``evidence`` states every element of it), "contradicted"
    (``evidence`` is about the same thing but says ``archive_says`` where the claim says
    ``claim_says``: another figure, currency, unit, year, person or company, the opposite
    polarity or direction), "partly_supported" (``evidence`` holds part of it and nothing
    differs; ``missing`` names what it does not hold) or "not_found" (no evidence;
    ``related`` holds the nearest passages, not matches). ``kinds`` says the kind of each
    difference or gap (figure, currency, unit, year, name, negation, direction, role,
    content)."""

    claim: str
    verdict: str
    evidence: tuple[Citation, ...] = ()
    claim_says: tuple[str, ...] = ()
    archive_says: tuple[str, ...] = ()
    topic: float = 0.0
    related: tuple[Citation, ...] = ()
    missing: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
