"""The article filter set to the article that answers (issue 33): each answerable question
asked over the whole index and again with ``doc_ids=[its gold article]``; prints the answer
holds a reference and answerable refused for both (a filter should not make the product
refuse what it answers unfiltered).

    python -m eval.gold_filter --dataset eval/datasets/seeds_qa.jsonl
    python -m eval.gold_filter --dataset cmrc --sample 400
"""
from __future__ import annotations

import argparse
import json
import random
import sys

from rag.cli import common_options, settings_from_args

from .harness import metrics as M
from .harness.run import open_dataset_index, prepare


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.gold_filter", parents=[common_options()],
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--corpus")
    p.add_argument("--index")
    p.add_argument("--cmrc-file")
    p.add_argument("--sample", type=int, help="a seeded sample of N answerable questions")
    p.add_argument("--out", help="a JSON file for the figures and every question")
    args = p.parse_args(argv)
    settings = settings_from_args(args)
    items, corpus, name = prepare(args)
    idx, _ = open_dataset_index(args, name, corpus, settings)
    items = [i for i in items if i.answerable and len(i.doc_ids) == 1 and i.doc_ids[0] in idx.documents]
    if args.sample and args.sample < len(items):
        items = random.Random(20261205).sample(items, args.sample)
    rows = []
    for item in items:
        row = {"id": item.id}
        for key, doc_ids in (("whole", None), ("gold_filter", [item.doc_ids[0]])):
            a = idx.ask(item.question, mode="hybrid", doc_ids=doc_ids)
            row[key] = {"abstained": a.abstained, "holds": bool(not a.abstained and M.answer_contains(a.answer, item.answers)),
                        "reason": a.reason}
        rows.append(row)
    n = max(1, len(rows))
    figures = {key: {"answer_holds_reference": round(sum(r[key]["holds"] for r in rows) / n, 4),
                     "answerable_refused": round(sum(r[key]["abstained"] for r in rows) / n, 4)}
               for key in ("whole", "gold_filter")}
    figures["questions"] = len(rows)
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump({"figures": figures, "rows": rows}, fh, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
