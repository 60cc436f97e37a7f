"""Choose the reader's topic check (``Settings.reader_min_topic``) on a training set.

A span counts only when its document holds at least ``min_topic`` of the question's idf
weight (``rag.reader.decide.topic_coverage``). Every question of the set is asked, for
each candidate share, through the real pipeline twice: over the whole corpus, and with
its own passage filtered out (the corpus then cannot answer it, unless another passage
holds a reference answer). The reads are cached per (question, passage), so only the
first candidate pays for the reader. The choice: the share with the most right
outcomes over both askings (an answer holding a reference answer; an abstention, or an
answer holding a reference, with the passage removed), the smallest share on a tie:
python -m eval.tune_topic_check.
"""
from __future__ import annotations

import sys
from typing import Sequence

from .datasets import QAItem
from .stop_margin import CachedReader, open_training_set, training_set_parser, write_choice

CANDIDATES: tuple[float | None, ...] = (None, *(x / 20 for x in range(1, 13)))  # off, 0.05, ..., 0.60


def row(min_topic: float | None, with_passage: Sequence[dict], without: Sequence[dict]) -> dict:
    """The figures of one candidate from the evaluation's per-question records (pure)."""
    n, m = max(1, len(with_passage)), max(1, len(without))
    has = sum(1 for r in with_passage if not r["abstained"] and r["answer_contains"] > 0)
    refused = sum(1 for r in with_passage if r["abstained"])
    right = sum(1 for r in without if r["abstained"] or r["answer_contains"] > 0)
    return {"min_topic": min_topic, "answer_has_reference": round(has / n, 4), "refused": round(refused / n, 4),
            "own_removed_right": round(right / m, 4),
            "short_f1": round(100 * sum(r["short_f1"] or 0.0 for r in with_passage) / n, 2),
            "right_outcomes": has + right}


def choose(rows: Sequence[dict]) -> dict:
    """The candidate with the most right outcomes over both askings; on a tie the smallest
    share (off counts as the smallest): the check should not drop more than it gains."""
    def key(r: dict) -> tuple[int, float]:
        return (r["right_outcomes"], -(r["min_topic"] if r["min_topic"] is not None else -1.0))

    return max(rows, key=key)


def ask_grid(idx, items: Sequence[QAItem], candidates: Sequence[float | None] = CANDIDATES,
             progress=None) -> list[dict]:
    """One row per candidate (see ``row``), every item asked with and without its passage."""
    from ..api import RagIndex
    from .runner import ask_one

    reader = CachedReader(idx.reader)
    rows = []
    for c in candidates:
        ask = RagIndex(idx.loaded, idx.embedder, idx.settings.with_(reader_min_topic=c), reader)
        with_passage, without = [], []
        for item in items:
            with_passage.append(ask_one(ask, item, "hybrid"))
            without.append(ask_one(ask, item, "hybrid", exclude_gold=True))
            if progress:
                progress()
        rows.append(row(c, with_passage, without))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = training_set_parser("Choose the reader's topic check on CMRC 2018 trial.", "topic_check.json")
    p.add_argument("--limit", type=int, default=0, help="the first N questions only (0: all)")
    args = p.parse_args(argv)
    opened = open_training_set(args, "the topic check")
    if opened is None:
        return 2
    idx, items = opened
    items = items[: args.limit] if args.limit else items
    from tqdm import tqdm

    with tqdm(total=len(items) * len(CANDIDATES), desc="askings", unit="q", file=sys.stderr) as bar:
        rows = ask_grid(idx, items, progress=lambda: bar.update(1))
    chosen = choose(rows)
    out = write_choice(args, idx, items, {
        "stop_margin": idx.settings.reader_stop_margin,
        "rule": "the most right outcomes with and without the passage; the smallest on a tie",
        "chosen": chosen, "table": rows})
    print("| min topic | answer has reference | refused | own passage removed: right | short F1 | right outcomes |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        mark = " ← chosen" if r is chosen else ""
        print(f"| {r['min_topic'] if r['min_topic'] is not None else 'off'}{mark} | {r['answer_has_reference']:.4f} | "
              f"{r['refused']:.4f} | {r['own_removed_right']:.4f} | {r['short_f1']:.1f} | {r['right_outcomes']} |")
    print(f"wrote {out}", file=sys.stderr)
    return 0
