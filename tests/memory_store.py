"""An in-memory store written for the tests: a third ``rag.stores.base.StoreBackend``,
one file, registered with ``rag.stores.register``. It keeps each build's rows in a
dict of this process (brute-force inner product, BM25 over the rows' own tokens), and
passes the same contract tests as FAISS and Milvus (``test_store_contract.py``)."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.bm25 import BM25Index
from rag.errors import IndexLoadError
from rag.stores.base import BuildRows, Ranked, StoreRow

# Published builds and builds written but not yet committed, by token.
BUILDS: dict[str, list[StoreRow]] = {}
PENDING: dict[str, list[StoreRow]] = {}
_LOCK = threading.Lock()


class MemoryStore:
    """Search over one build's rows, returned as rows of the loaded index."""

    kind = "memory"

    def __init__(self, rows: Sequence[StoreRow], row_of: dict[str, int]) -> None:
        self._rows = list(rows)
        self._index_row = np.array([row_of[r.chunk_id] for r in self._rows], dtype=np.int64)
        self._matrix = np.stack([np.asarray(r.vector, dtype=np.float32) for r in self._rows])
        self._bm25 = BM25Index.build([list(r.tokens) for r in self._rows])
        self._docs = [r.doc_id for r in self._rows]

    def count(self) -> int:
        return len(self._rows)

    def _mask(self, doc_ids: Sequence[str] | None) -> np.ndarray | None:
        if doc_ids is None:
            return None
        wanted = set(doc_ids)
        return np.array([d in wanted for d in self._docs], dtype=bool)

    def _ranked(self, scores: np.ndarray, k: int, mask: np.ndarray | None, positive: bool) -> Ranked:
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], self._index_row[i]))
        out = [(int(self._index_row[i]), float(scores[i])) for i in order
               if (mask is None or mask[i]) and (not positive or scores[i] > 0)]
        return out[:k]

    def dense(self, query: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        return self._ranked(self._matrix @ q, k, self._mask(doc_ids), positive=False)

    def keyword(self, tokens: Sequence[str], k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        return [(int(self._index_row[i]), s) for i, s in self._bm25.top_k(tokens, k, self._mask(doc_ids))]


class MemoryWriter:
    """Each build is written whole under a new token; commit publishes it and frees the
    previous build's rows, abandon forgets it."""

    def __init__(self, previous_token: str | None, n_rows: int) -> None:
        self.token = os.urandom(4).hex()
        self._previous = previous_token
        self._n = n_rows

    @property
    def info(self) -> dict:
        return {"kind": "memory", "token": self.token, "rows": self._n}

    @property
    def vector_kind(self) -> str:
        return "memory-flat-ip"

    def write(self, build: BuildRows, folder: Path) -> list[str]:
        with _LOCK:
            PENDING[self.token] = build.rows(False)
        return []

    def commit(self) -> None:
        with _LOCK:
            BUILDS[self.token] = PENDING.pop(self.token)
            if self._previous and self._previous != self.token:
                BUILDS.pop(self._previous, None)

    def abandon(self) -> None:
        with _LOCK:
            PENDING.pop(self.token, None)


class MemoryBackend:
    kind = "memory"
    folder_files: frozenset[str] = frozenset()
    external = True

    def writer(self, settings, previous: dict | None, owned: dict, dim: int, n_rows: int) -> MemoryWriter:
        return MemoryWriter(owned.get("token") if owned.get("kind") == "memory" else None, n_rows)

    def open(self, manifest: dict, folder: Path, settings, blobs: dict[str, bytes], chunks, bm25,
             row_of: dict[str, int]) -> MemoryStore:
        token = manifest.get("store", {}).get("token")
        rows = BUILDS.get(token)
        if rows is None:
            raise IndexLoadError(f"the in-memory store holds no build {token!r} for index {folder} (this process "
                                 f"did not build it); rebuild with: rag index --out {folder}")
        if len(rows) != len(chunks):
            raise IndexLoadError(f"the in-memory build {token} holds {len(rows)} rows but index {folder} has "
                                 f"{len(chunks)} chunks; rebuild it")
        return MemoryStore(rows, row_of)

    def same(self, previous: dict, info: dict, settings) -> bool:
        rows = BUILDS.get(info.get("token"))
        return rows is not None and len(rows) == previous.get("counts", {}).get("chunks")

    def settings_of(self, info: dict, base: Path | None = None) -> dict:
        return {}

    def drop(self, manifest: dict, settings) -> None:
        with _LOCK:
            BUILDS.pop(manifest.get("store", {}).get("token"), None)
