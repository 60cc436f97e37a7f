"""The reader's policy as an answerer (``rag.pipeline.answerer.Answerer``): which passages
it reads (topic check, early stop), how it decides to answer (its margin, or the
combined decision with the passage's retrieval score), which sentences it quotes and
when its span is shown as the short answer."""
from __future__ import annotations

import time
from typing import Sequence

from ..answering import ScoredSentence
from ..index import LoadedIndex
from ..pipeline.answerer import Decided
from ..pipeline.query import Query
from ..records import Citation, Hit, ShortAnswer
from ..settings import READER_STOP, Settings
from ..text.fold import fold
from .decide import Decision, ReadSpan, folded_document, rank_spans, stop_lead, topic_coverage
from .runtime import Reader
from .spans import fold_with_offsets


class ReaderAnswerer:
    """Answers with the trained reader's spans."""

    def __init__(self, reader: Reader, settings: Settings) -> None:
        self.reader = reader
        self.settings = settings
        self.name = reader.name

    def decision_rule(self, mode: str, candidates: int | None = None) -> Decision | None:
        """The reader's combined decision when it applies to this asking (hybrid retrieval
        with the fusion it was chosen for, and ``reader_decision`` "combined"), else None.
        ``candidates``: the chunks a document filter leaves (None: no filter). The fused
        score the combined decision weighs is standardised over each leg's candidates; a
        filter that leaves fewer chunks than a leg takes makes it mean something else (one
        short article: one or two candidates, and the score collapses), so there the
        reader's own margin decides."""
        rule = getattr(self.reader, "decision", None)
        if rule is None or self.settings.reading.decision != "combined" or \
                not rule.applies(mode, self.settings.fusion, self.settings.dense_weight):
            return None
        if rule.input == "fused" and candidates is not None and candidates < self.settings.candidates:
            return None
        return rule

    def stop_margin(self) -> float | None:
        """The early stop's margin in force: the setting's, or with the default ("reader")
        the one chosen with the reader's weights and decision (None: none chosen, every
        passage is read)."""
        stop = self.settings.reading.stop_margin
        if stop == READER_STOP:
            rule = getattr(self.reader, "decision", None)
            return rule.stop_margin if rule is not None else None
        return stop  # type: ignore[return-value]

    def threshold(self, mode: str, candidates: int | None = None) -> float:
        """What the answer step compares with in ``mode``: the combined decision's
        threshold where it applies, else the reader's own (its margin's)."""
        return self._threshold_of(self.decision_rule(mode, candidates))

    def _threshold_of(self, rule: Decision | None) -> float:
        return rule.threshold if rule else self.reader.threshold

    def decide(self, query: Query, hits: Sequence[Hit], scored: Sequence[ScoredSentence], ix: LoadedIndex,
               timings: dict[str, float]) -> Decided:
        # Read: the reader finds the answer span in each passage and says how much better
        # it is than "no answer here". Decide: the margin, with the passage's retrieval
        # score where the shipped decision applies, against the threshold chosen with it.
        # The span that answers is the one with the best decision score: a sibling
        # article's span the reader is a little surer of does not beat the question's own
        # passage.
        candidates = (sum(ix.chunk_counts.get(d, 0) for d in set(query.doc_ids))
                      if query.doc_ids is not None else None)
        rule = self.decision_rule(query.mode, candidates)
        threshold = self._threshold_of(rule)
        read, n_read, lead = self.read(query.folded, hits[: self.settings.reading.passages], ix, timings, rule)
        value = rule.score if rule else (lambda r: r.margin)
        read = sorted(read, key=value, reverse=True)  # stable: on a tie the better margin
        margins = tuple((r.chunk_id, round(r.margin, 4)) for r in read)
        margin = read[0].margin if read else float("-inf")
        evidence = {"reader_margin": margin, "no_answer_threshold": self.reader.threshold, "passages_read": n_read}
        if lead is not None:
            evidence["stop_lead"] = round(lead, 4)
        top = value(read[0]) if read else float("-inf")
        if rule:
            evidence |= {"retrieval_score": (read[0].dense if rule.input == "dense" else read[0].retrieval) if read else 0.0,
                         "retrieval_weight": rule.retrieval_weight, "decision_score": top,
                         "decision_threshold": rule.threshold}
        abstain = not read or top <= threshold
        if abstain:
            return Decided((), True, evidence, None, margins)
        # A question with several parts ("哪兩家公司…各花了多少") may be answered by more
        # than one passage: every other passage whose span also clears the threshold adds
        # its sentence, up to max_answer_sentences, best first.
        confident = [r for r in read if value(r) > threshold
                     and r.margin >= read[0].margin - self.settings.reading.extra_gap]
        seen: set[tuple[str, int]] = set()
        chosen = []
        for r in confident:
            if (r.doc_id, r.sentence[0]) in seen or len(chosen) >= self.settings.max_answer_sentences:
                continue
            seen.add((r.doc_id, r.sentence[0]))
            chosen.append(ScoredSentence(r.chunk_id, r.doc_id, *r.sentence, r.margin, 1.0))
        return Decided(tuple(chosen), False, evidence, read[0], margins)

    def short_answer(self, decided: Decided, citations: Sequence[Citation], ix: LoadedIndex) -> ShortAnswer | None:
        """The reader's span, only when the reader itself is confident of it (its margin
        clears the reader's own calibrated threshold): the combined decision also answers
        with unsure spans whose passage stands out, and there the quoted sentence is the
        answer, not a bold phrase the reader guessed (on CMRC dev such spans score EM 0.16)."""
        best = decided.best
        if best is None or not citations or best.margin <= self.reader.threshold:
            return None
        return ShortAnswer(ix.documents[best.doc_id].text[best.start:best.end], best.chunk_id, best.doc_id,
                           best.start, best.end, round(best.margin, 4))

    def read(self, question: str, hits: Sequence[Hit], ix: LoadedIndex, timings: dict[str, float],
             rule: Decision | None = None) -> tuple[list[ReadSpan], int, float | None]:
        """The reader's spans over the passages of ``hits`` (``question`` folded), best
        margin first, how many passages were read, and the first read passage's lead
        (``stop_lead`` under ``rule``; None: it has no usable span). The first is read
        alone, and answers alone, when its lead reaches the stop margin; no passage whose
        document fails the topic check is read."""
        t = time.perf_counter()
        chunks, documents = ix.chunk_by_id, ix.documents
        target = self.settings.fold_target
        folded = [fold_with_offsets(documents[h.doc_id].text, chunks[h.chunk_id].start, chunks[h.chunk_id].end, target)
                  for h in hits]
        simplified = question if target == "simplified" else fold(question, "simplified")
        # The topic check: a passage whose document holds too little of the question's
        # words is about another fish, station or player; its span would answer another
        # question, so it is not read at all.
        min_topic = self.settings.reading.min_topic
        todo = list(range(len(hits)))
        if min_topic is not None:
            top = self.settings.reading.topic_terms
            idf = ix.article_idf if self.settings.reading.topic_idf == "articles" else ix.bm25.idf
            shares = {d: topic_coverage(simplified, folded_document(documents[d].text), idf, ix.bm25.knows, top)
                      for d in dict.fromkeys(h.doc_id for h in hits)}
            todo = [i for i, h in enumerate(hits) if shares[h.doc_id] >= min_topic]
        texts = [f.text for f in folded]
        stop = self.stop_margin()
        spans: list = [None] * len(hits)
        n_read = len(todo)
        first_i, rest = (todo[0], [hits[i] for i in todo[1:]]) if todo else (None, [])
        if stop is not None and len(todo) > 1:
            # The best hit first: when its span (after every check) is far enough ahead,
            # the other passages could only add a sentence to the answer it gives.
            i = todo.pop(0)
            spans[i] = self.reader.read(question, [texts[i]])[0]
            first = rank_spans([hits[i]], chunks, documents, [folded[i]], [spans[i]], target, simplified)
            lead = stop_lead(first[0], rest, rule) if first else None
            if lead is not None and lead >= stop:
                timings["read"] = (time.perf_counter() - t) * 1000
                return first, 1, lead
        if todo:
            for i, span in zip(todo, self.reader.read(question, [texts[i] for i in todo])):
                spans[i] = span
        timings["read"] = (time.perf_counter() - t) * 1000
        ranked = rank_spans(hits, chunks, documents, folded, spans, target, simplified)
        first_read = next((r for r in ranked if first_i is not None and r.chunk_id == hits[first_i].chunk_id), None)
        return ranked, n_read, (stop_lead(first_read, rest, rule) if first_read else None)
