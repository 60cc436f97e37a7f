"""The Python API: ``open_index(path)`` and the ask/search/cite/support calls on it."""
from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import answering, provenance
from .citations import Lookup, lookup, unknown_document
from .text.tagging import Tagger, default_tagger
from .claims.verdict import CONTRADICTED, PARTLY, SUPPORTED, judge, split_claims
from .conversation import rewrite_followup
from .embedding import load_embedder
from .embedding.base import Embedder
from .errors import IndexLoadError, InputError
from .filters import DocFilter, check_filter, describe, restrict
from .index import LoadedIndex, load_index
from .reader.decide import Decision, ReadSpan, folded_document, rank_spans, topic_coverage
from .reader.runtime import Reader, load_reader
from .reader.spans import fold_with_offsets
from .records import Answer, Chunk, ClaimCheck, Citation, Document, Hit, ShortAnswer
from .retrieval import retrieve
from .settings import Settings
from .text.fold import detect_script, fold, in_script
from .text.sanitize import has_surrogates, has_words, sanitize, surrogate_at

log = logging.getLogger(__name__)
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Support:
    """A passage that supports a claim: the best matching sentence of a retrieved chunk."""

    rank: int
    score: float
    citation: Citation


def _too_long(n: int, limit: int) -> InputError:
    return InputError(f"the question has {n} characters; the limit is {limit}. Ask about one thing at a time.",
                      "too_long")


def check_question(question: str, settings: Settings) -> str:
    """The question, cleaned of invisible and control characters, or InputError.

    The length limit (``settings.max_question_chars``, 500 by default) is enforced
    here, not only in the page: a news question is one or two sentences (the
    longest in the CMRC dev set has 60 characters), and a bound keeps jieba,
    OpenCC and the model's tokenizer fast on any input."""
    if not isinstance(question, str):
        raise InputError(f"the question must be text, not {type(question).__name__}")
    pos = surrogate_at(question)
    if pos is not None:  # bytes that were not UTF-8 (surrogate-escaped by Python)
        raise InputError(f"the question is not valid UTF-8 (at character {pos}); type it again as UTF-8 text",
                         "not_utf8")
    limit = settings.max_question_chars
    # Checked before cleaning too, so that a huge input is refused before it is copied.
    if len(question) > 4 * limit:
        raise _too_long(len(question), limit)
    q = sanitize(question).strip()
    if not q:
        raise InputError("the question is empty; type a question in Chinese, e.g. 阿里巴巴在铜锣湾买下了几层写字楼？", "empty")
    if len(q) > limit:
        raise _too_long(len(q), limit)
    if not has_words(q):
        raise InputError(f"the question {q[:20]!r} has no word to search for (only punctuation or symbols); "
                         "type a question in Chinese", "no_words")
    return q


MAX_TOP_K = 50  # passages a caller may ask for (Settings.validate allows the same)
MAX_DOC_FILTER = 1000  # document ids in one filter


