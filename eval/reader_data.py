"""The reader's training data: questions with their passages from the shared SQuAD-style sets,
hard negatives (the passage BM25 or the product's retrieval ranks highest without the
answer), near misses, and the held-out split of articles."""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rag.bm25 import BM25Index
from rag.retrieval import fuse
from rag.settings import Settings
from rag.text.fold import fold
from rag.text.tokenize import tokenize
from rag.reader.spans import fold_with_offsets


SEED = 20261124


DATA_FILES = ("cmrc2018_trial.json", "drcd_dev.json")  # the shipped recipe's


DATA_TAGS = ("cmrc-trial", "drcd")  # each file's articles are named "<tag>-<article id>"


# ``--with-cmrc-train``: CMRC 2018 train (10,121 questions) first, then the two above
# (the shipped recipe since 2026-12-05: see eval/README.md).
TRAIN_FILE, TRAIN_TAG = "cmrc2018_train.json", "cmrc-train"


HOLDOUT = 0.08  # share of the articles held out for figures and the threshold


@dataclass(frozen=True)
class Example:
    article: str
    question: str  # folded
    passage: str  # folded
    answer: tuple[int, int] | None  # folded character span, None: no answer in this passage
    answers: tuple[str, ...] = ()  # folded reference texts (for EM/F1)


