"""Compare the answers of two runs of the harness question by question:

    python -m eval.compare_runs eval/runs/A/report.json eval/runs/B/report.json [--mode hybrid]

Two answers are the same when their text, abstention, short answer (text and offsets)
and citations (chunk, offsets, quote) are identical. Prints each difference and a count;
exits 1 when any answer differs (a refactoring that must not change behaviour).

``--text-only`` compares what a reader reads, not where it lies: the answer, abstention,
short answer and quoted sentences, without chunk ids and offsets (the same articles read
from another format: ``docs/ingest.md``)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def answer_key(row: dict) -> tuple:
    """What must not change: the answer as a reader sees it, with its citations and offsets."""
    short = row.get("short_answer") or {}
    cits = tuple((c.get("chunk_id"), c.get("start"), c.get("end"), c.get("quote")) for c in row.get("citations", []))
    return (row.get("answer"), row.get("abstained"), short.get("text") if isinstance(short, dict) else short,
            short.get("start") if isinstance(short, dict) else None, cits)


def text_key(row: dict) -> tuple:
    """The answer as a reader reads it: its text, abstention, short answer and quotes."""
    short = row.get("short_answer") or {}
    return (row.get("answer"), row.get("abstained"), short.get("text") if isinstance(short, dict) else short,
            tuple(c.get("quote") for c in row.get("citations", [])))


def rows(report: dict, mode: str) -> dict[str, dict]:
    out = {}
    for row in report["questions"][mode]:
        key = row["id"] + (" (gold removed)" if row.get("gold_removed") else "")
        out[key] = row
    return out


def compare(a: dict, b: dict, mode: str, key=answer_key) -> list[str]:
    """The ids of the questions both runs asked whose answers differ."""
    ra, rb = rows(a, mode), rows(b, mode)
    return sorted(k for k in ra.keys() & rb.keys() if key(ra[k]) != key(rb[k]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.compare_runs", description=__doc__.split("\n\n")[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--mode", default="hybrid")
    p.add_argument("--text-only", action="store_true",
                   help="compare answers, short answers and quotes, not chunk ids and offsets")
    args = p.parse_args(argv)
    a, b = (json.loads(Path(f).read_text(encoding="utf-8")) for f in (args.before, args.after))
    diff = compare(a, b, args.mode, text_key if args.text_only else answer_key)
    ra, rb = rows(a, args.mode), rows(b, args.mode)
    for k in diff:
        print(f"{k}:\n  before: {ra.get(k, {}).get('answer')!r}\n  after:  {rb.get(k, {}).get('answer')!r}")
    both = ra.keys() & rb.keys()
    only = len(ra.keys() | rb.keys()) - len(both)
    print(f"{len(both) - len(diff)} of {len(both)} answers identical ({args.mode}); {len(diff)} differ"
          + (f"; {only} asked in one run only (not compared)" if only else ""))
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
