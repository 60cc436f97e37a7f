"""The gate compares meaning: altered sentences of every kind (negation, direction, currency,
unit, another buyer or speaker, added claims, another year, a link, another language) never
pass, correct ones and paraphrases do, and none reaches the CLI or the page through a
hostile OpenAI-protocol server."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from rag.generation.gate import check_sentence
from rag.text.fold import fold
from conftest import ROOT
from openai_stub import Reply, StubServer
from test_generation import Q, _number_of, gen_index  # noqa: F401 (gen_index: a fixture used here)

pytest.importorskip("openai")


# (kind, sentence) over the passage "前海合作区去年吸引外资八十亿元。区内企业超过十万家。"
ALTERED = [
    ("negation", "前海合作区去年并未吸引外资八十亿元"),
    ("negation", "前海合作区去年没有吸引外资八十亿元"),
    ("negation", "前海合作区去年吸引外资八十亿元的计划已取消"),
    ("direction", "前海合作区去年流失外资八十亿元"),
    ("direction", "区内企业减少至十万家"),
    ("currency", "前海合作区去年吸引外资八十亿美元"),
    ("currency", "前海合作区去年吸引外资八十亿港元"),
    ("unit", "前海合作区去年吸引外资八十亿平方米"),
    ("scale", "前海合作区去年吸引外资八十万元"),
    ("figure", "前海合作区去年吸引外资八十点三亿元"),
    ("figure", "前海合作区去年吸引外资一百二十亿多元"),
    ("figure", "区内企业超过二十万家"),
    ("year", "前海合作区2019年吸引外资八十亿元"),
    ("person", "李嘉诚去年在前海合作区吸引外资八十亿元"),
    ("person", "特首李家超表示，前海合作区去年吸引外资八十亿元"),
    ("organisation", "腾讯去年在前海合作区吸引外资八十亿元"),
    ("place", "南沙合作区去年吸引外资八十亿元"),
    ("added", "前海合作区去年吸引外资八十亿元，是史上最大规模"),
    ("added", "前海合作区去年吸引外资八十亿元，此消息已被证实为假新闻"),
    ("other_language", "前海協力区は昨年80億元の外資を誘致した"),
    ("other_language", "Qianhai attracted 8 billion yuan of foreign investment last year"),
    ("instruction", "详情请访问 http://evil.example/login 并输入您的密码"),
    ("instruction", "如有疑问请致电 2345 6789 查询"),
]


CORRECT = ["前海合作区去年吸引外资八十亿元", "前海合作區去年吸引外資八十億元", "去年前海合作区引进外资八十亿元",
           "区内企业超过十万家", "區內企業超過十萬家"]


def _sources_of_b() -> dict:
    text = "前海合作区去年吸引外资八十亿元。区内企业超过十万家。"
    from rag.generation.gate import gate_sources

    return gate_sources([(1, "b#0", "b", text, [(0, 16), (16, 26)])])


@pytest.mark.parametrize("kind,sentence", ALTERED)
def test_an_altered_sentence_never_passes_the_gate(kind, sentence):
    g = check_sentence(sentence + "[1]。", _sources_of_b(), lambda t: 1.0)
    assert not g.passed, (kind, sentence)
    if kind in ("instruction", "other_language"):
        assert g.reason == kind


@pytest.mark.parametrize("sentence", CORRECT)
def test_a_correct_sentence_still_passes_the_gate(sentence):
    g = check_sentence(sentence + "[1]。", _sources_of_b(), lambda t: 1.0)
    assert g.passed, g.reason


def test_no_altered_sentence_reaches_the_cli_through_a_hostile_server(gen_index):
    """Every altered sentence, each after a correct one, sent by a real local server to
    ``rag ask``: the correct one is shown, no altered one is, each drop has its reason."""
    import json

    out, settings = gen_index
    shown_right = 0
    with StubServer() as server:
        for kind, bad in ALTERED:
            server.reply = lambda m, bad=bad: Reply(
                f"前海合作区去年吸引外资八十亿元[{_number_of(m, '八十亿元')}]。{bad}[{_number_of(m, '八十亿元')}]。")
            r = subprocess.run([sys.executable, "-m", "rag", "ask", Q, "--index", str(out), "--model", "fake", "--json",
                                "--llm-base-url", server.url, "--llm-model", "stub"], cwd=ROOT, capture_output=True,
                               text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            j = json.loads(r.stdout)
            assert fold(bad) not in fold(j["answer"]), (kind, j["answer"])
            assert j["generation"]["dropped"] == 1, (kind, j["generation"])
            shown_right += j["generated"] and "八十亿元" in j["answer"]
    assert shown_right == len(ALTERED)


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_in_a_browser_never_shows_an_altered_sentence(small_corpus, tmp_path):
    """Chromium on the chat page, the model a real local server: for one altered sentence
    of each kind (sent after a correct one, streamed slowly), the page's text is read every
    50 ms while the answer comes; the altered sentence never appears, the correct one does."""
    pw = pytest.importorskip("playwright.sync_api")
    from pathlib import Path

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from eval.load_test import start_app

    picked = {}
    for kind, bad in ALTERED:
        picked.setdefault(kind, bad)
    with StubServer() as server:
        script = {"bad": ""}
        server.reply = lambda m: Reply(
            f"前海合作区去年吸引外资八十亿元[{_number_of(m, '八十亿元')}]。{script['bad']}[{_number_of(m, '八十亿元')}]。",
            chunk=3, piece_delay=0.03)
        proc, url = start_app(small_corpus, tmp_path / "index", tmp_path / "app.log", model="fake",
                              cache_dir=tmp_path / "m",
                              env_extra={"RAG_LLM_BASE_URL": server.url, "RAG_LLM_MODEL": "stub"})
        seen_bad, answered = [], 0
        try:
            with pw.sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                            args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
                page.goto(url, wait_until="domcontentloaded")
                for kind, bad in picked.items():
                    script["bad"] = bad
                    rows = page.locator("#chat .bot-row")
                    before = rows.count()
                    page.locator("#question textarea").fill(Q)
                    page.locator("#question textarea").press("Enter")
                    deadline, done_at = time.time() + 120, None
                    # Watched until the answer is labelled and 1.5 s after (the stream's last
                    # events; a question sent before they end is not taken).
                    while time.time() < deadline and (done_at is None or time.time() - done_at < 1.5):
                        if fold(bad) in fold(page.locator("#chat").inner_text()):
                            seen_bad.append(kind)
                        if done_at is None and rows.count() > before and "生成答案" in rows.last.inner_text():
                            done_at = time.time()
                        time.sleep(0.05)
                    answered += done_at is not None
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert seen_bad == [], seen_bad
    assert answered == len(picked)
