"""Retrieval, answer and citation metrics: pure functions over small lists."""
from __future__ import annotations

import math
from typing import Iterable, Sequence

from rag.text.fold import fold


def dedupe(ranked: Iterable[str]) -> list[str]:
    """Document ids in first-seen order (chunk hits -> document ranking)."""
    seen: set[str] = set()
    out = []
    for d in ranked:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def hit_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1.0 when a gold document is among the first ``k``; 0.0 otherwise (and for no gold)."""
    gold = set(gold)
    return 1.0 if gold and any(d in gold for d in ranked[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str], k: int = 10) -> float:
    gold = set(gold)
    for i, d in enumerate(ranked[:k], start=1):
        if d in gold:
            return 1.0 / i
    return 0.0


def recall_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Share of the gold documents found among the first ``k``."""
    gold = set(gold)
    if not gold:
        return 0.0
    return len(gold & set(ranked[:k])) / len(gold)


def ndcg_at_k(ranked: Sequence[str], gold: Iterable[str], k: int = 10) -> float:
    """Binary-relevance nDCG; a document counts once (rank lists should be deduped)."""
    gold = set(gold)
    if not gold:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, d in enumerate(ranked[:k], start=1) if d in gold)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def answer_contains(answer: str, golds: Iterable[str]) -> float:
    """1.0 when the answer contains any gold string, after script and width folding."""
    a = fold(answer).replace(" ", "")
    return 1.0 if any(fold(g).replace(" ", "") in a for g in golds if g.strip()) else 0.0


def citation_precision(cited_docs: Sequence[str], gold: Iterable[str]) -> float | None:
    """Share of cited chunks that belong to a gold document; None when nothing is cited."""
    if not cited_docs:
        return None
    gold = set(gold)
    return sum(1 for d in cited_docs if d in gold) / len(cited_docs)


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    v = sorted(values)
    pos = (len(v) - 1) * p / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _answer_chars(text: str) -> list[str]:
    return [c for c in fold(text) if c.isalnum()]  # either script, either width


def char_f1(prediction: str, references: Iterable[str]) -> float:
    """CMRC 2018's character-level F1 against the best reference (punctuation and
    spaces removed, scripts and widths folded); 0.0 for an empty prediction."""
    best = 0.0
    p = _answer_chars(prediction)
    for ref in references:
        r = _answer_chars(ref)
        if not p or not r:
            best = max(best, float(p == r))
            continue
        common = sum(min(p.count(c), r.count(c)) for c in set(p))
        if common:
            prec, rec = common / len(p), common / len(r)
            best = max(best, 2 * prec * rec / (prec + rec))
    return best


def exact_match(prediction: str, references: Iterable[str]) -> float:
    """1.0 when the prediction equals a reference (punctuation and spaces removed)."""
    p = _answer_chars(prediction)
    return float(bool(p) and any(p == _answer_chars(r) for r in references))


def risk_coverage(scored: Iterable[tuple[float, bool]]) -> list[tuple[float, float, float]]:
    """(coverage, accuracy of the answered, threshold) for every threshold on the
    confidence: answering the questions whose confidence is above it. ``scored`` holds
    each question's (confidence, answer right). Most confident first; ties move together."""
    items = sorted(scored, key=lambda x: -x[0])
    n = len(items)
    out: list[tuple[float, float, float]] = []
    right = 0
    for i, (conf, ok) in enumerate(items):
        right += bool(ok)
        if i + 1 < n and items[i + 1][0] == conf:
            continue
        out.append(((i + 1) / n, right / (i + 1), conf))
    return out