def check_top_k(top_k: object, default: int) -> int:
    """``top_k`` as a count of passages from 1 to MAX_TOP_K (None: ``default``), or InputError."""
    if top_k is None:
        return default
    if isinstance(top_k, bool):
        raise InputError(f"top_k {top_k!r} is not a number; give 1 to {MAX_TOP_K}")
    if not isinstance(top_k, int):
        try:
            as_float = float(top_k)  # a slider may send 5.0
        except (TypeError, ValueError, OverflowError):
            as_float = float("nan")
        if not as_float.is_integer():
            raise InputError(f"top_k {str(top_k)[:20]!r} is not a whole number; give 1 to {MAX_TOP_K}")
        top_k = int(as_float)
    if not 1 <= top_k <= MAX_TOP_K:
        shown = str(top_k) if len(str(top_k)) <= 12 else f"a {len(str(top_k))}-digit number"
        raise InputError(f"top_k {shown} is out of range; give 1 to {MAX_TOP_K} passages")
    return top_k


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
        if mode not in ("hybrid", "dense", "bm25"):
            raise InputError(f"mode {str(mode)[:20]!r} is not one of hybrid, dense, bm25")
        top_k = check_top_k(top_k, self.settings.top_k)
        if doc_ids:
            if isinstance(doc_ids, str) or len(doc_ids) > MAX_DOC_FILTER:
                raise InputError(f"doc_ids must be a list of at most {MAX_DOC_FILTER} document ids")
            unknown = [d for d in doc_ids if not isinstance(d, str) or d not in ix.documents]
            if unknown:
                raise unknown_document(unknown[0], ix.documents) if isinstance(unknown[0], str) else \
                    InputError(f"document ids must be text, not {type(unknown[0]).__name__}")
        return retrieve(ix, self.embedder, query, self.settings, mode, top_k, doc_ids, timings)

    def ask(self, question: str, mode: str | None = None, top_k: int | None = None, script: str = "auto",
            doc_ids: Sequence[str] | None = None, previous_question: str = "", on_sentence=None,
            filters: DocFilter | None = None) -> Answer:
        """Answer with 1-3 quoted sentences and verified citations, or abstain. With a
        language model configured, the answer is the model's sentences that pass the
        citation gate (``on_sentence`` sees each as it passes), else the quoted one.

        ``filters`` (dates, sources) narrow the documents before ranking; the answer says
        which filter was applied (``Answer.filter_note``).

        The pipeline: check, search, read, decide, cite, compose (then generate and gate)."""
        t0 = time.perf_counter()
        ix = self._loaded  # one build for the whole answer
        chunks, documents = ix.chunk_by_id, ix.documents
        question = check_question(question, self.settings)
        filters = check_filter(filters) if filters else None
        if filters:
            doc_ids = restrict(documents, filters, doc_ids)
        if previous_question:
            ok = isinstance(previous_question, str) and not has_surrogates(previous_question)
            previous_question = sanitize(previous_question[: 4 * self.settings.max_question_chars]) if ok else ""
        searched = rewrite_followup(previous_question, question) if previous_question else question
        if script not in ("auto", "traditional", "simplified"):
            raise InputError(f"script {script!r} is not one of auto, traditional, simplified")
        answer_script = detect_script(question) if script == "auto" else script
        if answer_script == "unknown":
            answer_script = detect_script(previous_question) if previous_question else "simplified"
            answer_script = "simplified" if answer_script == "unknown" else answer_script
        timings: dict[str, float] = {}
        mode = mode or self.settings.mode
        # Search, read and compose hold one of the compute slots (the cores' worth of
        # answers at a time); waiting for a language model below holds none, so a slow
        # or hostile model never keeps another visitor's question waiting.
        with self._compute:
            hits = self._search(ix, searched, mode, top_k, doc_ids, timings)
            t = time.perf_counter()
            folded = fold(searched, self.settings.fold_target)
            scored = answering.score_sentences(folded, hits[: self.settings.answer_passages], chunks, documents, ix.bm25.idf,
                                               self.settings.fold_target)
            best: ReadSpan | None = None
            read_margins: tuple[tuple[str, float], ...] = ()
            if self.reader is not None:
                # Read: the reader finds the answer span in each passage and says how much
                # better it is than "no answer here"; decide: answer only above the threshold.
                read, n_read = self._read(folded, hits[: self.settings.reader_passages], chunks, documents, timings, ix)
                # Decide: the margin, with the passage's retrieval score where the shipped
                # decision applies, against the threshold chosen with it. The span that
                # answers is the one with the best decision score: a sibling article's span
                # the reader is a little surer of does not beat the question's own passage.
                rule = self.decision_rule(mode)
                threshold = self.answer_threshold(mode)
                value = rule.score if rule else (lambda r: r.margin)
                read = sorted(read, key=value, reverse=True)  # stable: on a tie the better margin
                read_margins = tuple((r.chunk_id, round(r.margin, 4)) for r in read)
                margin = read[0].margin if read else float("-inf")
                evidence = {"reader_margin": margin, "no_answer_threshold": self.reader.threshold, "passages_read": n_read}
                top = value(read[0]) if read else float("-inf")
                if rule:
                    evidence |= {"retrieval_score": read[0].retrieval if read else 0.0, "retrieval_weight": rule.retrieval_weight,
                                 "decision_score": top, "decision_threshold": rule.threshold}
                abstain = not read or top <= threshold
                best = None if abstain else read[0]
                # A question with several parts ("哪兩家公司…各花了多少") may be answered by more
                # than one passage: every other passage whose span also clears the threshold
                # adds its sentence, up to max_answer_sentences, best first.
                confident = [] if abstain else [r for r in read if value(r) > threshold
                                                and r.margin >= read[0].margin - self.settings.reader_extra_gap]
                seen: set[tuple[str, int]] = set()
                chosen = []
                for r in confident:
                    if (r.doc_id, r.sentence[0]) in seen or len(chosen) >= self.settings.max_answer_sentences:
                        continue
                    seen.add((r.doc_id, r.sentence[0]))
                    chosen.append(answering.ScoredSentence(r.chunk_id, r.doc_id, *r.sentence, r.margin, 1.0))
            else:
                quotable = answering.select_sentences(scored, self.settings.max_answer_sentences)
                evidence = self._evidence(hits, scored, quotable)
                abstain = self._no_evidence(evidence, mode)
                chosen = [] if abstain else quotable
            citations = answering.make_citations(chosen, chunks, documents)
            # The short answer only when the reader itself is confident of its span (its margin
            # clears the reader's own calibrated threshold): the combined decision also answers
            # with unsure spans whose passage stands out, and there the quoted sentence is the
            # answer, not a bold phrase the reader guessed (on CMRC dev such spans score EM 0.16).
            short = (ShortAnswer(documents[best.doc_id].text[best.start:best.end], best.chunk_id, best.doc_id, best.start,
                                 best.end, round(best.margin, 4))
                     if best is not None and citations and best.margin > self.reader.threshold else None)  # type: ignore[union-attr]
            related: list[Citation] = []
            if not citations:
                abstain = True
                # Offer the nearest passages, clearly not as citations: the best sentence of
                # each of the top three chunks.
                nearest = []
                for h in hits[:3]:
                    best = next((s for s in scored if s.chunk_id == h.chunk_id), None)
                    if best is None:
                        a, b = chunks[h.chunk_id].sentences[0]
                        best = answering.ScoredSentence(h.chunk_id, h.doc_id, a, b, h.score, 0.0)
                    nearest.append(best)
                related = answering.make_citations(nearest, chunks, documents)
            # Decide: a question with no Chinese character is not answered, and says why (the
            # answer would quote Chinese text that the asker's words never matched).
            not_chinese = not _HAN.search(question)
            if not_chinese and not abstain:
                abstain, related, citations, short = True, citations, [], None
            segments, converted = ([], []) if abstain else answering.answer_segments(citations, answer_script)
            titles = [documents[d].title for d in dict.fromkeys(doc_ids or []) if d in documents]
            text = (answering.not_chinese_text(answer_script) if not_chinese
                    else answering.no_evidence_text(answer_script, titles) if abstain
                    else answering.compose_answer(segments))
            timings["compose"] = (time.perf_counter() - t) * 1000 - timings.get("read", 0.0)
        generated, generation, notice = False, {}, ""
        if self.model is not None and hits and not not_chinese:
            # Generate: the model writes from the same passages; only gated sentences count.
            gen = self._generate(searched, answer_script, hits, ix, on_sentence)
            timings["generate"] = gen.seconds * 1000
            generation = {"model": self.model.name, "passed": len(gen.passed), "dropped": len(gen.dropped),
                          "reasons": gen.reasons, "no_evidence": gen.no_evidence, "error": gen.error,
                          "seconds": round(gen.seconds, 3)}
            cits = answering.make_citations(
                [answering.ScoredSentence(hits[n - 1].chunk_id, hits[n - 1].doc_id, sent.start, sent.end, 1.0, 1.0)
                 for n, sent in (g.support for g in gen.passed)],
                chunks, documents)
            if cits and len(cits) == len(gen.passed):
                generated, abstain, related, citations = True, False, [], cits
                segments = [(in_script(g.text, answer_script)[0].translate(answering.BRACKETS), c.marker)
                            for g, c in zip(gen.passed, cits)]
                converted, text = [], answering.compose_answer(segments)
                # The reader's short answer stays only when a cited sentence holds it.
                if short and not any(c.doc_id == short.doc_id and c.start <= short.start < short.end <= c.end
                                     for c in cits):
                    short = None
            else:
                notice = answering.fallback_notice(answer_script, gen.error, gen.no_evidence, len(gen.dropped))
        short_text = in_script(short.text, answer_script)[0].strip() if short else ""
        timings["total"] = (time.perf_counter() - t0) * 1000
        return Answer(question=question, answer=text, abstained=abstain, citations=tuple(citations), hits=tuple(hits),
                      script=answer_script, timings_ms=timings, searched_question=searched, related=tuple(related),
                      evidence={k: round(v, 4) for k, v in evidence.items()}, segments=tuple(segments),
                      converted=tuple(converted),
                      index_id=ix.build_id, short_answer=short, short_text=short_text,
                      reader=self.reader.name if self.reader is not None else "", read_margins=read_margins,
                      generated=generated, generation=generation, notice=notice,
                      filter_note=describe(filters, answer_script) if filters else "")

    def _generate(self, question: str, script: str, hits: Sequence[Hit], ix: LoadedIndex, on_sentence=None):
        """The model's answer from the passages of the best hits, through the gate."""
        from .generation.gate import gate_sources
        from .generation.generate import generate
        from .generation.prompt import Passage, build_messages, without_instructions

        target = self.settings.fold_target
        given = hits[: self.settings.answer_passages]
        passages, spans = [], []
        for n, h in enumerate(given, 1):
            chunk, doc = ix.chunk_by_id[h.chunk_id], ix.documents[h.doc_id]
            passages.append(Passage(n, chunk.chunk_id, doc.doc_id, doc.title, without_instructions(chunk.text)))
            # Instruction-shaped sentences can support nothing.
            kept = [(a, b) for a, b in chunk.sentences if not answering.is_instruction(fold(doc.text[a:b]))]
            spans.append((n, chunk.chunk_id, doc.doc_id, doc.text, kept))
        return generate(self.model, build_messages(question, passages, script), gate_sources(spans, target),
                        ix.bm25.idf, self.settings.max_answer_sentences, on_sentence, self.tagger)

    def decision_rule(self, mode: str) -> Decision | None:
        """The reader's combined decision when it applies to this asking (hybrid retrieval
        with the fusion it was chosen for, and ``reader_decision`` "combined"), else None."""
        rule = getattr(self.reader, "decision", None)
        if rule is None or self.settings.reader_decision != "combined" or \
                not rule.applies(mode, self.settings.fusion, self.settings.dense_weight):
            return None
        return rule

    def answer_threshold(self, mode: str) -> float:
        """What the answer step compares with in ``mode``: the combined decision's
        threshold where it applies, else the reader's own (its margin's)."""
        rule = self.decision_rule(mode)
        return rule.threshold if rule else self.reader.threshold  # type: ignore[union-attr]

    def _read(self, question: str, hits: Sequence[Hit], chunks: dict[str, Chunk], documents: dict[str, Document],
              timings: dict[str, float], ix: LoadedIndex) -> tuple[list[ReadSpan], int]:
        """The reader's spans over the passages of ``hits``, best margin first, and how
        many passages were read (the first alone when its span clears the stop margin;
        none whose document fails the topic check)."""
        t = time.perf_counter()
        target = self.settings.fold_target
        folded = [fold_with_offsets(documents[h.doc_id].text, chunks[h.chunk_id].start, chunks[h.chunk_id].end, target)
                  for h in hits]
        simplified = question if target == "simplified" else fold(question, "simplified")
        # The topic check: a passage whose document holds too little of the question's
        # words is about another fish, station or player; its span would answer another
        # question, so it is not read at all.
        min_topic = self.settings.reader_min_topic
        todo = list(range(len(hits)))
        if min_topic is not None:
            top = self.settings.reader_topic_terms
            idf = ix.article_idf if self.settings.reader_topic_idf == "articles" else ix.bm25.idf
            shares = {d: topic_coverage(simplified, folded_document(documents[d].text), idf, ix.bm25.knows, top)
                      for d in dict.fromkeys(h.doc_id for h in hits)}
            todo = [i for i, h in enumerate(hits) if shares[h.doc_id] >= min_topic]
        texts = [f.text for f in folded]
        stop = self.settings.reader_stop_margin
        spans: list = [None] * len(hits)
        n_read = len(todo)
        if stop is not None and len(todo) > 1:
            # The best hit first: when its span (after every check) is confident enough,
            # the other passages could only add or swap a span the first already beats.
            i = todo.pop(0)
            spans[i] = self.reader.read(question, [texts[i]])[0]  # type: ignore[union-attr]
            first = rank_spans([hits[i]], chunks, documents, [folded[i]], [spans[i]], target, simplified)
            if first and first[0].margin >= stop:
                timings["read"] = (time.perf_counter() - t) * 1000
                return first, 1
        if todo:
            for i, span in zip(todo, self.reader.read(question, [texts[i] for i in todo])):  # type: ignore[union-attr]
                spans[i] = span
        timings["read"] = (time.perf_counter() - t) * 1000
        return rank_spans(hits, chunks, documents, folded, spans, target, simplified), n_read

    def read_spans(self, question: str, hits: Sequence[Hit]) -> list[ReadSpan]:
        """The reader's usable spans over the passages of ``hits`` as ``ask`` reads them
        (topic check, early stop, every span check), best margin first; [] without a
        reader. For the tunings, which score every span under every candidate rule."""
        if self.reader is None:
            return []
        ix = self._loaded
        folded = fold(check_question(question, self.settings), self.settings.fold_target)
        return self._read(folded, hits[: self.settings.reader_passages], ix.chunk_by_id, ix.documents, {}, ix)[0]

    @staticmethod
    def _evidence(hits: Sequence[Hit], scored: Sequence[answering.ScoredSentence],
                  quotable: Sequence[answering.ScoredSentence]) -> dict[str, float]:
        # The dense test looks at the chunks the answer would quote (``quotable``), not
        # at any hit: a passage close to the question with nothing usable in it (say, a
        # planted instruction) must not vouch for sentences from other passages.
        dense_of = {h.chunk_id: h.dense_score for h in hits if h.dense_score is not None}
        return {
            "dense": max((dense_of.get(s.chunk_id, 0.0) for s in quotable), default=0.0),
            "coverage": max((s.coverage for s in scored[:5]), default=0.0),
        }

    def _no_evidence(self, evidence: dict[str, float], mode: str) -> bool:
        """Abstain when the best sentence covers too little of the question, or (with a
        dense leg) when even the closest passage is far from it."""
        if evidence["coverage"] < self.settings.min_coverage:
            return True
        return mode != "bm25" and evidence["dense"] < self.settings.dense_threshold()

    def cite(self, ref: str, context_chars: int = 200) -> Lookup:
        """A chunk id (``doc#n``) or span (``doc:start-end``) with its context."""
        ix = self._loaded
        return lookup(ref, ix.documents, ix.chunk_by_id, context_chars)

    def check_claim(self, claim: str, mode: str | None = None, nearest: int = 3) -> ClaimCheck:
        """The archive's verdict on one claim: supported, contradicted (with what the
        archive says instead) or not found. Every evidence quote is verified like a
        citation; "not found" shows the nearest passages only as related."""
        ix = self._loaded
        claim = check_question(claim, self.settings)
        nearest = check_top_k(nearest, 3)
        hits = self._search(ix, claim, mode, 10, None)
        folded = fold(claim, self.settings.fold_target)
        scored = answering.score_sentences(folded, hits[:6], ix.chunk_by_id, ix.documents, ix.bm25.idf,
                                           self.settings.fold_target)
        best: dict[str, tuple | None] = {SUPPORTED: None, CONTRADICTED: None, PARTLY: None}
        target = self.settings.fold_target
        for s in scored[:20]:
            chunk, text = ix.chunk_by_id[s.chunk_id], ix.documents[s.doc_id].text
            prev = chunk.starts_before(s.start)
            before = fold(text[prev[-1]:s.start], target) if prev else ""
            earlier = fold(text[prev[0]:prev[-1]], target) if len(prev) > 1 else ""
            j = judge(folded, fold(text[s.start:s.end], target), ix.bm25.idf, before, earlier, self.tagger)
            if j.verdict in best and (best[j.verdict] is None or j.topic > best[j.verdict][0].topic):
                best[j.verdict] = (j, s)
        sup, con, part = best[SUPPORTED], best[CONTRADICTED], best[PARTLY]
        # A contradiction that is much closer to the claim than the best support wins:
        # "2019年发布蓝图" agrees in its year with some sentence of 2019, and disagrees
        # with the sentence about the blueprint itself. Against a partial match it wins
        # only when it is at least as close (a paraphrase matches its own sentence in
        # part and some other sentence's figures not at all).
        if con and (not sup or con[0].topic >= sup[0].topic + 0.2):
            order = (CONTRADICTED, SUPPORTED, PARTLY)
        elif sup:
            order = (SUPPORTED, CONTRADICTED, PARTLY)
        else:
            order = (CONTRADICTED, PARTLY) if con and (not part or con[0].topic >= part[0].topic) else \
                (PARTLY, CONTRADICTED)
        for verdict in order:
            found = best[verdict]
            if found is not None:
                j, s = found
                cits = answering.make_citations([s], ix.chunk_by_id, ix.documents)
                if cits:
                    # Figures and names as written (the comparison ran on folded text).
                    said = tuple(_as_written(x, folded, claim) for x in j.claim_says)
                    archive = tuple(_as_written(x, fold(cits[0].quote, target), cits[0].quote) for x in j.archive_says)
                    missing = tuple(_as_written(x, folded, claim) for x in j.missing)
                    return ClaimCheck(claim, verdict, tuple(cits), said, archive, j.topic, missing=missing,
                                      kinds=j.kinds)
        related = answering.make_citations(scored[:nearest], ix.chunk_by_id, ix.documents)
        return ClaimCheck(claim, "not_found", related=tuple(related))

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


