"""Reproduce the shipped reader weights: python -m eval.train_reader (1500 steps with bfloat16 autocast, seed 20261124)."""
import sys

from rag.reader.train import main

if __name__ == "__main__":
    sys.exit(main())
