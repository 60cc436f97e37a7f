"""The four read-only tools and the MCP server that carries them.

The tools are thin: each checks its input the way the CLI does (the library's own
checks: empty, overlong, not UTF-8, unknown document, bounded numbers) and returns the
JSON the CLI prints with ``--json``. A bad input is a tool error carrying the
library's one-line message, never a traceback.
"""
from __future__ import annotations

import logging
from typing import Any, Literal

from mcp.server.mcpserver.exceptions import ToolError

from ..api import RagIndex
from ..presentation.shapes import answer_to_json, claim_to_json, lookup_to_json
from .. import provenance
from ..errors import RagError
from ..filters import DocFilter

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "A searchable archive of Chinese news articles (Traditional and Simplified script). "
    "Every passage comes with its document id, character offsets into the original file and the "
    "verbatim quote: quote those, and cite them as doc_id:start-end so a reader can check them "
    "with the cite tool. Questions and claims may be in either script."
)


class ToolInputError(ToolError):
    """A tool call the library refused; the message says why and what to send instead
    (the client sees it as the tool's error result; a ToolError is the SDK's way to
    say the message is for the caller, where other exceptions stay on the server)."""


def _run(fn, *args, **kwargs) -> dict[str, Any]:
    try:
        return fn(*args, **kwargs)
    except RagError as exc:
        raise ToolInputError(str(exc)) from None


def make_server(idx: RagIndex, name: str = "rag-zh-news"):
    """An ``MCPServer`` with the tools ``ask``, ``search``, ``cite`` and ``support`` over ``idx``."""
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    server = MCPServer(name, instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True,
                                openWorldHint=False)

    @server.tool(annotations=read_only)
    def ask(question: str, top_k: int = 5, script: Literal["auto", "traditional", "simplified"] = "auto",
            mode: Literal["hybrid", "dense", "bm25"] = "hybrid", since: str = "", until: str = "",
            sources: list[str] | None = None) -> dict[str, Any]:
        """Answer a question about the archive (in Chinese, either script) with quoted sentences.

        Returns: answer (the quoted sentences, each followed by a marker [n]), abstained
        (true when the archive holds no evidence: then answer says so and `related` lists the
        nearest passages, which are not evidence), short_answer (text as written in the source,
        display in the asker's script, doc_id, start, end, score; or null), citations (marker,
        chunk_id, doc_id, title, start, end, quote: quote == the document's text[start:end]),
        hits (the retrieved passages with scores), filter (the date/source filter applied, in
        words) and timings_ms. since/until (2024, 2024-06 or 2024-06-30) and sources (outlet
        names) restrict the documents searched; undated documents are left out of a date filter."""
        refresh(idx)
        f = DocFilter(since, until, tuple(sources or ()))
        return _run(lambda: answer_to_json(idx.ask(question, mode=mode, top_k=top_k, script=script,
                                                   filters=f or None)))

    @server.tool(annotations=read_only)
    def search(query: str, top_k: int = 5, mode: Literal["hybrid", "dense", "bm25"] = "hybrid", since: str = "",
               until: str = "", sources: list[str] | None = None) -> dict[str, Any]:
        """Find the passages of the archive most related to a query (no answer is composed).

        Returns: passages, best first, each with chunk_id, doc_id, title, date, section, start
        and end (offsets into the original file), text (verbatim: the document's
        text[start:end]), score (fused), dense_rank and bm25_rank (rank in each retrieval leg).
        since/until/sources filter the documents as in ask."""
        refresh(idx)
        f = DocFilter(since, until, tuple(sources or ()))

        def run() -> dict[str, Any]:
            hits = idx.search(query, mode=mode, top_k=top_k, filters=f or None)
            out = []
            for h in hits:
                c = idx.chunks[h.chunk_id]
                d = idx.documents[h.doc_id]
                out.append({"chunk_id": h.chunk_id, "doc_id": h.doc_id, "title": d.title, "date": d.date,
                            "provenance": provenance.to_json(provenance.of(d)),
                            "section": c.section, "start": c.start, "end": c.end, "text": c.text,
                            "page": d.page_at(c.start) or None,
                            "score": round(h.score, 6), "dense_rank": h.dense_rank, "bm25_rank": h.bm25_rank})
            return {"query": query, "passages": out}

        return _run(run)

    @server.tool(annotations=read_only)
    def cite(ref: str, context_chars: int = 200) -> dict[str, Any]:
        """Look a citation up: a chunk id (doc_id#n) or a span of a document (doc_id:start-end).

        Returns: doc_id, title, date, authors, sources (the article's own references), path,
        chunk_id, section, start, end, quote (the document's text[start:end]), before and after
        (about context_chars characters of context each side, widened to whole sentences)."""
        refresh(idx)
        if not isinstance(context_chars, int) or not 0 <= context_chars <= 2000:
            raise ToolInputError(f"context_chars {context_chars!r} must be a whole number from 0 to 2000")
        return _run(lambda: lookup_to_json(idx.cite(ref, context_chars=context_chars)))

    @server.tool(annotations=read_only)
    def support(claim: str, nearest: int = 3) -> dict[str, Any]:
        """Check a claim (one or more sentences) against the archive, one verdict per sentence.

        Returns: checks, one per sentence, each with claim, verdict ("supported": the evidence
        states every element of it; "contradicted": the evidence is about the same subject but
        gives another figure, currency, unit, year, person, company or place, or the opposite
        polarity or direction, listed in archive_says against claim_says; "partly_supported":
        nothing differs but `missing` lists what the evidence does not hold; "not_found":
        nothing relevant), kinds (the kind of each difference or gap), evidence (chunk_id,
        doc_id, title, date, start, end, quote) and related (up to `nearest` passages shown
        when not found: not evidence)."""
        refresh(idx)
        if not isinstance(nearest, int) or not 0 <= nearest <= 10:
            raise ToolInputError(f"nearest {nearest!r} must be a whole number from 0 to 10")
        return _run(lambda: {"checks": [claim_to_json(c, idx.documents)
                                        for c in idx.check_claims(claim, nearest=nearest)]})

    return server


def refresh(idx: RagIndex) -> None:
    """Pick up a rebuilt index before a call, as the chat page does (one stat when unchanged)."""
    try:
        idx.refresh()
    except Exception as exc:  # a damaged rebuild: keep serving the current one, as refresh documents
        log.warning("index refresh failed: %s", exc)


def serve_http_in_background(idx: RagIndex, host: str, port: int) -> None:
    """The tools over streamable HTTP at ``http://host:port/mcp``, in a daemon thread (the
    chat page's process serves both; the page's route allow-list is not involved)."""
    import threading

    server = make_server(idx)
    threading.Thread(target=lambda: server.run("streamable-http", host=host, port=port), daemon=True,
                     name="mcp-http").start()
