"""Choose the fusion of the two legs on the training sets: python -m eval.tune_fusion."""
import sys

from eval.harness.fusion import main

if __name__ == "__main__":
    sys.exit(main())
