"""Fusion, answers, citation verification and abstention with the fake embedder."""
from __future__ import annotations

import pytest

from rag.answering import make_citations, verify_citation, ScoredSentence
from rag.api import open_index
from rag.errors import InputError
from rag.embedding.fake import HashingEmbedder
from rag.index_store import build_index
from rag.retrieval import fuse_convex, fuse_rrf


def test_fuse_rrf_and_convex():
    dense = [(1, 0.9), (2, 0.8), (3, 0.1)]
    bm25 = [(3, 12.0), (1, 6.0)]
    rrf = fuse_rrf(dense, bm25, k=60)
    assert rrf[0][0] == 1 and rrf[0][1] == pytest.approx(1 / 61 + 1 / 62)
    convex = fuse_convex(dense, bm25, 0.7)
    scores = dict(convex)
    assert scores[1] == pytest.approx(0.7 * 1.0 + 0.3 * 0.0)
    assert scores[3] == pytest.approx(0.7 * 0.0 + 0.3 * 1.0)
    assert fuse_convex([], [], 0.5) == []
    assert fuse_convex([(5, 0.3)], [], 0.7) == [(5, 0.7)]


@pytest.fixture()
def idx(small_corpus, tmp_path, fake_settings):
    build_index(small_corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    return open_index(tmp_path / "idx", fake_settings, HashingEmbedder())


def test_ask_answers_with_verified_citation(idx):
    a = idx.ask("前海合作區去年吸引外資多少？")
    assert not a.abstained
    assert a.script == "traditional"
    assert "八十億元" in a.answer and "[1]" in a.answer  # answer in the asker's script
    c = a.citations[0]
    assert c.doc_id == "b" and c.quote == idx.documents["b"].text[c.start:c.end]
    assert "八十亿元" in c.quote  # the quote stays in the source's script
    assert all(h.dense_rank or h.bm25_rank for h in a.hits)


def test_modes_and_filters(idx):
    for mode in ("dense", "bm25", "hybrid"):
        hits = idx.search("高端人才通行證", mode=mode)
        assert hits and hits[0].doc_id == "a"
    assert all(h.doc_id == "b" for h in idx.search("人才", doc_ids=["b"]))
    with pytest.raises(InputError, match="unknown document"):
        idx.search("人才", doc_ids=["zzz"])


def test_abstains_without_evidence(idx):
    a = idx.ask("東京奧運會的門票價格是多少？")
    assert a.abstained and a.citations == () and "未能" in a.answer
    assert "證據" in a.answer  # traditional question, traditional refusal


@pytest.mark.parametrize("q", ["", "   ", "問" * 600, "壞\udcff字", "，。？"])
def test_bad_questions(idx, q):
    with pytest.raises(InputError):
        idx.ask(q)


def test_unverifiable_citation_is_dropped(idx):
    chunk = next(iter(idx.chunks.values()))
    doc = idx.documents[chunk.doc_id]
    a, b = chunk.sentences[0]
    assert verify_citation(doc, chunk, a, b, doc.text[a:b])
    assert not verify_citation(doc, chunk, a, b + 1000, doc.text[a:b])
    bad = ScoredSentence(chunk.chunk_id, chunk.doc_id, a, len(doc.text) + 5, 1.0, 1.0)
    good = ScoredSentence(chunk.chunk_id, chunk.doc_id, a, b, 1.0, 1.0)
    cits = make_citations([bad, good], idx.chunks, idx.documents)
    assert len(cits) == 1 and cits[0].marker == 1


def test_cite_lookup_and_support(idx):
    lk = idx.cite("a#0")
    assert lk.quote == idx.documents["a"].text[lk.start:lk.end]
    assert lk.context_start <= lk.start and lk.end <= lk.context_end
    span = idx.cite(f"a:{lk.start}-{lk.start + 4}")
    assert span.quote == idx.documents["a"].text[lk.start:lk.start + 4]
    for bad, msg in (("a#99", "chunks #0"), ("zz#0", "no document"), ("a:5-1", "outside"), ("garbage", "neither")):
        with pytest.raises(InputError, match=msg):
            idx.cite(bad)
    sup = idx.support("政府推出人才通行證計劃")
    assert sup and sup[0].citation.doc_id == "a" and sup[0].rank == 1


def test_sentence_with_the_asked_kind_of_phrase_ranks_first():
    from rag.answering import score_sentences
    from rag.corpus import document_from_text
    from rag.records import Hit
    from rag.text.chunking import chunk_document
    from rag.text.fold import fold

    text = "小紅書香港辦公室的核心業務聚焦海外拓展。小紅書的香港辦公室面積約有五六百平方米。"
    doc = document_from_text("d", "d", text)
    chunk = chunk_document(doc, 300, 1)[0]
    scored = score_sentences(fold("小紅書香港辦公室有多大？"), [Hit(chunk.chunk_id, "d", 1.0)],
                             {chunk.chunk_id: chunk}, {"d": doc}, lambda t: 1.0)
    assert "平方米" in text[scored[0].start:scored[0].end]
