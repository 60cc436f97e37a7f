"""``python -m eval run``: ask every question through RagIndex.ask (the code path of ``rag ask``)
and report retrieval, answer, citation, abstention and latency figures."""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from rag.api import RagIndex
from rag.presentation.strings import answer_text
from rag.errors import RagError
from rag.settings import Settings
from rag.text.fold import detect_script

from . import metrics as M
from .datasets import QAItem

log = logging.getLogger(__name__)


ROOT = Path(__file__).resolve().parents[2]


MODES = ("dense", "bm25", "hybrid")


KS = (1, 3, 5, 10)


def without_gold(idx: RagIndex, item: QAItem) -> list[str]:
    """Every document of the index but the question's own (the corpus then should not
    answer it, unless another passage really holds a reference answer)."""
    gold = set(item.doc_ids)
    return [d for d in idx.documents if d not in gold]


def ask_one(idx: RagIndex, item: QAItem, mode: str, exclude_gold: bool = False) -> dict:
    """One question through the same call as ``rag ask``, with everything needed to inspect it.
    ``exclude_gold``: search every document but the question's own (the corpus then
    should not answer it, unless another passage really holds a reference answer)."""
    a = idx.ask(item.question, mode=mode, top_k=10, doc_ids=without_gold(idx, item) if exclude_gold else None)
    ranked = M.dedupe(h.doc_id for h in a.hits)
    docs = idx.documents
    verified = all(docs[c.doc_id].text[c.start:c.end] == c.quote for c in a.citations)
    cited = [c.doc_id for c in {c.marker: c for c in a.citations}.values()]
    return {
        "id": item.id, "question": item.question, "script": detect_script(item.question),
        "answerable": item.answerable, "gold_docs": list(item.doc_ids), "gold_answers": list(item.answers),
        "ranked_docs": ranked,
        "hits": [{"chunk_id": h.chunk_id, "doc_id": h.doc_id, "score": round(h.score, 5),
                  "dense_rank": h.dense_rank, "bm25_rank": h.bm25_rank} for h in a.hits],
        "answer": answer_text(a), "abstained": a.abstained, "evidence": a.evidence,
        "citations": [{"marker": c.marker, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "start": c.start,
                       "end": c.end, "quote": c.quote} for c in a.citations],
        "citations_verified": verified, "cited_docs": cited,
        "answer_contains": M.answer_contains(a.answer, item.answers) if item.answerable and not a.abstained else 0.0,
        "short_answer": a.short_text,
        "short_em": M.exact_match(a.short_text, item.answers) if item.answerable and a.short_text else None,
        "short_f1": M.char_f1(a.short_text, item.answers) if item.answerable and a.short_text else None,
        "reader": a.reader or "none",
        "read_margins": dict(a.read_margins),
        "confidence": confidence(a, idx.settings),
        "latency_ms": a.timings_ms.get("total", 0.0), "timings_ms": a.timings_ms,
        "generated": a.generated, "generation": a.generation,
    }


def confidence(a, settings: Settings) -> float:
    """One number per answer that the answer step thresholds: the reader's decision score
    (margin plus weighted retrieval score) or its margin, or for the heuristics the
    smaller of coverage and dense cosine, each as a multiple of its threshold (>= 1 on
    both: answer)."""
    ev = a.evidence
    if "decision_score" in ev:
        return float(ev["decision_score"])
    if "reader_margin" in ev:
        return float(ev["reader_margin"])
    cov = ev.get("coverage", 0.0) / settings.min_coverage if settings.min_coverage > 0 else 1.0
    dt = settings.dense_threshold()
    dense = ev.get("dense", 0.0) / dt if dt > 0 and "dense" in ev else 1.0
    return round(min(cov, dense), 4)


def reader_order(r: dict) -> list[str]:
    """Documents in the order the reader would put the passages it read (best margin
    first), then the rest of the hits in retrieval order."""
    margins = r.get("read_margins") or {}
    read = sorted((h for h in r["hits"] if h["chunk_id"] in margins), key=lambda h: -margins[h["chunk_id"]])
    rest = [h for h in r["hits"] if h["chunk_id"] not in margins]
    return M.dedupe(h["doc_id"] for h in read + rest)


