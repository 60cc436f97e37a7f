"""Generate and gate: with a language model configured, the model writes from the same
passages and only its sentences that the gate calls supported replace the quoted answer;
otherwise the quoted answer stays, with the reason code saying why."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from .. import answering
from ..answering import ScoredSentence
from ..index import LoadedIndex
from ..records import Hit
from ..settings import Settings
from ..text.fold import fold, in_script
from ..text.tagging import Tagger
from .compose import Draft
from .query import Query


def run_model(model, question: str, script: str, hits: Sequence[Hit], ix: LoadedIndex, settings: Settings,
              tagger: Tagger, on_sentence: Callable | None = None):
    """The model's answer from the passages of the best hits, through the gate
    (a ``rag.generation.generate.Generated``)."""
    from ..generation.gate import gate_sources
    from ..generation.generate import generate
    from ..generation.prompt import Passage, build_messages, without_instructions

    passages, spans = [], []
    for n, h in enumerate(hits[: settings.answer_passages], 1):
        chunk, doc = ix.chunk_by_id[h.chunk_id], ix.documents[h.doc_id]
        passages.append(Passage(n, chunk.chunk_id, doc.doc_id, doc.title, without_instructions(chunk.text)))
        # Instruction-shaped sentences can support nothing.
        kept = [(a, b) for a, b in chunk.sentences if not answering.is_instruction(fold(doc.text[a:b]))]
        spans.append((n, chunk.chunk_id, doc.doc_id, doc.text, kept))
    return generate(model, build_messages(question, passages, script), gate_sources(spans, settings.fold_target),
                    ix.bm25.idf, settings.max_answer_sentences, on_sentence, tagger)


def generate_answer(draft: Draft, query: Query, hits: Sequence[Hit], ix: LoadedIndex, settings: Settings, model,
                    tagger: Tagger, timings: dict[str, float], on_sentence: Callable | None = None) -> Draft:
    """The draft with the model's gated sentences in place of the quoted ones, or with a
    reason code when none passed."""
    gen = run_model(model, query.searched, query.script, hits, ix, settings, tagger, on_sentence)
    timings["generate"] = gen.seconds * 1000
    generation = {"model": model.name, "passed": len(gen.passed), "dropped": len(gen.dropped),
                  "reasons": gen.reasons, "no_evidence": gen.no_evidence, "error": gen.error,
                  "seconds": round(gen.seconds, 3)}
    cits = answering.make_citations(
        [ScoredSentence(hits[n - 1].chunk_id, hits[n - 1].doc_id, sent.start, sent.end, 1.0, 1.0)
         for n, sent in (g.support for g in gen.passed)],
        ix.chunk_by_id, ix.documents)
    if not cits or len(cits) != len(gen.passed):
        # The quoted answer stays; ``generation`` says why (worded by presentation.strings).
        return replace(draft, generation=generation, reason="generation_fallback")
    segments = [(in_script(g.text, query.script)[0].translate(answering.BRACKETS), c.marker)
                for g, c in zip(gen.passed, cits)]
    # The reader's short answer stays only when a cited sentence holds it.
    short = draft.short
    if short and not any(c.doc_id == short.doc_id and c.start <= short.start < short.end <= c.end for c in cits):
        short = None
    return replace(draft, text=answering.compose_answer(segments), abstain=False, citations=tuple(cits), related=(),
                   segments=tuple(segments), converted=(), short=short, generated=True, generation=generation,
                   reason="generated")
