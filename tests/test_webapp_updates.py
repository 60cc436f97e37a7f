"""The running chat page follows `rag add` / `rag remove`: the next question is answered
from the updated index, and the article list offers the added article (fake model)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS

FERRY = "天星小輪加價新聞\n\n天星小輪宣布明年起票價上調一成。公司表示燃油成本上升了百分之三十。\n"


def _rag(*args: str, cache: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "rag.cli", args[0], "--model", "fake", "--cache-dir", str(cache), *args[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def _answer_text(history) -> str:
    content = history[-1]["content"]
    return content[0]["text"] if isinstance(content, list) else content


@pytest.mark.browser
def test_page_follows_adds_and_removes(tmp_path):
    from gradio_client import Client

    from eval.load_test import start_app

    corpus, index, cache = tmp_path / "corpus", tmp_path / "index", tmp_path / "models"
    shutil.copytree(SEEDS, corpus)
    proc, url = start_app(corpus, index, tmp_path / "app.log", model="fake", cache_dir=cache)
    try:
        client = Client(url, verbose=False)
        before, _ = client.predict("天星小輪明年的票價怎樣？", api_name="/chat")
        assert "天星小輪宣布" not in _answer_text(before)

        article = tmp_path / "zz_ferry.txt"
        article.write_text(FERRY, encoding="utf-8")
        r = _rag("add", str(article), "--index", str(index), cache=cache)
        assert r.returncode == 0, r.stderr

        # The next question is answered from the updated index, with no restart.
        after, panel = Client(url, verbose=False).predict("天星小輪明年的票價怎樣？", api_name="/chat")
        assert "天星小輪宣布明年起票價上調一成" in panel and "zz_ferry" in panel

        # The article list of a page opened now offers the new article.
        _assert_listed(url, "天星小輪加價新聞", True)

        r = _rag("remove", "zz_ferry", "--index", str(index), cache=cache)
        assert r.returncode == 0, r.stderr
        gone, panel = Client(url, verbose=False).predict("天星小輪明年的票價怎樣？", api_name="/chat")
        assert "zz_ferry" not in panel
        _assert_listed(url, "天星小輪加價新聞", False)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _assert_listed(url: str, title: str, listed: bool) -> None:
    pw = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text("設定").first.click()  # the settings accordion
            box = page.locator("#doc-filter input").first
            box.wait_for(timeout=30_000)
            box.click()
            page.locator("#doc-filter [role=option]").first.wait_for(timeout=10_000)
            options = page.locator("#doc-filter [role=option]").all_inner_texts()
            assert any(title in o for o in options) == listed, options
        finally:
            browser.close()
