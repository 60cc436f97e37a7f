"""Dense and keyword legs and their fusion. Fusion functions are pure."""
from __future__ import annotations

import math
import time
from typing import Sequence

from .embedding.base import Embedder
from .index import LoadedIndex
from .records import Hit
from .settings import Settings
from .text.fold import fold
from .text.tokenize import tokenize

Ranked = Sequence[tuple[int, float]]  # (row, score), best first


def _minmax(ranked: Ranked) -> dict[int, float]:
    if not ranked:
        return {}
    scores = [s for _, s in ranked]
    lo, hi = min(scores), max(scores)
    if hi - lo < 1e-12:
        return {r: 1.0 for r, _ in ranked}
    return {r: (s - lo) / (hi - lo) for r, s in ranked}


def fuse_convex(dense: Ranked, bm25: Ranked, dense_weight: float) -> list[tuple[int, float]]:
    """``w * minmax(dense) + (1 - w) * minmax(bm25)``; a row missing from a leg scores 0 there."""
    d, b = _minmax(dense), _minmax(bm25)
    rows = set(d) | set(b)
    fused = {r: dense_weight * d.get(r, 0.0) + (1 - dense_weight) * b.get(r, 0.0) for r in rows}
    return sorted(fused.items(), key=lambda x: (-x[1], x[0]))


def _z(ranked: Ranked) -> dict[int, float]:
    """Scores as standard deviations above the leg's own mean over its candidates."""
    if not ranked:
        return {}
    scores = [x for _, x in ranked]
    mu = sum(scores) / len(scores)
    sd = math.sqrt(sum((x - mu) ** 2 for x in scores) / len(scores)) or 1.0
    return {r: (x - mu) / sd for r, x in ranked}


def fuse_z(dense: Ranked, bm25: Ranked, dense_weight: float) -> list[tuple[int, float]]:
    """``w * z(dense) + (1 - w) * z(bm25)``, squashed to (0, 1) by the logistic function.

    Each leg's scores are standardised over its own candidates, so the weight means the
    same on any corpus (min-max scaling lets one outlier set the scale; a corpus with
    rare names spreads BM25 scores far more than one without). A row missing from a
    leg gets that leg's lowest z. Chosen on DRCD dev and CMRC 2018 trial, see
    ``eval.harness.fusion``."""
    d, b = _z(dense), _z(bm25)
    d_min, b_min = min(d.values(), default=0.0), min(b.values(), default=0.0)
    fused = {r: dense_weight * d.get(r, d_min) + (1 - dense_weight) * b.get(r, b_min) for r in set(d) | set(b)}
    return sorted(((r, 1.0 / (1.0 + math.exp(-z))) for r, z in fused.items()), key=lambda x: (-x[1], x[0]))


def fuse_rrf(dense: Ranked, bm25: Ranked, k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: sum over legs of ``1 / (k + rank)``, ranks from 1."""
    fused: dict[int, float] = {}
    for ranked in (dense, bm25):
        for rank, (r, _) in enumerate(ranked, start=1):
            fused[r] = fused.get(r, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda x: (-x[1], x[0]))


def fuse(dense: Ranked, bm25: Ranked, settings: Settings) -> list[tuple[int, float]]:
    """The two legs fused as ``settings.fusion`` says (zscore, rrf or convex)."""
    if settings.fusion == "rrf":
        return fuse_rrf(dense, bm25, settings.rrf_k)
    if settings.fusion == "zscore":
        return fuse_z(dense, bm25, settings.dense_weight)
    return fuse_convex(dense, bm25, settings.dense_weight)


def retrieve(index: LoadedIndex, embedder: Embedder | None, question: str, settings: Settings,
             mode: str | None = None, top_k: int | None = None, doc_ids: Sequence[str] | None = None,
             timings: dict[str, float] | None = None) -> list[Hit]:
    """The ``top_k`` chunks for ``question`` under ``mode`` (hybrid, dense or bm25)."""
    mode = mode or settings.mode
    top_k = top_k or settings.top_k
    timings = timings if timings is not None else {}
    only = list(doc_ids) if doc_ids else None
    store = index.store
    folded = fold(question, settings.fold_target)
    n_cand = max(settings.candidates, top_k)
    dense: list[tuple[int, float]] = []
    bm25: list[tuple[int, float]] = []
    if mode in ("dense", "hybrid"):
        if embedder is None:
            raise ValueError("dense retrieval needs an embedder")
        t = time.perf_counter()
        q = embedder.embed_queries([folded])
        timings["embed_query"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        dense = store.dense(q[0], n_cand, only)
        timings["faiss"] = (time.perf_counter() - t) * 1000
    if mode in ("bm25", "hybrid"):
        t = time.perf_counter()
        bm25 = store.keyword(tokenize(folded), n_cand, only)
        timings["bm25"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    if mode == "dense":
        fused = list(dense)
    elif mode == "bm25":
        fused = list(bm25)
    else:
        fused = fuse(dense, bm25, settings)
    d_rank = {r: (i + 1, s) for i, (r, s) in enumerate(dense)}
    b_rank = {r: (i + 1, s) for i, (r, s) in enumerate(bm25)}
    hits = []
    for r, s in fused[:top_k]:
        c = index.chunks[r]
        hits.append(Hit(c.chunk_id, c.doc_id, float(s),
                        d_rank[r][0] if r in d_rank else None, b_rank[r][0] if r in b_rank else None,
                        d_rank[r][1] if r in d_rank else None, b_rank[r][1] if r in b_rank else None))
    timings["fusion"] = (time.perf_counter() - t) * 1000
    return hits
