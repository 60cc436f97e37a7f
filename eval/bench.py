"""python -m eval.bench [--out FILE] [--scale 10000,100000,1000000] [--skip-cmrc]: same as `rag bench`."""
import sys

from rag.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
