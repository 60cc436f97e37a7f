"""The presentation layer words what the library returns as codes and records."""
from rag.filters import DocFilter
from rag.presentation.strings import answer_text, filter_text, notice_text
from rag.records import Answer


def _answer(**kw) -> Answer:
    base = dict(question="q", answer="", abstained=True, citations=(), hits=(), script="traditional")
    return Answer(**(base | kw))


def test_an_abstention_is_a_code_the_presentation_words_in_the_answers_script():
    assert answer_text(_answer(reason="no_evidence")) == "未能在語料中找到足夠的證據回答這個問題。"
    assert "证据" in answer_text(_answer(reason="no_evidence", script="simplified"))
    assert "《前海的发展》" in answer_text(_answer(reason="no_evidence", searched_titles=("前海的发展",)))
    assert "中文" in answer_text(_answer(reason="not_chinese"))
    answered = _answer(answer="原文的句子。[1]", abstained=False, reason="answered")
    assert answer_text(answered) == "原文的句子。[1]" and notice_text(answered) == "" and filter_text(answered) == ""


def test_notices_and_filters_are_worded_from_their_records():
    other = _answer(answer="x[1]", abstained=False, reason="other_year", other_year=("2025", "2024"),
                    script="simplified")
    assert notice_text(other) == "原文没有2025年的数字；以下引文是原文所载2024年的数字，并非2025年。"
    fallback = _answer(answer="x[1]", abstained=False, reason="generation_fallback",
                       generation={"error": "timed out", "no_evidence": False, "dropped": 0})
    assert notice_text(fallback).startswith("語言模型無法使用（timed out）")
    dropped = _answer(answer="x[1]", abstained=False, reason="generation_fallback",
                      generation={"error": "", "no_evidence": False, "dropped": 2})
    assert "2 句未能通過原文核對" in notice_text(dropped)
    assert filter_text(_answer(filters=DocFilter(sources=("信报",)), script="simplified")) == "只搜寻 来源为 信报 的文章"
