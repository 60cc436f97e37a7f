"""Connections to Milvus (Lite, embedded, or a server), shared per URI, and the filter
expressions and keyword encoding every Milvus module uses."""
from __future__ import annotations

import hashlib
import logging
import threading
from typing import Iterable, Sequence

from ..errors import RagError


log = logging.getLogger(__name__)


FIELDS_VERSION = 2  # bump when the collection's fields change


KEYWORD_ANALYZERS = {"tokens": {"tokenizer": "standard"}, "jieba": {"tokenizer": "jieba"}}


BATCH = 512


_clients: dict[tuple[str, str], object] = {}


_clients_lock = threading.Lock()


class StoreError(RagError):
    """Milvus could not be reached or refused a request; the message says which and what to do."""


def term_code(token: str) -> str:
    """The ASCII word that stands for one of our tokens in the collection."""
    return "t" + hashlib.blake2b(token.encode("utf-8"), digest_size=8).hexdigest()


def keyword_text(tokens: Iterable[str], analyzer: str) -> str:
    """What the keyword field holds for ``tokens`` (repeats kept: they are term frequencies)."""
    if analyzer == "jieba":
        return " ".join(tokens)
    return " ".join(term_code(t) for t in tokens)


class _QuietLite(logging.Filter):
    """Tracebacks Milvus Lite logs for conditions this module reports itself: its embedded
    gRPC server's for a timestamp call it does not implement (pymilvus asks for it when
    creating a collection, then carries on), and its server manager's when another
    process holds the database (``connect`` says so in one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "Method not implemented" not in message and "Failed to start MilvusLite server" not in message


def connect(uri: str, token: str = ""):
    """One client per (uri, token) in this process: Milvus Lite lets only one process
    open a database file, and one client serves every thread."""
    key = (uri, token)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            for name in ("grpc._server", "milvus_lite.server_manager"):
                logger = logging.getLogger(name)
                if not any(isinstance(f, _QuietLite) for f in logger.filters):
                    logger.addFilter(_QuietLite())
            try:
                from pymilvus import MilvusClient
            except ImportError:
                raise StoreError("the Milvus store needs pymilvus and milvus-lite; install them with: "
                                 "pip install -e '.[milvus]'") from None
            try:
                client = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
            except Exception as exc:  # pymilvus raises its own types, and grpc errors under them
                hint = ("Milvus Lite lets only one process open a database file: stop the other process "
                        "(the chat page, another rag command) or use a Milvus server"
                        if is_lite(uri) else "check that the server is running and the URI and token are right")
                raise StoreError(f"cannot open Milvus at {uri} ({error_reason(exc)}); {hint}") from None
            # pymilvus logs every refused call with a traceback at ERROR, and Milvus Lite's
            # embedded server every failure it answers (30 lines for a damaged database
            # file); the store turns each into one clear message instead.
            logging.getLogger("pymilvus.decorators").setLevel(logging.CRITICAL)
            logging.getLogger("milvus_lite.adapter").setLevel(logging.CRITICAL)
            _clients[key] = client
        return client


def disconnect(uri: str) -> None:
    """Close this process's clients of ``uri`` (Milvus Lite then lets another process open it)."""
    with _clients_lock:
        for key in [k for k in _clients if k[0] == uri]:
            try:
                _clients.pop(key).close()
            except Exception as exc:  # closing is best effort
                log.info("closing the Milvus client of %s: %s", uri, exc)
    if is_lite(uri):
        try:  # the embedded server keeps the file open until it is released
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(uri)
        except ImportError:
            pass


def is_lite(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "tcp://", "unix:"))


def error_reason(exc: Exception) -> str:
    return str(getattr(exc, "message", "") or exc).splitlines()[0][:200]


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _literal(value: str) -> str:
    """A string literal of Milvus's filter language. It knows only the escapes of \\, ",
    newline, return and tab; JSON's ``\\u001b`` is refused, so a file name with ESC made a
    collection unusable for good. Every other character stands as itself."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def id_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_literal(v) for v in values) + "]"


def filter_expr(generation: int, doc_ids: Sequence[str] | None, hidden: Sequence[str] = ()) -> str:
    """The rows generation ``generation`` sees (within ``doc_ids``): what it or an earlier
    generation added, without the older rows of the documents it changed (``hidden``)."""
    expr = f"gen_added <= {generation}"
    if hidden:
        expr += f" and not (doc_id in {id_list(hidden)} and gen_added < {generation})"
    if doc_ids is not None:
        expr += f" and doc_id in {id_list(doc_ids)}"
    return expr
