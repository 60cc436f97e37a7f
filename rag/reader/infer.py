"""Run the reader over passages (folded text in, best span and no-answer score out)."""
from __future__ import annotations

from typing import Sequence

from .features import SpanScore, Window, best_span, make_windows


def _run(net, tokenizer, windows: Sequence[Window]):
    import torch

    pad = tokenizer.pad_token_id
    n = max(len(w.input_ids) for w in windows)
    ids = torch.tensor([list(w.input_ids) + [pad] * (n - len(w.input_ids)) for w in windows])
    mask = (ids != pad).long()
    mask[:, 0] = 1
    with torch.no_grad():
        s, e = net(ids, mask)
    return s.tolist(), e.tolist()


def read_passages(net, tokenizer, question: str, passages: Sequence[str]) -> list[SpanScore | None]:
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
    starts, ends = _run(net, tokenizer, windows)
    nulls: dict[int, float] = {}
    for i, w, s, e in zip(owner, windows, starts, ends):
        span = best_span(s, e, w)
        if span is None:
            continue
        nulls[i] = max(nulls.get(i, span.null), span.null)
        if out[i] is None or span.score > out[i].score:  # type: ignore[union-attr]
            out[i] = span
    return [SpanScore(o.score, nulls[i], o.start, o.end) if o is not None else None for i, o in enumerate(out)]


def read_passage(net, tokenizer, question: str, passage: str) -> SpanScore | None:
    return read_passages(net, tokenizer, question, [passage])[0]
