"""Run the reader over passages (folded text in, best span and no-answer score out).

The network is a ``Forward``: padded ids and mask (int64 arrays) in, start and end
logits out. ``torch_forward`` wraps the trained torch module; the ONNX session is
another (``runtime.onnx_forward``); the windows and the span decoding are shared.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .features import SpanScore, Window, best_span, make_windows, pad_id

Forward = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def torch_forward(net) -> Forward:
    """The torch reader network as a Forward (no gradients)."""
    import torch

    def forward(ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            s, e = net(torch.from_numpy(ids), torch.from_numpy(mask))
        return s.numpy(), e.numpy()

    return forward


def batch(windows: Sequence[Window], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows padded to the longest: (input_ids, attention_mask), int64."""
    n = max(len(w.input_ids) for w in windows)
    ids = np.full((len(windows), n), pad, np.int64)
    mask = np.zeros((len(windows), n), np.int64)
    for i, w in enumerate(windows):
        ids[i, : len(w.input_ids)] = w.input_ids
        mask[i, : len(w.input_ids)] = 1
    return ids, mask


def read_passages(forward: Forward, tokenizer, question: str, passages: Sequence[str]) -> list[SpanScore | None]:
    """For each folded passage, its best span over all its windows (None: no passage
    token). The no-answer score of a passage is the highest over its windows."""
    windows: list[Window] = []
    owner: list[int] = []
    for i, p in enumerate(passages):
        for w in make_windows(tokenizer, question, p):
            windows.append(w)
            owner.append(i)
    out: list[SpanScore | None] = [None] * len(passages)
    if not windows:
        return out
    starts, ends = forward(*batch(windows, pad_id(tokenizer)))
    nulls: dict[int, float] = {}
    for i, w, s, e in zip(owner, windows, starts.tolist(), ends.tolist()):
        span = best_span(s, e, w)
        if span is None:
            continue
        nulls[i] = max(nulls.get(i, span.null), span.null)
        if out[i] is None or span.score > out[i].score:  # type: ignore[union-attr]
            out[i] = span
    return [SpanScore(o.score, nulls[i], o.start, o.end) if o is not None else None for i, o in enumerate(out)]