def summarize(results: Sequence[dict]) -> dict:
    """The figures of one mode from its per-question results."""
    ans = [r for r in results if r["answerable"]]
    unans = [r for r in results if not r["answerable"]]
    answered = [r for r in results if not r["abstained"]]

    def retrieval(rs: Sequence[dict]) -> dict:
        out = {f"hit@{k}": M.mean(M.hit_at_k(r["ranked_docs"], r["gold_docs"], k) for r in rs) for k in KS}
        out["mrr@10"] = M.mean(M.reciprocal_rank(r["ranked_docs"], r["gold_docs"], 10) for r in rs)
        out["ndcg@10"] = M.mean(M.ndcg_at_k(r["ranked_docs"], r["gold_docs"], 10) for r in rs)
        for k in (1, 5, 10):
            out[f"recall@{k}"] = M.mean(M.recall_at_k(r["ranked_docs"], r["gold_docs"], k) for r in rs)
        out["n"] = len(rs)
        if any(r.get("read_margins") for r in rs):
            # Measured, not applied: would ordering the passages by the reader lift hit@1?
            out["hit@1_reader_order"] = M.mean(M.hit_at_k(reader_order(r), r["gold_docs"], 1) for r in rs)
        return out

    by_script: dict[str, list] = defaultdict(list)
    by_doc: dict[str, list] = defaultdict(list)
    for r in ans:
        by_script[r["script"]].append(r)
        for d in r["gold_docs"]:
            by_doc[d].append(r)
    lat = [r["latency_ms"] for r in results]
    stage = defaultdict(list)
    for r in results:
        for k, v in r["timings_ms"].items():
            stage[k].append(v)
    return {
        "questions": len(results), "answerable": len(ans), "unanswerable": len(unans),
        "retrieval": retrieval(ans),
        "answers": {
            "contains_gold": M.mean(r["answer_contains"] for r in ans),
            "contains_gold_when_answered": M.mean(r["answer_contains"] for r in ans if not r["abstained"]),
            "mean_length_chars": M.mean(len(r["answer"]) for r in answered),
        },
        "short_answers": {
            "given": M.mean(1.0 if r.get("short_answer") else 0.0 for r in ans),
            # Over every answerable question (no short answer counts 0), and over those given one.
            "em": M.mean((r.get("short_em") or 0.0) for r in ans),
            "f1": M.mean((r.get("short_f1") or 0.0) for r in ans),
            "f1_when_given": M.mean(r["short_f1"] for r in ans if r.get("short_f1") is not None),
        },
        "citations": {
            "all_verified": M.mean(1.0 if r["citations_verified"] else 0.0 for r in answered),
            "precision": M.mean(M.citation_precision(r["cited_docs"], r["gold_docs"]) for r in ans if not r["abstained"]),
        },
        "abstention": {
            "unanswerable_abstained": M.mean(1.0 if r["abstained"] else 0.0 for r in unans),
            "answerable_abstained": M.mean(1.0 if r["abstained"] else 0.0 for r in ans),
        },
        "by_script": {s: retrieval(rs) for s, rs in sorted(by_script.items())},
        "by_document": {d: retrieval(rs) for d, rs in sorted(by_doc.items())},
        "latency_ms": {"p50": M.percentile(lat, 50), "p95": M.percentile(lat, 95), "mean": M.mean(lat)},
        "stage_ms_mean": {k: M.mean(v) for k, v in sorted(stage.items())},
        **({"reader_passages_read_mean": M.mean(r["evidence"]["passages_read"] for r in results)}
           if results and all("passages_read" in r["evidence"] for r in results) else {}),
        **({"generation": generation_summary(results)} if any(r.get("generation") for r in results) else {}),
    }


