"""BM25 over token lists, stored as plain arrays (no pickle) and scored with numpy.

Each posting's BM25 weight (idf x saturated, length-normalised term frequency) depends on
the corpus only, so it is computed once per index (``weights``, the bm25s approach) and a
query only adds up its terms' weights: at a million chunks this is what keeps the
keyword leg near bm25s's speed (docs/measurements.md, *Scale*). The weights are computed
with the same float32 arithmetic, in the same order, as scoring term by term was, so the
scores are the same to the bit."""
from __future__ import annotations

import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np


@dataclass
class BM25Index:
    """An inverted index: for term t, postings are ``doc_ids[ptr[t]:ptr[t+1]]``."""

    vocab: dict[str, int]
    ptr: np.ndarray  # int64, len(vocab) + 1
    doc_ids: np.ndarray  # int32
    tfs: np.ndarray  # float32
    doc_len: np.ndarray  # float32
    k1: float = 1.5
    b: float = 0.75
    _weights: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def weights(self) -> np.ndarray:
        """Every posting's BM25 weight (float32, aligned with ``doc_ids``), computed on
        first use: ``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))``."""
        if self._weights is None:
            self._weights = self._posting_weights()
        return self._weights

    def _posting_weights(self) -> np.ndarray:
        if self.n_docs == 0 or len(self.doc_ids) == 0:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        avg = float(self.doc_len.mean()) or 1.0
        df = np.diff(self.ptr)
        # Per term, as ``idf`` computes it (a Python float, then float32 in the product).
        idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        term_idf = np.repeat(idf, df)
        tf = self.tfs
        # The same float32 operations in the same order as the per-term formula.
        norm = tf + np.float32(self.k1) * (np.float32(1 - self.b) + np.float32(self.b) * self.doc_len[self.doc_ids]
                                           / np.float32(avg))
        return term_idf * tf * np.float32(self.k1 + 1) / norm

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> "BM25Index":
        vocab: dict[str, int] = {}
        postings: list[list[tuple[int, int]]] = []
        for d, tokens in enumerate(docs):
            for term, tf in Counter(tokens).items():
                t = vocab.setdefault(term, len(vocab))
                if t == len(postings):
                    postings.append([])
                postings[t].append((d, tf))
        ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(p) for p in postings]) if postings else []
        flat = [x for p in postings for x in p]
        doc_ids = np.array([d for d, _ in flat], dtype=np.int32)
        tfs = np.array([tf for _, tf in flat], dtype=np.float32)
        doc_len = np.array([len(t) for t in docs], dtype=np.float32)
        return cls(vocab, ptr, doc_ids, tfs, doc_len, k1, b)

    def updated(self, row_map: np.ndarray, n_rows: int, added: Mapping[int, Sequence[str]]) -> "BM25Index":
        """The index of a changed corpus without re-reading the unchanged rows.

        ``row_map[i]`` is the new row of old row ``i`` (-1: removed); ``added`` maps every
        other new row to its tokens. Statistics (document frequencies, lengths) come out
        exactly as ``build`` makes them for the new rows; term ids may be numbered differently."""
        row_map = np.asarray(row_map, dtype=np.int64)
        if len(row_map) != self.n_docs:
            raise ValueError(f"row_map has {len(row_map)} rows but the index has {self.n_docs}")
        kept = row_map >= 0
        targets = np.concatenate([row_map[kept], np.fromiter(added, dtype=np.int64, count=len(added))])
        if len(targets) != n_rows or (n_rows and (targets.min() < 0 or targets.max() >= n_rows
                                                  or np.bincount(targets, minlength=n_rows).max() != 1)):
            raise ValueError("every new row must come from exactly one old row or from ``added``")
        term_of = np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.ptr))
        new_doc = row_map[self.doc_ids]
        keep = new_doc >= 0
        vocab = dict(self.vocab)
        doc_len = np.zeros(n_rows, dtype=np.float32)
        doc_len[row_map[kept]] = self.doc_len[kept]
        a_terms: list[int] = []
        a_docs: list[int] = []
        a_tfs: list[int] = []
        for row, tokens in added.items():
            doc_len[row] = len(tokens)
            for term, tf in Counter(tokens).items():
                a_terms.append(vocab.setdefault(term, len(vocab)))
                a_docs.append(row)
                a_tfs.append(tf)
        terms = np.concatenate([term_of[keep], np.array(a_terms, dtype=np.int64)])
        docs = np.concatenate([new_doc[keep], np.array(a_docs, dtype=np.int64)])
        tfs = np.concatenate([self.tfs[keep], np.array(a_tfs, dtype=np.float32)])
        df = np.bincount(terms, minlength=len(vocab))
        live = df > 0  # a term whose every row was removed leaves the vocabulary, as in a fresh build
        renumber = np.cumsum(live) - 1
        terms = renumber[terms]
        n_kept = int(keep.sum())
        kept_rows = row_map[kept]
        if n_kept and np.all(kept_rows[1:] > kept_rows[:-1]):
            # Kept rows keep their relative order (the usual case: documents stay sorted by
            # id), so the kept postings are still sorted by (term, row): only the new ones
            # need sorting and merging in, not all of them (a full sort of 10M postings
            # took 1.5 s of the 11 s an add cost at 100k chunks).
            key = terms * np.int64(max(n_rows, 1)) + docs
            new = n_kept + np.argsort(key[n_kept:], kind="stable")
            at = np.searchsorted(key[:n_kept], key[new])
            order = np.insert(np.arange(n_kept), at, new)
        else:
            order = np.lexsort((docs, terms))
        ptr = np.zeros(int(live.sum()) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(df[live])
        return BM25Index({t: int(renumber[i]) for t, i in vocab.items() if live[i]}, ptr,
                         docs[order].astype(np.int32), tfs[order].astype(np.float32), doc_len, self.k1, self.b)

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    def knows(self, term: str) -> bool:
        """Whether any indexed chunk holds the term (as a jieba token)."""
        return term in self.vocab

    def idf(self, term: str) -> float:
        """Robertson idf (always positive); a term never seen gets the highest idf."""
        t = self.vocab.get(term)
        df = 0 if t is None else int(self.ptr[t + 1] - self.ptr[t])
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def grouped_idf(self, group_of_row: np.ndarray) -> Callable[[str], float]:
        """Robertson idf over groups of rows (the articles of the chunks) instead of rows:
        a term's frequency is the number of groups that hold it. An article's subject
        is named in most of its chunks, which lowers its chunk-level idf below that of a
        word used once; counted per article it is rare again. A term never seen gets the
        highest idf, as in ``idf``."""
        group_of_row = np.asarray(group_of_row, dtype=np.int64)
        if len(group_of_row) != self.n_docs:
            raise ValueError(f"group_of_row has {len(group_of_row)} rows but the index has {self.n_docs}")
        n = len(np.unique(group_of_row))
        memo: dict[str, float] = {}

        def idf(term: str) -> float:
            t = self.vocab.get(term)
            if t is None:
                return math.log(1.0 + (n + 0.5) / 0.5)  # not remembered: questions can hold anything
            if term not in memo:  # bounded by the vocabulary
                df = len(np.unique(group_of_row[self.doc_ids[self.ptr[t]:self.ptr[t + 1]]]))
                memo[term] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            return memo[term]

        return idf

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query tokens (repeated tokens count once)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        if self.n_docs == 0:
            return out
        w = self.weights
        for term in set(query):
            t = self.vocab.get(term)
            if t is None:
                continue
            a, z = self.ptr[t], self.ptr[t + 1]
            out[self.doc_ids[a:z]] += w[a:z]  # a term's rows are distinct: no scatter clash
        return out

    def top_k(self, query: Sequence[str], k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(doc index, score) of the best ``k`` documents with a positive score, best first;
        ties keep index order. ``allowed`` is an optional boolean mask over documents."""
        s = self.scores(query)
        if allowed is not None:
            s = np.where(allowed, s, 0.0)
        positive = np.flatnonzero(s > 0)
        if positive.size == 0 or k <= 0:
            return []
        if positive.size > 4 * k:
            # Only the rows at or above the k-th best score can be in the answer (ties at
            # it included, so the order below is the same as sorting them all).
            kth = np.partition(s[positive], positive.size - k)[positive.size - k]
            positive = positive[s[positive] >= kth]
        order = positive[np.lexsort((positive, -s[positive]))][:k]
        return [(int(i), float(s[i])) for i in order]

    def save(self, folder: Path) -> list[str]:
        np.savez(folder / "bm25.npz", ptr=self.ptr, doc_ids=self.doc_ids, tfs=self.tfs, doc_len=self.doc_len)
        terms = [""] * len(self.vocab)
        for term, t in self.vocab.items():
            terms[t] = term
        (folder / "bm25_terms.json").write_text(
            json.dumps({"k1": self.k1, "b": self.b, "terms": terms}, ensure_ascii=False), encoding="utf-8")
        return ["bm25.npz", "bm25_terms.json"]

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        return cls.from_bytes((folder / "bm25.npz").read_bytes(), (folder / "bm25_terms.json").read_bytes())

    @classmethod
    def from_bytes(cls, npz: bytes, terms_json: bytes) -> "BM25Index":
        """Parse the two saved files (already read and checked); ValueError if they do not fit."""
        meta = json.loads(terms_json.decode("utf-8"))
        with np.load(io.BytesIO(npz), allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("ptr", "doc_ids", "tfs", "doc_len")}
        vocab = {t: i for i, t in enumerate(meta["terms"])}
        ptr, ids = arrays["ptr"], arrays["doc_ids"]
        if len(ptr) != len(vocab) + 1:
            raise ValueError(f"bm25 arrays hold {len(ptr) - 1} terms but the term list has {len(vocab)}")
        # Bounds that scoring relies on: checked so that edited arrays fail here, not as
        # an IndexError in the middle of a question.
        if (ptr[0] != 0 or ptr[-1] != len(ids) or np.any(np.diff(ptr) < 0) or len(arrays["tfs"]) != len(ids)
                or (len(ids) and (ids.min() < 0 or ids.max() >= len(arrays["doc_len"])))):
            raise ValueError("bm25 posting arrays are inconsistent")
        return cls(vocab, **arrays, k1=meta["k1"], b=meta["b"])
