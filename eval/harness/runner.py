"""``python -m eval run``: ask every question through RagIndex.ask (the code path of ``rag ask``)
and report retrieval, answer, citation, abstention and latency figures."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from rag.api import RagIndex, open_index
from rag.embedding import load_embedder
from rag.errors import InputError, RagError
from rag.index import build_index
from rag.progress import terminal_progress
from rag.settings import Settings
from rag.text.fold import detect_script
from . import metrics as M
from .datasets import QAItem, load_cmrc, load_jsonl, write_corpus

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
        "answer": a.answer, "abstained": a.abstained, "evidence": a.evidence,
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
             risk_coverage: bool = False) -> dict:
    report: dict = {"modes": {}, "questions": {}}
    if risk_coverage:
        report["risk_coverage"] = risk_coverage_curves(idx, items, progress)
    if idx.reader is not None and any(len(i.doc_ids) == 1 for i in items):
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


def run_folder(args: argparse.Namespace, name: str) -> Path:
    """Where a run writes its report: ``--out``, else a new folder under ``eval/runs/``
    (ignored by git), so a run never overwrites the reports the docs quote."""
    if args.out:
        return Path(args.out)
    return ROOT / "eval" / "runs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _fmt(v: float | None, pct: bool = True) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if pct else f"{v:.0f}"


def markdown_report(report: dict, title: str) -> str:
    lines = [f"# {title}", "", f"Index: `{report['meta']['index']}` · model `{report['meta']['model']}` · "
             f"chunk size {report['meta']['chunk_size']} · fusion {report['meta']['fusion']} · "
             f"{report['meta']['questions']} questions · reader `{report['meta'].get('reader', 'none')}` · "
             f"backend `{report['meta'].get('backend', '?')}`"
             + (f" (reader `{report['meta']['reader_backend']}`)" if report['meta'].get('reader_backend') else ""), ""]
    modes = list(report["modes"])
    lines += ["## Retrieval (document level, answerable questions)", "",
              "| mode | hit@1 | hit@3 | hit@5 | hit@10 | MRR@10 | nDCG@10 | recall@5 |", "|---|---|---|---|---|---|---|---|"]
    for m in modes:
        r = report["modes"][m]["retrieval"]
        lines.append(f"| {m} | {_fmt(r['hit@1'])} | {_fmt(r['hit@3'])} | {_fmt(r['hit@5'])} | {_fmt(r['hit@10'])} | "
                     f"{_fmt(r['mrr@10'])} | {_fmt(r['ndcg@10'])} | {_fmt(r['recall@5'])} |")
    for m in modes:
        r = report["modes"][m]["retrieval"]
        if r.get("hit@1_reader_order") is not None:
            lines += ["", f"{m}: hit@1 {_fmt(r['hit@1'])} in retrieval order, {_fmt(r['hit@1_reader_order'])} with the "
                          "passages the reader read put in the order of its margin (measured, not applied)."]
    lines += ["", "## Answers, citations, abstention", "",
              "| mode | answer has gold | …when answered | mean length | citations verified | citation precision | "
              "unanswerable abstained | answerable abstained | p50 ms | p95 ms |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in modes:
        s = report["modes"][m]
        lines.append(f"| {m} | {_fmt(s['answers']['contains_gold'])} | {_fmt(s['answers']['contains_gold_when_answered'])} | "
                     f"{_fmt(s['answers']['mean_length_chars'], False)} | {_fmt(s['citations']['all_verified'])} | "
                     f"{_fmt(s['citations']['precision'])} | {_fmt(s['abstention']['unanswerable_abstained'])} | "
                     f"{_fmt(s['abstention']['answerable_abstained'])} | {s['latency_ms']['p50']:.0f} | {s['latency_ms']['p95']:.0f} |")
    if any(report["modes"][m]["short_answers"]["given"] for m in modes):
        lines += ["", "## Short answers (answerable questions; no short answer counts 0)", "",
                  "| mode | given | EM | F1 | F1 when given |", "|---|---|---|---|---|"]
        for m in modes:
            sa = report["modes"][m]["short_answers"]
            lines.append(f"| {m} | {_fmt(sa['given'])} | {_fmt(sa['em'])} | {_fmt(sa['f1'])} | {_fmt(sa['f1_when_given'])} |")
    if "given_passage" in report:
        gp = report["given_passage"]
        lines += ["", f"Reader alone, given each question's own passage: {gp['questions']} questions, EM {_fmt(gp['em'])}, "
                      f"F1 {_fmt(gp['f1'])} (CMRC's character-level measures)."]
    if "gold_removed" in report:
        g = report["gold_removed"]
        lines += ["", "## Each question's own passage removed (hybrid)", "",
                  f"{g['questions']} answerable questions asked without their own passage: right {_fmt(g['right'])} "
                  f"(abstained {_fmt(g['abstained'])}; answered with a reference answer found in another passage "
                  f"{_fmt(g['answered_with_a_reference_elsewhere'])}). Anything else is a confident, cited, wrong answer."]

    if "risk_coverage" in report:
        lines += ["", "## Risk and coverage (hybrid, abstention off; accuracy of the answered questions)", "",
                  "Each curve moves the answer step's threshold; the operating point is the shipped threshold "
                  "(the reader's was chosen on held-out training articles, never on this set).", "",
                  "| answer step | coverage 0.5 | 0.7 | 0.9 | all quotable | operating point: coverage / accuracy |",
                  "|---|---|---|---|---|---|"]
        for name, rc in report["risk_coverage"].items():
            pts = rc["points"]

            def at(c: float) -> str:
                got = [a for cov, a, _ in pts if cov >= c - 1e-9]
                return _fmt(got[0]) if got else "–"

            op = rc["operating"]
            lines.append(f"| {name} | {at(0.5)} | {at(0.7)} | {at(0.9)} | {_fmt(pts[-1][1]) if pts else '–'} "
                         f"(coverage {_fmt(pts[-1][0]) if pts else '–'}) | {_fmt(op['coverage'])} / {_fmt(op['accuracy'])} |")
        lines += ["", "![risk-coverage](risk_coverage.png)"]

    def table(heading: str, key: str, cell: Callable[[dict], str], label: Callable[[str], str] = str) -> list[str]:
        cols = sorted({k for m in modes for k in report["modes"][m][key]})
        rows = ["", f"## {heading}", "", "| mode | " + " | ".join(label(c) for c in cols) + " |", "|---|" + "---|" * len(cols)]
        for m in modes:
            got = report["modes"][m][key]
            rows.append(f"| {m} | " + " | ".join(cell(got[c]) if c in got else "–" for c in cols) + " |")
        return rows

    hits = lambda r: f"{_fmt(r['hit@1'])} / {_fmt(r['hit@5'])} / {r['n']}"  # noqa: E731
    lines += table("By question script (hit@1 / hit@5 / n)", "by_script", hits)
    if len({d for m in modes for d in report["modes"][m]["by_document"]}) <= 30:
        lines += table("By document (hit@1 / hit@5 / n)", "by_document", hits, lambda d: d[:12])
    lines += table("Where a query's time goes (mean ms per stage)", "stage_ms_mean", lambda v: f"{v:.1f}")
    for m in modes:
        g = report["modes"][m].get("generation")
        if g:
            lines += ["", f"## Generated answers ({m})", "",
                      f"Model asked {g['asked']} times: its answer shown {_fmt(g['generated_shown'])} of the time; "
                      f"{g['sentences_passed']} sentences passed the citation gate, {g['sentences_dropped']} dropped "
                      f"({', '.join(f'{k} {v}' for k, v in g['drop_reasons'].items()) or 'none'}); the model said "
                      f"'no evidence' {_fmt(g['model_said_no_evidence'])}, failed {_fmt(g['model_failed'])}; "
                      f"model time p50 {g['model_ms']['p50']:.0f} ms, p95 {g['model_ms']['p95']:.0f} ms."]
    if "abstention_calibration" in report:
        c = report["abstention_calibration"]
        lines += ["", f"Abstention thresholds that minimise wrong decisions on this set (hybrid): dense ≥ "
                      f"{c['min_dense_score']}, coverage ≥ {c['min_coverage']} ({c['errors']} errors in {c['questions']})."]
    lines += ["", "Every question's hits, answer and citations are in `report.json`."]
    return "\n".join(lines) + "\n"


def plots(report: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    modes = list(report["modes"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in modes:
        rs = [r for r in report["questions"][m] if r["answerable"]]
        ys = [M.mean(M.hit_at_k(r["ranked_docs"], r["gold_docs"], k) for r in rs) or 0 for k in range(1, 11)]
        ax.plot(range(1, 11), ys, marker="o", label=m)
    ax.set_xlabel("k"), ax.set_ylabel("hit@k"), ax.set_title("hit@k by retrieval mode"), ax.grid(alpha=.3), ax.legend()
    fig.tight_layout(), fig.savefig(out / "hit_at_k.png", dpi=110), plt.close(fig)
    names.append("hit_at_k.png")

    scripts = sorted({s for m in modes for s in report["modes"][m]["by_script"]})
    fig, ax = plt.subplots(figsize=(6, 4))
    width = 0.8 / max(1, len(modes))
    for i, m in enumerate(modes):
        bs = report["modes"][m]["by_script"]
        ax.bar([j + i * width for j in range(len(scripts))], [bs.get(s, {}).get("hit@1") or 0 for s in scripts], width, label=m)
    ax.set_xticks([j + width * (len(modes) - 1) / 2 for j in range(len(scripts))], scripts)
    ax.set_ylabel("hit@1"), ax.set_title("hit@1 by question script"), ax.set_ylim(0, 1), ax.legend()
    fig.tight_layout(), fig.savefig(out / "by_script.png", dpi=110), plt.close(fig)
    names.append("by_script.png")

    if "risk_coverage" in report:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, rc in report["risk_coverage"].items():
            pts = rc["points"]
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name)
            op = rc["operating"]
            ax.plot([op["coverage"]], [op["accuracy"]], "o", color=line.get_color())
        ax.set_xlabel("share of questions answered"), ax.set_ylabel("accuracy of the answered")
        ax.set_title("risk-coverage (dot: shipped threshold)"), ax.set_xlim(0, 1), ax.grid(alpha=.3), ax.legend()
        fig.tight_layout(), fig.savefig(out / "risk_coverage.png", dpi=110), plt.close(fig)
        names.append("risk_coverage.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for m in modes:
        ax.hist([r["latency_ms"] for r in report["questions"][m]], bins=30, alpha=.5, label=m)
    ax.set_xlabel("ms per question"), ax.set_ylabel("questions"), ax.set_title("latency"), ax.legend()
    fig.tight_layout(), fig.savefig(out / "latency.png", dpi=110), plt.close(fig)
    names.append("latency.png")
    return names


def find_cmrc(explicit: str | None) -> Path:
    for p in ([Path(explicit)] if explicit else []) + [ROOT / "eval" / "data" / "cmrc2018_dev.json",
                                                       ROOT.parent / "shared" / "benchmarks" / "cmrc2018_dev.json"]:
        if p.is_file():
            return p
    raise InputError("cmrc2018_dev.json not found; pass --cmrc-file PATH")


def prepare(args: argparse.Namespace) -> tuple[list[QAItem], Path, str]:
    """The QA items and corpus folder named by the arguments."""
    cache = ROOT / "eval" / "results" / "cache"
    if args.dataset in ("cmrc", "cmrc-trad"):
        path = find_cmrc(args.cmrc_file)
        corpus, items = load_cmrc(path, traditional=args.dataset == "cmrc-trad")
        # Another SQuAD-style file (CMRC trial, DRCD) gets its own corpus folder and index:
        # its passages must never join the benchmark's.
        name = args.dataset if path.stem == "cmrc2018_dev" else f"{args.dataset}-{path.stem}"
        folder = cache / name / "corpus"
        write_corpus(corpus, folder)
        return items, folder, name
    items = load_jsonl(Path(args.dataset))
    folder = Path(args.corpus or ROOT / "seeds")
    return items, folder, Path(args.dataset).stem


def index_folder(args: argparse.Namespace, name: str, corpus: Path, settings: Settings) -> Path:
    """``--index``, or the cached index of this data set, corpus, model, backend and chunk
    size (each backend its own: comparing them should not share passage vectors)."""
    if args.index:
        return Path(args.index)
    from rag.embedding import uses_onnx

    backend = "-onnx" if uses_onnx(settings) else ""
    key = f"{name}-{corpus.name}-{settings.model.replace('/', '_')}{backend}-c{settings.chunk_size}"
    return ROOT / "eval" / "results" / "cache" / key / "index"


def main_eval(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from .claims import is_claim_set

    if args.dataset not in ("cmrc", "cmrc-trad") and is_claim_set(Path(args.dataset)):
        return main_eval_claims(args, settings)
    items, corpus, name = prepare(args)
    if args.sample:
        import random

        items = random.Random(20261124).sample(items, min(args.sample, len(items)))
    if args.limit:
        items = items[: args.limit]
    index_dir = index_folder(args, name, corpus, settings)
    embedder = load_embedder(settings)
    report_build = build_index(corpus, index_dir, settings, embedder, progress=terminal_progress("embedding"))
    idx = open_index(index_dir, settings, embedder)
    modes = MODES if args.mode == "all" else (args.mode,)
    bars: list = []

    def progress(mode: str, total: int):
        b = tqdm(total=total, desc=f"{name} {mode}", unit="q", file=sys.stderr)
        bars.append(b)
        return lambda: b.update(1)

    report = evaluate(idx, items, modes, progress, gold_removed=args.gold_removed,
                      risk_coverage=getattr(args, "risk_coverage", False))
    for b in bars:
        b.close()
    report["meta"] = {"dataset": name, "index": str(index_dir), "model": settings.model, "chunk_size": settings.chunk_size,
                      "fusion": settings.fusion, "reader": idx.reader.name if idx.reader else "none",
                      "backend": getattr(idx.embedder, "backend", "?"),
                      "reader_backend": getattr(idx.reader, "backend", None),
                      "reader_stop_margin": settings.reader_stop_margin if idx.reader else None,
                      "reader_min_topic": settings.reader_min_topic if idx.reader else None,
                      "reader_topic_terms": settings.reader_topic_terms if idx.reader else None,
                      "reader_topic_idf": settings.reader_topic_idf if idx.reader else None,
                      # The rule that decided hybrid answers: margin + weight x retrieval > threshold.
                      "reader_decision": ({"retrieval_weight": rule.retrieval_weight if (rule := idx.decision_rule("hybrid"))
                                           else 0.0, "threshold": idx.answer_threshold("hybrid")}
                                          if idx.reader else None),
                      "sample": args.sample, "questions": len(items), "chunks": report_build.chunks,
                      "documents": report_build.documents}
    out = run_folder(args, name)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "report.md").write_text(markdown_report(report, f"Evaluation: {name}"), encoding="utf-8")
    plots(report, out)
    if args.json:
        print(json.dumps({"meta": report["meta"], "modes": {m: {k: v for k, v in s.items() if k not in ("by_document",)}
                                                            for m, s in report["modes"].items()}},
                         ensure_ascii=False))
    else:
        print(f"{name}: {len(items)} questions, {report_build.documents} documents, {report_build.chunks} chunks")
        print(f"{'mode':8} {'hit@1':>6} {'hit@5':>6} {'hit@10':>6} {'MRR':>6} {'ans':>6} {'cite':>6} {'abst-u':>6} {'abst-a':>6} {'p50ms':>6}")
        for m, s in report["modes"].items():
            r = s["retrieval"]
            print(f"{m:8} {_fmt(r['hit@1']):>6} {_fmt(r['hit@5']):>6} {_fmt(r['hit@10']):>6} {_fmt(r['mrr@10']):>6} "
                  f"{_fmt(s['answers']['contains_gold']):>6} {_fmt(s['citations']['all_verified']):>6} "
                  f"{_fmt(s['abstention']['unanswerable_abstained']):>6} {_fmt(s['abstention']['answerable_abstained']):>6} "
                  f"{s['latency_ms']['p50']:>6.0f}")
        for m, s in report["modes"].items():
            sa = s["short_answers"]
            if sa["given"]:
                print(f"{m:8} short answers: given {_fmt(sa['given'])}, EM {_fmt(sa['em'])}, F1 {_fmt(sa['f1'])}")
        if "given_passage" in report:
            gp = report["given_passage"]
            print(f"reader given the passage: {gp['questions']} questions, EM {_fmt(gp['em'])}, F1 {_fmt(gp['f1'])}")
        if "gold_removed" in report:
            g = report["gold_removed"]
            print(f"own passage removed: {g['questions']} questions, right {_fmt(g['right'])} "
                  f"(abstained {_fmt(g['abstained'])}, answered from another passage {_fmt(g['answered_with_a_reference_elsewhere'])})")
        if report["skipped_questions"]:
            print(f"skipped {len(report['skipped_questions'])} question(s) that could not be asked "
                  f"(first: {report['skipped_questions'][0]['id']}: {report['skipped_questions'][0]['reason']})")
        print(f"report: {out / 'report.md'}")
    return 0


def main_eval_claims(args: argparse.Namespace, settings: Settings) -> int:
    """The claim check on a labelled claim set over the seeds (or ``--corpus``)."""
    from .claims import claims_markdown, evaluate_claims, load_claims

    items = load_claims(Path(args.dataset))
    corpus = Path(args.corpus or ROOT / "seeds")
    name = Path(args.dataset).stem
    index_dir = index_folder(args, name, corpus, settings)
    embedder = load_embedder(settings)
    build_index(corpus, index_dir, settings, embedder, progress=terminal_progress("embedding"))
    report = evaluate_claims(open_index(index_dir, settings, embedder), items)
    out = run_folder(args, name)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "report.md").write_text(claims_markdown(report, f"Claim check: {name}"), encoding="utf-8")
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "rows"}, ensure_ascii=False))
    else:
        print(f"{name}: {report['claims']} claims, verdict accuracy {report['accuracy']:.3f}, "
              f"supported but altered or unrelated: {report['supported_but_not_true']}")
        for k, v in report["by_kind"].items():
            print(f"  {k:10} {v['n']:3} claims  accuracy {v['accuracy']:.3f}")
        print(f"report: {out / 'report.md'}")
    return 0
