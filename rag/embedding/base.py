"""The Embedder protocol the library depends on."""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np

Progress = Callable[[int, int], None]  # (done, total)


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 rows. Queries and passages may be
    embedded differently (e5 needs "query: " / "passage: " prompts)."""

    model_id: str
    dimension: int

    @property
    def fingerprint(self) -> str:
        """Identifies the weights: two embedders with equal fingerprints give equal vectors."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...
