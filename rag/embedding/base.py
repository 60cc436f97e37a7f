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
    # How the vectors are computed ("torch-fp32", "onnx-int8", "fake"), and the backends
    # whose vectors may share an index with these (measured to agree, see docs/measurements.md).
    backend: str
    compatible_backends: frozenset[str]

    @property
    def fingerprint(self) -> str:
        """Identifies the weights: two embedders with equal fingerprints give equal vectors."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...


def vectors_compatible(built_with: dict, embedder: Embedder) -> bool:
    """Whether ``embedder`` may query (or add to) an index whose manifest's ``model``
    entry is ``built_with``: each side must list the other's backend as compatible.
    A manifest from before backends were recorded is judged by its fingerprint alone."""
    built = built_with.get("backend")
    if built is None:
        return True
    listed = built_with.get("compatible_backends")
    listed = set(listed) if isinstance(listed, list) else {built}
    return built in embedder.compatible_backends and embedder.backend in listed
