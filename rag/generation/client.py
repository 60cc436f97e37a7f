"""Talking to a language model over the OpenAI Chat Completions protocol (Ollama, vLLM,
LM Studio, hosted APIs), with the official ``openai`` client, streaming.

``ChatModel`` is the protocol the generator depends on; ``OpenAIChat`` is the real
one. Every failure (timeout, connection, HTTP error, rate limit, a malformed or cut
stream) becomes one ``ModelUnavailable`` whose message says what happened.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Iterator, Protocol, Sequence

log = logging.getLogger(__name__)


class ModelUnavailable(Exception):
    """The model could not give a complete reply; the message says why."""


class ChatModel(Protocol):
    name: str

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        """The reply's text, piece by piece; ModelUnavailable when it cannot be had whole."""
        ...


class OpenAIChat:
    """A model served over the Chat Completions protocol at ``base_url``."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 30.0,
                 max_tokens: int = 400) -> None:
        self.base_url, self.name = base_url, model
        self.timeout, self.max_tokens = timeout, max_tokens
        self._api_key = api_key
        self._client = None

    def _get(self):
        if self._client is None:
            from openai import OpenAI

            # No retries: a retry would double the wait the timeout promises.
            self._client = OpenAI(base_url=self.base_url, api_key=self._api_key or "not-needed",
                                  timeout=self.timeout, max_retries=0)
        return self._client

    @property
    def max_chars(self) -> int:
        """The longest reply read: far more than ``max_tokens`` tokens can spell (a
        server that ignores the limit cannot make the gate work without end)."""
        return 8 * self.max_tokens + 2000

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        """The reply's text, piece by piece, after at most ``timeout`` seconds of waiting
        for it in all: the connection is read by a worker thread, so a server that only
        sends keep-alive comments (which reset every read timeout) is cut at the bound too."""
        # The bound is on waiting for the model: the time the caller spends on each piece
        # (the gate) is its own, and is bounded by ``max_chars``.
        waited = 0.0
        client = self._get()  # importing the client library is ours to wait for, not the model's
        events: queue.Queue = queue.Queue(maxsize=256)
        holder: dict = {}
        stop = threading.Event()
        worker = threading.Thread(target=self._read, args=(client, messages, events, holder, stop), daemon=True,
                                  name="llm-stream")
        worker.start()
        total = 0
        try:
            while True:
                t = time.monotonic()
                try:
                    kind, value = events.get(timeout=max(0.0, self.timeout - waited))
                except queue.Empty:
                    raise ModelUnavailable(f"no complete reply within {self.timeout:g} s") from None
                waited += time.monotonic() - t
                if kind == "piece":
                    total += len(value)
                    if total > self.max_chars:
                        raise ModelUnavailable(f"the model's reply ran past {self.max_chars:,} characters")
                    yield value
                elif kind == "error":
                    raise value
                else:  # "end"
                    if not value:
                        raise ModelUnavailable("the model's reply was cut off before it ended")
                    return
        finally:
            stop.set()
            response = holder.get("stream")
            if response is not None:
                try:  # unblocks the worker's read
                    response.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass

    def _read(self, client, messages: Sequence[dict[str, str]], events: queue.Queue, holder: dict,
              stop: threading.Event) -> None:
        """The worker: put ("piece", text) for each piece, then ("end", finished) or
        ("error", ModelUnavailable)."""
        import openai

        def put(item: tuple) -> None:
            while not stop.is_set():
                try:
                    events.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue

        finished = False
        try:
            stream = client.chat.completions.create(model=self.name, messages=list(messages), stream=True,
                                                         temperature=0, max_tokens=self.max_tokens)
            holder["stream"] = stream
            try:
                for chunk in stream:
                    if stop.is_set():
                        return
                    for choice in chunk.choices or ():
                        piece = getattr(choice.delta, "content", None) if choice.delta else None
                        if piece is not None and not isinstance(piece, str):
                            raise ModelUnavailable(f"the model's reply could not be read (its content is a "
                                                   f"{type(piece).__name__}, not text)")
                        if piece:
                            put(("piece", piece))
                        if choice.finish_reason:
                            finished = True
            finally:
                stream.close()
            put(("end", finished))
        except ModelUnavailable as exc:
            put(("error", exc))
        except openai.APITimeoutError:
            put(("error", ModelUnavailable(f"no reply within {self.timeout:g} s")))
        except openai.RateLimitError:
            put(("error", ModelUnavailable("the model's server is rate limiting (HTTP 429)")))
        except openai.APIStatusError as exc:
            put(("error", ModelUnavailable(f"the model's server answered HTTP {exc.status_code}")))
        except openai.APIConnectionError:
            put(("error", ModelUnavailable(f"cannot connect to {self.base_url}")))
        except Exception as exc:  # noqa: BLE001 - whatever the stream does, one clear message
            if not stop.is_set():
                put(("error", ModelUnavailable(f"the model's reply could not be read ({type(exc).__name__})")))
