"""``python -m eval run``: prepare the dataset, corpus and index, run the harness, write the
report folder (a new ``eval/runs/<dataset>-<time>/`` unless ``--out`` names one)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rag.api import open_index
from rag.embedding import load_embedder
from rag.errors import InputError
from rag.index import build_index
from rag.progress import terminal_progress
from rag.settings import Settings

from .datasets import QAItem, load_cmrc, load_jsonl, write_corpus
from .report import fmt, markdown_report, plots
from .runner import MODES, ROOT, evaluate


def run_folder(args: argparse.Namespace, name: str) -> Path:
    """Where a run writes its report: ``--out``, else a new folder under ``eval/runs/``
    (ignored by git), so a run never overwrites the reports the docs quote."""
    if args.out:
        return Path(args.out)
    return ROOT / "eval" / "runs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


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


def open_dataset_index(args: argparse.Namespace, name: str, corpus: Path, settings: Settings):
    """The data set's index (``index_folder``), built or brought up to date, opened: the
    RagIndex and the build's report."""
    index_dir = index_folder(args, name, corpus, settings)
    embedder = load_embedder(settings)
    report = build_index(corpus, index_dir, settings, embedder, progress=terminal_progress("embedding"))
    return open_index(index_dir, settings, embedder), report


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
    idx, report_build = open_dataset_index(args, name, corpus, settings)
    modes = MODES if args.mode == "all" else (args.mode,)
    bars: list = []

    def progress(mode: str, total: int):
        b = tqdm(total=total, desc=f"{name} {mode}", unit="q", file=sys.stderr)
        bars.append(b)
        return lambda: b.update(1)

    report = evaluate(idx, items, modes, progress, gold_removed=args.gold_removed,
                      risk_coverage=getattr(args, "risk_coverage", False),
                      given=not getattr(args, "skip_given_passage", False))
    for b in bars:
        b.close()
    report["meta"] = {"dataset": name, "index": str(idx.loaded.path), "model": settings.model, "chunk_size": settings.chunk_size,
                      "fusion": settings.fusion, "reader": idx.reader.name if idx.reader else "none",
                      "backend": getattr(idx.embedder, "backend", "?"),
                      "reader_backend": getattr(idx.reader, "backend", None),
                      "reader_stop_margin": idx.stop_margin(),
                      "reader_min_topic": settings.reading.min_topic if idx.reader else None,
                      "reader_topic_terms": settings.reading.topic_terms if idx.reader else None,
                      "reader_topic_idf": settings.reading.topic_idf if idx.reader else None,
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
            print(f"{m:8} {fmt(r['hit@1']):>6} {fmt(r['hit@5']):>6} {fmt(r['hit@10']):>6} {fmt(r['mrr@10']):>6} "
                  f"{fmt(s['answers']['contains_gold']):>6} {fmt(s['citations']['all_verified']):>6} "
                  f"{fmt(s['abstention']['unanswerable_abstained']):>6} {fmt(s['abstention']['answerable_abstained']):>6} "
                  f"{s['latency_ms']['p50']:>6.0f}")
        for m, s in report["modes"].items():
            sa = s["short_answers"]
            if sa["given"]:
                print(f"{m:8} short answers: given {fmt(sa['given'])}, EM {fmt(sa['em'])}, F1 {fmt(sa['f1'])}")
        if "given_passage" in report:
            gp = report["given_passage"]
            print(f"reader given the passage: {gp['questions']} questions, EM {fmt(gp['em'])}, F1 {fmt(gp['f1'])}")
        if "gold_removed" in report:
            g = report["gold_removed"]
            print(f"own passage removed: {g['questions']} questions, right {fmt(g['right'])} "
                  f"(abstained {fmt(g['abstained'])}, answered from another passage {fmt(g['answered_with_a_reference_elsewhere'])})")
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
    idx, _ = open_dataset_index(args, name, corpus, settings)
    report = evaluate_claims(idx, items)
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
