"""Both stores pass the same tests on the seeds: FAISS files, and Milvus Lite (embedded, real).

Retrieval in every mode, answers and citations, filters, and what a damaged or missing
store says. The Milvus store must give the same hits as the FAISS one, with the same
scores (its BM25 runs on the server over our tokens)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import SEEDS, make_fake_settings
from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.errors import IndexLoadError, InputError
from rag.filters import DocFilter
from rag.index import build_index, read_manifest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

QUESTIONS = [json.loads(line)["question"] for line in
             (Path(__file__).resolve().parents[1] / "eval" / "datasets" / "seeds_qa.jsonl").open(encoding="utf-8")][:40]


def _settings(tmp: Path, store: str):
    s = make_fake_settings(tmp / "models")
    return s.with_(store="milvus", milvus_uri=str(tmp / "store.db")) if store == "milvus" else s


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The seeds indexed into both stores (module scope: Milvus Lite is started once)."""
    tmp = tmp_path_factory.mktemp("stores")
    corpus = tmp / "corpus"
    shutil.copytree(SEEDS, corpus)
    out = {}
    for store in ("faiss", "milvus"):
        s = _settings(tmp, store)
        build_index(corpus, tmp / f"idx-{store}", s, HashingEmbedder())
        out[store] = open_index(tmp / f"idx-{store}", s, HashingEmbedder())
    return tmp, out


@pytest.fixture(params=["faiss", "milvus"])
def idx(request, built):
    return built[1][request.param]


def test_manifest_names_the_store(built):
    tmp, ix = built
    assert read_manifest(tmp / "idx-faiss")["store"] == {"kind": "faiss"}
    m = read_manifest(tmp / "idx-milvus")
    assert m["store"]["kind"] == "milvus" and m["store"]["collection"].startswith("rag_chunks_")
    assert m["store"]["generation"] == 1 and m["vector_index"]["kind"] == "milvus-flat-ip"
    assert not (tmp / "idx-milvus" / "vectors.faiss").exists()  # the vectors live in Milvus
    assert type(ix["milvus"].loaded.store).__name__ == "MilvusStore"


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_milvus_gives_the_same_hits_and_scores(built, mode):
    _, ix = built
    for q in QUESTIONS:
        a = ix["faiss"].search(q, mode=mode, top_k=10)
        b = ix["milvus"].search(q, mode=mode, top_k=10)
        assert [h.chunk_id for h in a] == [h.chunk_id for h in b], q
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5), q


def test_same_answers_and_citations(built):
    _, ix = built
    for q in QUESTIONS[:20]:
        a, b = ix["faiss"].ask(q), ix["milvus"].ask(q)
        assert (a.answer, a.abstained) == (b.answer, b.abstained), q
        assert [(c.doc_id, c.start, c.end, c.quote) for c in a.citations] == \
               [(c.doc_id, c.start, c.end, c.quote) for c in b.citations], q


def test_answer_cites_verbatim(idx):
    a = idx.ask("阿里巴巴在铜锣湾买下了几层写字楼？")
    assert not a.abstained and a.citations
    c = a.citations[0]
    assert c.quote == idx.documents[c.doc_id].text[c.start:c.end]


def test_document_restriction_is_applied_before_ranking(idx):
    doc = sorted(idx.documents)[2]
    for mode in ("dense", "bm25", "hybrid"):
        hits = idx.search("香港", mode=mode, top_k=10, doc_ids=[doc])
        assert hits and {h.doc_id for h in hits} == {doc}


def test_date_and_source_filters(idx):
    dated = sorted(d for d, doc in idx.documents.items() if doc.date)
    assert dated, "the seeds carry dates"
    year = idx.documents[dated[0]].date[:4]
    a = idx.ask("香港的创科发展", filters=DocFilter(since=year, until=year))
    assert all(idx.documents[h.doc_id].date.startswith(year) for h in a.hits)
    assert a.filters
    with pytest.raises(InputError, match="no document passes the filter"):
        idx.ask("香港", filters=DocFilter(since="1990", until="1990"))


def _milvus_copy(built, name):
    """A fresh Milvus build of the seeds in its own database file, to damage."""
    tmp, _ = built
    s = make_fake_settings(tmp / "models").with_(store="milvus", milvus_uri=str(tmp / f"{name}.db"))
    build_index(tmp / "corpus", tmp / name, s, HashingEmbedder())
    return s, tmp / name


def test_missing_collection_is_a_clear_error(built):
    from rag.stores.milvus_client import connect

    s, folder = _milvus_copy(built, "dropped")
    info = read_manifest(folder)["store"]
    connect(info["uri"]).drop_collection(info["collection"])
    with pytest.raises(IndexLoadError, match=f"collection {info['collection']} .* is missing.*rag index --corpus \\S+ --store milvus"):
        open_index(folder, s, HashingEmbedder())


