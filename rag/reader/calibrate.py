"""Fit the reader's decision (``decide.Decision``) the way the product decides.

Each held-out training question is asked through the product's own path
(``RagIndex.read_spans``: hybrid search over its whole training set, the reader on the
passages ``ask`` reads) twice: with its own passage, and with it left out (then only an
answer that holds a reference answer from another passage is right). Every span read
becomes a row of FEATURES labelled by whether its sentence holds a reference answer; a
logistic regression over those rows scores spans, and the threshold minimises the wrong
outcomes of both askings (refusing or misanswering the first, answering the second
wrongly). The early-exit score is the lowest at which taking a confident first passage
without reading the others adds no wrong outcome. Pure functions, except
``collect``, which asks the index.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..text.fold import fold
from .decide import FEATURES, Decision, ReadSpan


@dataclass(frozen=True)
class Row:
    """One span read for a calibration question."""

    features: tuple[float, ...]
    right: bool  # its sentence holds a reference answer
    rank: int  # its passage's place among the hits read


@dataclass(frozen=True)
class Asked:
    """One calibration question as asked once: with its own passage or without it."""

    group: str  # the article (cross-validation folds keep an article together)
    removed: bool
    rows: tuple[Row, ...]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 3000,
                 lr: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, scale, weights, bias) of an L2-regularised logistic regression on
    standardised features; plain gradient descent from zero, so it is deterministic."""
    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    w = np.zeros(z.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        w -= lr * (z.T @ (p - y) / len(y) + l2 * w)
        b -= lr * float((p - y).mean())
    return mean, scale, w, b


def outcome(asked: Asked, score: Callable[[Row], float], threshold: float,
            early_exit: float | None = None) -> tuple[bool, bool]:
    """(answered, right) for one asking under a decision."""
    if not asked.rows:
        return False, False
    first = [r for r in asked.rows if r.rank == 0]
    if early_exit is not None and first and score(first[0]) > early_exit:
        return True, first[0].right
    best = max(asked.rows, key=score)
    return (True, best.right) if score(best) > threshold else (False, False)


def figures(asked: Sequence[Asked], score: Callable[[Row], float], threshold: float,
            early_exit: float | None = None) -> dict:
    """Wrong outcomes and the issue's three figures for one decision."""
    wrong = answered_right = refused = removed_right = n_with = n_without = exited = 0
    for a in asked:
        answered, right = outcome(a, score, threshold, early_exit)
        first = [r for r in a.rows if r.rank == 0]
        exited += early_exit is not None and bool(first) and score(first[0]) > early_exit
        if a.removed:
            n_without += 1
            ok = not answered or right
            removed_right += ok
        else:
            n_with += 1
            ok = answered and right
            answered_right += ok
            refused += not answered
        wrong += not ok
    return {"wrong": wrong, "answer_has_reference": round(answered_right / max(1, n_with), 4),
            "answerable_refused": round(refused / max(1, n_with), 4),
            "own_passage_removed_right": round(removed_right / max(1, n_without), 4),
            "first_passage_only": round(exited / max(1, len(asked)), 4)}


def choose_threshold(asked: Sequence[Asked], score: Callable[[Row], float]) -> float:
    """The threshold with the fewest wrong outcomes (the lowest such, on a grid of the
    scores seen, and just below the lowest: answer everything)."""
    values = sorted({score(r) for a in asked for r in a.rows})
    if not values:
        return 0.0
    grid = [values[0] - 1e-6] + values[:: max(1, len(values) // 500)] + [values[-1]]
    return min(grid, key=lambda t: (figures(asked, score, t)["wrong"], t))


def choose_early_exit(asked: Sequence[Asked], score: Callable[[Row], float], threshold: float) -> float:
    """The lowest first-passage score above ``threshold`` at which stopping there adds no
    wrong outcome to reading every passage."""
    full = figures(asked, score, threshold)["wrong"]
    firsts = sorted({score(r) for a in asked for r in a.rows if r.rank == 0 and score(r) > threshold})
    for t in firsts:
        if figures(asked, score, threshold, t)["wrong"] <= full:
            return t
    return firsts[-1] if firsts else threshold


def fit_decision(asked: Sequence[Asked]) -> Decision:
    """The decision fitted on every span of ``asked``."""
    rows = [r for a in asked for r in a.rows]
    if not rows or len({r.right for r in rows}) < 2:
        raise ValueError("calibration needs spans that hold a reference answer and spans that do not")
    x = np.array([r.features for r in rows], float)
    y = np.array([1.0 if r.right else 0.0 for r in rows])
    mean, scale, w, b = fit_logistic(x, y)
    decision = Decision(tuple(map(float, w)), float(b), 0.0, tuple(map(float, mean)), tuple(map(float, scale)))
    threshold = choose_threshold(asked, _scorer(decision))
    decision = Decision(decision.weights, decision.bias, threshold, decision.mean, decision.scale)
    exit_ = choose_early_exit(asked, _scorer(decision), threshold)
    return Decision(decision.weights, decision.bias, threshold, decision.mean, decision.scale, exit_)


def _scorer(decision: Decision) -> Callable[[Row], float]:
    return lambda r: decision.score(r.features)


def cross_validate(asked: Sequence[Asked], folds: int = 5, seed: int = 0) -> dict:
    """Figures of the fitted decision and of the margin alone (its threshold chosen the
    same way) on articles left out of the fit, summed over ``folds`` folds."""
    groups = sorted({a.group for a in asked})
    random.Random(seed).shuffle(groups)
    out: dict[str, list[dict]] = {"decision": [], "margin_only": []}
    for k in range(folds):
        test = set(groups[k::folds])
        train = [a for a in asked if a.group not in test]
        held = [a for a in asked if a.group in test]
        if not train or not held:
            continue
        d = fit_decision(train)
        out["decision"].append(figures(held, _scorer(d), d.threshold, d.early_exit))
        margin = lambda r: r.features[0]  # noqa: E731
        out["margin_only"].append(figures(held, margin, choose_threshold(train, margin)))
    return {name: _pool(rs, asked) for name, rs in out.items()}


def _pool(results: list[dict], asked: Sequence[Asked]) -> dict:
    # Folds differ in size: weight each figure by its fold's questions.
    if not results:
        return {}
    return {"wrong": sum(r["wrong"] for r in results), "questions": len(asked) // 2,
            **{k: round(float(np.mean([r[k] for r in results])), 4) for k in results[0] if k != "wrong"}}


def holds_reference(sentence: str, answers: Iterable[str]) -> bool:
    """Whether a sentence holds one of the reference answers (after folding)."""
    s = fold(sentence)
    return any(a and fold(a) in s for a in answers)


def as_rows(spans: Sequence[ReadSpan], documents: dict, answers: Sequence[str]) -> tuple[Row, ...]:
    return tuple(Row(r.features, holds_reference(documents[r.doc_id].text[r.sentence[0]:r.sentence[1]], answers),
                     r.rank) for r in spans if len(r.features) == len(FEATURES))


def collect(idx, items, group_of: Callable[[object], str], progress: Callable[[], None] | None = None) -> list[Asked]:
    """Ask every item through ``idx.read_spans`` with its own passage and without it."""
    out = []
    for item in items:
        others = [d for d in idx.documents if d not in set(item.doc_ids)]
        for removed, doc_ids in ((False, None), (True, others)):
            spans = idx.read_spans(item.question, mode="hybrid", doc_ids=doc_ids)
            out.append(Asked(group_of(item), removed, as_rows(spans, idx.documents, item.answers)))
        if progress:
            progress()
    return out


def heldout_article_ids(path: Path, tag: str, held: set[str]) -> set[str]:
    """Passage ids of the held-out articles of one SQuAD-style file (``held`` holds
    ``f"{tag}-{article id}"``, as the training split names them)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    return {p["id"] for ai, art in enumerate(data) if f"{tag}-{art.get('id', ai)}" in held for p in art["paragraphs"]}
