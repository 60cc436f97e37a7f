"""A local HTTP server speaking the OpenAI Chat Completions protocol (streaming and not),
replaying scripted replies: the real client talks to it over a real socket.

``server.reply`` is a function of the request's messages returning a ``Reply``; every
request body is kept in ``server.requests``.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    text: str = ""
    status: int = 200  # anything else: an error body with this status
    delay: float = 0.0  # seconds before the first byte
    chunk: int = 4  # characters per streamed piece
    cut_after: int | None = None  # stream this many pieces, then drop the connection
    garbage: bool = False  # a stream line that is not JSON
    piece_delay: float = 0.0  # seconds between streamed pieces
    keep_alive: float = 0.0  # seconds of SSE comment lines (": keep-alive", one a second) before the reply
    content: object = None  # a raw ``delta.content`` value (a number, a list) sent once before the text


class _Handler(BaseHTTPRequestHandler):
    server: "StubServer"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        self.server.requests.append(body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.send_error(404)
            return
        r = self.server.reply(body.get("messages", []))
        if r.delay:
            time.sleep(r.delay)
        if r.status != 200:
            payload = json.dumps({"error": {"message": f"scripted {r.status}", "type": "server_error"}}).encode()
            self.send_response(r.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            if r.status == 429:
                self.send_header("retry-after", "1")
            self.end_headers()
            self.wfile.write(payload)
            return
        base = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0, "model": body.get("model", "")}
        if not body.get("stream"):
            payload = json.dumps({**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": r.text}, "finish_reason": "stop"}]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        end_at = time.monotonic() + r.keep_alive
        try:
            while time.monotonic() < end_at:
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
                time.sleep(1.0)
        except OSError:
            return  # the client gave up
        if r.content is not None:
            event = {**base, "choices": [{"index": 0, "delta": {"content": r.content}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        pieces = [r.text[i:i + r.chunk] for i in range(0, len(r.text), r.chunk)]
        for i, piece in enumerate(pieces):
            if r.cut_after is not None and i >= r.cut_after:
                self.wfile.flush()
                self.close_connection = True
                return  # no finish_reason, no [DONE]
            if r.piece_delay:
                time.sleep(r.piece_delay)
            event = {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        if r.garbage:
            self.wfile.write(b"data: {not json\n\n")
        end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.reply: Callable[[list], Reply] = lambda messages: Reply("")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> "StubServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
