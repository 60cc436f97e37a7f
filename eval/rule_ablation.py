"""What each hand-written check of the answer step gains, on held-out training data.

Every question of a training set (by default the held-out decision set,
``python -m eval.decision_set``) is asked through ``RagIndex.ask`` as shipped, with and
without its own passage, and again with one check switched off at a time:

- ``quantity``: a how-many question is not answered by a phrase without a number;
- ``instruction``: a sentence shaped like an instruction is never an answer;
- ``subject``: a sentence (with the three before it) about another company, place or
  year than the question's is not an answer;
- ``topic``: a passage whose article holds too little of the question's rarest words is
  not read;
- ``extra``: other passages whose span clears the decision within ``reader_extra_gap``
  of the best add their sentence to the answer (off: a gap of 0);
- ``qualifier``: a short answer keeps the qualifier of its figure ("约九成").

An asking is right when the answer's sentence holds a reference answer, or when it
abstains with its own passage removed (as the decision tuning counts). ``--near-miss``
asks instead each question with one of its names, places, organisations or years that its
passage holds swapped for another of the same kind that it does not hold
(``eval.reader_data.near_miss_negatives``, typed by jieba's part-of-speech tags, drawn with
a fixed seed): "腾讯" for "阿里巴巴", the near miss the subject checks are for; there only an
abstention is right. Reads are cached
per (question, passage), so the variants after the first cost little. A check earns its
place when switching it off loses right outcomes here, not on the seeds:

    python -m eval.rule_ablation [--near-miss] [--data DIR --file NAME] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence
from unittest import mock

from eval.decision_set import OUT as DECISION_SET
from eval.harness.runner import ROOT
from eval.harness.stop_margin import CachedReader, open_training_set

# Two more were measured on 2026-12-05 and removed, neither changing one outcome here
# (results/reader/heldout-decision/rule_ablation*.md): "measure" (a how-much question not
# answered by another measure: an area for a rent) and "names_another" (a sentence that
# itself names only another company).
CHECKS = ("quantity", "instruction", "subject", "topic", "extra", "qualifier")


def _switched_off(check: str | None) -> ExitStack:
    """A context in which ``check`` (one of CHECKS but "topic" and "extra", which are
    settings) does not apply."""
    from rag.reader import decide

    stack = ExitStack()
    patches = {"quantity": [("asks_quantity", lambda q: False)],
               "instruction": [("is_instruction", lambda s: False)],
               "subject": [("subject_conflict", lambda q, w: False)],
               "qualifier": [("_qualifier_before", lambda text, start, question: 0)]}.get(check or "", [])
    for name, fn in patches:
        stack.enter_context(mock.patch.object(decide, name, fn))
    return stack


def summarise(outcomes: Sequence[tuple]) -> dict:
    """Figures of (removed, abstained, holds a reference, short F1, short EM, sentences
    quoted, of them without a reference) askings (pure)."""
    kept = [o for o in outcomes if not o[0]]
    removed = [o for o in outcomes if o[0]]
    answered = [o for o in kept if not o[1]]
    quoted = sum(o[5] for o in answered)
    right = sum(1 for r, ab, holds, *_ in outcomes if (not ab and holds) or (r and ab))
    return {"right_outcomes": right,
            "answer_has_reference": round(sum(1 for o in kept if not o[1] and o[2]) / max(1, len(kept)), 4),
            "refused": round(sum(1 for o in kept if o[1]) / max(1, len(kept)), 4),
            "own_removed_right": round(sum(1 for o in removed if o[1] or o[2]) / max(1, len(removed)), 4),
            "short_f1": round(100 * sum(o[3] for o in kept) / max(1, len(kept)), 2),
            "short_em": round(100 * sum(o[4] for o in kept) / max(1, len(kept)), 2),
            "sentences_per_answer": round(quoted / max(1, len(answered)), 3),
            "sentences_without_reference": round(sum(o[6] for o in answered) / max(1, quoted), 4)}


def _quoted(record: dict, answers: Sequence[str]) -> tuple[int, int]:
    """(sentences the answer quotes, of them holding no reference answer) of one asking."""
    from eval.harness import metrics as M

    quotes = list(dict.fromkeys(c["quote"] for c in record["citations"]))
    return len(quotes), sum(1 for q in quotes if not M.answer_contains(q, answers))


def near_misses(idx, items: Sequence) -> list:
    """Unanswerable variants of ``items`` (one typed name or year swapped; see the module
    doc), each named after the question it comes from."""
    import random

    from rag.text.fold import fold
    from eval.harness.datasets import QAItem
    from eval.reader_data import SEED, Example, near_miss_negatives

    examples = [Example(item.id, fold(item.question, "simplified"),
                        fold(idx.documents[item.doc_ids[0]].text, "simplified"), None, item.answers) for item in items]
    swapped = near_miss_negatives(examples, random.Random(SEED), share=1.0)
    return [QAItem(f"{e.article}-near-miss", e.question, (), ()) for e in swapped]


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from rag.api import RagIndex
    from eval.harness.runner import ask_one

    p = argparse.ArgumentParser(description="What each check of the answer step gains, on held-out training data.")
    p.add_argument("--data", default=str(DECISION_SET.parent))
    p.add_argument("--file", default=DECISION_SET.name, help="a training set (never cmrc2018_dev.json)")
    p.add_argument("--cache-dir")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--checks", nargs="+", choices=CHECKS, help="only these checks (default: all)")
    p.add_argument("--near-miss", action="store_true", help="ask near-miss variants instead (only abstaining is right)")
    p.add_argument("--out", default=str(ROOT / "eval" / "results" / "reader" / "heldout-decision" / "rule_ablation.json"))
    args = p.parse_args(argv)
    opened = open_training_set(args, "the checks' ablation")
    if opened is None:
        return 2
    idx, items = opened
    if args.near_miss:
        items = near_misses(idx, items)
    reader = CachedReader(idx.reader)
    askings = (False,) if args.near_miss else (False, True)  # True: its own passage removed
    rows = []
    for check in (None, *(args.checks or CHECKS)):
        settings = (idx.settings.with_(reader_min_topic=None) if check == "topic"
                    else idx.settings.with_(reader_extra_gap=0.0) if check == "extra" else idx.settings)
        asker = RagIndex(idx.loaded, idx.embedder, settings, reader)
        outcomes = []
        with _switched_off(check), tqdm(total=len(items), desc=check or "shipped", unit="q", file=sys.stderr) as bar:
            for item in items:
                for removed in askings:
                    r = ask_one(asker, item, "hybrid", exclude_gold=removed)
                    outcomes.append((removed, bool(r["abstained"]), r["answer_contains"] > 0, r["short_f1"] or 0.0,
                                     r["short_em"] or 0.0, *_quoted(r, item.answers)))
                bar.update(1)
        rows.append({"off": check or "none (shipped)"} | (
            {"near_misses": len(outcomes), "abstained": sum(o[1] for o in outcomes)} if args.near_miss
            else summarise(outcomes)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"set": args.file, "questions": len(items), "reader": idx.reader.name, "rows": rows},
                              ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.near_miss:
        print("| check switched off | near misses abstained |\n|---|---|")
        for r in rows:
            print(f"| {r['off']} | {r['abstained']} of {r['near_misses']} |")
    else:
        print("| check switched off | right outcomes | answer has reference | refused | own passage removed: right "
              "| short EM / F1 | sentences per answer | of them without a reference |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['off']} | {r['right_outcomes']} | {r['answer_has_reference']:.4f} | {r['refused']:.4f} | "
                  f"{r['own_removed_right']:.4f} | {r['short_em']:.2f} / {r['short_f1']:.2f} | "
                  f"{r['sentences_per_answer']:.3f} | {r['sentences_without_reference']:.4f} |")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
