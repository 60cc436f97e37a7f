"""The checks on the reader's spans: a span about another company, a how-many question
without a number, short answers that keep qualifiers and never cut a bracket,
and answers dated with another year than asked (stand-in readers, no model)."""
from __future__ import annotations

import pytest
from rag.presentation.strings import notice_text
from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.index import build_index
from rag.reader.features import SpanScore
from rag.text.fold import fold
from test_reader import NumberReader


def _index_with(corpus, tmp_path, settings, name: str, text: str, reader):
    """The small corpus plus one article ``name``, indexed, read by the stand-in ``reader``."""
    (corpus / f"{name}.txt").write_text(text, encoding="utf-8")
    build_index(corpus, tmp_path / "idx", settings, HashingEmbedder())
    idx = open_index(tmp_path / "idx", settings, HashingEmbedder())
    idx.reader = reader
    return idx


def test_a_span_from_a_sentence_about_another_company_is_not_an_answer(small_corpus, tmp_path, fake_settings):
    idx = _index_with(small_corpus, tmp_path, fake_settings, "deal",
                      "收購消息\n\n阿里巴巴收購銅鑼灣寫字樓十三層，斥資六十六億元。\n", NumberReader())
    ok = idx.ask("阿里巴巴收購了銅鑼灣多少層寫字樓？", doc_ids=["deal"])
    assert not ok.abstained and ok.short_answer is not None
    other = idx.ask("騰訊收購了銅鑼灣多少層寫字樓？", doc_ids=["deal"])
    assert other.abstained and other.short_answer is None


def test_how_many_questions_and_numbers_are_recognised():
    from rag.reader.decide import asks_quantity, has_numeral

    for q in ("阿里巴巴在香港聘請了多少名員工？", "小红书香港办公室有多少员工", "買了幾層寫字樓？", "有幾家獨角獸？"):
        assert asks_quantity(fold(q)), q
    for q in ("夏尔精通哪几门语言？", "mac第几款？", "几乎所有食物都加什么油？", "腾讯在香港收购了哪一栋写字楼？",
              "二十多年来，谁主持这个节目？"):
        assert not asks_quantity(fold(q)), q
    for a in ("13層", "５.０２萬", "三百家", "逾兩千人", "百分之九十五", "数十个"):
        assert has_numeral(fold(a)), a
    for a in ("阿里內部員工", "香港科技園", "寫字樓"):
        assert not has_numeral(fold(a)), a


class WordReader(NumberReader):
    """Reads "阿里內部員工" (no number) as the answer wherever it appears."""

    def read(self, question, passages):
        out = []
        for p in passages:
            i = p.find(fold("阿里內部員工"))
            out.append(SpanScore(5.0, 1.0, i, i + 6) if i >= 0 else SpanScore(1.0, 3.0, 0, 1))
        return out


def test_a_how_many_question_is_not_answered_by_a_span_without_a_number(small_corpus, tmp_path, fake_settings):
    idx = _index_with(small_corpus, tmp_path, fake_settings, "staff",
                      "阿里香港\n\n據阿里內部員工透露，香港公司聚合了旗下多個核心業務團隊。\n", WordReader())
    how_many = idx.ask("阿里巴巴在香港聘請了多少名員工？", doc_ids=["staff"])
    assert how_many.abstained and how_many.short_answer is None
    who = idx.ask("誰透露了阿里香港公司的業務？", doc_ids=["staff"])  # not a quantity: the same span answers
    assert not who.abstained and who.short_answer is not None and who.short_answer.text == "阿里內部員工"


@pytest.mark.parametrize("text, span, shown", [
    ("总数47210人（规模较上年增长8.8%），其中", "47210人（规模较上年增长8.8%", "47210人（规模较上年增长8.8%）"),
    ("斯莱布尼尔（Sleipnir）是", "斯莱布尼尔（Sleipnir", "斯莱布尼尔（Sleipnir）"),  # an aside the span opens is closed
    ("收入为3亿元（2023年）。", "3亿元（2023年）", "3亿元（2023年）"),
    ("（2023年）收入为3亿元。", "2023年）收入为3亿元", "收入为3亿元"),  # one begun before the span: left out
    ("香港初创企业近500家。", "500家", "近500家"),  # the qualifier stays
    ("人数超过3000人。", "3000人", "超过3000人"),
    ("发布的《2024年香港创新活动统计》显示", "《2024年香港创", "2024年香港创新活动统计"),  # a title taken whole
    ("发布的《2024年香港创新活动统计》显示", "新活动统计》", "2024年香港创新活动统计"),
    ("《甲》和《乙》两本书", "《甲》和《乙》", "《甲》和《乙》"),
    ("员工由120人增至300人。", "120人增至300人", "300人"),  # from X to Y: the question asks Y
    ("需求將由2023年的6.02萬人增至2028年的9.64萬人,", "6.02萬人增至2028年的9.64萬人", "9.64萬人"),
])
def test_short_answers_keep_qualifiers_and_never_cut_a_bracket(text, span, shown):
    from rag.reader.decide import trim

    a = text.find(span)
    start, end = trim(text, a, a + len(span))
    assert text[start:end] == shown


@pytest.mark.parametrize("text, span, question, shown", [
    ("首期入駐率約九成，79家", "九成", "首期入驻率是多少？", "約九成"),  # a Chinese numeral keeps it too
    ("總數可能超過一千億個", "一千億個", "", "超過一千億個"),
    ("寿命约为八年", "八年", "寿命多少年？", "约为八年"),
    ("寿命约为八年", "八年", "寿命大约为多少年？", "八年"),  # the question already says it
    ("全年人數逾500人", "500人", "全年人数是多少？", "逾500人"),
    ("与球会签约三年。", "三年", "签约几年？", "三年"),  # the 约 of 签约 qualifies nothing
    ("最近三年增长", "三年", "", "三年"),  # nor the 近 of 最近
    ("入驻率约九成", "约九", "", "约九"),  # a span that already holds it is left alone
])
def test_a_qualifier_is_kept_when_it_is_a_word_of_its_own_the_question_does_not_say(text, span, question, shown):
    from rag.reader.decide import trim
    from rag.text.fold import fold

    a = text.find(span)
    start, end = trim(text, a, a + len(span), fold(question, "simplified"))
    assert text[start:end] == shown


def test_an_answer_dated_with_another_year_than_asked_is_not_given_as_the_answer(tmp_path, fake_settings):
    corpus = tmp_path / "years"
    corpus.mkdir()
    (corpus / "stats.txt").write_text("研發統計\n\n根據2025年底發布的《2024年研發統計》，2024年本港研發人員總數為四萬人。\n",
                                      encoding="utf-8")
    build_index(corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    idx = open_index(tmp_path / "idx", fake_settings.with_(reader_min_topic=None), HashingEmbedder())
    idx.reader = NumberReader()
    right = idx.ask("2024年本港研發人員總數是多少人？")
    assert right.short_text == "四萬人" and not notice_text(right) and right.reason == "answered"
    other = idx.ask("2025年本港研發人員總數是多少人？")
    # The sentence is quoted as the evidence, said to be of 2024; no "四萬人" for 2025.
    assert other.short_answer is None and not other.abstained
    assert "2025" in notice_text(other) and "2024" in notice_text(other) and "四萬人" in other.citations[0].quote
    assert other.reason == "other_year"
    from webapp import view

    shown = view.answer_message(other, 0)  # the page says it too, not only the CLI and JSON
    assert notice_text(other) in shown and "short-answer" not in shown
    undated = idx.ask("本港研發人員總數是多少人？")
    assert undated.short_text == "四萬人" and not notice_text(undated)
