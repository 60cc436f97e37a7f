"""BM25: an index updated in place equals the index built from scratch on the final corpus;
idf counted in articles."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.bm25 import BM25Index

WORDS = [chr(0x4E00 + i) for i in range(30)]
docs_strategy = st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=12), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(old=docs_strategy, new=docs_strategy, data=st.data())
def test_updated_equals_a_fresh_build(old, new, data):
    """Remove any rows, add new ones anywhere, in order or shuffled: the statistics and
    every score are those of ``build`` on the final corpus."""
    keep = data.draw(st.lists(st.booleans(), min_size=len(old), max_size=len(old)))
    kept = [i for i, k in enumerate(keep) if k]
    final: list[tuple[str, int]] = [("old", i) for i in kept] + [("new", j) for j in range(len(new))]
    if data.draw(st.booleans()):
        final = data.draw(st.permutations(final))
    else:  # kept rows in their old order, new ones inserted anywhere (the usual update)
        order = sorted(range(len(final)), key=lambda k: (data.draw(st.integers(0, 3)), k))
        olds = [f for f in final if f[0] == "old"]
        news = [f for f in final if f[0] == "new"]
        final = []
        for k in order:
            final.append(olds.pop(0) if (k < len(kept) and olds) or not news else news.pop(0))
    tokens = [old[i] if kind == "old" else new[i] for kind, i in final]
    row_map = np.full(len(old), -1)
    added = {}
    for row, (kind, i) in enumerate(final):
        if kind == "old":
            row_map[i] = row
        else:
            added[row] = new[i]
    updated = BM25Index.build(old).updated(row_map, len(final), added)
    fresh = BM25Index.build(tokens)
    assert np.array_equal(updated.doc_len, fresh.doc_len)
    assert set(updated.vocab) == set(fresh.vocab)
    for term in WORDS:
        assert updated.idf(term) == fresh.idf(term)
    for query in (WORDS[:3], WORDS[10:16], WORDS):
        assert np.array_equal(updated.scores(query), fresh.scores(query))
        assert updated.top_k(query, 5) == fresh.top_k(query, 5)
    # and the arrays are a valid index (what loading checks)
    assert updated.ptr[-1] == len(updated.doc_ids) and np.all(np.diff(updated.ptr) > 0)


def test_updated_refuses_an_inconsistent_row_map():
    b = BM25Index.build([["甲"], ["乙"]])
    import pytest

    with pytest.raises(ValueError, match="row_map has 1 rows"):
        b.updated(np.array([0]), 2, {})
    with pytest.raises(ValueError, match="exactly one"):
        b.updated(np.array([0, 0]), 2, {})
    with pytest.raises(ValueError, match="exactly one"):
        b.updated(np.array([0, -1]), 2, {})  # row 1 comes from nowhere


def test_idf_counted_in_articles_makes_an_articles_subject_rare_again():
    # Article 0 names 纽西兰 in each of its three chunks; 职责 is written once, in article 1.
    rows = [["纽西兰", "国防军"], ["纽西兰", "陆军"], ["纽西兰", "海军"], ["职责", "部门"], ["天气"], ["股票"]]
    bm25 = BM25Index.build(rows)
    article = np.array([0, 0, 0, 1, 2, 3])
    assert bm25.idf("纽西兰") < bm25.idf("职责")  # per chunk: the subject looks common
    idf = bm25.grouped_idf(article)
    assert idf("纽西兰") == pytest.approx(idf("职责"))  # per article: both are in one of four
    assert idf("纽西兰") == pytest.approx(math.log(1 + (4 - 1 + 0.5) / 1.5))
    assert idf("从未出现") > idf("纽西兰")  # unseen: the highest, as with idf()
    with pytest.raises(ValueError, match="group_of_row has 2 rows but the index has 6"):
        bm25.grouped_idf(np.array([0, 1]))
