"""The reader's topic check: the coverage measure (pure), a span from a document about
something else is dropped in the pipeline, and the tuning's table (its flags are tested
with the other reader flags in test_reader.py)."""
import pytest

from eval.harness.topic_check import choose, row
from rag.index import build_index
from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.reader.decide import topic_coverage
from rag.reader.features import SpanScore
from rag.text.fold import fold


class LengthReader:
    """Reads "60公分" wherever it is written, confidently (margin 4); else no answer."""

    name, threshold = "length-reader", 0.0

    def read(self, question, passages):
        return [SpanScore(5.0, 1.0, p.find("60"), p.find("60") + 4) if "60" in p else SpanScore(1.0, 3.0, 0, 1)
                for p in passages]


def _idf(term: str) -> float:
    return {"交叉": 6.0, "笛鲷": 5.0, "体长": 2.0, "可达": 1.0, "公分": 1.0}.get(term, 3.0)


def test_topic_coverage_is_the_share_of_the_question_words_the_document_holds():
    q = fold("交叉笛鲷体长可达多少公分？")
    assert topic_coverage(q, fold("交叉笛鯛，體長可達35公分。"), _idf) == 1.0  # Traditional document: folded first
    other = topic_coverage(q, fold("黃笛鯛，體長可達60公分。"), _idf)
    assert 0.5 < other < 1.0  # the rarest word (交叉) is missing
    assert topic_coverage(q, fold("颱風今日襲港。"), _idf) == 0.0
    assert topic_coverage(fold("多少？"), "任何文字", _idf) == 1.0  # nothing to check: never drops a span
    assert topic_coverage(fold("2023年是多少？"), "任何文字", _idf) == 1.0  # figures are what is asked, not the topic
    # A word the corpus does not have at all (jieba's split of the question) tells no
    # document from another: left out when the corpus's vocabulary is given.
    known = {"交叉", "笛鲷", "体长", "公分"}.__contains__
    assert topic_coverage(q, fold("交叉笛鯛，體長35公分。"), _idf) < 1.0  # 可达 is not written there
    assert topic_coverage(q, fold("交叉笛鯛，體長35公分。"), _idf, known) == 1.0
    assert topic_coverage(fold("可达多少？"), "任何文字", _idf, known) == 1.0  # nothing known to check


def test_weighing_only_the_rarest_words_lets_the_words_of_the_asking_go():
    idf = {"bcpl": 9.0, "介绍": 3.0, "一下": 3.0}.get
    q = fold("能给我介绍一下什么是BCPL么？")
    article = "bcpl是一种程序设计语言，由马丁·理察德在1966年开发。"
    assert topic_coverage(q, article, lambda t: idf(t, 1.0)) < 0.65  # 介绍, 一下 are not in the article
    assert topic_coverage(q, article, lambda t: idf(t, 1.0), top=1) == 1.0  # its name is
    assert topic_coverage(q, "pascal是一种程序设计语言。", lambda t: idf(t, 1.0), top=1) == 0.0
    # The rarest words are the names: another fish keeps the common words, not the name.
    fish = fold("交叉笛鲷体长可达多少公分？")
    # jieba splits 交叉|笛|鲷: the two rarest are 交叉 (6) and 笛 (3, first of the ties).
    assert topic_coverage(fish, fold("黃笛鯛，體長可達60公分。"), _idf, top=2) == pytest.approx(3 / 9)
    assert topic_coverage(fish, fold("黃笛鯛，體長可達60公分。"), _idf) > 0.5
    assert topic_coverage(fish, fold("交叉笛鯛，棲息於紅海。"), _idf, top=2) == 1.0


