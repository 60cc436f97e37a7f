"""A question in several parts ("…多少家科技企業？首期入駐率？"): split it, answer each part
on its own, and put the answers together, saying which part found no evidence.

Pure: ``split_parts`` and ``merge_answers`` take and return text and records; the asking
itself is ``RagIndex.ask``'s."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

from ..answering import compose_answer
from ..records import Answer, Citation, Part

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_OPEN, _CLOSE = "「『《“（(【〈", "」』》”）)】〉"
MIN_PART_HAN = 4  # Chinese characters a part needs to be a question of its own ("首期入駐率？"; not "真的嗎？")
MAX_PARTS = 4


def split_parts(question: str) -> list[str]:
    """The questions ``question`` asks, in order: one when it asks one thing. A piece with
    fewer than ``MIN_PART_HAN`` Chinese characters ("好嗎？") stays with the part before it;
    beyond ``MAX_PARTS`` pieces the question is not split (it is a list, not questions)."""
    pieces = [p for p in _pieces(question.strip()) if p.strip()]
    parts: list[str] = []
    for p in pieces:
        if parts and len(HAN.findall(p)) < MIN_PART_HAN:
            parts[-1] += p
        elif not parts or len(HAN.findall(parts[-1])) >= MIN_PART_HAN:
            parts.append(p)
        else:
            parts[-1] += p
    return parts if 1 < len(parts) <= MAX_PARTS else [question]


def _pieces(question: str) -> list[str]:
    """``question`` cut after each question mark that is not inside brackets or quotes
    (a title or a quoted question, "《…嗎？》", "「…乎？」", is part of what is asked)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(question):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch in "？?" and depth == 0:
            out.append(question[start:i + 1])
            start = i + 1
    out.append(question[start:])
    return [p.strip() for p in out]


def merge_answers(question: str, answers: Sequence[Answer]) -> Answer:
    """One answer of the parts' answers: each answered part's sentences in order, markers
    renumbered so that one quoted sentence has one marker across parts, and ``parts`` saying
    which part was answered (with its short answer) and which was not. When no part is
    answered, the first part's abstention stands for the whole question."""
    first = answers[0]
    if all(a.abstained for a in answers):
        return replace(first, question=question, parts=tuple(Part(a.question, False) for a in answers),
                       timings_ms=_summed(answers))
    # One marker may stand for several quoted sentences of one passage: what is numbered
    # anew is each marker's group of quotes, and a group two parts share keeps one number.
    marker_of: dict[tuple, int] = {}
    citations: list[Citation] = []
    segments: list[tuple[str, int]] = []
    converted: list[int] = []
    parts: list[Part] = []
    for a in answers:
        if a.abstained:
            parts.append(Part(a.question, False))
            continue
        renumber: dict[int, int] = {}
        groups: dict[int, list[Citation]] = {}
        for c in a.citations:
            groups.setdefault(c.marker, []).append(c)
        for old, group in groups.items():
            key = tuple((c.chunk_id, c.start, c.end) for c in group)
            if key not in marker_of:
                marker_of[key] = len(marker_of) + 1
                citations += [replace(c, marker=marker_of[key]) for c in group]
            renumber[old] = marker_of[key]
        shown = set(segments)
        for text, m in a.segments:
            seg = (text, renumber.get(m, m))
            if seg not in shown:  # a sentence that answers two parts is quoted once
                segments.append(seg)
                shown.add(seg)
        converted += [renumber.get(m, m) for m in a.converted if renumber.get(m, m) not in converted]
        parts.append(Part(a.question, True, a.short_text, tuple(sorted({renumber.get(m, m) for _, m in a.segments}))))
    answered = [a for a in answers if not a.abstained]
    lead = answered[0]
    return replace(
        lead, question=question, answer=compose_answer(segments), citations=tuple(citations),
        segments=tuple(segments), converted=tuple(converted), parts=tuple(parts), timings_ms=_summed(answers),
        short_text="；".join(p.short_text for p in parts if p.answered and p.short_text),
        hits=tuple({h.chunk_id: h for a in answered for h in a.hits}.values()),
        other_year=next((a.other_year for a in answered if a.other_year), None),
        related=(), searched_question=question)


def _summed(answers: Sequence[Answer]) -> dict[str, float]:
    out: dict[str, float] = {}
    for a in answers:
        for k, v in a.timings_ms.items():
            out[k] = out.get(k, 0.0) + v
    return out