def load_examples(path: Path, tag: str) -> tuple[list[Example], list[tuple[str, str]]]:
    """Positive examples and the (article, folded passage) list of a SQuAD-style file."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    examples: list[Example] = []
    passages: list[tuple[str, str]] = []
    for ai, article in enumerate(data):
        art = f"{tag}-{article.get('id', ai)}"
        for para in article["paragraphs"]:
            folded = fold_with_offsets(para["context"])
            passages.append((art, folded.text))
            first = {o: k for k, o in reversed(list(enumerate(folded.origin)))}
            for qa in para["qas"]:
                ans = qa["answers"][0]
                a = first.get(ans["answer_start"])
                b_orig = ans["answer_start"] + len(ans["text"])
                b = next((k for k, o in enumerate(folded.origin) if o >= b_orig), len(folded.text))
                if a is None or b <= a:
                    continue
                refs = tuple(dict.fromkeys(fold(x["text"]) for x in qa["answers"]))
                examples.append(Example(art, fold(qa["question"]), folded.text, (a, b), refs))
    return examples, passages


Ranker = Callable[[str], list[int]]  # question -> rows of the passage list, best first


def bm25_ranker(passages: list[str], k: int = 10) -> Ranker:
    """The keyword leg alone (the negatives of the recipe until 2026-11-29)."""
    bm = BM25Index.build([tokenize(p) for p in passages])
    return lambda question: [r for r, _ in bm.top_k(tokenize(question), k)]


def hybrid_ranker(passages: list[str], embedder, settings: Settings, k: int = 10, vectors=None) -> Ranker:
    """The product's own retrieval over the passages: the dense and keyword legs fused by
    ``rag.retrieval.fuse`` (same fusion, weight and candidate count), so that the
    negatives are the passages the product would read when the answer is not in the corpus."""
    import numpy as np

    bm = BM25Index.build([tokenize(p) for p in passages])
    if vectors is None:
        vectors = embedder.embed_passages(passages)
    vectors = np.asarray(vectors, dtype=np.float32)
    n = settings.candidates

    def rank(question: str) -> list[int]:
        q = np.asarray(embedder.embed_queries([question]), dtype=np.float32)[0]
        sims = vectors @ q
        top = np.argsort(-sims, kind="stable")[:n]
        dense = [(int(r), float(sims[r])) for r in top]
        fused = fuse(dense, bm.top_k(tokenize(question), n), settings)
        return [r for r, _ in fused[:k]]

    return rank


def hard_negatives(examples: list[Example], passages: list[tuple[str, str]], rng: random.Random,
                   ranker: Ranker | None = None, per_question: int = 1) -> list[Example]:
    """``per_question`` negatives per question: the best-ranked passages that hold no
    reference answer (``ranker``: BM25 over ``passages`` when not given)."""
    texts = [p for _, p in passages]
    ranker = ranker or bm25_ranker(texts)
    out = []
    for ex in examples:
        picks = [passages[r] for r in ranker(ex.question) if passages[r][1] != ex.passage
                 and not any(a in passages[r][1] for a in ex.answers)][:per_question]
        if not picks:
            pick = passages[rng.randrange(len(passages))]
            if pick[1] == ex.passage or any(a in pick[1] for a in ex.answers):
                continue
            picks = [pick]
        out += [Example(ex.article, ex.question, p[1], None, ex.answers) for p in picks]
    return out


_NAME_FLAGS = {"nr": "name", "nrt": "name", "nrfg": "name", "nz": "name", "nt": "org", "ns": "place"}


_YEAR = re.compile(r"(1[89]|20)\d\d")


def split_articles(positives: list[Example], rng: random.Random, share: float) -> set[str]:
    """The held-out articles: ``share`` of the articles, drawn with ``rng`` (after the
    negatives' draws, as the recipe draws them)."""
    articles = sorted({e.article for e in positives})
    rng.shuffle(articles)
    return set(articles[: int(len(articles) * share)])


def heldout_split(data: Path, share: float = HOLDOUT, with_cmrc_train: bool = False) -> tuple[set[str], list[Example]]:
    """The articles the recipe holds out and their answerable examples (its BM25
    negatives drawn again: their fallback draws set the split), so that other weights or
    decodings are measured on the same questions outside the recipe
    (the tried runs of docs/decisions.md). ``with_cmrc_train``: the split of
    ``--with-cmrc-train`` (CMRC 2018 train read first)."""
    rng, positives = random.Random(SEED), []
    files = ((TRAIN_FILE, TRAIN_TAG),) * with_cmrc_train + tuple(zip(DATA_FILES, DATA_TAGS))
    for name, tag in files:
        ex, passages = load_examples(data / name, tag)
        positives += ex
        hard_negatives(ex, passages, rng, None, 1)
    held = split_articles(positives, rng, share)
    return held, [e for e in positives if e.article in held]


def near_miss_negatives(examples: list[Example], rng: random.Random, share: float = 0.6) -> list[Example]:
    """Questions about something the passage does not say: one name, organisation, place
    or year of the question that the passage holds is swapped for another of the same
    kind that it does not hold ("腾讯" for "阿里巴巴", "2021年" for "2023年"), and the pair is
    labelled "no answer". These are the near misses that retrieval brings back."""
    import jieba.posseg as pseg

    parsed = [[(w.word, w.flag) for w in pseg.cut(e.question)] for e in examples]
    pools: dict[str, list[str]] = {}
    for words in parsed:
        for word, flag in words:
            if flag in _NAME_FLAGS and len(word) >= 2:
                pools.setdefault(_NAME_FLAGS[flag], []).append(word)
    pools = {k: sorted(set(v)) for k, v in pools.items()}
    out = []
    for e, words in zip(examples, parsed):
        if rng.random() > share:
            continue
        options = []
        for i, (word, flag) in enumerate(words):
            if flag in _NAME_FLAGS and len(word) >= 2 and word in e.passage:
                options.append((i, "name", _NAME_FLAGS[flag]))
            elif _YEAR.fullmatch(word) and word in e.passage:
                options.append((i, "year", ""))
        if not options:
            continue
        i, kind, group = options[rng.randrange(len(options))]
        if kind == "year":
            year = int(words[i][0])
            candidates = [str(y) for y in range(year - 6, year + 7) if y != year and str(y) not in e.passage]
        else:
            candidates = [w for w in rng.sample(pools[group], min(40, len(pools[group]))) if w not in e.passage]
        if not candidates:
            continue
        swapped = "".join(candidates[rng.randrange(len(candidates))] if k == i else w for k, (w, _) in enumerate(words))
        out.append(Example(e.article, swapped, e.passage, None, e.answers))
    return out
