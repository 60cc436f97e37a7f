"""Speed of the claim check on an index: p50, p95 and max seconds per claim, over a claim
set (the first check, which loads the tagger, is timed apart).

    python -m eval.bench_claims --index index --claims eval/datasets/seeds_claims.jsonl
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from rag.api import open_index
from eval.harness.claims import load_claims


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", default="index")
    p.add_argument("--claims", default="eval/datasets/seeds_claims.jsonl")
    args = p.parse_args(argv)
    idx = open_index(args.index)
    items = load_claims(Path(args.claims))
    t = time.perf_counter()
    idx.check_claim(items[0].claim)
    first = time.perf_counter() - t
    times = []
    for it in items:
        t = time.perf_counter()
        idx.check_claim(it.claim)
        times.append(time.perf_counter() - t)
    times.sort()
    out = {"claims": len(times), "first_s": round(first, 3), "p50_s": round(statistics.median(times), 3),
           "p95_s": round(times[int(0.95 * (len(times) - 1))], 3), "max_s": round(times[-1], 3)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
