"""Write the held-out decision set: the passages of the CMRC 2018 train articles that the
``--with-cmrc-train`` recipe held out, with their questions, and other CMRC 2018 train
passages (drawn with a fixed seed, no questions) up to the benchmark corpus's size (848).

Neither reader was trained on those questions (the shipped reader never read CMRC 2018
train; the one trained with it held these articles out), so a decision chosen on them is
chosen on held-out training data, for either reader, over a corpus of CMRC's own kind and
the benchmark's size (so a question without its own passage meets as many plausible
others as there). CMRC 2018 dev is never read.

    python -m eval.decision_set [--out eval/results/cache/heldout/cmrc2018_train_heldout.json]
    python -m eval.tune_decision --data eval/results/cache/heldout --file cmrc2018_train_heldout.json
"""
from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from pathlib import Path

from eval.reader_data import HOLDOUT, SEED, TRAIN_FILE, TRAIN_TAG, heldout_split
from eval.harness.runner import ROOT

CORPUS_SIZE = 848  # passages of CMRC 2018 dev, the benchmark's corpus
# Where the set is written (and where the tunings that use it look by default).
OUT = ROOT / "eval" / "results" / "cache" / "heldout" / "cmrc2018_train_heldout.json"


def heldout_file(data: dict, held: set[str], size: int = CORPUS_SIZE, tag: str = TRAIN_TAG,
                 seed: int = SEED) -> dict:
    """``data`` (SQuAD-style) cut to the ``held`` articles with their questions and other
    articles, drawn with ``seed``, without their questions, ``size`` in all (articles are
    named "<tag>-<id or place>", as the recipe names them). Pure."""
    names = [f"{tag}-{article.get('id', ai)}" for ai, article in enumerate(data["data"])]
    others = [i for i, n in enumerate(names) if n not in held]
    keep = {i for i, n in enumerate(names) if n in held}
    keep |= set(random.Random(seed).sample(others, max(0, min(len(others), size - len(keep)))))
    out = {"data": []}
    for i in sorted(keep):
        article = copy.deepcopy(data["data"][i])
        if names[i] not in held:
            for para in article["paragraphs"]:
                para["qas"] = []
        out["data"].append(article)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "benchmarks"))
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    data = Path(args.data)
    # The recipe's default share: what the --with-cmrc-train reader was trained with.
    held, _ = heldout_split(data, HOLDOUT, with_cmrc_train=True)
    source = json.loads((data / TRAIN_FILE).read_text(encoding="utf-8"))
    written = heldout_file(source, held)
    questions = sum(len(p["qas"]) for a in written["data"] for p in a["paragraphs"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(written, ensure_ascii=False) + "\n", encoding="utf-8")
    articles = sum(1 for a in held if a.startswith(TRAIN_TAG + "-"))
    print(f"wrote {out}: {len(written['data'])} passages, {questions} questions of {articles} held-out articles",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
