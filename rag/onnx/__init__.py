"""Serving the bundled model through ONNX Runtime, without torch.

``export`` (needs torch, run once at ``rag model`` time or on first use) writes int8
ONNX graphs of the embedder and of the trained reader next to the converted model,
each with a manifest; ``files`` finds and checks them; ``session`` runs them with
``onnxruntime``, ``tokenizers`` and numpy only. Serving (``rag ask``, ``rag cite``,
the chat page) imports nothing of torch when these files are in place.
"""
from __future__ import annotations

from .files import (BACKEND_ONNX, BACKEND_TORCH, EXPORT_VERSION, OnnxFiles, embedder_dir, onnx_available,
                    reader_dir)

__all__ = ["BACKEND_ONNX", "BACKEND_TORCH", "EXPORT_VERSION", "OnnxFiles", "embedder_dir", "onnx_available",
           "reader_dir"]
