"""Choose the reader's topic check on CMRC 2018 trial: python -m eval.tune_topic_check."""
import sys

from eval.harness.topic_check import main

if __name__ == "__main__":
    sys.exit(main())
