"""rag.vectors: the HNSW effort measured to reach its recall target, and filtered search
exact over few rows; rag.bm25's precomputed weights score exactly as term by term."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rag import vectors as vec
from rag.bm25 import BM25Index


def _clustered(n: int, d: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, d)).astype(np.float32)
    v = centres[rng.integers(0, 40, n)] + 0.5 * rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_exact_neighbours_match_a_full_sort():
    v = _clustered(3000)
    q = v[:7] + 0.01
    got = vec.exact_neighbours(v, q, 10, block=700)
    want = np.argsort(-(q @ v.T), axis=1, kind="stable")[:, :10]
    assert np.array_equal(got, want)


def test_the_build_raises_the_effort_until_recall_reaches_the_target():
    v = _clustered(6000)
    index, kind, tuning = vec.build_vector_index(v, threshold=1, hnsw_m=4, ef_search=16, ef_construction=16,
                                                 target_recall=0.97)
    assert kind == "hnsw-ip" and tuning is not None and index.hnsw.efSearch == tuning.ef_search
    assert tuning.recall_at_10 >= 0.97 or tuning.ef_search == vec.EF_STEPS[-1]
    # Measured again on other held-out vectors, the recall holds.
    again = vec.tune_ef_search(index, v, 0.97, seed=1, steps=(tuning.ef_search,))
    assert again.recall_at_10 >= 0.95
    # The least effort tried first: an easy target stops at the first step.
    easy = vec.tune_ef_search(index, v, 0.5, steps=(16, 64, 256))
    assert easy.ef_search == 16
    # Exact search is never tuned.
    assert vec.build_vector_index(v[:100], threshold=1000, target_recall=0.97)[2] is None


def test_a_filter_over_few_rows_is_searched_exactly():
    v = _clustered(5000)
    index, _, _ = vec.build_vector_index(v, threshold=1, hnsw_m=4, ef_search=16, ef_construction=16)
    rng = np.random.default_rng(3)
    allowed = np.zeros(len(v), dtype=bool)
    allowed[rng.choice(len(v), 50, replace=False)] = True  # 1% of the rows
    q = _clustered(5, seed=9)
    got = vec.search(index, q, 10, allowed)
    rows = np.flatnonzero(allowed)
    for qi, hits in enumerate(got):
        s = v[rows] @ q[qi]
        want = rows[np.argsort(-s, kind="stable")[:10]]
        assert [r for r, _ in hits] == [int(r) for r in want]
        assert all(allowed[r] for r, _ in hits)


def test_an_index_records_and_reuses_its_measured_effort(small_corpus, tmp_path, fake_settings):
    from rag.embedding.fake import HashingEmbedder
    from rag.index import build_index, load_index

    out = tmp_path / "idx"
    report = build_index(small_corpus, out, fake_settings.with_(ann_threshold=1), HashingEmbedder())
    measured = json.loads((out / "manifest.json").read_text())["vector_index"]["measured"]
    assert measured == report.vector_index["measured"]
    assert set(measured) == {"ef_search", "recall_at_10", "held_out_queries", "target_recall"}
    loaded = load_index(out, fake_settings.with_(ann_threshold=1, hnsw_ef_search=16))
    assert loaded.vectors.hnsw.efSearch == measured["ef_search"]
    with pytest.raises(ValueError, match="ann_target_recall"):
        fake_settings.with_(ann_target_recall=1.5).validate()


def _term_by_term(ix: BM25Index, query) -> np.ndarray:
    """BM25 as it was scored before the weights were precomputed."""
    out = np.zeros(ix.n_docs, dtype=np.float32)
    avg = float(ix.doc_len.mean()) or 1.0
    for term in set(query):
        t = ix.vocab.get(term)
        if t is None:
            continue
        a, z = ix.ptr[t], ix.ptr[t + 1]
        ids, tf = ix.doc_ids[a:z], ix.tfs[a:z]
        norm = tf + ix.k1 * (1 - ix.b + ix.b * ix.doc_len[ids] / avg)
        out[ids] += ix.idf(term) * tf * (ix.k1 + 1) / norm
    return out


def test_precomputed_bm25_weights_score_to_the_bit():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(800)]
    p = 1 / np.arange(1, 801)
    p /= p.sum()
    docs = [list(rng.choice(words, size=rng.integers(1, 60), p=p)) for _ in range(3000)]
    ix = BM25Index.build(docs)
    for _ in range(100):
        q = list(rng.choice(words, size=rng.integers(1, 10), p=p)) + ["unknown"]
        assert np.array_equal(ix.scores(q), _term_by_term(ix, q))
        s = _term_by_term(ix, q)
        pos = np.flatnonzero(s > 0)
        want = [int(i) for i in pos[np.lexsort((pos, -s[pos]))][:10]]
        assert [r for r, _ in ix.top_k(q, 10)] == want
    # An update's weights follow its new statistics.
    up = ix.updated(np.arange(ix.n_docs), ix.n_docs + 1, {ix.n_docs: ["w1", "w2", "new"]})
    assert np.array_equal(up.scores(["w1", "new"]), _term_by_term(up, ["w1", "new"]))