def test_a_span_from_a_document_about_something_else_is_dropped(small_corpus, tmp_path, fake_settings):
    (small_corpus / "fish.txt").write_text("黃笛鯛\n\n黃笛鯛是一種魚，體長可達60公分，棲息於珊瑚礁。\n", encoding="utf-8")
    # The question's fish is in the corpus too (a word no document has would not count).
    (small_corpus / "cross.txt").write_text("交叉笛鯛\n\n交叉笛鯛是另一種魚，棲息於紅海。\n", encoding="utf-8")
    build_index(small_corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    idx = open_index(tmp_path / "idx", fake_settings, HashingEmbedder())
    idx.reader = LengthReader()
    q = "交叉笛鯛體長可達多少公分？"
    idx.settings = idx.settings.with_(reader_min_topic=None)
    off = idx.ask(q, doc_ids=["fish"])
    assert not off.abstained and off.short_text == "60公分"  # without the check: another fish's length
    bm25 = idx.loaded.bm25
    idf = idx.loaded.article_idf if idx.settings.reading.topic_idf == "articles" else bm25.idf
    share = topic_coverage(fold(q), fold((small_corpus / "fish.txt").read_text(encoding="utf-8")), idf,
                           bm25.knows, idx.settings.reading.topic_terms)
    assert 0 < share < 1
    idx.settings = idx.settings.with_(reader_min_topic=round(share + 0.01, 2))
    on = idx.ask(q, doc_ids=["fish"])
    assert on.abstained and on.short_answer is None and on.related
    assert on.evidence["passages_read"] == 0  # an off-topic document is not even read
    idx.settings = idx.settings.with_(reader_min_topic=round(share - 0.01, 2))
    assert idx.ask("黃笛鯛體長可達多少公分？", doc_ids=["fish"]).short_text == "60公分"  # its own fish: answered
    assert not idx.ask(q, doc_ids=["fish"]).abstained  # below the share: the check lets it through


def test_counted_in_articles_the_subject_of_a_long_article_weighs_as_its_name(small_corpus, tmp_path, fake_settings):
    # The army's article names 纽西兰 in every chunk; the question's other rare word (职责)
    # is not in it. Counted in chunks, 职责 outweighs the subject; counted in articles, not.
    body = "".join(f"纽西兰国防军的第{i}段记载了部队的编制与历史，共有{i}个单位。" * 6 + "\n\n" for i in range(1, 7))
    (small_corpus / "army.txt").write_text("纽西兰国防军\n\n" + body, encoding="utf-8")
    (small_corpus / "duty.txt").write_text("部门职责\n\n各部门的职责由法例订明。\n", encoding="utf-8")
    build_index(small_corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    idx = open_index(tmp_path / "idx", fake_settings, HashingEmbedder())
    ix = idx.loaded
    assert len([c for c in ix.chunks if c.doc_id == "army"]) >= 3
    q, army = fold("纽西兰国防军有着怎样的职责？"), fold((small_corpus / "army.txt").read_text(encoding="utf-8"))
    assert ix.bm25.idf("纽西兰") < ix.bm25.idf("职责") and ix.article_idf("纽西兰") >= ix.article_idf("职责")
    by_chunks = topic_coverage(q, army, ix.bm25.idf, ix.bm25.knows, 2)
    by_articles = topic_coverage(q, army, ix.article_idf, ix.bm25.knows, 2)
    assert by_articles > by_chunks
    idx.reader = LengthReader()
    idx.settings = idx.settings.with_(reader_min_topic=round((by_chunks + by_articles) / 2, 3), reader_topic_terms=2,
                                      reader_topic_idf="chunks")
    assert idx.ask(q, doc_ids=["army"]).evidence["passages_read"] == 0  # counted in chunks: not read
    idx.settings = idx.settings.with_(reader_topic_idf="articles")
    assert idx.ask(q, doc_ids=["army"]).evidence["passages_read"] > 0  # counted in articles: read


def test_the_topic_check_counts_rarity_in_chunks_or_articles():
    from rag.cli import build_parser, settings_from_args as _settings
    from rag.settings import TOPIC_IDF, Settings

    parse = build_parser().parse_args
    assert _settings(parse(["ask", "x"])).reading.topic_idf == TOPIC_IDF == Settings().reading.topic_idf
    assert _settings(parse(["ask", "x", "--reader-topic-idf", "articles"])).reading.topic_idf == "articles"
    with pytest.raises(SystemExit):
        parse(["ask", "x", "--reader-topic-idf", "words"])
    with pytest.raises(ValueError, match="reader_topic_idf 'words' is not one of chunks, articles"):
        Settings.of(reader_topic_idf="words").validate()


def _rec(abstained: bool, has: bool, f1: float | None = None) -> dict:
    return {"abstained": abstained, "answer_contains": 1.0 if has else 0.0, "short_f1": f1}


def test_the_tuning_counts_right_outcomes_with_and_without_the_passage_and_prefers_the_smaller_share():
    off = row(None, [_rec(False, True, 1.0), _rec(False, True, 0.5)], [_rec(False, False), _rec(False, True)])
    assert off == {"min_topic": None, "topic_terms": None, "topic_idf": "chunks", "answer_has_reference": 1.0, "refused": 0.0, "own_removed_right": 0.5,
                   "short_f1": 75.0, "right_outcomes": 3}
    better = row(0.2, [_rec(False, True, 1.0), _rec(False, True, 0.5)], [_rec(True, False), _rec(False, True)])
    same = row(0.4, [_rec(False, True, 1.0), _rec(False, True, 0.5)], [_rec(True, False), _rec(True, False)])
    stricter = row(0.5, [_rec(True, False), _rec(False, True, 0.5)], [_rec(True, False), _rec(True, False)])
    assert better["right_outcomes"] == same["right_outcomes"] == 4 and better["own_removed_right"] == 1.0
    assert stricter["right_outcomes"] == 3 and stricter["refused"] == 0.5 and stricter["short_f1"] == 25.0
    assert choose([off, better, same, stricter]) is better  # a tie goes to the smaller share
    assert choose([off, row(0.1, [_rec(True, False)] * 2, [_rec(True, False)] * 2)]) is off
    # A tie in right outcomes goes to the candidate that refuses fewer answerable questions.
    names = row(0.6, [_rec(False, True, 1.0), _rec(False, False, 0.0)], [_rec(True, False), _rec(True, False)], 2)
    refuses = row(0.3, [_rec(False, True, 1.0), _rec(True, False)], [_rec(True, False), _rec(True, False)])
    assert names["right_outcomes"] == refuses["right_outcomes"] == 3 and names["topic_terms"] == 2
    assert choose([refuses, names]) is names


def test_both_reader_tunings_refuse_the_benchmark(capsys):
    from eval.harness import stop_margin, topic_check

    assert topic_check.main(["--file", "cmrc2018_dev.json"]) == 2
    assert stop_margin.main(["--file", "cmrc2018_dev.json"]) == 2
    err = capsys.readouterr().err
    assert "choose the topic check on a training set" in err and "choose the stop margin on a training set" in err


def test_a_tuning_writes_its_table_with_the_set_and_reader(tmp_path):
    import argparse
    import json
    from types import SimpleNamespace

    from eval.harness.stop_margin import write_choice

    args = argparse.Namespace(out=str(tmp_path / "sub" / "choice.json"), file="cmrc2018_trial.json")
    idx = SimpleNamespace(reader=SimpleNamespace(name="trained-x", threshold=-3.0))
    out = write_choice(args, idx, [1, 2, 3], {"rule": "r", "chosen": {"min_topic": 0.5}, "table": []})
    got = json.loads(out.read_text(encoding="utf-8"))
    assert got == {"set": "cmrc2018_trial.json", "questions": 3, "reader": "trained-x", "threshold": -3.0,
                   "rule": "r", "chosen": {"min_topic": 0.5}, "table": []}
