"""The ``rag`` command line: index, add, remove, ask, cite, docs, mcp, model. The
evaluation harness and the benches are research: ``python -m eval`` (see eval/README.md)."""
from __future__ import annotations

import argparse
import logging
import sys

from ..errors import RagError
from ..settings import ANALYZERS, FUSIONS, MODES, SCRIPTS
from .commands import cmd_add, cmd_ask, cmd_cite, cmd_docs, cmd_index, cmd_mcp, cmd_model, cmd_remove
from .options import command_parser, common_options, settings_from_args

__all__ = ["build_parser", "command_parser", "common_options", "main", "run", "settings_from_args"]
from .output import safe_text

log = logging.getLogger("rag")


def build_parser() -> argparse.ArgumentParser:
    p, common, sub = command_parser("rag", "Cited question answering over Chinese news.")

    s = sub.add_parser("index", parents=[common], help="build the index of a corpus folder")
    s.add_argument("--corpus", default="seeds", help="folder of articles: .txt .md .html .htm .pdf .docx (default: seeds)")
    s.add_argument("--out", default="index", help="index folder to write (default: index)")
    s.add_argument("--chunk-size", type=int, help="chunk size in characters (default 300)")
    s.add_argument("--force", action="store_true", help="rebuild even if the index is up to date")
    s.add_argument("--store", choices=["faiss", "milvus"],
                   help="where vectors and the keyword index live: faiss (files of the index folder, default) or "
                        "milvus (a collection; needs --milvus-uri)")
    s.add_argument("--milvus-uri", help="a file path (Milvus Lite, embedded) or http://host:19530 (a Milvus server; "
                                        "its token in RAG_MILVUS_TOKEN)")
    s.add_argument("--milvus-collection", help="base name of the collection (default rag_chunks)")
    s.add_argument("--milvus-analyzer", choices=ANALYZERS,
                   help="Milvus keyword leg: BM25 over our jieba tokens (default; same scores as faiss) or "
                        "Milvus's own jieba analyzer")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("add", parents=[common],
                       help="add articles to an index: copies them into its corpus folder and updates the index")
    s.add_argument("files", nargs="+", help="article files: .txt .md .html .htm .pdf .docx (the file name without suffix is the document id)")
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
        s.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
        s.add_argument("--fusion", choices=FUSIONS, help="how hybrid fuses the legs")
        s.add_argument("--top-k", type=int, help="passages to retrieve (default 5)")
        s.add_argument("--script", choices=SCRIPTS, default="auto",
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

    return p


# Commands that moved out of the package: what to run instead.
MOVED = {"eval": "python -m eval run", "bench": "python -m eval bench"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    moved = next((a for a in args if not a.startswith("-")), None)
    if moved in MOVED:
        instead = "python -m eval scale --sizes N,…" if moved == "bench" and any(
            a.startswith("--scale") for a in args) else MOVED[moved]
        print(f"error: rag {moved} is now {instead} (research, run from the repository root; "
              "see eval/README.md)", file=sys.stderr)
        return 2
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run a parsed command (``args.func``): a library error becomes one line on stderr
    and exit code 2, never a traceback."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {safe_text(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:  # settings validation names the bad value
        print(f"error: {safe_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; any previous index is left as it was", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # disk full, no permission: builds and updates leave what was there
        where = f" ({safe_text(exc.filename)})" if getattr(exc, "filename", None) else ""
        print(f"error: {safe_text(exc.strerror or exc)}{where}; the index and the corpus were left as they were",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
