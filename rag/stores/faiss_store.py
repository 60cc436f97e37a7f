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

    def dense(self, query: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        return vec.search(self.vectors, np.asarray(query, dtype=np.float32).reshape(1, -1), k,
                          rows_of(self._doc_of, doc_ids))[0]

    def keyword(self, tokens: Sequence[str], k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        return self.bm25.top_k(tokens, k, rows_of(self._doc_of, doc_ids))
