"""Questions from hostile or careless users: each gets an answer or a clear
InputError, in bounded time, from the library itself (not only the page)."""
from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest

from rag.presentation.strings import answer_text
from rag.api import check_question, open_index
from rag.embedding.fake import HashingEmbedder
from rag.errors import InputError
from rag.index import build_index
from rag.settings import Settings

from conftest import make_fake_settings


@contextmanager
def hang_guard(seconds: int = 30):
    """Fail (instead of hanging the suite) if the body does not return: this is a
    hang detector, not a speed target."""
    def boom(*_):
        raise AssertionError(f"did not return within {seconds} s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def idx(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / "a.txt").write_text("香港科技園的新聞\n\n香港科技園公司今年新增了三百家初創企業。中国中国的人才計劃吸引了兩萬人。\n",
                                  encoding="utf-8")
    s = make_fake_settings(corpus / "m")
    build_index(corpus, corpus.parent / "idx", s, HashingEmbedder())
    return open_index(corpus.parent / "idx", s, HashingEmbedder())


REFUSED = {
    "empty": ("", "empty"),
    "whitespace": (" \t\n\u3000 ", "empty"),
    "only punctuation": ("？？！。，…「」", "no word"),
    "only invisible": ("\u200b\u200d\ufeff", "empty"),
    "1 MB": ("問" * 1_000_000, "limit is 500"),
    "100,000 x 中国": ("中国" * 100_000, "limit is 500"),
    "lone surrogate": ("香港\ud800科技", "not valid UTF-8"),
    "surrogate escape": ("壞\udcff字", "not valid UTF-8"),
    "501 characters": ("科" * 501, "501 characters"),
    "not text": (b"\xe4\xb8\xad", "must be text"),
}

ANSWERED = {
    "control characters": "香港科技園\x00新增了\x1b多少家\x7f初創企業？",
    "BOM": "\ufeff香港科技園新增了多少家初創企業？",
    "zero-width joiners": "香\u200d港\u200b科技園新增了多少家初創企業？",
    "bidi override": "\u202e香港科技園新增了多少家初創企業？",
    "CJK Extension B": "𠀀𠀁𪚥香港科技園新增了多少家初創企業？",
    "mixed scripts and emoji": "🚀 香港科技园 new 初創企業 how many? 🙂👨‍👩‍👧",
    "jieba pattern at the limit": "中国" * 250,
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_with_a_clear_message(idx, name):
    question, says = REFUSED[name]
    with hang_guard():
        for call in (idx.ask, idx.search, idx.support):
            with pytest.raises(InputError, match=says):
                call(question)


@pytest.mark.parametrize("name", list(ANSWERED))
def test_answered_or_abstained(idx, name):
    with hang_guard():
        a = idx.ask(ANSWERED[name])
    assert answer_text(a) and (a.abstained or a.citations)
    for c in a.citations:  # every citation still points at the exact source text
        assert idx.documents[c.doc_id].text[c.start:c.end] == c.quote
    assert "\u200b" not in a.question and "\x00" not in a.question and "\u202e" not in a.question


def test_hidden_characters_do_not_change_the_answer(idx):
    plain = idx.ask("香港科技園新增了多少家初創企業？")
    hidden = idx.ask("香\u200d港\u200b科技園新增了\x00多少家初創企業？\ufeff")
    assert not plain.abstained and plain.citations == hidden.citations


def test_limit_is_the_settings_value():
    s = Settings(max_question_chars=10)
    assert check_question("香港" * 5, s) == "香港" * 5
    with pytest.raises(InputError, match="11 characters; the limit is 10"):
        check_question("香港" * 5 + "？", s)
    # Invisible characters do not count against the limit.
    assert check_question("香\u200b港" * 5, s) == "香港" * 5
