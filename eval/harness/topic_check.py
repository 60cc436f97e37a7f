"""Choose the reader's topic check (``Settings.reading.min_topic``) on a training set.

A passage is read only when its document holds at least ``min_topic`` of the idf weight
of the question's words (``rag.reader.decide.topic_coverage``): all its content words, or
only its ``topic_terms`` rarest ones (its names), their rarity counted in chunks (the
keyword index) or in articles (``Settings.reading.topic_terms``, ``reader_topic_idf``).
Every question of the set is asked, for each candidate, through the real pipeline twice:
over the whole corpus, and with its own passage filtered out (the corpus then cannot
answer it, unless another passage holds a reference answer). The reads are cached per
(question, passage), so only the first candidate pays for the reader. The choice: the
candidate with the most right outcomes over both askings (an answer holding a reference
answer; an abstention, or an answer holding a reference, with the passage removed); on a
tie the one that refuses fewer answerable questions, then the smallest share:
python -m eval.tune_topic_check.
"""
from __future__ import annotations

import sys
from typing import Sequence

from .datasets import QAItem
from .stop_margin import CachedReader, open_training_set, training_set_parser, write_choice

# (words weighed, share, how rarity is counted): off; all the question's words, or its 2
# or 3 rarest, with the keyword index's idf (chunks); its 2 or 3 rarest counted in articles.
CANDIDATES: tuple[tuple[int | None, float | None, str], ...] = (
    (None, None, "chunks"),
    *((terms, x / 10, "chunks") for terms in (None, 3, 2) for x in range(3, 8)),  # 0.3, ..., 0.7
    *((terms, x / 10, "articles") for terms in (3, 2) for x in range(3, 8)),
)


def row(min_topic: float | None, with_passage: Sequence[dict], without: Sequence[dict],
        topic_terms: int | None = None, topic_idf: str = "chunks") -> dict:
    """The figures of one candidate from the evaluation's per-question records (pure)."""
    n, m = max(1, len(with_passage)), max(1, len(without))
    has = sum(1 for r in with_passage if not r["abstained"] and r["answer_contains"] > 0)
    refused = sum(1 for r in with_passage if r["abstained"])
    right = sum(1 for r in without if r["abstained"] or r["answer_contains"] > 0)
    return {"min_topic": min_topic, "topic_terms": topic_terms, "topic_idf": topic_idf,
            "answer_has_reference": round(has / n, 4), "refused": round(refused / n, 4),
            "own_removed_right": round(right / m, 4),
            "short_f1": round(100 * sum(r["short_f1"] or 0.0 for r in with_passage) / n, 2),
            "right_outcomes": has + right}


def choose(rows: Sequence[dict]) -> dict:
    """The candidate with the most right outcomes over both askings; on a tie the one that
    refuses fewer answerable questions, then the smallest share (off counts as the
    smallest): the check should not drop more than it gains."""
    def key(r: dict) -> tuple[int, float, float]:
        return (r["right_outcomes"], -r["refused"], -(r["min_topic"] if r["min_topic"] is not None else -1.0))

    return max(rows, key=key)


def ask_grid(idx, items: Sequence[QAItem],
             candidates: Sequence[tuple[int | None, float | None, str]] = CANDIDATES, progress=None) -> list[dict]:
    """One row per (words weighed, share, rarity) candidate (see ``row``), every item asked
    with and without its passage."""
    from rag.api import RagIndex
    from .runner import ask_one

    reader = CachedReader(idx.reader)
    rows = []
    for terms, c, rarity in candidates:
        ask = RagIndex(idx.loaded, idx.embedder,
                       idx.settings.with_(reader_min_topic=c, reader_topic_terms=terms, reader_topic_idf=rarity), reader)
        with_passage, without = [], []
        for item in items:
            with_passage.append(ask_one(ask, item, "hybrid"))
            without.append(ask_one(ask, item, "hybrid", exclude_gold=True))
            if progress:
                progress()
        rows.append(row(c, with_passage, without, terms, rarity))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = training_set_parser("Choose the reader's topic check on CMRC 2018 trial.", "topic_check.json")
    args = p.parse_args(argv)
    opened = open_training_set(args, "the topic check")
    if opened is None:
        return 2
    idx, items = opened
    from tqdm import tqdm

    with tqdm(total=len(items) * len(CANDIDATES), desc="askings", unit="q", file=sys.stderr) as bar:
        rows = ask_grid(idx, items, progress=lambda: bar.update(1))
    chosen = choose(rows)
    out = write_choice(args, idx, items, {
        "stop_margin": idx.stop_margin(),
        "rule": "the most right outcomes with and without the passage; on a tie the fewest refused, "
                "then the smallest share",
        "chosen": chosen, "table": rows})
    print("| words weighed | min topic | answer has reference | refused | own passage removed: right | short F1 "
          "| right outcomes |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        mark = " ← chosen" if r is chosen else ""
        words = "–" if r["min_topic"] is None else "all" if r["topic_terms"] is None else \
            f"{r['topic_terms']} rarest" + (" in articles" if r["topic_idf"] == "articles" else "")
        print(f"| {words} | {r['min_topic'] if r['min_topic'] is not None else 'off'}{mark} | "
              f"{r['answer_has_reference']:.4f} | "
              f"{r['refused']:.4f} | {r['own_removed_right']:.4f} | {r['short_f1']:.1f} | {r['right_outcomes']} |")
    print(f"wrote {out}", file=sys.stderr)
    return 0
