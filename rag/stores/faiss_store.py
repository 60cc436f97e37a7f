"""The default store: a FAISS index and our BM25 postings, both files of the index folder."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import vectors as vec
from ..bm25 import BM25Index
from .base import Ranked, rows_of


class FaissStore:
    """Exact (or HNSW) inner product over the chunk vectors; BM25 scored with numpy."""

    kind = "faiss"

    def __init__(self, vectors, bm25: BM25Index, chunk_doc_ids: Sequence[str]) -> None:
        self.vectors = vectors  # faiss.Index, row i = chunk i
        self.bm25 = bm25
        self._doc_of = list(chunk_doc_ids)
        self._last_mask: tuple[tuple[str, ...], np.ndarray | None] = ((), None)

    def _mask(self, doc_ids: Sequence[str] | None) -> np.ndarray | None:
        """The row mask of ``doc_ids``; a hybrid search asks twice (once per leg), so the
        last one is kept rather than built again over every row."""
        if doc_ids is None:
            return None
        key = tuple(doc_ids)
        last_key, last = self._last_mask  # one read: another thread may replace it
        if last is not None and last_key == key:
            return last
        mask = rows_of(self._doc_of, key)
        self._last_mask = (key, mask)
        return mask

    def dense(self, query: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        return vec.search(self.vectors, np.asarray(query, dtype=np.float32).reshape(1, -1), k, self._mask(doc_ids))[0]

    def keyword(self, tokens: Sequence[str], k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        return self.bm25.top_k(tokens, k, self._mask(doc_ids))
