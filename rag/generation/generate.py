"""Generate an answer through the gate: the model's reply is cut into sentences as it
streams, each is checked, and only the sentences that pass are kept. ``on_sentence``
sees the passed sentences only once the whole reply has come and ended properly: a
reply cut later may qualify what came before it, so nothing of it is ever shown."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .client import ChatModel, ModelUnavailable
from .gate import GatedSentence, SentenceStream, Source, check_sentence, is_no_evidence


@dataclass(frozen=True)
class Generated:
    """What came of one generation: the sentences that passed, those dropped (with the
    reason), whether the model said the passages do not answer, and why it failed."""

    passed: tuple[GatedSentence, ...] = ()
    dropped: tuple[GatedSentence, ...] = ()
    no_evidence: bool = False
    error: str = ""
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


def generate(model: ChatModel, messages: Sequence[dict[str, str]], sources: Mapping[int, Source],
             idf: Callable[[str], float], max_sentences: int = 3,
             on_sentence: Callable[[GatedSentence], None] | None = None, tag=None) -> Generated:
    """Stream the model's reply through the gate (see ``gate.check_sentence``)."""
    t0 = time.perf_counter()
    passed: list[GatedSentence] = []
    dropped: list[GatedSentence] = []
    no_evidence = False

    def take(sentences: list[str]) -> None:
        nonlocal no_evidence
        for s in sentences:
            if is_no_evidence(s):
                no_evidence = True
                continue
            g = check_sentence(s, sources, idf, tag)
            if g.passed and len(passed) < max_sentences:
                passed.append(g)
            elif not g.passed:
                dropped.append(g)

    splitter = SentenceStream()
    try:
        for piece in model.stream(messages):
            take(splitter.feed(piece))
        take(splitter.close())
    except ModelUnavailable as exc:
        # A reply that failed part way is not used at all: what passed so far may be the
        # first half of a statement the second half qualifies.
        return Generated((), tuple(dropped), False, str(exc), time.perf_counter() - t0,
                         dict(Counter(d.reason for d in dropped)))
    for g in passed if on_sentence else ():
        on_sentence(g)
    return Generated(tuple(passed), tuple(dropped), no_evidence and not passed, "", time.perf_counter() - t0,
                     dict(Counter(d.reason for d in dropped)))
