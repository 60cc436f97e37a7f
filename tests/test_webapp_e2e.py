"""The chat page for real: launched on a test port, driven by gradio_client and by Chromium."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS

EVIL = '<script>window.pwned=1</script>惡意頁面\n\n正文<img src="http://127.0.0.1:9/x.png" onerror="window.pwned=1">講述前海的新聞![x](http://127.0.0.1:9/y.png)。\n'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_cache_dir):
    base = tmp_path_factory.mktemp("app")
    corpus = base / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "evil.txt").write_text(EVIL, encoding="utf-8")
    port = _free_port()
    env = dict(os.environ, RAG_CACHE_DIR=str(model_cache_dir), RAG_PORT=str(port),
               RAG_INDEX=str(base / "index"), RAG_CORPUS=str(corpus))
    log = (base / "app.log").open("w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 400
    import urllib.request

    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((base / "app.log").read_text())
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
        raise RuntimeError("app did not start: " + (base / "app.log").read_text())
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.model
def test_gradio_client_chat_endpoint(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    history, panel, box = client.predict("阿里巴巴在铜锣湾买下了几层写字楼？", [], api_name="/chat")
    text = history[-1]["content"][0]["text"] if isinstance(history[-1]["content"], list) else history[-1]["content"]
    assert "13层" in text and "cite-marker" in text
    assert "13層" in panel and "<mark>" in panel
    looked = client.predict("000_0f407bbef8b93a09#3", api_name="/lookup")
    assert "000_0f407bbef8b93a09#3" in looked


def _browser():
    pw = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    return pw


@pytest.mark.model
@pytest.mark.browser
def test_browser_ask_click_marker_shows_source(server, tmp_path):
    pw = _browser()
    requests = []
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: requests.append(r.url))
        try:
            _drive(page, server, requests, tmp_path)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)  # for whoever debugs it
            raise
        finally:
            browser.close()


def _drive(page, url: str, requests: list, tmp_path: Path) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#question textarea").fill("阿里巴巴在铜锣湾买下了几层写字楼？")
    page.locator("#question textarea").press("Enter")
    marker = page.locator("#chat a.cite-marker").first
    marker.wait_for(timeout=120_000)
    page.locator("#sources-panel .src-item").first.wait_for(timeout=60_000)
    marker.click()
    selected = page.locator("#sources-panel .src-item.selected")
    selected.wait_for(timeout=10_000)
    assert "13層" in selected.locator("mark").first.inner_text()
    assert "走在香港銅鑼灣" in selected.inner_text()
    page.screenshot(path=str(tmp_path / "answer.png"))

    # A follow-up is rewritten with the previous question, and says what it searched.
    page.locator("#question textarea").fill("河套香港園區有多少家機構落戶？")
    page.locator("#question textarea").press("Enter")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('79家')", timeout=120_000)
    page.locator("#question textarea").fill("那深圳分園呢？")
    page.locator("#question textarea").press("Enter")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('已搜尋：河套深圳分園')",
                           timeout=120_000)
    assert page.locator("#chat small.searched").count() == 1

    # No evidence: said plainly, nearest passages offered as "possibly related" only.
    page.locator("#question textarea").fill("香港地鐵的車費是多少？")
    page.locator("#question textarea").press("Enter")
    page.locator("#chat small.related-hint").first.wait_for(timeout=120_000)
    page.wait_for_function("document.querySelector('#chat').innerText.includes('未能在語料中找到足夠的證據')",
                           timeout=10_000)
    page.locator("#sources-panel .related").wait_for(timeout=30_000)

    # Scraped HTML in a passage renders as text, and nothing is fetched from it.
    page.locator("#question textarea").fill("惡意頁面講述前海的什麼新聞？")
    page.locator("#question textarea").press("Enter")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('講述前海的新聞')", timeout=120_000)
    time.sleep(3)
    page.get_by_role("tab", name="出處查詢").click()
    page.locator("#lookup-box textarea").fill("evil#0")
    page.locator("#lookup-send").click()
    page.locator("#lookup-result .ctx").wait_for(timeout=30_000)
    assert "<img" in page.locator("#lookup-result").inner_text()
    assert page.evaluate("window.pwned") is None
    assert not [u for u in requests if ":9/" in u]
