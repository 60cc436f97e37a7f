"""Settings from the outside world, one way for every interface: flags first, then the
``RAG_*`` variables of the environment (passed in; the library never reads it), then the
defaults. The command line, the chat page and MCP (served by either) all build their
``Settings`` here."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from .settings import Settings, milvus_access

# The settings a variable may give, and the variable (flags win over these).
ENV_VARS = {"model": "RAG_MODEL", "model_cache_dir": "RAG_CACHE_DIR", "backend": "RAG_BACKEND",
            "llm_base_url": "RAG_LLM_BASE_URL", "llm_model": "RAG_LLM_MODEL", "llm_timeout": "RAG_LLM_TIMEOUT"}
_TYPES = {"model_cache_dir": Path, "llm_timeout": float}


def settings_from(env: Mapping[str, str], flags: Mapping[str, object] | None = None,
                  milvus_uri: str | None = None) -> Settings:
    """Validated settings from ``flags`` (Settings field -> value, only those given; for
    the fields a variable may give, None or "" means "not given") and the environment
    ``env``. Secrets come only from the environment, never a flag (flags show in the
    process list): the LLM key goes with a named LLM server, the Milvus token only to the
    server the user names (``milvus_uri``, else RAG_MILVUS_URI)."""
    flags = dict(flags or {})
    changes: dict = {}
    for key, var in ENV_VARS.items():
        value, given_as = flags.pop(key, None), key
        if value is None or value == "":
            value, given_as = env.get(var) or None, var
        if value is None:
            continue
        if key in _TYPES and not isinstance(value, _TYPES[key]):
            try:
                value = _TYPES[key](value)
            except (TypeError, ValueError):
                raise ValueError(f"{given_as}={str(value)[:40]!r} is not a {_TYPES[key].__name__}") from None
        changes[key] = value
    if env.get("RAG_LLM_API_KEY") and changes.get("llm_base_url"):
        changes["llm_api_key"] = env["RAG_LLM_API_KEY"]
    changes |= flags  # the rest as given (None turns a check off, e.g. reader_min_topic)
    changes |= milvus_access(env, milvus_uri)
    return Settings.of(**changes).validate()
