"""rag.pipeline.parts: a question in several parts is answered part by part."""
from __future__ import annotations

import json

from rag.pipeline.parts import merge_answers, split_parts
from rag.presentation.shapes import answer_to_json
from rag.presentation.strings import notice_text
from rag.records import Answer, Citation, Hit


def test_split_parts():
    assert split_parts("河套香港園區有多少家機構落戶？首期入駐率？") == ["河套香港園區有多少家機構落戶？", "首期入駐率？"]
    assert split_parts("高桥宏什么时候逝世的？以及逝世的原因是？") == ["高桥宏什么时候逝世的？", "以及逝世的原因是？"]
    # One question, however it is punctuated.
    for q in ("阿里巴巴買了幾層？", "阿里巴巴買了幾層？好嗎？", "真的嗎？阿里巴巴買了幾層？",
              "《假如我是总统…… 2012年做什么？》主要阐述了什么？", "「殿下先謁陵乎？先即位乎？」這句話是誰說的？",
              "蒙古各部與清政府關係，各有不同；一部分則被怎麼對待？"):
        assert split_parts(q) == [q]
    assert len(split_parts("甲公司有幾人？" * 5)) == 1  # a list of questions past four is not split


def _answer(q, quotes, short="", abstained=False, other_year=None):
    cits = tuple(Citation(i + 1, f"d#{n}", "d", "T", "", 10 * n, 10 * n + 5, f"句子{n}") for i, n in enumerate(quotes))
    return Answer(question=q, answer="" if abstained else "".join(f"句子{n}[{i + 1}]" for i, n in enumerate(quotes)),
                  abstained=abstained, citations=() if abstained else cits,
                  hits=tuple(Hit(f"d#{n}", "d", 1.0) for n in quotes), script="traditional",
                  segments=() if abstained else tuple((f"句子{n}", i + 1) for i, n in enumerate(quotes)),
                  short_text=short, other_year=other_year, timings_ms={"total": 10.0},
                  reason="no_evidence" if abstained else "answered")


def test_merge_renumbers_and_quotes_a_shared_sentence_once():
    a = merge_answers("Q1？Q2？", [_answer("Q1？", [1, 2], "79家"), _answer("Q2？", [2, 3], "九成")])
    assert [c.marker for c in a.citations] == [1, 2, 3]
    assert [(c.chunk_id, c.marker) for c in a.citations] == [("d#1", 1), ("d#2", 2), ("d#3", 3)]
    assert a.segments == (("句子1", 1), ("句子2", 2), ("句子3", 3))
    assert a.answer == "句子1[1]句子2[2]句子3[3]"
    assert a.short_text == "79家；九成" and a.question == "Q1？Q2？"
    assert [(p.question, p.answered, p.markers) for p in a.parts] == [("Q1？", True, (1, 2)), ("Q2？", True, (2, 3))]
    assert a.timings_ms["total"] == 20.0 and notice_text(a) == ""


def test_a_part_without_evidence_is_named():
    a = merge_answers("Q1？Q2？", [_answer("Q1？", [1], "79家"), _answer("Q2？", [], abstained=True)])
    assert not a.abstained and a.unanswered_parts == ("Q2？",)
    assert "「Q2？」" in notice_text(a) and "未能" in notice_text(a)
    shaped = answer_to_json(a)
    assert shaped["parts"] == [{"question": "Q1？", "answered": True, "short_answer": "79家", "markers": [1]},
                               {"question": "Q2？", "answered": False, "short_answer": None, "markers": []}]
    json.dumps(shaped)
    # Nothing found for any part: one abstention for the whole question, no notice of parts.
    none = merge_answers("Q1？Q2？", [_answer("Q1？", [], abstained=True), _answer("Q2？", [], abstained=True)])
    assert none.abstained and none.unanswered_parts == () and none.question == "Q1？Q2？"


def test_a_question_in_two_parts_through_the_index(small_corpus, tmp_path, fake_settings):
    from rag.api import open_index
    from rag.embedding.fake import HashingEmbedder
    from rag.index import build_index

    build_index(small_corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    idx = open_index(tmp_path / "idx", fake_settings, HashingEmbedder())
    one = idx.ask("香港科技園公司今年新增了多少家初創企業？")
    two = idx.ask("香港科技園公司今年新增了多少家初創企業？高端人才通行證計劃首年收到多少份申請？")
    assert not one.abstained and len(two.parts) == 2 and all(p.answered for p in two.parts)
    quotes = {c.quote for c in two.citations}
    assert any("三百家" in q for q in quotes) and any("兩萬份" in q for q in quotes)
    for c in two.citations:  # every merged citation is still verified against its document
        assert idx.documents[c.doc_id].text[c.start:c.end] == c.quote
    assert {m for _, m in two.segments} == {c.marker for c in two.citations}