def generation_summary(results: Sequence[dict]) -> dict:
    """With a language model: how often its answer was shown, what the gate dropped and
    why, how often the model failed, and its latency."""
    asked = [r for r in results if r.get("generation")]
    reasons: dict[str, int] = defaultdict(int)
    for r in asked:
        for k, v in r["generation"].get("reasons", {}).items():
            reasons[k] += v
    gen_ms = [r["generation"]["seconds"] * 1000 for r in asked]
    return {
        "asked": len(asked),
        "generated_shown": M.mean(1.0 if r["generated"] else 0.0 for r in asked),
        "sentences_passed": sum(r["generation"]["passed"] for r in asked),
        "sentences_dropped": sum(r["generation"]["dropped"] for r in asked),
        "drop_reasons": dict(sorted(reasons.items())),
        "model_said_no_evidence": M.mean(1.0 if r["generation"].get("no_evidence") else 0.0 for r in asked),
        "model_failed": M.mean(1.0 if r["generation"].get("error") else 0.0 for r in asked),
        "model_ms": {"p50": M.percentile(gen_ms, 50), "p95": M.percentile(gen_ms, 95)},
    }


def calibrate(results: Sequence[dict]) -> dict:
    """Thresholds (dense cosine, coverage) that minimise wrong decisions on this set:
    abstaining on an answerable question, or answering an unanswerable one."""
    best = None
    dense_grid = [round(0.80 + 0.005 * i, 3) for i in range(25)]
    cov_grid = [round(0.05 * i, 2) for i in range(15)]
    for dt in dense_grid:
        for ct in cov_grid:
            errors = 0
            for r in results:
                ev = r["evidence"]
                abstain = ev.get("dense", 0) < dt or ev.get("coverage", 0) < ct
                errors += abstain if r["answerable"] else (not abstain)
            key = (errors, -ct, -dt)
            if best is None or key < best[0]:
                best = (key, dt, ct, errors)
    assert best is not None
    return {"min_dense_score": best[1], "min_coverage": best[2], "errors": best[3], "questions": len(results)}


def summarize_gold_removed(results: Sequence[dict]) -> dict:
    """Abstention with each question's own passage left out: right when the system
    abstains, or when its answer holds a reference answer from another passage."""
    right = [1.0 if r["abstained"] or r["answer_contains"] else 0.0 for r in results]
    return {"questions": len(results), "right": M.mean(right),
            "abstained": M.mean(1.0 if r["abstained"] else 0.0 for r in results),
            "answered_with_a_reference_elsewhere": M.mean(1.0 if not r["abstained"] and r["answer_contains"] else 0.0
                                                          for r in results)}


def given_passage(idx: RagIndex, items: Sequence[QAItem], progress: Callable[[str, int], Callable] | None = None) -> dict:
    """The reader alone, given each question's own passage (its whole document): short
    answer EM/F1 as the published CMRC readers report them."""
    from rag.reader.spans import fold_with_offsets
    from rag.text.fold import fold

    ems, f1s = [], []
    usable = [i for i in items if i.answerable and len(i.doc_ids) == 1 and i.doc_ids[0] in idx.documents]
    tick = progress("reader given the passage", len(usable)) if progress else None
    for item in usable:
        doc = idx.documents[item.doc_ids[0]]
        folded = fold_with_offsets(doc.text, 0, len(doc.text), idx.settings.fold_target)
        span = idx.reader.read(fold(item.question, idx.settings.fold_target), [folded.text])[0]  # type: ignore[union-attr]
        text = ""
        if span is not None:
            a, b = folded.to_original(span.start, span.end)
            text = doc.text[a:b]
        ems.append(M.exact_match(text, item.answers))
        f1s.append(M.char_f1(text, item.answers))
        if tick:
            tick()
    return {"questions": len(usable), "em": M.mean(ems), "f1": M.mean(f1s)}


class _AlwaysAnswers:
    """The reader with its threshold removed (for the risk-coverage curve); its combined
    decision, if any, keeps its weight, so the curve moves the threshold the product uses."""

    def __init__(self, reader) -> None:
        self._reader, self.name, self.threshold = reader, reader.name, float("-inf")
        rule = getattr(reader, "decision", None)
        self.decision = replace(rule, threshold=float("-inf")) if rule is not None else None

    def read(self, question, passages):
        return self._reader.read(question, passages)


