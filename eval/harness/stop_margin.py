"""Choose the reader's early stop (``Settings.reading.stop_margin``) on a training set.

The product reads the best hit first and the other passages only when the first
passage's lead (its span's margin, plus the combined decision's weight times how far
its passage stands out in retrieval: ``rag.reader.decide.stop_lead``) is below the
stop margin. Every question of the set is asked twice through the real pipeline:
reading all passages, and stopping after the first whenever it has a usable span. The
reads are cached per (question, passage), so the second asking costs nothing. For each
candidate margin a question's outcome is the first asking's below it and the second's
at or above it, which is exactly what the product does with that setting. With
``--with-removed`` each answerable question is also asked without its own passage
(another passage's span could still have cleared the threshold the first one missed,
had it been read). The choice: the smallest margin from which on no question's answer
(whether it abstains, the sentence it quotes first, its short answer) changes; the stop
is for speed and should not change answers. Sentences that the other passages would have
added (``reader_extra_gap``) are lost where it stops; they are counted in the table
(``changed``, answer has reference): python -m eval.tune_stop_margin.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .datasets import QAItem

CANDIDATES = tuple(x / 2 for x in range(0, 61))  # 0.0, 0.5, ..., 30.0
RULE = "the smallest margin from which on no answer changes (sentences added by other passages may be lost)"


@dataclass(frozen=True)
class Asked:
    """One question's outcome with every passage read, and stopping after the first."""

    first_margin: float | None  # the best hit's lead (rag.reader.decide.stop_lead; None: no usable span there)
    full: tuple[bool, bool, float, float]  # abstained, answer holds a reference, short EM, short F1
    first: tuple[bool, bool, float, float]
    asking: str = ""  # the question's id ("-removed": asked without its own passage)
    # The answer itself is the same either way (abstention, its first quoted sentence, its
    # short answer); only sentences other passages add (reader_extra_gap) differ.
    only_extras: bool = False


class CachedReader:
    """A reader whose reads are remembered per (question, passage), otherwise the reader it
    wraps (its decision, answer caps and manifest are forwarded: the tunings ask with the
    shipped decision, not with the margin alone)."""

    def __init__(self, reader) -> None:
        self._reader, self.name, self.threshold = reader, reader.name, reader.threshold
        self._memo: dict[tuple[str, str], object] = {}

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "_reader":
            raise AttributeError(name)
        return getattr(self._reader, name)

    def read(self, question: str, passages: Sequence[str]):
        todo = [p for p in dict.fromkeys(passages) if (question, p) not in self._memo]
        if todo:
            for p, span in zip(todo, self._reader.read(question, todo)):
                self._memo[(question, p)] = span
        return [self._memo[(question, p)] for p in passages]


def outcome(record: dict) -> tuple[bool, bool, float, float]:
    """(abstained, answer holds a reference answer, short EM, short F1) of one answer, from
    the evaluation's per-question record (``runner.ask_one``)."""
    return (bool(record["abstained"]), record["answer_contains"] > 0, record["short_em"] or 0.0,
            record["short_f1"] or 0.0)


def own_answer(record: dict) -> tuple:
    """What the answer itself is, from the per-question record: whether it abstained, its
    first quoted sentence, its short answer (not the sentences other passages add)."""
    first = record["citations"][0] if record["citations"] else None
    return (bool(record["abstained"]), (first["chunk_id"], first["start"], first["end"]) if first else None,
            record["short_answer"])


def table(asked: Sequence[Asked], candidates: Sequence[float] = CANDIDATES) -> list[dict]:
    """Per candidate stop margin: the figures the product would have (pure)."""
    n = max(1, len(asked))
    rows = []
    for t in [None, *candidates]:
        picked = [a.first if t is not None and a.first_margin is not None and a.first_margin >= t else a.full
                  for a in asked]
        stopped = sum(1 for a in asked if t is not None and a.first_margin is not None and a.first_margin >= t)
        rows.append({"stop_margin": t, "stopped_after_first": round(stopped / n, 4),
                     "answer_has_reference": round(sum(p[1] for p in picked) / n, 4),
                     "refused": round(sum(p[0] for p in picked) / n, 4),
                     "short_em": round(100 * sum(p[2] for p in picked) / n, 2),
                     "short_f1": round(100 * sum(p[3] for p in picked) / n, 2),
                     "changed": sum(1 for a, p in zip(asked, picked) if p != a.full),
                     "answer_changed": sum(1 for a, p in zip(asked, picked) if p != a.full and not a.only_extras)})
    return rows


def choose(rows: Sequence[dict]) -> dict:
    """The smallest stop margin from which on no question's answer changes against reading
    every passage (the stop is for speed; it should not change answers; a change for the
    better counts too). What the first passage answers alone cannot hold is the sentences
    the other passages would have added: those losses are counted (``changed``), not
    avoided."""
    chosen = rows[-1]
    for r in sorted(rows[1:], key=lambda r: -r["stop_margin"]):
        if r["answer_changed"]:
            break
        chosen = r
    return chosen


def ask_both(idx, items: Sequence[QAItem], progress=None, removed: bool = False) -> list[Asked]:
    """Every item asked reading all passages and stopping after the first (see module doc);
    with ``removed``, each answerable item also without its own passage."""
    from rag.api import RagIndex
    from .runner import ask_one

    reader = CachedReader(idx.reader)
    full = RagIndex(idx.loaded, idx.embedder, idx.settings.with_(reader_stop_margin=None), reader)
    first = RagIndex(idx.loaded, idx.embedder, idx.settings.with_(reader_stop_margin=-100.0), reader)
    out = []
    for item in items:
        for gone in (False, True) if removed and item.answerable else (False,):
            a, b = ask_one(full, item, "hybrid", exclude_gold=gone), ask_one(first, item, "hybrid", exclude_gold=gone)
            out.append(Asked(a["evidence"].get("stop_lead"), outcome(a), outcome(b), item.id + "-removed" * gone,
                             own_answer(a) == own_answer(b)))
        if progress:
            progress()
    return out