def test_collection_edited_behind_the_manifest_is_refused(built):
    from rag.stores.milvus_client import connect

    s, folder = _milvus_copy(built, "edited")
    info = read_manifest(folder)["store"]
    client = connect(info["uri"])
    client.load_collection(info["collection"])
    client.delete(info["collection"], filter='doc_id == "000_0f407bbef8b93a09"')
    with pytest.raises(IndexLoadError, match=r"holds \d+ rows .* but index .* has 132 chunks"):
        open_index(folder, s, HashingEmbedder())


def test_collection_of_another_build_is_refused(built):
    from rag.stores.milvus_client import connect

    s, folder = _milvus_copy(built, "other")
    info = read_manifest(folder)["store"]
    connect(info["uri"]).alter_collection_properties(info["collection"], properties={"rag.token": "feedbeef"})
    with pytest.raises(IndexLoadError, match="written by another build"):
        open_index(folder, s, HashingEmbedder())
    # and a build then makes a new collection rather than trusting the foreign one
    report = build_index(built[0] / "corpus", folder, s, HashingEmbedder())
    assert not report.up_to_date
    assert open_index(folder, s, HashingEmbedder()).search("香港")


def test_unreachable_server_is_a_clear_error(built, tmp_path):
    s = make_fake_settings(tmp_path / "models").with_(store="milvus", milvus_uri="http://127.0.0.1:9")
    from rag.errors import RagError

    with pytest.raises(RagError, match="Milvus at http://127.0.0.1:9"):
        build_index(built[0] / "corpus", tmp_path / "idx", s, HashingEmbedder())
    assert not (tmp_path / "idx").exists()


def test_store_settings_are_checked():
    s = make_fake_settings(Path("/tmp"))
    with pytest.raises(ValueError, match="needs --milvus-uri"):
        s.with_(store="milvus").validate()
    with pytest.raises(ValueError, match="--milvus-collection 'bad-name'"):
        s.with_(store="milvus", milvus_uri="x.db", milvus_collection="bad-name").validate()
    with pytest.raises(ValueError, match="store 'redis'"):
        s.with_(store="redis").validate()


def test_a_milvus_lite_database_held_by_another_process_is_a_clear_error(built):
    """This test process holds the module's Milvus Lite database open; a `rag ask` in
    another process gets one line saying so, exit code 2, no traceback."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    tmp, _ = built
    r = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "--model", "fake", "--cache-dir", str(tmp / "models"),
                        "阿里巴巴在铜锣湾买下了几层写字楼？", "--index", str(tmp / "idx-milvus")],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2
    assert "Milvus Lite lets only one process open a database file" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def _recording_grpc_server():
    """A hostile server: answers nothing, records the metadata of every call it gets."""
    from concurrent import futures

    import grpc

    seen: list[tuple[str, str]] = []

    class Record(grpc.GenericRpcHandler):
        def service(self, details):
            seen.extend((k, v if isinstance(v, str) else v.decode("latin-1")) for k, v in details.invocation_metadata)
            return None  # UNIMPLEMENTED

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[Record()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port, seen


def test_the_token_goes_only_to_the_server_the_user_names(built, tmp_path):
    """An index folder whose manifest was edited to name another server (checksum
    recomputed with the library's own function) gets no token from RAG_MILVUS_TOKEN; the
    error says how to confirm the server. Named by the user, the server gets it."""
    import base64

    from rag.index import manifest_digest
    from rag.settings import milvus_access

    server, port, seen = _recording_grpc_server()
    try:
        copy = tmp_path / "copy"
        shutil.copytree(built[0] / "idx-milvus", copy)
        m = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
        evil = f"http://127.0.0.1:{port}"
        m["store"]["uri"] = evil
        m["manifest_sha256"] = manifest_digest(m)
        (copy / "manifest.json").write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
        env = {"RAG_MILVUS_TOKEN": "s3cret-token"}
        s = make_fake_settings(tmp_path / "models").with_(**milvus_access(env))
        with pytest.raises(IndexLoadError, match=f"confirm it with --milvus-uri {evil}"):
            open_index(copy, s, HashingEmbedder())
        secrets = ("s3cret-token", base64.b64encode(b"s3cret-token").decode())
        assert seen and not [v for _, v in seen if any(x in v for x in secrets)], seen
        # The user names that server: now it gets the token (the recorder does see it).
        s = make_fake_settings(tmp_path / "models").with_(**milvus_access({**env, "RAG_MILVUS_URI": evil}))
        with pytest.raises(IndexLoadError):
            open_index(copy, s, HashingEmbedder())
        assert [v for _, v in seen if any(x in v for x in secrets)]
    finally:
        server.stop(0)