def _as_written(piece: str, folded: str, original: str) -> str:
    """``piece`` of ``folded`` as ``original`` writes it (folding keeps length for
    almost all text; when it did not, the folded piece is shown)."""
    i = folded.find(piece)
    return original[i:i + len(piece)] if i >= 0 and len(folded) == len(original) else piece


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
    embedder = embedder or load_embedder(settings)
    loaded = load_index(Path(path), settings, embedder)
    model = None
    if settings.llm_base_url:  # nothing of the generation package is imported otherwise
        from .generation.client import OpenAIChat

        model = OpenAIChat(settings.llm_base_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout,
                           settings.llm_max_tokens)
    return RagIndex(loaded, embedder, settings, load_reader(settings, embedder), model)


def answer_to_json(a: Answer) -> dict:
    """The JSON form of an answer (the schema of ``rag ask --json``)."""
    def cit(c: Citation) -> dict:
        return {"marker": c.marker, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "title": c.title,
                "section": c.section, "start": c.start, "end": c.end, "quote": c.quote}

    return {
        "question": a.question,
        "searched_question": a.searched_question,
        "answer": a.answer,
        # converted: the quote is shown in the asker's script; the citation's quote is the original.
        "segments": [{"text": text, "marker": marker, "converted": marker in a.converted} for text, marker in a.segments],
        "abstained": a.abstained,
        "short_answer": ({"text": a.short_answer.text, "display": a.short_text, "chunk_id": a.short_answer.chunk_id,
                          "doc_id": a.short_answer.doc_id, "start": a.short_answer.start, "end": a.short_answer.end,
                          "score": a.short_answer.margin} if a.short_answer else None),
        # How much "no answer" beats the best span (negative: the span wins).
        "no_answer_score": (round(-a.evidence["reader_margin"], 4)
                            if a.evidence.get("reader_margin", float("-inf")) > -1e9 else None),
        "reader": a.reader or "none",
        # "generated": the model's sentences, each checked against the passage it cites;
        # otherwise quoted from the sources (``notice`` says why when a model was asked).
        "generated": a.generated,
        "generation": a.generation or None,
        "notice": a.notice,
        "filter": a.filter_note,
        "script": a.script,
        "citations": [cit(c) for c in a.citations],
        "related": [cit(c) for c in a.related],
        "hits": [{"chunk_id": h.chunk_id, "doc_id": h.doc_id, "score": round(h.score, 6),
                  "dense_rank": h.dense_rank, "bm25_rank": h.bm25_rank} for h in a.hits],
        # Strict JSON has no infinity: "nothing read" (a margin of -inf) is null.
        "evidence": {k: v if math.isfinite(v) else None for k, v in a.evidence.items()},
        "timings_ms": {k: round(v, 2) for k, v in a.timings_ms.items()},
    }


