"""What the page's server accepts: an allow-list of Gradio's routes by method (everything
else is refused), a bound on request size, and the origin checks."""
from __future__ import annotations

import json
import logging
import re

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 2_000_000  # a question is 500 characters; no request of the page comes near this

# The routes the page and its API use, by method: everything else Gradio serves (file
# uploads, audio "process_recording", streaming inputs, monitoring, proxies, run
# history, vibe editing, and whatever a later Gradio adds) is refused. An allow-list,
# so that a route nobody here knows about is closed by default.
_API = r"(?:chat|lookup)"
_READ_ROUTES = re.compile(
    r"/|/config/?|/gradio_api/info/?|/gradio_api/queue/data|/gradio_api/heartbeat/[\w-]+"
    r"|/gradio_api/startup-events|/(?:gradio_api/)?theme\.css|/assets/[\w.@/-]+|/static/[\w.@/-]+"
    r"|/svelte/[\w.@/-]+|/favicon\.ico|/robots\.txt|/manifest\.json|/pwa_icon(?:/\d+)?|/logout/?"
    r"|/gradio_api/(?:login_check|token|app_id|user)/?|/gradio_api/call/" + _API + r"/[\w-]+"
    r"|/gradio_api/file=.+")
_WRITE_ROUTES = re.compile(
    r"/login/?|/gradio_api/queue/join|/gradio_api/cancel|/gradio_api/reset/?|/gradio_api/(?:call|run)/" + _API + "/?")


def route_allowed(method: str, path: str) -> bool:
    """Whether the page serves ``method path`` (Gradio's own checks still apply)."""
    if method in ("GET", "HEAD"):
        return bool(_READ_ROUTES.fullmatch(path))
    if method == "POST":
        return bool(_WRITE_ROUTES.fullmatch(path))
    if method == "OPTIONS":  # CORS preflight: only for what may be posted or read
        return bool(_WRITE_ROUTES.fullmatch(path) or _READ_ROUTES.fullmatch(path))
    return False


class RequestGuard:
    """ASGI middleware in front of Gradio's routes.

    - Only the routes the page uses are served (``route_allowed``); every route that
      takes files is among those refused (403).
    - Request bodies over ``MAX_REQUEST_BYTES`` are refused with 413 before Gradio
      parses them.
    """

    def __init__(self, app, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":  # the page uses none
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method", ""), scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root + "/"):  # behind a proxy that keeps the prefix
            path = path[len(root):]
        if not route_allowed(method, path):
            log.info("refused %s %s (not a route of this page)", method, path[:200])
            await _refuse(send, 403, "this route is not used by the page and is disabled "
                                     "(uploads are disabled on this server)")
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or len(length) > 12 or int(length) > self.max_bytes):
            await _refuse(send, 413, f"request body over {self.max_bytes} bytes")
            return
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # a chunked body that grows past the limit
                    raise ValueError(f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
