"""Fusion, answers, citation verification and abstention with the fake embedder."""
from __future__ import annotations

import pytest

from rag.presentation.strings import answer_text
from rag.answering import make_citations, verify_citation, ScoredSentence
from rag.api import open_index
from rag.errors import InputError
from rag.embedding.fake import HashingEmbedder
from rag.index import build_index
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
    with pytest.raises(InputError, match="no document 'zzz'"):
        idx.search("人才", doc_ids=["zzz"])
    with pytest.raises(InputError, match="did you mean b"):
        idx.search("人才", doc_ids=["前海"])  # found by its title


def test_abstains_without_evidence(idx):
    a = idx.ask("東京奧運會的門票價格是多少？")
    assert a.abstained and a.citations == () and "未能" in answer_text(a)
    assert "證據" in answer_text(a)  # traditional question, traditional refusal


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


def test_quotes_in_the_askers_script_are_verbatim_and_converted_ones_are_marked(small_corpus, tmp_path, fake_settings):
    from rag.presentation.shapes import answer_to_json
    from rag.text.fold import in_script
    from webapp import view

    # Hong Kong Traditional text uses 宣布, 布局, 了解 and 采取, which OpenCC's s2t would
    # "convert" to 宣佈, 佈局, 瞭解 and 採取: a Traditional reader must see them as written.
    hk = "數碼港今日宣布新的布局，希望市民了解計劃，並會采取措施協助初創企業。"
    (small_corpus / "hk.txt").write_text(f"數碼港消息\n\n{hk}\n", encoding="utf-8")
    (small_corpus / "sz.txt").write_text("深圳消息\n\n深圳湾实验室宣布成立新的研究中心，聚焦合成生物学。\n", encoding="utf-8")
    build_index(small_corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    idx = open_index(tmp_path / "idx", fake_settings, HashingEmbedder())
    assert in_script(hk, "traditional") == (hk, False)
    a = idx.ask("數碼港宣布了甚麼布局？", doc_ids=["hk"])
    assert not a.abstained and a.script == "traditional"
    assert a.segments[0][0] == hk and a.converted == () and hk in a.answer
    assert answer_to_json(a)["segments"][0]["converted"] is False
    assert "converted" not in view.answer_message(a, 0)
    # A Simplified source asked in Traditional is converted, and says so.
    b = idx.ask("深圳灣實驗室宣布成立了甚麼？", doc_ids=["sz"])
    assert not b.abstained and b.converted == (1,)
    assert "深圳灣實驗室" in b.answer and b.citations[0].quote.startswith("深圳湾实验室")
    assert answer_to_json(b)["segments"][0]["converted"] is True
    assert 'class="converted"' in view.answer_message(b, 0)


def test_an_answer_has_a_copy_link_and_a_refusal_has_none(idx):
    from webapp import view

    msg = view.answer_message(idx.ask("香港科技園公司今年新增了多少家初創企業？"), 2)
    assert '<a class="copy-answer" href="#copy-2"' in msg and "複製答案和出處" in msg
    # (What it copies is built in the browser from the message and its sources: see
    # test_webapp_e2e.py, which reads the clipboard.)
    assert "copy-answer" not in view.answer_message(idx.ask("東京奧運會門票多少錢？"), 3)


def test_refusals_name_the_articles_searched_and_english_questions_are_told_why(idx):
    from webapp import view

    a = idx.ask("東京奧運會門票多少錢？", doc_ids=["b"])
    assert a.abstained and "《深圳前海的发展》" in answer_text(a) and "語料中" not in answer_text(a)
    e = idx.ask("How much foreign investment did Qianhai attract?")
    assert e.abstained and not e.citations and ("請用中文提問" in answer_text(e) or "请用中文提问" in answer_text(e))
    assert e.reason == "not_chinese"
    # A refusal to a Simplified question is Simplified throughout, hint included.
    s = idx.ask("东京奥运会门票多少钱？")
    msg = view.answer_message(s, 0, "traditional")
    assert s.abstained and "最接近的段落" in msg and "僅供參考" not in msg and "仅供参考" in msg
