"""The chat page under attack and under load: file routes, uploads, cross-origin
requests, oversized bodies, many askers and a burst past the queue. The server is
app.py itself (with the fast fake model) in a child process, on loopback."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

import pytest

from conftest import ROOT, SEEDS
from eval.load_test import rss_mb, run_burst, run_load, start_app
from webapp.page import QUEUE_SIZE

QUESTIONS = ["阿里巴巴在铜锣湾买下了几层写字楼？", "河套香港園區有多少家機構落戶？", "小紅書的香港辦公室在哪裏？",
             "香港预计到2028年创科人才缺口有多大？"]


# A file name readers really use: spaces (U+3000 too), "#", ":" and a newline.
ODD_NAME = "觀塘　報道 #2:3-4\n續"
ODD_TEXT = "觀塘海濱新聞\n\n觀塘海濱長廊的單車徑全長三公里，明年開放。長廊沿線設有休憩處。\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("secure")
    corpus = base / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / f"{ODD_NAME}.txt").write_text(ODD_TEXT, encoding="utf-8")
    (base / ".env").write_text("SECRET=do-not-serve\n", encoding="utf-8")
    proc, url = start_app(corpus, base / "index", base / "app.log", model="fake", cache_dir=base / "models")
    yield proc, url, base
    proc.terminate()
    proc.wait(timeout=20)


def _request(url: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """A raw request: the path is sent exactly as written (no client-side normalizing of ../)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def test_file_routes_refuse_traversal_and_private_files(app):
    _, url, base = app
    index, corpus = base / "index", base / "corpus"
    seed = next(corpus.glob("000_*.txt"))
    targets = [
        "/etc/passwd", "../../../../etc/passwd", "..%2f..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%252e%252e%252fetc%252fpasswd", "....//....//etc/passwd", "//etc/passwd", "/proc/self/environ",
        str(seed), str(index / "manifest.json"), str(index / "chunks.jsonl"), str(base / ".env"),
        str(ROOT / "app.py"), str(ROOT / ".git" / "config"), "app.py", ".env", ".git/config",
        str(ROOT / "rag" / "settings.py"),
    ]
    secrets = [b"root:x:", b"SECRET=", b"manifest_sha256", seed.read_bytes()[:40], b"[core]", b"def main(",
               b"class Settings"]
    for t in targets:
        for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file%3D", "/static/", "/assets/"):
            status, _, body = _request(url, "GET", prefix + t)
            assert status in (403, 404), f"{prefix}{t} -> {status}"
            assert not any(s in body for s in secrets), f"{prefix}{t} leaked a file"


def test_uploads_and_oversized_bodies_are_refused(app):
    _, url, _ = app
    boundary = "x" * 16
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.html\"\r\n"
            f"Content-Type: text/html\r\n\r\n<script>alert(1)</script>\r\n--{boundary}--\r\n").encode()
    status, _, body = _request(url, "POST", "/gradio_api/upload", {"Content-Type": f"multipart/form-data; boundary={boundary}"}, form)
    assert status == 403 and b"uploads are disabled" in body
    status, _, _ = _request(url, "POST", "/gradio_api/queue/join", {"Content-Type": "application/json"}, b"0" * 3_000_000)
    assert status == 413


@pytest.mark.parametrize("origin", ["null", "http://evil.example", "https://127.0.0.1.evil.example"])
def test_foreign_origins_are_not_served_with_credentials(app, origin):
    _, url, _ = app
    for method, path, extra in (("GET", "/config", {}), ("GET", "/gradio_api/info", {}),
                                ("OPTIONS", "/gradio_api/queue/join",
                                 {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})):
        _, headers, _ = _request(url, method, path, {"Origin": origin, "Cookie": "access-token=x", **extra})
        # Without an allow-origin header for this origin, a browser exposes nothing to the
        # foreign page, whether or not credentials were sent.
        assert headers.get("access-control-allow-origin") not in (origin, "*"), (method, path, headers)


def test_own_origin_still_works(app):
    _, url, _ = app
    own = url.rstrip("/")
    status, headers, _ = _request(url, "GET", "/config", {"Origin": own})
    assert status == 200 and headers.get("access-control-allow-origin") == own


@pytest.mark.slow
def test_twenty_askers_then_a_burst_past_the_queue(app):
    proc, url, _ = app
    report = run_load(url, QUESTIONS, clients=20, seconds=10, server_pid=proc.pid)
    assert report.failed == 0 and report.busy == 0, report.errors
    assert report.ok >= 20 and report.p95 > 0
    burst = run_burst(url, QUESTIONS[0], n=QUEUE_SIZE * 3, timeout=240)
    # 96 visitors at once: past the queue's 32 places (and the 2 being answered), requests are
    # refused at once as busy; none hangs or fails otherwise.
    assert burst.failed == 0 and burst.ok + burst.busy == burst.submitted, burst.errors
    assert burst.busy > 0 and "queue is full" in burst.busy_message.lower()
    assert burst.ok >= QUEUE_SIZE


