"""The FAISS leg: exact inner product for small corpora, HNSW past a threshold.

An HNSW graph's recall depends on the data, so its search effort is not a fixed setting:
at build time a sample of the corpus's own vectors is held out as queries, their exact
neighbours computed, and ``efSearch`` raised until recall@10 against exact search reaches
the target (``tune_ef_search``); the manifest records the choice and the recall measured.
A filtered search over few rows (one article, a date range) is exact over those rows:
a graph walk that may only stop at allowed rows loses neighbours when they are rare."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

# A filter leaving at most this many rows is searched exactly over them (a dot product
# per allowed row: 10,000 rows of a million took 4 ms on one core).
EXACT_FILTER_ROWS = 50_000
EF_STEPS = (64, 128, 256, 384, 512, 768, 1024, 1536, 2048)


@dataclass(frozen=True)
class Tuning:
    """What the build chose for an HNSW index, and the recall it measured."""

    ef_search: int
    recall_at_10: float
    queries: int
    target: float

    def to_json(self) -> dict:
        return {"ef_search": self.ef_search, "recall_at_10": round(self.recall_at_10, 4),
                "held_out_queries": self.queries, "target_recall": self.target}


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 200_000) -> np.ndarray:
    """The rows of the ``k`` best inner products per query, by brute force (in blocks of rows)."""
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_r = np.zeros((len(queries), 0), dtype=np.int64)
    for a in range(0, len(vectors), block):
        s = queries @ vectors[a:a + block].T
        r = np.broadcast_to(np.arange(a, a + s.shape[1], dtype=np.int64), s.shape)
        s, r = np.concatenate([best_s, s], axis=1), np.concatenate([best_r, r], axis=1)
        kk = min(k, s.shape[1])
        top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        best_s, best_r = np.take_along_axis(s, top, 1), np.take_along_axis(r, top, 1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_r, order, 1)


# How far a held-out vector is moved to stand in for a question: the norm of the noise
# added before normalising again (0.6: cosine about 0.86 to where it was). A question lies
# about that far from its best passage (CMRC 2018 dev with the bundled model: median 0.91,
# tenth percentile 0.89); a stored vector asked as it is finds itself and flatters the graph
# (at a million chunks it measured 0.99 where real questions got 0.87).
QUERY_SPREAD = 0.6


def tune_ef_search(index: faiss.Index, vectors: np.ndarray, target: float = 0.97, queries: int = 200,
                   seed: int = 0, steps: tuple[int, ...] = EF_STEPS, spread: float = QUERY_SPREAD) -> Tuning:
    """The smallest ``efSearch`` of ``steps`` whose recall@10 against exact search reaches
    ``target`` on ``queries`` of the corpus's own vectors, each moved ``spread`` away from
    itself to lie as far from the stored vectors as a question does (else the largest
    step); sets it on ``index``."""
    n = len(vectors)
    rng = np.random.default_rng(seed)
    picks = rng.choice(n, size=min(queries, n), replace=False)
    q = np.array(vectors[picks], dtype=np.float32)
    noise = rng.standard_normal(q.shape).astype(np.float32)
    q += spread * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    truth = [set(int(r) for r in row) for row in exact_neighbours(vectors, q, 10)]
    recall = 0.0
    ef = steps[-1]
    for ef in steps:
        index.hnsw.efSearch = ef
        _, rows = index.search(q, 10)
        recall = float(np.mean([len(set(int(r) for r in row if r >= 0) & t) / max(len(t), 1)
                                for row, t in zip(rows, truth)]))
        if recall >= target:
            break
    return Tuning(ef, recall, len(picks), target)


def choose_kind(n: int, threshold: int) -> str:
    return "flat-ip" if n < threshold else "hnsw-ip"


def build_vector_index(vectors: np.ndarray, threshold: int, hnsw_m: int = 32, ef_search: int = 128,
                       ef_construction: int = 80, target_recall: float | None = None
                       ) -> tuple[faiss.Index, str, Tuning | None]:
    """Index L2-normalized rows for inner-product (cosine) search. An HNSW index gets the
    ``efSearch`` that reaches ``target_recall`` (``tune_ef_search``; None: ``ef_search`` as
    given, not measured), and the tuning is returned with it."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    kind = choose_kind(n, threshold)
    if kind == "flat-ip":
        index = faiss.IndexFlatIP(d)
    else:
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    tuning = None
    if n:
        index.add(vectors)
        if kind == "hnsw-ip" and target_recall is not None:
            tuning = tune_ef_search(index, vectors, target_recall,
                                    steps=tuple(s for s in EF_STEPS if s >= min(ef_search, EF_STEPS[-1])))
    return index, kind, tuning


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
        k = min(k, ids.size)
        if isinstance(index, faiss.IndexHNSWFlat) and ids.size <= EXACT_FILTER_ROWS:
            # Exact over the allowed rows: the graph's flat storage searched with the rows
            # as a list (FAISS visits only those; 10,000 rows of a million took 4 ms on one
            # core, reading them by index 8 ms). ``ids`` outlives the search: it is referenced.
            index = faiss.downcast_index(index.storage)
            params = faiss.SearchParameters(sel=faiss.IDSelectorArray(ids))
        elif isinstance(index, faiss.IndexHNSWFlat):
            params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorBatch(ids), efSearch=index.hnsw.efSearch)
        else:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
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
