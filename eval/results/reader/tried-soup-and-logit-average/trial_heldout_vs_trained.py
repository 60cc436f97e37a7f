"""Is the decision chosen on CMRC trial skewed by questions the reader was trained on?
Asks a training set's questions as ``python -m eval.tune_decision`` does, only those of the
recipe's held-out articles ("held") or only trained-on ones ("trained", a sample), and
prints the shipped rule's figures and the table of rules (tried 2026-12-04; README).

    python eval/results/reader/tried-soup-and-logit-average/trial_heldout_vs_trained.py held
    python eval/results/reader/tried-soup-and-logit-average/trial_heldout_vs_trained.py trained --sample 150
"""
import argparse
import json
import random
from pathlib import Path

from eval.harness.decision import WEIGHTS, ask_all, best_threshold, choose, row
from eval.harness.stop_margin import open_training_set
import eval.train_reader as recipe


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("which", choices=("held", "trained"))
    p.add_argument("--file", default=recipe.DATA_FILES[0], choices=recipe.DATA_FILES)
    p.add_argument("--data", type=Path, default=Path("../shared/benchmarks"))
    p.add_argument("--cache-dir", default=".cache/models")
    p.add_argument("--sample", type=int, default=0)
    args = p.parse_args()
    held, tag = recipe.heldout_split(args.data)[0], dict(zip(recipe.DATA_FILES, recipe.DATA_TAGS))[args.file]
    raw = json.loads((args.data / args.file).read_text(encoding="utf-8"))["data"]
    ids = {qa["id"] for ai, a in enumerate(raw) if (f"{tag}-{a.get('id', ai)}" in held) == (args.which == "held")
           for para in a["paragraphs"] for qa in para["qas"]}
    opened = open_training_set(argparse.Namespace(data=str(args.data), file=args.file, cache_dir=args.cache_dir,
                                                  limit=0, out=""), "the answer decision")
    if opened is None:
        raise SystemExit(2)
    idx, items = opened
    items = [i for i in items if i.id in ids]
    if args.sample:
        items = random.Random(1).sample(items, min(len(items), args.sample))
    asked = ask_all(idx, items)
    print(args.file, args.which, len(items))
    rule = idx.reader.decision
    print(f"shipped rule ({rule.retrieval_weight:g}, {rule.threshold}):", row(asked, rule.retrieval_weight, rule.threshold))
    rows = [best_threshold(asked, w) for w in WEIGHTS]
    for r in rows:
        print(r)
    print("chosen:", choose(rows))


if __name__ == "__main__":
    main()