@pytest.mark.slow
def test_one_visitor_asking_on_and_on_does_not_grow_the_server(app):
    from gradio_client import Client

    proc, url, _ = app
    client = Client(url, verbose=False)
    for i in range(35):  # past the 30 turns a chat keeps
        client.predict(QUESTIONS[i % len(QUESTIONS)], api_name="/chat")
    before = rss_mb(proc.pid)
    for i in range(90):
        client.predict(QUESTIONS[i % len(QUESTIONS)], api_name="/chat")
    after = rss_mb(proc.pid)
    # The page as it was before (streaming gr.skip() property updates, each kept as a new
    # Gradio component per visitor) grew the server by 245 MB over 150 questions here,
    # about 1.6 MB a question: some 150 MB over these 90.
    assert after - before < 15, f"RSS grew from {before:.0f} MB to {after:.0f} MB over one visitor's 90 questions"


@pytest.mark.slow
def test_memory_is_bounded_across_many_questions(app):
    proc, url, _ = app
    run_load(url, QUESTIONS, clients=10, seconds=600, max_requests=60, server_pid=proc.pid)  # warm up
    before = rss_mb(proc.pid)
    report = run_load(url, QUESTIONS, clients=10, seconds=600, max_requests=200, server_pid=proc.pid)
    assert report.failed == 0, report.errors
    after = rss_mb(proc.pid)
    # Generous: a leak of one answer's worth of data per question (~10 KB) over 200
    # questions would pass; a leak of a request body or a model batch (a megabyte or
    # more a question) would not. (`eval.load_bench` measures 1,000 questions.)
    assert after - before < 120, f"RSS grew from {before:.0f} MB to {after:.0f} MB over 200 questions"


# --- second round: routes that take files, telemetry, login, memory per visitor ---

NET_GUARD = '''
import ipaddress, os, socket
_log = os.environ["RAG_TEST_NETLOG"]
def _note(what):
    with open(_log, "a") as fh:
        fh.write(what + "\\n")
def _local_host(host):
    if host in (None, "", "localhost") or isinstance(host, bytes) and host in (b"localhost",):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host).is_loopback
    except ValueError:
        return False
_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *a, **k):
    if not _local_host(host):
        _note(f"resolve {host}")
        raise socket.gaierror(socket.EAI_NONAME, "blocked by the test")
    return _getaddrinfo(host, *a, **k)
socket.getaddrinfo = getaddrinfo
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local_host(address[0]):
        _note(f"connect {address}")
        raise OSError("blocked by the test")
def connect(self, address):
    _check(self, address)
    return _connect(self, address)
def connect_ex(self, address):
    _check(self, address)
    return _connect_ex(self, address)
socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
'''


def test_building_and_serving_the_page_opens_no_outbound_connection(tmp_path):
    """Socket-level: every name lookup and connection of the server process is
    recorded; building the page, serving it and answering must make none that leaves
    the machine (Gradio's telemetry would resolve api.gradio.app)."""
    from gradio_client import Client

    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NET_GUARD, encoding="utf-8")
    netlog = tmp_path / "net.log"
    netlog.write_text("")
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    env = {"PYTHONPATH": str(guard), "RAG_TEST_NETLOG": str(netlog)}
    env.pop("GRADIO_ANALYTICS_ENABLED", None)
    proc, url = start_app(corpus, tmp_path / "index", tmp_path / "app.log", model="fake", cache_dir=tmp_path / "m",
                          env_extra=env)
    try:
        client = Client(url, verbose=False)
        client.predict(QUESTIONS[0], api_name="/chat")
        client.close()
        _request(url, "GET", "/")
        time.sleep(3)  # telemetry runs in background threads
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "sitecustomize" not in (tmp_path / "app.log").read_text()  # the guard loaded without error
    assert netlog.read_text() == "", f"outbound attempts: {netlog.read_text()}"


