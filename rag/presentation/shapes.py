"""The JSON shapes of the library's records, one definition for ``rag ... --json``, the
MCP tools and the page's copy: answers, claim verdicts, citation lookups."""
from __future__ import annotations

import math

from .. import provenance
from ..citations import Lookup
from ..records import Answer, ClaimCheck, Citation, Document
from . import strings


def answer_to_json(a: Answer) -> dict:
    """The JSON form of an answer (the schema of ``rag ask --json``)."""
    def cit(c: Citation) -> dict:
        return {"marker": c.marker, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "title": c.title,
                "section": c.section, "start": c.start, "end": c.end, "quote": c.quote, "page": c.page or None}

    return {
        "question": a.question,
        "searched_question": a.searched_question,
        "answer": strings.answer_text(a),
        # converted: the quote is shown in the asker's script; the citation's quote is the original.
        "segments": [{"text": text, "marker": marker, "converted": marker in a.converted} for text, marker in a.segments],
        "abstained": a.abstained,
        # What happened, as a code (answered, no_evidence, not_chinese, other_year, generated,
        # generation_fallback); "answer" and "notice" word it.
        "reason": a.reason,
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
        "notice": strings.notice_text(a),
        "other_year": list(a.other_year) if a.other_year else None,
        # A question in several parts: each part, answered or not, with its short answer
        # and the markers of the sentences that answer it (null: the question asks one thing).
        "parts": [{"question": p.question, "answered": p.answered, "short_answer": p.short_text or None,
                   "markers": list(p.markers)} for p in a.parts] or None,
        "filter": strings.filter_text(a),
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
                "start": e.start, "end": e.end, "quote": e.quote, "page": e.page or None}

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
            "before": lk.before, "after": lk.after, "page": lk.page or None, "format": d.file_format}
