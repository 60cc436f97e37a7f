"""``python -m eval``: the evaluation harness and the benches, run from the repository root.

    python -m eval run --dataset eval/datasets/seeds_qa.jsonl --mode hybrid --gold-removed
    python -m eval run --dataset cmrc --mode hybrid --gold-removed
    python -m eval bench --skip-page
    python -m eval scale --sizes 10000,100000,1000000 [--json]

Research, not the product: this package is not installed with ``rag``; it shares the
command line's options and error handling (``rag.cli``).
"""
from __future__ import annotations

import argparse
import sys
import time

from rag.cli import command_parser, run, settings_from_args
from rag.settings import FUSIONS, MODES


def cmd_run(args: argparse.Namespace) -> int:
    from .harness.run import main_eval

    return main_eval(args, settings_from_args(args))


def cmd_bench(args: argparse.Namespace) -> int:
    from .harness.bench import main_bench

    return main_bench(args, settings_from_args(args))


def build_parser() -> argparse.ArgumentParser:
    p, common, sub = command_parser("python -m eval", "Measure the product: QA sets, claim sets, benches.")

    s = sub.add_parser("run", parents=[common], help="measure retrieval, answers and citations on a QA set")
    s.add_argument("--dataset", required=True, help="QA set (JSONL), or cmrc / cmrc-trad")
    s.add_argument("--corpus", help="corpus folder (built-in for cmrc datasets)")
    s.add_argument("--index", help="index folder (default: a cached one per corpus and model)")
    s.add_argument("--mode", default="all", choices=[*MODES, "all"])
    s.add_argument("--fusion", choices=FUSIONS)
    s.add_argument("--chunk-size", type=int)
    s.add_argument("--cmrc-file", help="path of cmrc2018_dev.json (default: eval/data or ../shared/benchmarks)")
    s.add_argument("--limit", type=int, help="only the first N questions")
    s.add_argument("--sample", type=int, help="a random sample of N questions (fixed seed)")
    s.add_argument("--gold-removed", action="store_true",
                   help="also ask each answerable question with its own passage left out (abstention)")
    s.add_argument("--reader-extra-gap", type=float,
                   help="answers may add the sentences of other passages within this reader margin of the best "
                        "(default 2.0; 0: one sentence)")
    s.add_argument("--skip-given-passage", action="store_true",
                   help="leave out the reader given each question's own passage (it depends on the weights only: "
                        "a change to the answer step does not move it)")
    s.add_argument("--risk-coverage", action="store_true",
                   help="also ask every question with abstention off (hybrid; reader and heuristics) and plot "
                        "accuracy against the share answered")
    s.add_argument("--out", help="report folder (report.json, report.md, plots; default: a new eval/runs/<dataset>-<time>/, ignored by git)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(func=cmd_run)

    sub.add_parser("scale", help="the retrieval legs at 10k, 100k and 1M chunks (python -m eval scale --help)")
    s = sub.add_parser("bench", parents=[common], help="speed, memory and scale benchmarks")
    s.add_argument("--out", default=f"eval/runs/bench-{time.strftime('%Y%m%d-%H%M%S')}.json",
                   help="where to write the figures (default: a new file under eval/runs/, ignored by git)")
    s.add_argument("--scale", default="10000,100000,1000000",
                   help="vector counts for the scale benchmark on uniform random vectors ('' to skip)")
    s.add_argument("--scale-clustered", default="10000,100000",
                   help="vector counts for the scale benchmark on clustered vectors ('' to skip)")
    s.add_argument("--backends", default="onnx,torch",
                   help="with the bundled model, the backends measured side by side (default onnx,torch)")
    s.add_argument("--skip-page", action="store_true", help="do not start the chat page to measure its memory")
    s.add_argument("--only-scale", action="store_true", help="run only the scale benchmarks (no model)")
    s.add_argument("--skip-cmrc", action="store_true")
    s.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["scale"]:  # its own options (eval/harness/scale.py)
        from .harness.scale import main as scale_main

        return scale_main(argv[1:])
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
