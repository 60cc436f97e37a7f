"""Question + passage windows for the reader, their training labels, and span decoding.

Works on folded text (Simplified, NFKC, lower case) like the rest of the pipeline;
``spans.fold_with_offsets`` maps a decoded span back to the original. Needs only a
fast tokenizer (``tokenizers``), no torch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

QUERY_PREFIX = "query: "  # the e5 convention for the question side
MAX_TOKENS = 256  # our chunks are at most about 300 characters (about 200 tokens) plus the question
STRIDE = 96
# The longest span the decoder considers. Weights whose manifest does not say
# (``features.max_answer_tokens``) were calibrated with this, the first recipe's cap; the
# recipe now chooses the caps on held-out training articles (``ANSWER_TOKEN_CHOICES``).
MAX_ANSWER_TOKENS = 16
ANSWER_TOKEN_CHOICES = (16, 24, 32, 48, 64, 96, 128)

# A (folded) question asking for a name, a time, a place or a figure ("谁", "哪一年", "哪里",
# "多少", "几"): its answer is a short phrase, and a longer cap lets the span run on past it
# ("1993年9月1日，运输署把本线交由城巴接办…" for "什么时候"). The others ("有什么特点？",
# "是什么？", "为什么") are often answered by a description ("镜头的焦距和光圈直径大小的关系").
_ASKS_NAME_OR_FIGURE = re.compile(r"何时|什么时候|哪|几|多少|谁|何地|何人")


@dataclass(frozen=True)
class AnswerCaps:
    """The longest answer span (in tokens) the decoder considers, for questions that ask
    for a name, a time, a place or a figure, and for the others."""

    names_and_figures: int = MAX_ANSWER_TOKENS
    other: int = MAX_ANSWER_TOKENS

    def for_question(self, folded_question: str) -> int:
        return self.names_and_figures if _ASKS_NAME_OR_FIGURE.search(folded_question) else self.other

    def to_json(self) -> dict[str, int]:
        return {"names_and_figures": self.names_and_figures, "other": self.other}

    @classmethod
    def from_json(cls, value: object) -> "AnswerCaps":
        """From a manifest's ``max_answer_tokens``: one whole number for every question
        (older manifests) or the two caps; ValueError when it is neither."""
        def ok(v: object) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 1

        if ok(value):
            return cls(value, value)  # type: ignore[arg-type]
        if isinstance(value, dict) and set(value) == {"names_and_figures", "other"} and all(map(ok, value.values())):
            return cls(value["names_and_figures"], value["other"])
        raise ValueError(f"max_answer_tokens is {value!r}, not a positive whole number or "
                         "{\"names_and_figures\": N, \"other\": N}")

    @classmethod
    def of_manifest(cls, manifest: dict) -> "AnswerCaps":
        """The caps a reader manifest was calibrated with: its
        ``features.max_answer_tokens``, or the first recipe's cap when it does not say."""
        return cls.from_json((manifest.get("features") or {}).get("max_answer_tokens", MAX_ANSWER_TOKENS))


@dataclass(frozen=True)
class Window:
    """One tokenized window of question + passage. ``offsets[i]`` is the (start, end)
    character span in the folded passage of token ``i``, or None for question and
    special tokens. Token 0 is [CLS], where "no answer" points."""

    input_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int] | None, ...]


def make_windows(tokenizer, question: str, passage: str, max_tokens: int = MAX_TOKENS,
                 stride: int = STRIDE) -> list[Window]:
    """Windows covering ``passage`` (folded), each with the whole question.

    ``tokenizer`` is transformers' fast tokenizer (training, the torch path) or a
    ``rag.onnx.files.SharedTokenizer`` over the same file (the ONNX path, no
    transformers import): both give the same windows (tests/test_onnx.py compares
    them on DRCD passages)."""
    if hasattr(tokenizer, "backend_tokenizer"):
        enc = tokenizer(QUERY_PREFIX + question, passage, truncation="only_second", max_length=max_tokens,
                        stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
        rows = [(ids, enc["offset_mapping"][i], enc.sequence_ids(i)) for i, ids in enumerate(enc["input_ids"])]
    else:
        rows = [(e.ids, e.offsets, e.sequence_ids)
                for e in tokenizer.pair_windows(QUERY_PREFIX + question, passage, max_tokens, stride)]
    windows = []
    for ids, offsets, seq in rows:
        offs = tuple(tuple(o) if s == 1 and o[1] > o[0] else None for o, s in zip(offsets, seq))
        windows.append(Window(tuple(ids), offs))  # type: ignore[arg-type]
    return windows


def pad_id(tokenizer) -> int:
    """The padding token of either kind of tokenizer (see ``make_windows``)."""
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        pad = tokenizer.token_to_id("<pad>")
    return int(pad)


def label(window: Window, answer_start: int, answer_end: int) -> tuple[int, int]:
    """Token positions of the answer ``[answer_start, answer_end)`` (folded passage
    characters) in ``window``, or (0, 0) when the window does not hold all of it."""
    start = end = None
    for i, o in enumerate(window.offsets):
        if o is None:
            continue
        if start is None and o[0] <= answer_start < o[1]:
            start = i
        if o[0] < answer_end <= o[1]:
            end = i
    if start is None or end is None or end < start:
        return 0, 0
    return start, end


@dataclass(frozen=True)
class SpanScore:
    """The best span of one window: score (start + end logit), the no-answer score,
    and the span in folded passage characters."""

    score: float
    null: float
    start: int
    end: int


def best_span(start_logits: Sequence[float], end_logits: Sequence[float], window: Window,
              max_tokens: int = MAX_ANSWER_TOKENS, top: int = 20) -> SpanScore | None:
    """The highest-scoring valid span (inside the passage, end after start, at most
    ``max_tokens``); None when the window has no passage token."""
    ctx = [i for i, o in enumerate(window.offsets) if o is not None]
    if not ctx:
        return None
    null = float(start_logits[0] + end_logits[0])
    starts = sorted(ctx, key=lambda i: -start_logits[i])[:top]
    ends = sorted(ctx, key=lambda i: -end_logits[i])[:top]
    best: tuple[float, int, int] | None = None
    for s in starts:
        for e in ends:
            if s <= e < s + max_tokens:
                score = float(start_logits[s] + end_logits[e])
                if best is None or score > best[0]:
                    best = (score, s, e)
    if best is None:
        return None
    score, s, e = best
    a, b = window.offsets[s][0], window.offsets[e][1]  # type: ignore[index]
    return SpanScore(score, null, a, b)