def claim_to_json(c: ClaimCheck, documents: dict[str, Document]) -> dict:
    """The JSON form of a claim verdict (``rag cite --claim --json``, the MCP ``support`` tool)."""
    def cit(e: Citation) -> dict:
        doc = documents.get(e.doc_id)
        return {"chunk_id": e.chunk_id, "doc_id": e.doc_id, "title": e.title, "date": doc.date if doc else "",
                "provenance": provenance.to_json(provenance.of(doc)) if doc else None,
                "start": e.start, "end": e.end, "quote": e.quote}

    return {"claim": c.claim, "verdict": c.verdict, "claim_says": list(c.claim_says),
            "archive_says": list(c.archive_says), "missing": list(c.missing), "kinds": list(c.kinds),
            "evidence": [cit(e) for e in c.evidence], "related": [cit(e) for e in c.related]}


def lookup_to_json(lk: Lookup) -> dict:
    """The JSON form of a citation lookup (``rag cite REF --json``, the MCP ``cite`` tool)."""
    d = lk.doc
    return {"doc_id": d.doc_id, "title": d.title, "date": d.date, "authors": list(d.authors),
            "provenance": provenance.to_json(provenance.of(d)),
            "sources": [vars(s) for s in d.sources], "path": d.path, "chunk_id": lk.chunk_id,
            "section": lk.section, "start": lk.start, "end": lk.end, "quote": lk.quote,
            "context_start": lk.context_start, "context_end": lk.context_end,
            "before": lk.before, "after": lk.after}
