"""The FAISS leg: exact inner product for small corpora, HNSW past a threshold."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


def choose_kind(n: int, threshold: int) -> str:
    return "flat-ip" if n < threshold else "hnsw-ip"


def build_vector_index(vectors: np.ndarray, threshold: int, hnsw_m: int = 32, ef_search: int = 128,
                       ef_construction: int = 80) -> tuple[faiss.Index, str]:
    """Index L2-normalized rows for inner-product (cosine) search."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    kind = choose_kind(n, threshold)
    if kind == "flat-ip":
        index = faiss.IndexFlatIP(d)
    else:
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    if n:
        index.add(vectors)
    return index, kind


def search(index: faiss.Index, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
    """Per query, (row, cosine) best first. ``allowed`` (bool mask over rows) restricts the rows."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    k = min(k, index.ntotal)
    if k <= 0:
        return [[] for _ in range(len(queries))]
    params = None
    if allowed is not None:
        ids = np.flatnonzero(allowed).astype(np.int64)
        if ids.size == 0:
            return [[] for _ in range(len(queries))]
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids)) if not isinstance(index, faiss.IndexHNSWFlat) \
            else faiss.SearchParametersHNSW(sel=faiss.IDSelectorBatch(ids), efSearch=index.hnsw.efSearch)
        k = min(k, ids.size)
    scores, rows = index.search(queries, k, params=params) if params is not None else index.search(queries, k)
    return [[(int(r), float(s)) for r, s in zip(rr, ss) if r >= 0] for rr, ss in zip(rows, scores)]


def save(index: faiss.Index, path: Path) -> None:
    """Write ``index`` to ``path``; StorageError (not FAISS's RuntimeError) when it cannot."""
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:
        from .errors import StorageError

        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "write failed"
        raise StorageError(f"cannot write {path} ({reason[:200]}); is the disk full?") from None


def from_bytes(data: bytes) -> faiss.Index:
    """An index from the bytes of a saved file (read and checksummed by the caller)."""
    return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
