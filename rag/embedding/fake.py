"""A fast deterministic embedder for unit tests: hashed character n-grams.

It has no knowledge of meaning, only of shared characters, which is enough to
test the plumbing (index, retrieval, fusion, answers) in milliseconds.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from .base import Progress


class HashingEmbedder:
    model_id = "fake-hashing"
    backend = "fake"
    compatible_backends = frozenset({"fake"})

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension

    @property
    def fingerprint(self) -> str:
        return f"hashing-v1-{self.dimension}"

    def _embed(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        grams = [text[i : i + n] for n in (1, 2) for i in range(len(text) - n + 1)]
        for g in grams:
            if g.isspace():
                continue
            h = int.from_bytes(hashlib.blake2b(g.encode("utf-8"), digest_size=8).digest(), "little")
            v[h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
        n = float(np.linalg.norm(v))
        if n == 0:
            v[0] = 1.0
            n = 1.0
        return v / n

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._embed(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        out = self.embed_queries(texts)
        if progress:
            progress(len(texts), len(texts))
        return out
