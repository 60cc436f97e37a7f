"""Run the reader over passages (folded text in, best span and no-answer score out).

The network is a ``Forward``: padded ids and mask (int64 arrays) in, start and end
logits out. ``torch_forward`` wraps the trained torch module; the ONNX session is
another (``runtime.onnx_forward``); the windows and the span decoding are shared.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .features import MAX_ANSWER_TOKENS, SpanScore, Window, best_span, make_windows, pad_id

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


def length_groups(lengths: Sequence[int], slack: float = 0.1) -> list[list[int]]:
    """Indices of windows grouped for one forward pass each (pure): shortest first, a
    group grows while padding to its longest window costs at most ``slack`` more tokens
    than its windows hold. On two cores the network is compute-bound, so padded tokens
    cost as much as real ones: three passages of 44, 158 and 205 tokens padded to one
    batch took 262 ms, one at a time 182 ms (ONNX Runtime, AVX2)."""
    order = sorted(range(len(lengths)), key=lambda j: (lengths[j], j))
    groups: list[list[int]] = []
    for j in order:
        g = groups[-1] if groups else None
        if g is not None and lengths[j] * (len(g) + 1) <= (1 + slack) * (sum(lengths[k] for k in g) + lengths[j]):
            g.append(j)
        else:
            groups.append([j])
    return groups


def read_logits(forward: Forward, tokenizer, question: str, passages: Sequence[str],
                slack: float = 0.1) -> list[tuple[int, Window, list[float], list[float]]]:
    """(passage index, window, start logits, end logits) of every window of the folded
    passages. Windows of about the same length share a forward pass (``length_groups``)."""
    windows: list[Window] = []
    owner: list[int] = []
    for i, p in enumerate(passages):
        for w in make_windows(tokenizer, question, p):
            windows.append(w)
            owner.append(i)
    if not windows:
        return []
    pad = pad_id(tokenizer)
    logits: list = [None] * len(windows)
    for group in length_groups([len(w.input_ids) for w in windows], slack):
        starts, ends = forward(*batch([windows[j] for j in group], pad))
        for j, s, e in zip(group, starts, ends):
            n = len(windows[j].input_ids)
            logits[j] = (s[:n].tolist(), e[:n].tolist())
    return [(i, w, s, e) for i, w, (s, e) in zip(owner, windows, logits)]


def decode(read: Sequence[tuple[int, Window, list[float], list[float]]], n_passages: int,
           max_answer_tokens: int = MAX_ANSWER_TOKENS) -> list[SpanScore | None]:
    """For each passage, its best span of at most ``max_answer_tokens`` over all its
    windows (None: no passage token); its no-answer score is the highest over its windows."""
    out: list[SpanScore | None] = [None] * n_passages
    nulls: dict[int, float] = {}
    for i, w, s, e in read:
        span = best_span(s, e, w, max_answer_tokens)
        if span is None:
            continue
        nulls[i] = max(nulls.get(i, span.null), span.null)
        if out[i] is None or span.score > out[i].score:  # type: ignore[union-attr]
            out[i] = span
    return [SpanScore(o.score, nulls[i], o.start, o.end) if o is not None else None for i, o in enumerate(out)]


def read_passages(forward: Forward, tokenizer, question: str, passages: Sequence[str],
                  slack: float = 0.1, max_answer_tokens: int = MAX_ANSWER_TOKENS) -> list[SpanScore | None]:
    """For each folded passage, its best span of at most ``max_answer_tokens`` over all
    its windows (None: no passage token). The no-answer score of a passage is the highest
    over its windows. Windows of about the same length share a forward pass (``length_groups``)."""
    return decode(read_logits(forward, tokenizer, question, passages, slack), len(passages), max_answer_tokens)
