"""A build of N chunks stopped half-way, then run again: how many passages the second run
embeds (only the missing ones) and how long each took. Fake embedder (no model), so it
measures the build's own bookkeeping: ``python -m eval.resume_check --chunks 100000``."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rag.embedding.fake import HashingEmbedder
from rag.index import build_index, checkpoint
from rag.settings import Settings


class Stopping(HashingEmbedder):
    """Embeds ``allow`` passages, then is stopped (Ctrl-C) in the middle of a batch."""

    def __init__(self, allow: int) -> None:
        super().__init__()
        self.allow, self.embedded = allow, 0

    def embed_passages(self, texts, progress=None):
        if self.embedded + len(texts) > self.allow:
            raise KeyboardInterrupt  # what Ctrl-C raises
        self.embedded += len(texts)
        return super().embed_passages(texts, progress)


class Counting(HashingEmbedder):
    """Counts the passages it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed_passages(self, texts, progress=None):
        self.embedded += len(texts)
        return super().embed_passages(texts, progress)


def corpus(folder: Path, chunks: int) -> None:
    """About ``chunks`` chunks: articles of ten paragraphs (about fifteen chunks each)."""
    folder.mkdir()
    para = "香港科技園公司第{i}篇報道指出，園區在{y}年新增了{n}家初創企業，並計劃擴建{k}萬平方米的研發空間。"
    for d in range(max(1, chunks // 15)):
        text = "\n\n".join(para.format(i=d, y=2000 + p, n=d * p % 997, k=p) * 6 for p in range(10))
        (folder / f"a{d:06d}.txt").write_text(f"報道{d}\n\n{text}\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.resume_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=100_000)
    args = p.parse_args(argv)
    settings = Settings(model="fake", min_dense_score=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "corpus", Path(tmp) / "index"
        corpus(src, args.chunks)
        t = time.perf_counter()
        stop = Stopping(allow=args.chunks // 2)
        try:
            build_index(src, out, settings, stop)
        except KeyboardInterrupt:
            pass
        first = time.perf_counter() - t
        kept = len(checkpoint.load(out))
        t = time.perf_counter()
        again = Counting()
        report = build_index(src, out, settings, again)
        second = time.perf_counter() - t
        print(f"{report.chunks:,} chunks: stopped after embedding {stop.embedded:,} ({first:.0f} s), "
              f"{kept:,} kept in the checkpoint; run again: embedded {again.embedded:,} "
              f"(= {report.chunks:,} - {kept:,}: {again.embedded == report.chunks - kept}) in {second:.0f} s; "
              f"checkpoint removed: {not checkpoint.folder_of(out).exists()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
