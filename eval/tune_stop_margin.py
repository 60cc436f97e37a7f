"""Choose the reader's early stop margin on CMRC 2018 trial: python -m eval.tune_stop_margin."""
import sys

from eval.harness.stop_margin import main

if __name__ == "__main__":
    sys.exit(main())
