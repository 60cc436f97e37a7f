"""The FAISS folder against Milvus Lite, on the same machine and the same data.

    python -m eval.store_bench [--chunks 100000] [--out FILE; default a new eval/runs/bench_stores-<time>.json]

For each store, on the seeds, on CMRC 2018 dev's passages and on a synthetic corpus of
clustered Chinese text (about ``--chunks`` chunks): build time, the time to add one
article (and, for the FAISS folder, what the whole-folder rewrite of earlier versions
cost), search time per mode (p50/p95, the store's part: the question's embedding is
the same for both), recall@10 against exact search, and memory of a process that has
the index open. On CMRC it also compares the keyword leg: our BM25, Milvus's BM25 over
our tokens, and Milvus's own jieba analyzer (hit@1/hit@5 of the question's passage).

Vectors come from the deterministic hashing embedder (384 dimensions, like the bundled
model), so the figures are the stores' own and a run takes minutes, not hours. Milvus
Lite is a single-process engine for development: the figures of a Milvus cluster are
not measured here.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.api import open_index  # noqa: E402
from rag.embedding.fake import HashingEmbedder  # noqa: E402
from eval.harness.datasets import load_cmrc, load_jsonl, write_corpus  # noqa: E402
from eval.harness.run import find_cmrc  # noqa: E402
from rag.index import build_index  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.text.tokenize import tokenize  # noqa: E402
from rag.updates import add_documents  # noqa: E402

DIM = 384
log = logging.getLogger("store_bench")


def _settings(cache: Path, store: str, uri: Path | None = None, analyzer: str = "tokens") -> Settings:
    s = Settings(model="fake", model_cache_dir=cache, min_dense_score=0.0, min_coverage=0.3)
    return s.with_(store="milvus", milvus_uri=str(uri), milvus_analyzer=analyzer) if store == "milvus" else s


def synthetic_corpus(folder: Path, n_docs: int, seed: int = 7) -> list[str]:
    """``n_docs`` articles of about eight 300-character chunks each, in 100 topics (each
    topic draws most words from its own 300), built from the seeds' vocabulary; returns
    one sentence per article to ask with."""
    rng = random.Random(seed)
    words = sorted({t for p in sorted((ROOT / "seeds").glob("*.txt"))
                    for t in tokenize(p.read_text(encoding="utf-8")) if len(t) >= 2 and "\u4e00" <= t[0] <= "\u9fff"})
    topics = [rng.sample(words, min(300, len(words))) for _ in range(100)]
    folder.mkdir(parents=True, exist_ok=True)
    asks = []
    for i in range(n_docs):
        topic = topics[i % len(topics)]
        sentences = ["".join(rng.choice(topic) if rng.random() < 0.8 else rng.choice(words)
                             for _ in range(rng.randint(8, 14))) + "。" for _ in range(75)]
        paras = ["".join(sentences[j:j + 5]) for j in range(0, len(sentences), 5)]
        title = "".join(rng.choice(topic) for _ in range(4))
        (folder / f"syn{i:06d}.txt").write_text(f"{title}\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")
        asks.append(sentences[rng.randrange(len(sentences))][:-1])
    return asks


def _pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(xs, q)), 2) if xs else 0.0


def search_times(folder: Path, settings: Settings, questions: list[str]) -> dict:
    """Per mode: p50/p95 of the store's share of a search (dense lookup, keyword lookup) and
    of the whole search without the question's embedding."""
    idx = open_index(folder, settings, HashingEmbedder(DIM))
    out = {}
    for mode in ("dense", "bm25", "hybrid"):
        store_ms, total_ms = [], []
        for q in questions:
            timings: dict[str, float] = {}
            t = time.perf_counter()
            idx.search(q, mode=mode, top_k=10, timings=timings)
            total = (time.perf_counter() - t) * 1000 - timings.get("embed_query", 0.0)
            store_ms.append(timings.get("faiss", 0.0) + timings.get("bm25", 0.0))
            total_ms.append(total)
        out[mode] = {"store_ms_p50": _pct(store_ms, 50), "store_ms_p95": _pct(store_ms, 95),
                     "search_ms_p50": _pct(total_ms, 50), "search_ms_p95": _pct(total_ms, 95)}
    return out


_MEMORY_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.settings import Settings
a = json.loads(sys.argv[2])
s = Settings(model="fake", model_cache_dir=a["cache"], min_dense_score=0.0, min_coverage=0.3, store=a["store"],
             milvus_uri=a.get("uri", ""))
def kb(key):
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0])
base = kb("VmRSS")
t = time.perf_counter()
idx = open_index(a["folder"], s, HashingEmbedder(384))
opened = time.perf_counter() - t
for q in a["questions"]:
    idx.search(q, mode="hybrid", top_k=10)
print(json.dumps({"open_seconds": round(opened, 2), "rss_mb": round(kb("VmRSS") / 1024, 1),
                  "peak_rss_mb": round(kb("VmHWM") / 1024, 1), "python_and_libraries_mb": round(base / 1024, 1)}))
