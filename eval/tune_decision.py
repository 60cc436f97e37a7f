"""Choose the reader's answer decision on a training set: python -m eval.tune_decision (see eval/README.md)."""
import sys

from eval.harness.decision import main

if __name__ == "__main__":
    sys.exit(main())
