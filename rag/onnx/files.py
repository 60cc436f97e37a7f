"""Where the ONNX exports live, what their manifest says, and the check on load.

An export is a folder next to the converted model (the user's cache directory):
``model.onnx`` (int8), ``tokenizer.json`` and ``onnx_manifest.json`` naming the base
weights it was made from, the reader weights (for the reader) and the checksum of
each file. A folder whose manifest does not match is stale or damaged: it is made
again when torch is at hand, else the error says how to make it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

BACKEND_TORCH = "torch-fp32"  # sentence-transformers / transformers in float32
BACKEND_ONNX = "onnx-int8"  # ONNX Runtime, weights int8 per channel, activations quantized on the fly
READER_BACKEND_ONNX = "onnx-fp32"  # the reader stays float32 (see export.export_reader)
EXPORT_VERSION = 6  # 6: the reader graph has ONNX Runtime's BERT fusions
PRODUCT = "rag-zh-news onnx export"
MANIFEST = "onnx_manifest.json"
GRAPH = "model.onnx"
TOKENIZER = "tokenizer.json"


def onnx_available() -> bool:
    """True when onnxruntime is installed (it is a dependency; a trimmed install may lack it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def embedder_dir(model_dir: Path) -> Path:
    """The embedder's export folder for the converted model at ``model_dir``."""
    return model_dir.parent / f"{model_dir.name}-onnx-e{EXPORT_VERSION}"


def reader_dir(model_dir: Path, reader_sha256: str) -> Path:
    """The reader's export folder: one per base model and trained weights."""
    return model_dir.parent / f"{model_dir.name}-reader-{reader_sha256[:16]}-onnx-e{EXPORT_VERSION}"


@dataclass(frozen=True)
class OnnxFiles:
    """A checked export: the graph's bytes (read once, checksum verified), the tokenizer
    file and the manifest."""

    folder: Path
    graph: bytes
    tokenizer: Path
    manifest: dict


class StaleExport(Exception):
    """The export is missing, from other weights, or damaged: make it again."""


def read_export(folder: Path, expect: dict[str, str]) -> OnnxFiles:
    """The export in ``folder`` when its manifest is ours, names the values in
    ``expect`` (e.g. ``base_fingerprint``) and every file matches its checksum;
    StaleExport saying why otherwise."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StaleExport(f"no export in {folder}") from None
    except (OSError, ValueError) as exc:
        raise StaleExport(f"{folder / MANIFEST} is unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("product") != PRODUCT:
        raise StaleExport(f"{folder / MANIFEST} is not an export manifest of this product")
    if manifest.get("export_version") != EXPORT_VERSION:
        raise StaleExport(f"{folder} has export version {manifest.get('export_version')!r}, "
                          f"this code reads {EXPORT_VERSION}")
    for key, want in expect.items():
        if manifest.get(key) != want:
            raise StaleExport(f"{folder} was exported from {key} {str(manifest.get(key))[:12]}, "
                              f"not {want[:12]}")
    sums = manifest.get("files", {})
    try:
        graph = (folder / GRAPH).read_bytes()
        tok_sum = hashlib.sha256((folder / TOKENIZER).read_bytes()).hexdigest()
    except OSError as exc:
        raise StaleExport(f"{folder}: {exc.strerror}: {exc.filename}") from exc
    if hashlib.sha256(graph).hexdigest() != sums.get(GRAPH):
        raise StaleExport(f"{folder / GRAPH} does not match its checksum")
    if tok_sum != sums.get(TOKENIZER):
        raise StaleExport(f"{folder / TOKENIZER} does not match its checksum")
    return OnnxFiles(folder, graph, folder / TOKENIZER, manifest)


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def no_export_error(folder: Path, why: str) -> ModelError:
    return ModelError(f"the ONNX model in {folder} is not ready ({why}) and torch, which makes it, is not "
                      "installed; run `rag model` where torch is installed, or pass --backend torch")


def ensure_export(folder: Path, expect: dict[str, str], make) -> OnnxFiles:
    """The checked export in ``folder``; when it is missing or stale, ``make(folder)``
    writes it (torch needed) and it is read again. ModelError when it cannot be made."""
    import logging

    try:
        return read_export(folder, expect)
    except StaleExport as exc:
        why = str(exc)
    if not torch_available():
        raise no_export_error(folder, why)
    logging.getLogger(__name__).info("exporting the ONNX model to %s (%s)", folder, why)
    make(folder)
    try:
        return read_export(folder, expect)
    except StaleExport as exc:  # written just now: only a disk fault or a racing writer gets here
        raise ModelError(f"the ONNX export in {folder} cannot be read back ({exc}); delete the folder and retry") from exc


class SharedTokenizer:
    """One ``tokenizers.Tokenizer`` for the embedder and the reader: loading one costs
    0.7 s of a 3 s cold start. Truncation is the tokenizer's state, so each call sets
    the one it needs under a lock (encoding a question takes well under a millisecond)."""

    def __init__(self, path: Path) -> None:
        import threading

        from tokenizers import Tokenizer

        self.path = path
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()
        self._lock = threading.Lock()

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def encode_batch(self, texts: list[str], max_tokens: int) -> list:
        """Single texts, each cut to ``max_tokens`` (special tokens included)."""
        with self._lock:
            self._tok.enable_truncation(max_tokens)
            return self._tok.encode_batch(texts)

    def pair_windows(self, first: str, second: str, max_tokens: int, stride: int) -> list:
        """``first`` with successive windows of ``second`` overlapping by ``stride`` tokens:
        the encodings transformers makes with truncation="only_second" and overflow."""
        with self._lock:
            self._tok.enable_truncation(max_tokens, stride=stride, strategy="only_second")
            enc = self._tok.encode(first, second)
        return [enc, *enc.overflowing]


WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def word_embedding_table(model_dir: Path):
    """The converted model's word embedding table (vocab x hidden, float32), memory-mapped
    from its safetensors file: no copy, and only the rows looked up are read."""
    import numpy as np

    path = model_dir / "model.safetensors"
    try:
        with path.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        entry = header[WORD_EMBEDDINGS]
        if entry["dtype"] != "F32":
            raise ModelError(f"{path}: {WORD_EMBEDDINGS} is {entry['dtype']}, not F32")
        start, end = entry["data_offsets"]
        rows, cols = entry["shape"]
        if end - start != rows * cols * 4:
            raise ModelError(f"{path}: {WORD_EMBEDDINGS} has {end - start} bytes for shape {rows}x{cols}")
        return np.memmap(path, dtype="<f4", mode="r", offset=8 + n + start, shape=(rows, cols))
    except (OSError, ValueError, KeyError, struct.error) as exc:
        raise ModelError(f"cannot read the word embeddings of {path} ({exc}); delete the folder to convert "
                         "the model again (rag model)") from exc