def risk_coverage_curves(idx: RagIndex, items: Sequence[QAItem],
                         progress: Callable[[str, int], Callable] | None = None) -> dict:
    """Accuracy of the answered questions against the share answered, as the threshold
    moves: every question is asked once more with abstention off (hybrid), for the
    reader (when there is one) and for the overlap heuristics. An answer is right when
    the question is answerable and the answer holds a reference answer. The operating
    point is where the shipped thresholds (chosen on training data) put the system."""
    steps = {"heuristics": RagIndex(idx.loaded, idx.embedder,
                                    idx.settings.with_(min_coverage=1e-9, min_dense_score=-1.0), None)}
    if idx.reader is not None:
        steps = {"reader": RagIndex(idx.loaded, idx.embedder, idx.settings, _AlwaysAnswers(idx.reader))} | steps
    out = {}
    for name, forced in steps.items():
        tick = progress(f"risk-coverage {name}", len(items)) if progress else None
        scored = []
        for item in items:
            a = forced.ask(item.question, mode="hybrid", top_k=10)
            conf = confidence(a, idx.settings)
            right = bool(item.answerable and not a.abstained and M.answer_contains(a.answer, item.answers))
            # Nothing to quote at all is an abstention at any threshold.
            scored.append((conf if not a.abstained else float("-inf"), right))
            if tick:
                tick()
        shipped = idx.answer_threshold("hybrid") if name == "reader" else 1.0
        answered = [(c, ok) for c, ok in scored if (c > shipped if name == "reader" else c >= shipped)]
        quotable = [(c, ok) for c, ok in scored if c != float("-inf")]
        n = max(1, len(scored))
        # Coverage over all the questions, not only those with something to quote.
        curve = [(cov * len(quotable) / n, acc, thr) for cov, acc, thr in M.risk_coverage(quotable)]
        keep = max(1, len(curve) // 200)  # about 200 points are enough to draw it
        thinned = curve[::keep] + (curve[-1:] if (len(curve) - 1) % keep else [])
        out[name] = {
            "questions": len(scored),
            "points": [[round(c, 4), round(a, 4), round(t, 4)] for c, a, t in thinned],
            "operating": {"threshold": shipped, "coverage": round(len(answered) / n, 4),
                          "accuracy": round(M.mean(1.0 if ok else 0.0 for _, ok in answered) or 0.0, 4)},
        }
    return out


def evaluate(idx: RagIndex, items: Sequence[QAItem], modes: Sequence[str],
             progress: Callable[[str, int], Callable] | None = None, gold_removed: bool = False,
             risk_coverage: bool = False, given: bool = True) -> dict:
    report: dict = {"modes": {}, "questions": {}}
    if risk_coverage:
        report["risk_coverage"] = risk_coverage_curves(idx, items, progress)
    if given and idx.reader is not None and any(len(i.doc_ids) == 1 for i in items):
        report["given_passage"] = given_passage(idx, items, progress)
    skipped: list[dict] = []

    def ask_all(todo: Sequence[QAItem], mode: str, label: str, exclude_gold: bool = False) -> list[dict]:
        # One question that cannot be asked (a refused input, a broken item) is skipped
        # and named in the report; it does not end the run.
        tick = progress(label, len(todo)) if progress else None
        results = []
        for item in todo:
            try:
                results.append(ask_one(idx, item, mode, exclude_gold=exclude_gold))
            except (RagError, ValueError, TypeError, KeyError) as exc:
                log.warning("question %s skipped (%s): %s", item.id, label, exc)
                skipped.append({"id": item.id, "run": label, "reason": f"{type(exc).__name__}: {exc}"[:300]})
            if tick:
                tick()
        return results

    if gold_removed:
        answerable = [i for i in items if i.answerable and i.doc_ids]
        results = ask_all(answerable, "hybrid", "hybrid, own passage removed", exclude_gold=True)
        report["gold_removed"] = summarize_gold_removed(results)
        report["questions"]["gold_removed"] = results
    for mode in modes:
        results = ask_all(items, mode, mode)
        report["modes"][mode] = summarize(results)
        report["questions"][mode] = results
    if "hybrid" in modes and any(not i.answerable for i in items) and idx.reader is None:
        report["abstention_calibration"] = calibrate(report["questions"]["hybrid"])
    report["skipped_questions"] = skipped
    return report