"""


def memory(folder: Path, store: str, cache: Path, questions: list[str], uri: Path | None) -> dict:
    """RSS of a fresh process that opens the index and answers 50 searches (Milvus Lite
    runs inside that process, so its memory is counted)."""
    from rag.stores.milvus_client import disconnect

    if uri is not None:
        disconnect(str(uri))  # Milvus Lite: one process per database file
    arg = json.dumps({"folder": str(folder), "store": store, "cache": str(cache), "uri": str(uri or ""),
                      "questions": questions[:50]}, ensure_ascii=False)
    r = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(ROOT), arg], capture_output=True, text=True,
                       timeout=1800)
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def bench_store(name: str, corpus: Path, work: Path, store: str, questions: list[str], new_article: str,
                whole_rewrite: bool) -> dict:
    cache = work / "models"
    uri = work / f"{name}-{store}.db" if store == "milvus" else None
    s = _settings(cache, store, uri)
    folder = work / f"{name}-{store}"
    emb = HashingEmbedder(DIM)
    t = time.perf_counter()
    r = build_index(corpus, folder, s, emb, force=True)
    res: dict = {"documents": r.documents, "chunks": r.chunks, "build_seconds": round(time.perf_counter() - t, 2),
                 "build_seconds_by_stage": {k: round(v, 2) for k, v in r.seconds.items()}}
    t = time.perf_counter()
    build_index(corpus, folder, s, emb)
    res["rebuild_unchanged_seconds"] = round(time.perf_counter() - t, 2)
    incoming = work / "incoming" / f"zz_new_{name}.txt"
    incoming.parent.mkdir(exist_ok=True)
    incoming.write_text(new_article, encoding="utf-8")
    t = time.perf_counter()
    u = add_documents(folder, [incoming], s, emb)
    res["add_one_article_seconds"] = round(time.perf_counter() - t, 2)
    res["add_one_article_by_stage"] = {k: round(v, 2) for k, v in u.build.seconds.items()}
    if whole_rewrite:
        # What adding an article cost before builds were incremental: every document
        # cleaned, chunked and tokenized again (vectors still came from the cache).
        t = time.perf_counter()
        build_index(corpus, folder, s, emb, force=True)
        res["whole_folder_rewrite_seconds"] = round(time.perf_counter() - t, 2)
    (corpus / incoming.name).unlink()  # the next store starts from the same corpus
    build_index(corpus, folder, s, emb)
    res["search"] = search_times(folder, s, questions)
    res["memory"] = memory(folder, store, cache, questions, uri)
    res["index_folder_mb"] = round(sum(p.stat().st_size for p in folder.iterdir()) / 2**20, 1)
    if uri is not None:
        res["milvus_data_mb"] = milvus_data_mb(uri)
    log.info("%s %s: %s", name, store, json.dumps(res, ensure_ascii=False))
    return res


def milvus_data_mb(uri: Path) -> float:
    """Disk used by a Milvus Lite database (a folder of segments, or one file)."""
    files = [uri] if uri.is_file() else [p for p in uri.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def hnsw_recall(n: int, n_queries: int = 200, seed: int = 3) -> dict:
    """recall@10 against exact search of each store's approximate index (HNSW, M 32,
    ef 128) on ``n`` clustered vectors; the default index below 200k chunks is exact."""
    import faiss
    from pymilvus import DataType

    from rag.stores.milvus_client import connect, disconnect

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(200, DIM)).astype(np.float32)
    x = centres[rng.integers(0, 200, n)] + 0.6 * rng.normal(size=(n, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[rng.choice(n, n_queries, replace=False)] + 0.1 * rng.normal(size=(n_queries, DIM)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = faiss.IndexFlatIP(DIM)
    exact.add(x)
    _, truth = exact.search(q, 10)
    out = {}
    t = time.perf_counter()
    h = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    h.hnsw.efConstruction = 80
    h.add(x)
    h.hnsw.efSearch = 128
    build = time.perf_counter() - t
    times = []
    found = []
    for row in q:
        t = time.perf_counter()
        found.append(h.search(row[None], 10)[1][0])
        times.append((time.perf_counter() - t) * 1000)
    out["faiss_hnsw"] = {"recall_at_10": round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])), 4),
                         "build_seconds": round(build, 1), "query_ms_p50": _pct(times, 50), "query_ms_p95": _pct(times, 95)}
    with tempfile.TemporaryDirectory() as tmp:
        uri = str(Path(tmp) / "hnsw.db")
        c = connect(uri)
        schema = c.create_schema(auto_id=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
        params = c.prepare_index_params()
        params.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 32, "efConstruction": 80})
        t = time.perf_counter()
        c.create_collection("v", schema=schema, index_params=params)
        for i in range(0, n, 2000):
            c.insert("v", [{"pk": j, "vector": x[j].tolist()} for j in range(i, min(n, i + 2000))])
        c.flush("v")
        c.load_collection("v")
        build = time.perf_counter() - t
        times, found = [], []
        for row in q:
            t = time.perf_counter()
            res = c.search("v", data=[row.tolist()], anns_field="vector", limit=10,
                           search_params={"metric_type": "IP", "params": {"ef": 128}}, output_fields=["pk"])
            times.append((time.perf_counter() - t) * 1000)
            found.append([int(hh["pk"]) for hh in res[0]])
        disconnect(uri)
    out["milvus_hnsw"] = {"recall_at_10": round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])), 4),
                          "build_seconds": round(build, 1), "query_ms_p50": _pct(times, 50), "query_ms_p95": _pct(times, 95)}
    out["vectors"] = n
    return out


def keyword_cmrc(work: Path, corpus: Path, items) -> dict:
    """hit@1 / hit@5 of each question's own passage with the keyword leg alone."""
    out = {}
    for label, store, analyzer in (("ours (faiss folder)", "faiss", "tokens"), ("milvus, our tokens", "milvus", "tokens"),
                                   ("milvus, its jieba analyzer", "milvus", "jieba")):
        uri = work / f"kw-{analyzer}.db"
        s = _settings(work / "models", store, uri, analyzer)
        folder = work / f"kw-{store}-{analyzer}"
        build_index(corpus, folder, s, HashingEmbedder(DIM))
        idx = open_index(folder, s, HashingEmbedder(DIM))
        h1 = h5 = 0
        for it in items:
            docs = [h.doc_id for h in idx.search(it.question, mode="bm25", top_k=5)]
            h1 += bool(docs) and docs[0] in it.doc_ids
            h5 += any(d in it.doc_ids for d in docs)
        out[label] = {"hit_at_1": round(h1 / len(items), 4), "hit_at_5": round(h5 / len(items), 4)}
    out["questions"] = len(items)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=100_000, help="size of the synthetic corpus, in chunks")
    p.add_argument("--out", default=str(ROOT / "eval" / "runs" / f"bench_stores-{time.strftime('%Y%m%d-%H%M%S')}.json"))
    p.add_argument("--work", help="working folder (default: a temporary one, removed afterwards)")
    p.add_argument("--skip-cmrc", action="store_true")
    p.add_argument("--sets", default="seeds,cmrc,synthetic", help="which data sets (comma-separated)")
    p.add_argument("--stores", default="faiss,milvus", help="which stores (comma-separated)")
    p.add_argument("--merge", action="store_true",
                   help="update the figures already in --out instead of starting a new file")
    p.add_argument("--skip-extras", action="store_true", help="skip the HNSW recall and CMRC keyword-leg parts")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="store-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    old = json.loads(Path(args.out).read_text(encoding="utf-8")) if args.merge and Path(args.out).is_file() else {}
    results: dict = {**old, "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} cores",
                     "embedder": f"hashing fake, {DIM} dimensions (the stores' own cost; the model's is in bench.json)",
                     "milvus": "Milvus Lite (embedded, single process); cluster figures are not measured here"}
    try:
        article = (sorted((ROOT / "seeds").glob("*.txt"))[0]).read_text(encoding="utf-8")
        seeds_q = [it.question for it in load_jsonl(ROOT / "eval" / "datasets" / "seeds_qa.jsonl")]
        shutil.copytree(ROOT / "seeds", work / "seeds", dirs_exist_ok=True)  # adds go into the corpus folder
        wanted, stores = set(args.sets.split(",")), [x for x in args.stores.split(",") if x]
        sets = [("seeds", work / "seeds", seeds_q)]
        if not args.skip_cmrc and ("cmrc" in wanted or not args.skip_extras):
            cmrc, items = load_cmrc(find_cmrc(None))
            write_corpus(cmrc, work / "cmrc")
            sets.append(("cmrc", work / "cmrc", [it.question for it in items[:300]]))
        if "synthetic" in wanted:
            n_docs = max(1, args.chunks // 8)  # measured: eight chunks an article
            asks = synthetic_corpus(work / "synthetic", n_docs)
            sets.append(("synthetic", work / "synthetic", asks[:300]))
        for name, corpus, questions in sets:
            if name not in wanted:
                continue
            results[name] = {**results.get(name, {}), **{
                store: bench_store(name, corpus, work, store, questions, article, whole_rewrite=(store == "faiss"))
                for store in stores}}
            _write(results, Path(args.out))
        if args.skip_extras:
            pass
        elif "synthetic" in wanted:
            results["hnsw_recall"] = hnsw_recall(results["synthetic"]["faiss"]["chunks"])
            _write(results, Path(args.out))
        if not args.skip_cmrc and not args.skip_extras:
            results["keyword_leg_cmrc"] = keyword_cmrc(work, work / "cmrc", items)
            _write(results, Path(args.out))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


def _write(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
