"""The Python API: ``open_index(path)`` and the ask/search/cite/check calls on it.

``RagIndex.ask`` runs the answer pipeline (``rag.pipeline``): prepare the question,
search, read and decide (the reader or the overlap heuristics), cite and compose, then
generate and gate when a language model is configured."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from . import answering
from .citations import Lookup, is_ref, lookup, unknown_document
from .claims.check import check_claim
from .claims.verdict import split_claims
from .embedding import load_embedder
from .embedding.base import Embedder
from .errors import IndexLoadError, InputError
from .filters import DocFilter, check_filter, restrict
from .index import LoadedIndex, as_built, load_index, read_manifest
from .pipeline.answerer import Answerer, OverlapAnswerer
from .pipeline.compose import compose
from .pipeline.generate import generate_answer
from .pipeline.parts import merge_answers, split_parts
from .pipeline.query import MAX_DOC_FILTER, MAX_TOP_K, check_question, check_top_k, prepare_query
from .reader.answerer import ReaderAnswerer
from .reader.decide import Decision, ReadSpan
from .reader.runtime import Reader, load_reader
from .records import Answer, Chunk, ClaimCheck, Citation, Document, Hit
from .retrieval import retrieve
from .settings import MODES, Settings
from .text.fold import fold, in_script
from .text.tagging import Tagger, default_tagger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Support:
    """A passage that supports a claim: the best matching sentence of a retrieved chunk."""

    rank: int
    score: float
    citation: Citation


class RagIndex:
    """An opened index with its model: answer questions, search, look citations up.

    ``refresh()`` picks up a rebuilt index. Each call works on the build that was
    current when it started, so a swap in the middle of an answer cannot mix two
    builds; ``Answer.index_id`` says which build answered."""

    def __init__(self, loaded: LoadedIndex, embedder: Embedder, settings: Settings, reader: Reader | None = None,
                 model=None, tagger: Tagger | None = None) -> None:
        self._loaded = loaded
        # Types words and names for the claim check and the gate (LAC, loaded on first use).
        self._tagger = tagger
        self.embedder = embedder
        self.reader = reader
        # The language model for generated answers (a generation.client.ChatModel), or None.
        self.model = model
        self.settings = settings
        self._refresh_lock = threading.Lock()
        self._compute = threading.BoundedSemaphore(max(1, settings.compute_slots))
        self._stamp = _manifest_stamp(loaded.path)

    @property
    def tagger(self) -> Tagger:
        if self._tagger is None:
            self._tagger = default_tagger()
        return self._tagger

    @property
    def loaded(self) -> LoadedIndex:
        return self._loaded

    @property
    def chunks(self) -> dict[str, Chunk]:
        return self._loaded.chunk_by_id

    @property
    def documents(self) -> dict[str, Document]:
        return self._loaded.documents

    @property
    def manifest(self) -> dict:
        return self._loaded.manifest

    @property
    def build_id(self) -> str:
        return self._loaded.build_id

    def refresh(self) -> bool:
        """Load the index again if its folder now holds another build (one stat when
        it does not). True when a new build was swapped in. If the new build cannot
        be loaded (damaged, or made with another model), the current one stays in
        use and the reason is logged."""
        stamp = _manifest_stamp(self._loaded.path)
        if stamp == self._stamp or stamp is None:
            return False
        with self._refresh_lock:
            if stamp == self._stamp:
                return False
            try:
                fresh = load_index(self._loaded.path, self.settings, self.embedder)
            except IndexLoadError as exc:
                log.warning("keeping the index already loaded; the new one at %s cannot be used: %s",
                            self._loaded.path, exc)
                self._stamp = stamp  # do not retry on every question; a later build changes the stamp
                return False
            self._stamp = stamp
            if fresh.build_id == self._loaded.build_id:
                return False
            self._loaded = fresh
            log.info("now answering from the rebuilt index %s (%d chunks)", fresh.path, len(fresh.chunks))
            return True

    def search(self, query: str, mode: str | None = None, top_k: int | None = None,
               doc_ids: Sequence[str] | None = None, timings: dict[str, float] | None = None,
               filters: DocFilter | None = None) -> list[Hit]:
        """The best passages for ``query`` (no answer composed), optionally within ``doc_ids``
        and ``filters``."""
        ix = self._loaded
        if filters:
            doc_ids = restrict(ix.documents, check_filter(filters), doc_ids)
        return self._search(ix, query, mode, top_k, doc_ids, timings)

    def _search(self, ix: LoadedIndex, query: str, mode: str | None, top_k: int | None,
                doc_ids: Sequence[str] | None, timings: dict[str, float] | None = None) -> list[Hit]:
        query = check_question(query, self.settings)
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise InputError(f"mode {str(mode)[:20]!r} is not one of {', '.join(MODES)}")
        top_k = check_top_k(top_k, self.settings.top_k)
        if doc_ids:
            if isinstance(doc_ids, str) or len(doc_ids) > MAX_DOC_FILTER:
                raise InputError(f"doc_ids must be a list of at most {MAX_DOC_FILTER} document ids")
            unknown = [d for d in doc_ids if not isinstance(d, str) or d not in ix.documents]
            if unknown:
                raise unknown_document(unknown[0], ix.documents) if isinstance(unknown[0], str) else \
                    InputError(f"document ids must be text, not {type(unknown[0]).__name__}")
        return retrieve(ix, self.embedder, query, self.settings, mode, top_k, doc_ids, timings)

    @property
    def answerer(self) -> Answerer:
        """What reads the passages and decides: the trained reader, or the overlap heuristics."""
        return ReaderAnswerer(self.reader, self.settings) if self.reader is not None else OverlapAnswerer(self.settings)

    def ask(self, question: str, mode: str | None = None, top_k: int | None = None, script: str = "auto",
            doc_ids: Sequence[str] | None = None, previous_question: str = "",
            on_sentence: Callable | None = None, filters: DocFilter | None = None) -> Answer:
        """Answer with 1-3 quoted sentences and verified citations, or abstain. With a
        language model configured, the answer is the model's sentences that pass the
        citation gate (``on_sentence`` sees each as it passes), else the quoted one.
        ``filters`` (dates, sources) narrow the documents before ranking; the answer says
        which filter was applied (``Answer.filters``). A question in several parts
        ("…多少家？首期入駐率？") is answered part by part (``Answer.parts``): a later part is
        searched with the first, which names its subject, and read on its own."""
        parts = split_parts(check_question(question, self.settings))
        if len(parts) > 1:
            answers = [self._ask_one(p, mode, top_k, script, doc_ids, previous_question if i == 0 else parts[0],
                                     on_sentence, filters, context=parts[0] if i else "")
                       for i, p in enumerate(parts)]
            return merge_answers(question, answers)
        return self._ask_one(question, mode, top_k, script, doc_ids, previous_question, on_sentence, filters)

    def _ask_one(self, question: str, mode: str | None, top_k: int | None, script: str,
                 doc_ids: Sequence[str] | None, previous_question: str, on_sentence: Callable | None,
                 filters: DocFilter | None, context: str = "") -> Answer:
        t0, timings = time.perf_counter(), {}
        ix, answerer = self._loaded, self.answerer  # one build for the whole answer
        query = prepare_query(question, self.settings, ix.documents, mode=mode, script=script, doc_ids=doc_ids,
                              previous_question=previous_question, filters=filters, context=context)
        # Search, read and compose hold one of the compute slots (the cores' worth of
        # answers at a time); waiting for a language model below holds none, so a slow
        # or hostile model never keeps another visitor's question waiting.
        with self._compute:
            hits = self._search(ix, query.search_text, query.mode, top_k, query.doc_ids, timings)
            t = time.perf_counter()
            scored = answering.score_sentences(query.folded, hits[: self.settings.answer_passages], ix.chunk_by_id,
                                               ix.documents, ix.bm25.idf, self.settings.fold_target)
            decided = answerer.decide(query, hits, scored, ix, timings)
            draft = compose(query, decided, hits, scored, ix, answerer)
            timings["compose"] = (time.perf_counter() - t) * 1000 - timings.get("read", 0.0)
        if self.model is not None and hits and query.chinese:
            draft = generate_answer(draft, query, hits, ix, self.settings, self.model, self.tagger, timings,
                                    on_sentence)
        timings["total"] = (time.perf_counter() - t0) * 1000
        return _answer(query, hits, decided.evidence, decided.read_margins, draft, timings, ix, answerer)

    def decision_rule(self, mode: str) -> Decision | None:
        """The reader's combined decision where it applies to ``mode`` (``ReaderAnswerer``)."""
        return ReaderAnswerer(self.reader, self.settings).decision_rule(mode) if self.reader is not None else None

    def stop_margin(self) -> float | None:
        """The reader's early stop in force (the setting's, or the one chosen with the
        reader's weights); None: no reader, or every passage is read."""
        return ReaderAnswerer(self.reader, self.settings).stop_margin() if self.reader is not None else None

    def answer_threshold(self, mode: str) -> float:
        """What the reader's answer step compares with in ``mode``."""
        return ReaderAnswerer(self.reader, self.settings).threshold(mode)  # type: ignore[arg-type]

    def read_spans(self, question: str, hits: Sequence[Hit]) -> list[ReadSpan]:
        """The reader's usable spans over the passages of ``hits`` as ``ask`` reads them
        (topic check, early stop, every span check), best margin first; [] without a
        reader. For the tunings, which score every span under every candidate rule."""
        if self.reader is None:
            return []
        folded = fold(check_question(question, self.settings), self.settings.fold_target)
        reader = ReaderAnswerer(self.reader, self.settings)
        return reader.read(folded, hits[: self.settings.reading.passages], self._loaded, {})[0]

    def cite(self, ref: str, context_chars: int = 200) -> Lookup:
        """A chunk id (``doc#n``) or span (``doc:start-end``) with its context."""
        ix = self._loaded
        return lookup(ref, ix.documents, ix.chunk_by_id, context_chars)

    def check_claim(self, claim: str, mode: str | None = None, nearest: int = 3) -> ClaimCheck:
        """The archive's verdict on one claim: supported, contradicted (with what the
        archive says instead), partly supported (with what is missing) or not found.
        Every evidence quote is verified like a citation; "not found" shows the nearest
        passages only as related."""
        ix = self._loaded
        claim = check_question(claim, self.settings)
        nearest = check_top_k(nearest, 3)
        hits = self._search(ix, claim, mode, 10, None)
        return check_claim(claim, hits, ix, self.settings, self.tagger, nearest)

    def look_up(self, text: str) -> Lookup | list[ClaimCheck]:
        """What the lookup tab does with what was pasted: a chunk id or span is looked up
        (``cite``), anything else is checked as claims (``check_claims``)."""
        if is_ref(text, self._loaded.documents):  # parse_ref tries the reference as written, then trimmed
            return self.cite(text)
        return self.check_claims(text)

    def check_claims(self, text: str, mode: str | None = None, nearest: int = 3) -> list[ClaimCheck]:
        """A verdict per claim: ``text`` is split into sentences (at most 10)."""
        text = check_question(text, self.settings.with_(max_question_chars=max(2000, self.settings.max_question_chars)))
        nearest = check_top_k(nearest, 3)
        return [self.check_claim(c, mode, nearest) for c in split_claims(text)]

    def support(self, claim: str, top_k: int = 5, mode: str | None = None) -> list[Support]:
        """Passages that support ``claim``, ranked, each with the best matching sentence."""
        ix = self._loaded
        top_k = check_top_k(top_k, 5)
        hits = self._search(ix, claim, mode, min(2 * top_k, MAX_TOP_K), None)
        folded = fold(claim, self.settings.fold_target)
        out = []
        seen: set[tuple[str, int, int]] = set()
        for h in hits:
            scored = answering.score_sentences(folded, [h], ix.chunk_by_id, ix.documents, ix.bm25.idf,
                                               self.settings.fold_target)
            if not scored:
                continue
            cit = answering.make_citations([scored[0]], ix.chunk_by_id, ix.documents)
            # Overlapping chunks share sentences: list each supporting sentence once.
            if cit and (cit[0].doc_id, cit[0].start, cit[0].end) not in seen:
                seen.add((cit[0].doc_id, cit[0].start, cit[0].end))
                out.append(Support(len(out) + 1, round(0.5 * h.score + 0.5 * scored[0].score, 4), cit[0]))
        out.sort(key=lambda s: -s.score)
        return [Support(i + 1, s.score, s.citation) for i, s in enumerate(out[:top_k])]