def test_guard_is_really_watching(tmp_path):
    """The socket guard above records a lookup of a public name (so its empty log means something)."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NET_GUARD, encoding="utf-8")
    netlog = tmp_path / "net.log"
    netlog.write_text("")
    env = dict(os.environ, PYTHONPATH=str(guard), RAG_TEST_NETLOG=str(netlog))
    subprocess.run([sys.executable, "-c", "import socket\ntry:\n socket.getaddrinfo('api.gradio.app', 443)\nexcept OSError: pass"],
                   env=env, check=True, timeout=60)
    assert "resolve api.gradio.app" in netlog.read_text()


def test_only_the_pages_routes_are_served():
    from webapp.guard import route_allowed

    for method, path in [("GET", "/"), ("GET", "/config"), ("GET", "/gradio_api/info"), ("POST", "/gradio_api/queue/join"),
                         ("GET", "/gradio_api/queue/data"), ("GET", "/gradio_api/heartbeat/abc123"), ("POST", "/login"),
                         ("GET", "/assets/index-abc.js"), ("GET", "/theme.css"), ("POST", "/gradio_api/call/lookup")]:
        assert route_allowed(method, path), (method, path)
    for method, path in [("POST", "/gradio_api/upload"), ("POST", "/gradio_api/process_recording"),
                         ("POST", "/gradio_api/stream/abc"), ("GET", "/gradio_api/upload_progress"),
                         ("GET", "/monitoring"), ("GET", "/gradio_api/proxy=http://x"), ("POST", "/gradio_api/vibe-edit"),
                         ("POST", "/gradio_api/run-history/connect"), ("PUT", "/"), ("DELETE", "/config"),
                         ("POST", "/gradio_api/call/some_other_fn"), ("POST", "/gradio_api//upload"),
                         ("GET", "/gradio_api/dev/reload"), ("POST", "/gradio_api/vibe-code")]:
        assert not route_allowed(method, path), (method, path)


def test_routes_that_take_files_are_closed_on_the_live_server(app):
    _, url, _ = app
    boundary = "x" * 16
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"a.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + b"RIFF" + b"\0" * 1_000_000 + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    for path in ("/gradio_api/process_recording", "/gradio_api/upload", "/gradio_api/stream/1", "/gradio_api/vibe-edit"):
        status, _, _ = _request(url, "POST", path, headers, form)
        assert status == 403, (path, status)
    for path in ("/monitoring", "/gradio_api/upload_progress?upload_id=1", "/gradio_api/vibe-code"):
        status, _, _ = _request(url, "GET", path)
        assert status == 403, (path, status)


@pytest.mark.parametrize("how", [("--auth", "admin"), ("--auth", "admin:"), ("--auth", ":secret"), ("env", "admin"),
                                 ("--auth-file", "missing"), ("--auth-file", "two-lines")])
def test_a_malformed_login_is_refused_never_ignored(tmp_path, how):
    flag, value = how
    args, env = [], dict(os.environ, RAG_MODEL="fake", RAG_CACHE_DIR=str(tmp_path / "m"), RAG_PORT="1",
                         RAG_INDEX=str(tmp_path / "idx"), RAG_CORPUS=str(SEEDS))
    env.pop("RAG_AUTH", None)
    if flag == "env":
        env["RAG_AUTH"] = value
    elif value == "two-lines":
        (tmp_path / "pw").write_text("a:b\nc:d\n")
        args = ["--auth-file", str(tmp_path / "pw")]
    elif value == "missing":
        args = ["--auth-file", str(tmp_path / "nope")]
    else:
        args = [flag, value]
    r = subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "auth" in r.stderr and "Running on" not in r.stdout + r.stderr
    assert not (tmp_path / "idx").exists()  # refused before doing anything


def test_login_from_a_file_protects_the_page(tmp_path):
    pw = tmp_path / "login"
    pw.write_text("editor:s3cret:with:colons\n")
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    proc, url = start_app(corpus, tmp_path / "index", tmp_path / "app.log", model="fake", cache_dir=tmp_path / "m",
                          args=["--auth-file", str(pw)])
    try:
        status, _, _ = _request(url, "GET", "/config")
        assert status == 401
        body = urllib.parse.urlencode({"username": "editor", "password": "wrong"}).encode()
        status, _, _ = _request(url, "POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"}, body)
        assert status == 400
        body = urllib.parse.urlencode({"username": "editor", "password": "s3cret:with:colons"}).encode()
        status, headers, _ = _request(url, "POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"}, body)
        assert status == 200 and "access-token" in headers.get("set-cookie", "")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_a_history_sent_by_a_visitor_is_neither_used_nor_kept(app):
    """7def485 took the chat history from the browser: a client could send 1.87 MB of it
    with each question, and the server answered on top of it and kept it. Now the
    server keeps each chat itself; what a client puts in that slot is ignored."""
    from eval.load_test import fat_history_sessions

    proc, url, _ = app
    fat_history_sessions(url, 4, 1_870_000, QUESTIONS[0])  # warm up
    before = rss_mb(proc.pid)
    closing = fat_history_sessions(url, 32, 1_870_000, QUESTIONS[0])
    after = rss_mb(proc.pid)
    for line in closing:
        assert '"process_completed"' in line and '"success":true' in line.replace(" ", ""), line[:300]
        chat = json.loads(line.split("data:", 1)[1])["output"]["data"][0]
        assert len(chat) == 2 and "x" * 1000 not in line  # the question and its answer, nothing sent
    assert after - before < 40, f"RSS grew from {before:.0f} MB to {after:.0f} MB over 32 visitors with fat histories"


def test_a_document_with_an_odd_file_name_is_cited_and_the_chat_goes_on(app):
    """7def485 indexed such a document but could not cite it: the error escaped the
    handler, and every later question of that chat failed."""
    from gradio_client import Client

    _, url, _ = app
    client = Client(url, verbose=False)
    try:
        history, panel = client.predict("觀塘海濱長廊的單車徑全長多少？", api_name="/chat")
        assert "cite-marker" in str(history[-1]) and "三公里" in str(history[-1])
        assert "<mark>" in panel and "觀塘海濱長廊的單車徑全長三公里" in panel
        history, panel = client.predict(QUESTIONS[0], api_name="/chat")
        assert len(history) == 4 and "cite-marker" in str(history[-1])
        looked = client.predict(f"{ODD_NAME}#0", api_name="/lookup")
        assert "lookup-result" in looked and "<mark>" in looked
    finally:
        client.close()
