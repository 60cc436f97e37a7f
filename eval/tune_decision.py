"""Choose the reader's answer decision on CMRC 2018 trial: python -m eval.tune_decision."""
import sys

from eval.harness.decision import main

if __name__ == "__main__":
    sys.exit(main())
