"""The MCP tools through a real MCP client over the real transports: `rag mcp` started as
a subprocess speaking stdio, and `rag mcp --http` speaking streamable HTTP on loopback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import anyio
import pytest

from conftest import ROOT

pytest.importorskip("mcp")


@pytest.fixture()
def fake_index(small_corpus, tmp_path):
    idx = tmp_path / "idx"
    r = subprocess.run([sys.executable, "-m", "rag", "index", "--corpus", str(small_corpus), "--out", str(idx),
                        "--model", "fake"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    return idx


def _payload(result) -> dict:
    """A tool's structured result (or, for an error, its message)."""
    if result.is_error:
        return {"error": " ".join(getattr(c, "text", "") for c in result.content)}
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def _exercise(client, docs_text: dict[str, str]) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"ask", "search", "cite", "support"}
    for t in tools.values():
        assert t.description and "Returns" in t.description  # says what comes back
        assert t.annotations.read_only_hint is True
    assert tools["ask"].input_schema["required"] == ["question"]
    assert set(tools["ask"].input_schema["properties"]) >= {"question", "top_k", "script", "mode"}

    a = _payload(await client.call_tool("ask", {"question": "前海合作区去年吸引外资多少？"}))
    assert not a["abstained"] and a["citations"]
    for c in a["citations"]:  # verifiable: the quote is the document's text at the offsets
        assert docs_text[c["doc_id"]][c["start"]:c["end"]] == c["quote"]

    s = _payload(await client.call_tool("search", {"query": "高端人才通行證", "top_k": 2}))
    assert 1 <= len(s["passages"]) <= 2
    top = s["passages"][0]
    assert top["doc_id"] == "a" and docs_text["a"][top["start"]:top["end"]] == top["text"]

    c = _payload(await client.call_tool("cite", {"ref": f"a:{top['start']}-{top['end']}"}))
    assert c["quote"] == top["text"] and c["doc_id"] == "a"

    v = _payload(await client.call_tool("support", {"claim": "前海合作区去年吸引外资八十亿元。"}))
    assert v["checks"][0]["verdict"] in ("supported", "contradicted", "not_found")
    assert set(v["checks"][0]) >= {"claim", "verdict", "evidence", "related"}

    # The CLI's input limits and messages, as tool errors (no traceback, the server lives on).
    assert "empty" in _payload(await client.call_tool("ask", {"question": "   "}))["error"]
    assert "limit" in _payload(await client.call_tool("ask", {"question": "長" * 900}))["error"]
    assert "out of range" in _payload(await client.call_tool("search", {"query": "前海", "top_k": 10**9}))["error"]
    err = _payload(await client.call_tool("cite", {"ref": "nosuchdoc#0"}))["error"]
    assert "nosuchdoc" in err and "Traceback" not in err
    assert "context_chars" in _payload(await client.call_tool("cite", {"ref": "a#0", "context_chars": -1}))["error"]
    assert not _payload(await client.call_tool("ask", {"question": "前海区内企业有多少家？"})).get("error")
    # Filters by date and source, as in rag ask.
    dated = _payload(await client.call_tool("search", {"query": "人才", "since": "2025"}))["passages"]
    assert {p["doc_id"] for p in dated} == {"b"}
    assert "no document passes" in _payload(await client.call_tool("search", {"query": "前海", "until": "1999"}))["error"]


def _docs(small_corpus) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in small_corpus.iterdir()}


def test_mcp_over_stdio(fake_index, small_corpus):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "rag", "mcp", "--index", str(fake_index), "--model", "fake"],
                                   cwd=str(ROOT), env=dict(os.environ))

    async def main() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            await _exercise(client, _docs(small_corpus))

    anyio.run(main)


def test_mcp_over_streamable_http(fake_index, small_corpus, tmp_path):
    from mcp import Client

    from eval.load_test import free_port

    port = free_port()
    log = (tmp_path / "mcp.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "rag", "mcp", "--index", str(fake_index), "--model", "fake",
                             "--http", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        import socket

        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "mcp.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "rag mcp --http did not start"
                time.sleep(0.3)

        async def main() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=120) as client:
                await _exercise(client, _docs(small_corpus))

        anyio.run(main)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_mcp_errors_before_serving_are_messages(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rag", "mcp", "--index", str(tmp_path / "none"), "--model", "fake"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "no index at" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""  # stdout belongs to the protocol


@pytest.mark.slow
def test_the_chat_page_can_serve_the_tools_too(small_corpus, tmp_path):
    from mcp import Client

    from eval.load_test import free_port, start_app

    port = free_port()
    proc, url = start_app(small_corpus, tmp_path / "index", tmp_path / "app.log", model="fake",
                          cache_dir=tmp_path / "m", args=["--mcp-port", str(port)])
    try:
        async def main() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=120) as client:
                assert {t.name for t in (await client.list_tools()).tools} == {"ask", "search", "cite", "support"}
                a = _payload(await client.call_tool("ask", {"question": "前海合作区去年吸引外资多少？"}))
                assert a["citations"]

        for _ in range(40):  # the tools' server starts beside the page
            try:
                anyio.run(main)
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.5)
        else:
            anyio.run(main)
        assert "MCP tools at http://127.0.0.1" in (tmp_path / "app.log").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_cli_page_and_mcp_give_the_same_provenance_for_every_seed(tmp_path):
    """One provenance record (rag.provenance) for every interface: for each seed document
    the CLI's text line and JSON, the page's source line and the MCP cite tool agree on
    its date, outlet, authors and references (the CLI once printed a reference's headline
    as the outlet and a raw timestamp)."""
    from mcp import Client, StdioServerParameters

    from rag import provenance
    from rag.corpus import read_corpus
    from webapp import view

    idx = tmp_path / "idx"
    base = [sys.executable, "-m", "rag"]
    r = subprocess.run([*base, "index", "--corpus", str(ROOT / "seeds"), "--out", str(idx), "--model", "fake"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    docs = {d.doc_id: d for d in read_corpus(ROOT / "seeds")[0]}
    records = {d: provenance.to_json(provenance.of(doc)) for d, doc in docs.items()}
    assert any(r["outlet"] for r in records.values()) and any(r["date"] for r in records.values())
    for doc_id, doc in docs.items():
        rec = records[doc_id]
        cli = subprocess.run([*base, "cite", f"{doc_id}#0", "--index", str(idx), "--model", "fake"],
                             capture_output=True, text=True, cwd=ROOT, timeout=120).stdout.splitlines()[1].strip()
        page = view._doc_meta(doc, "simplified")
        for text, unknown in ((cli, ("no date", "no outlet")), (page, (view.t("no_date", "simplified"),
                                                                      view.t("no_outlet", "simplified")))):
            assert text.split(" · ")[0] == (rec["date"] or unknown[0]), (doc_id, text)
            assert (rec["outlet"] or unknown[1]) in text.split(" · "), (doc_id, text)
        as_json = json.loads(subprocess.run([*base, "cite", f"{doc_id}#0", "--index", str(idx), "--model", "fake",
                                             "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120).stdout)
        assert as_json["provenance"] == rec

    params = StdioServerParameters(command=sys.executable, args=["-m", "rag", "mcp", "--index", str(idx), "--model",
                                                                 "fake"], cwd=str(ROOT), env=dict(os.environ))

    async def main() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            for doc_id in docs:
                assert _payload(await client.call_tool("cite", {"ref": f"{doc_id}#0"}))["provenance"] == records[doc_id]

    anyio.run(main)