def training_set_parser(description: str, out_name: str) -> argparse.ArgumentParser:
    """The options both reader tunings take (a training set, never the benchmark)."""
    from .runner import ROOT

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "benchmarks"))
    p.add_argument("--file", default="cmrc2018_trial.json", help="a training set (never cmrc2018_dev.json)")
    p.add_argument("--cache-dir")
    p.add_argument("--out", default=str(ROOT / "eval" / "results" / "reader" / out_name))
    p.add_argument("--limit", type=int, default=0, help="the first N questions only (0: all)")
    return p


def open_training_set(args: argparse.Namespace, what: str):
    """(the index of the training set named by ``args`` with the reader, its questions, the
    first ``args.limit`` only if set), or None after printing why (the benchmark named, or
    no trained reader)."""
    from rag.api import open_index
    from rag.embedding import load_embedder
    from rag.index import build_index
    from rag.settings import Settings
    from .datasets import load_cmrc, write_corpus
    from .runner import ROOT

    if "dev" in args.file and "cmrc" in args.file:
        print(f"error: CMRC 2018 dev is the benchmark; choose {what} on a training set", file=sys.stderr)
        return None
    settings = Settings(model_cache_dir=Path(args.cache_dir) if args.cache_dir else None).validate()
    embedder = load_embedder(settings)
    corpus, items = load_cmrc(Path(args.data) / args.file)
    # One corpus folder and index per training file, shared by the tunings.
    folder = ROOT / "eval" / "results" / "cache" / f"stop-{Path(args.file).stem}" / "corpus"
    write_corpus(corpus, folder)
    index_dir = folder.parent / "index"
    build_index(folder, index_dir, settings, embedder)
    idx = open_index(index_dir, settings, embedder)
    if idx.reader is None:
        print(f"error: no reader ({what} is the trained reader's)", file=sys.stderr)
        return None
    return idx, (items[: args.limit] if getattr(args, "limit", 0) else items)


def write_choice(args: argparse.Namespace, idx, items: Sequence[QAItem], fields: dict) -> Path:
    """Write a tuning's table and choice to ``args.out`` (JSON), with the set and reader."""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = {"set": args.file, "questions": len(items), "reader": idx.reader.name, "threshold": idx.reader.threshold}
    out.write_text(json.dumps(head | fields, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    p = training_set_parser("Choose the reader's early stop margin on CMRC 2018 trial.", "stop_margin.json")
    p.add_argument("--with-removed", action="store_true",
                   help="also ask each answerable question without its own passage")
    p.add_argument("--ship", action="store_true",
                   help="also write the choice into rag/reader/weights/decision.json (the stop the product uses "
                        "by default; it must have been chosen for the same weights)")
    args = p.parse_args(argv)
    opened = open_training_set(args, "the stop margin")
    if opened is None:
        return 2
    idx, items = opened
    asked = ask_both(idx, items, removed=args.with_removed)
    rows = table(asked)
    chosen = choose(rows)
    # Every asking whose outcome differs when the first passage answers alone, with its
    # lead: what a lower stop margin would change, question by question.
    differ = [{"asking": a.asking, "lead": a.first_margin, "every_passage": a.full, "first_alone": a.first,
               "only_extras": a.only_extras}
              for a in asked if a.first != a.full and a.first_margin is not None]
    out = write_choice(args, idx, items, {"rule": RULE, "chosen": chosen, "table": rows, "differ": differ})
    print("| stop margin | stopped after the first | answer has reference | refused | short EM / F1 "
          "| outcomes changed | of them the answer itself |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        mark = " ← chosen" if r is chosen else ""
        print(f"| {r['stop_margin'] if r['stop_margin'] is not None else 'off'}{mark} | {r['stopped_after_first']:.3f} | "
              f"{r['answer_has_reference']:.4f} | {r['refused']:.4f} | {r['short_em']:.1f} / {r['short_f1']:.1f} | "
              f"{r['changed']} | {r['answer_changed']} |")
    print(f"wrote {out}", file=sys.stderr)
    if args.ship:
        return ship(args, idx, items, chosen)
    return 0


def ship(args: argparse.Namespace, idx, items: Sequence[QAItem], chosen: dict) -> int:
    """Record the chosen stop margin in the shipped decision (decision.json), which must
    be the one chosen for the reader's weights: the lead weighs retrieval with its weight."""
    from rag.checksums import sha256_file
    from rag.reader.load import DECISION_FILE, WEIGHTS_DIR

    target = WEIGHTS_DIR / DECISION_FILE
    try:
        shipped = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: {target} cannot be read ({exc}); ship a decision first: python -m eval.tune_decision --ship",
              file=sys.stderr)
        return 2
    if shipped.get("reader_weights_sha256") != idx.reader.manifest["weights_sha256"]:
        print(f"error: {target} was chosen for other reader weights; re-choose it first: "
              "python -m eval.tune_decision --ship", file=sys.stderr)
        return 2
    data = Path(args.data) / args.file
    shipped["stop_margin"] = chosen["stop_margin"]
    shipped["stop_margin_chosen_on"] = {
        "file": args.file, "sha256": sha256_file(data), "questions": len(items),
        "with_removed": bool(args.with_removed), "benchmark_read": False,
        "rule": RULE, "figures": chosen,
        "recipe": "python -m eval.tune_stop_margin --ship"}
    target.write_text(json.dumps(shipped, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    return 0
