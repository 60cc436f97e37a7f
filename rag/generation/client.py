"""Talking to a language model over the OpenAI Chat Completions protocol (Ollama, vLLM,
LM Studio, hosted APIs), with the official ``openai`` client, streaming.

``ChatModel`` is the protocol the generator depends on; ``OpenAIChat`` is the real
one. Every failure (timeout, connection, HTTP error, rate limit, a malformed or cut
stream) becomes one ``ModelUnavailable`` whose message says what happened.
"""
from __future__ import annotations

import logging
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

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        import openai

        deadline = time.monotonic() + self.timeout
        finished = False
        try:
            stream = self._get().chat.completions.create(model=self.name, messages=list(messages), stream=True,
                                                         temperature=0, max_tokens=self.max_tokens)
            try:
                for chunk in stream:
                    if time.monotonic() > deadline:  # a server that trickles forever
                        raise ModelUnavailable(f"no complete reply within {self.timeout:g} s")
                    for choice in chunk.choices or ():
                        piece = getattr(choice.delta, "content", None) if choice.delta else None
                        if piece:
                            yield piece
                        if choice.finish_reason:
                            finished = True
            finally:
                stream.close()
        except ModelUnavailable:
            raise
        except openai.APITimeoutError:
            raise ModelUnavailable(f"no reply within {self.timeout:g} s") from None
        except openai.RateLimitError:
            raise ModelUnavailable("the model's server is rate limiting (HTTP 429)") from None
        except openai.APIStatusError as exc:
            raise ModelUnavailable(f"the model's server answered HTTP {exc.status_code}") from None
        except openai.APIConnectionError:
            raise ModelUnavailable(f"cannot connect to {self.base_url}") from None
        except (openai.OpenAIError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelUnavailable(f"the model's reply could not be read ({type(exc).__name__})") from None
        if not finished:
            raise ModelUnavailable("the model's reply was cut off before it ended")