def _answer(query, hits: Sequence[Hit], evidence: dict[str, float], read_margins: tuple, draft,
            timings: dict[str, float], ix: LoadedIndex, answerer: Answerer) -> Answer:
    """The Answer record of a finished draft."""
    short = draft.short
    return Answer(question=query.question, answer=draft.text, abstained=draft.abstain, citations=draft.citations,
                  hits=tuple(hits), script=query.script, timings_ms=timings, searched_question=query.searched,
                  related=draft.related, evidence={k: round(v, 4) for k, v in evidence.items()},
                  segments=draft.segments, converted=draft.converted, index_id=ix.build_id, short_answer=short,
                  short_text=in_script(short.text, query.script)[0].strip() if short else "",
                  reader=answerer.name, read_margins=read_margins, generated=draft.generated,
                  generation=draft.generation, reason=draft.reason, other_year=draft.other_year,
                  searched_titles=draft.searched_titles,
                  filters=query.filters or None)


def _manifest_stamp(folder: Path) -> tuple[int, int, int] | None:
    """What changes when a build is swapped in: the manifest's inode, size and mtime."""
    try:
        st = os.stat(Path(folder) / "manifest.json")
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def open_index(path: str | Path = "index", settings: Settings | None = None, embedder: Embedder | None = None) -> RagIndex:
    """Open the index at ``path`` with its model and reader (loaded from the settings
    unless the embedder is given; the reader follows ``settings.reader``)."""
    settings = (settings or Settings()).validate()
    try:  # how the index was built (its chunking, its store) is its manifest's to say
        settings = as_built(settings, read_manifest(Path(path)), Path(os.path.realpath(path)).parent)
    except IndexLoadError:
        pass  # load_index below says what is wrong
    embedder = embedder or load_embedder(settings)
    loaded = load_index(Path(path), settings, embedder)
    model = None
    if settings.llm.base_url:  # nothing of the generation package is imported otherwise
        from .generation.client import OpenAIChat

        model = OpenAIChat(settings.llm.base_url, settings.llm.model, settings.llm.api_key, settings.llm.timeout,
                           settings.llm.max_tokens)
    return RagIndex(loaded, embedder, settings, load_reader(settings, embedder), model)
