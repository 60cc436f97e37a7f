"""The store contract: every backend (FAISS files, Milvus Lite for real, and the tests'
in-memory store) goes through the same lifecycle and must behave the same way.

write + commit -> open: the build's rows are searchable, dense and keyword results equal
brute force over the build's own vectors and BM25; an update publishes the new rows and
hides the superseded ones; a build that is not swapped in is abandoned (the previous build
is untouched and nothing of the new one stays); a build that moves to another store
drops the old store's data; missing store data is a clear load error."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import memory_store
from conftest import SEEDS, make_fake_settings
from rag import stores
from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.errors import IndexLoadError
from rag.index import build_index, read_manifest
from rag.text.fold import fold
from rag.text.tokenize import tokenize
from rag.updates import add_documents, remove_documents

KINDS = ["faiss", "milvus", "memory"]
QUERIES = ["香港科技園有多少家獨角獸企業", "阿里巴巴在铜锣湾买下了几层写字楼", "人工智能人才", "河套深港科技创新合作区"]


@pytest.fixture(autouse=True, scope="module")
def memory_backend():
    stores.register(memory_store.MemoryBackend())
    yield


def settings_for(tmp: Path, kind: str):
    if kind == "milvus":
        pytest.importorskip("milvus_lite")
    s = make_fake_settings(tmp / "models")
    return s.with_(store=kind, milvus_uri=str(tmp / "store.db")) if kind == "milvus" else s.with_(store=kind)


def corpus_of(tmp: Path, n: int = 3) -> Path:
    corpus = tmp / "corpus"
    corpus.mkdir()
    for p in sorted(SEEDS.glob("*.txt"))[:n]:
        shutil.copy(p, corpus / p.name)
    return corpus


def brute_force(idx, query: str, k: int, doc_ids=None):
    """The dense and keyword rankings computed here, from the build's own vectors (the
    embedding cache every build writes) and its BM25 postings."""
    ix = idx.loaded
    matrix = np.load(ix.path / "embed_cache.npy")
    q = np.asarray(idx.embedder.embed_queries([query])[0], dtype=np.float32)
    allowed = None if doc_ids is None else np.array([c.doc_id in doc_ids for c in ix.chunks])
    scores = matrix @ q
    rows = [r for r in np.argsort(-scores, kind="stable") if allowed is None or allowed[r]][:k]
    dense = [(int(r), float(scores[r])) for r in rows]
    keyword = ix.bm25.top_k(tokenize(fold(query)), k, allowed)
    return dense, keyword


def assert_same(got, want, tol=1e-3):
    assert [r for r, _ in got] == [r for r, _ in want], (got, want)
    assert np.allclose([s for _, s in got], [s for _, s in want], rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", KINDS)
def test_a_committed_build_opens_and_searches_like_brute_force(tmp_path, kind):
    s = settings_for(tmp_path, kind)
    build_index(corpus_of(tmp_path), tmp_path / "idx", s, HashingEmbedder())
    idx = open_index(tmp_path / "idx", s, HashingEmbedder())
    store = idx.loaded.store
    assert store.kind == kind and read_manifest(tmp_path / "idx")["store"]["kind"] == kind
    assert store.count() == len(idx.loaded.chunks) > 0
    some_doc = sorted(idx.documents)[0]
    for query in QUERIES:
        dense, keyword = brute_force(idx, query, 8)
        q = idx.embedder.embed_queries([query])[0]
        assert_same(store.dense(q, 8), dense)
        assert_same(store.keyword(tokenize(fold(query)), 8), keyword)
        # A document filter applies before ranking: the best rows of that document.
        dense, keyword = brute_force(idx, query, 5, [some_doc])
        assert_same(store.dense(q, 5, [some_doc]), dense)
        assert_same(store.keyword(tokenize(fold(query)), 5, [some_doc]), keyword)
        assert store.dense(q, 5, []) == [] and store.keyword(tokenize(fold(query)), 5, []) == []


@pytest.mark.parametrize("kind", KINDS)
def test_an_update_publishes_the_new_rows_and_hides_the_old(tmp_path, kind):
    s, emb = settings_for(tmp_path, kind), HashingEmbedder()
    corpus = corpus_of(tmp_path, 2)
    build_index(corpus, tmp_path / "idx", s, emb)
    before = open_index(tmp_path / "idx", s, emb)
    n_before = before.loaded.store.count()
    extra = sorted(SEEDS.glob("*.txt"))[2]
    add_documents(tmp_path / "idx", [extra], s, emb)
    after = open_index(tmp_path / "idx", s, emb)
    assert after.loaded.store.count() == len(after.loaded.chunks) > n_before
    new_doc = extra.stem
    q = emb.embed_queries([QUERIES[0]])[0]
    assert {after.loaded.chunks[r].doc_id for r, _ in after.loaded.store.dense(q, 50, [new_doc])} == {new_doc}
    remove_documents(tmp_path / "idx", [new_doc], s, emb)
    last = open_index(tmp_path / "idx", s, emb)
    assert last.loaded.store.count() == n_before == len(last.loaded.chunks)
    assert all(last.loaded.chunks[r].doc_id != new_doc for r, _ in last.loaded.store.dense(q, 50))


@pytest.mark.parametrize("kind", KINDS)
def test_a_build_that_is_not_swapped_in_is_abandoned(tmp_path, kind, monkeypatch):
    s, emb = settings_for(tmp_path, kind), HashingEmbedder()
    corpus = corpus_of(tmp_path, 2)
    build_index(corpus, tmp_path / "idx", s, emb)
    manifest = read_manifest(tmp_path / "idx")
    before = open_index(tmp_path / "idx", s, emb)
    q = emb.embed_queries([QUERIES[1]])[0]
    hits_before = before.loaded.store.dense(q, 10)
    builds_before = set(memory_store.BUILDS)

    import rag.index.build as build_module

    def fail(new, out):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build_module, "swap_in", fail)
    shutil.copy(sorted(SEEDS.glob("*.txt"))[2], corpus)
    with pytest.raises(OSError):
        build_index(corpus, tmp_path / "idx", s, emb)
    monkeypatch.undo()
    assert read_manifest(tmp_path / "idx") == manifest
    again = open_index(tmp_path / "idx", s, emb)
    assert again.loaded.store.count() == before.loaded.store.count()
    assert again.loaded.store.dense(q, 10) == hits_before
    assert not memory_store.PENDING and set(memory_store.BUILDS) == builds_before
    if kind == "milvus":
        from rag.stores.milvus_client import connect

        names = connect(s.milvus.uri).list_collections()
        assert names == [manifest["store"]["collection"]], names


@pytest.mark.parametrize("kind", ["milvus", "memory"])
def test_a_build_moved_to_another_store_drops_the_old_data(tmp_path, kind):
    s, emb = settings_for(tmp_path, kind), HashingEmbedder()
    corpus = corpus_of(tmp_path, 2)
    build_index(corpus, tmp_path / "idx", s, emb)
    old = read_manifest(tmp_path / "idx")["store"]
    build_index(corpus, tmp_path / "idx", s.with_(store="faiss"), emb)
    assert read_manifest(tmp_path / "idx")["store"] == {"kind": "faiss"}
    assert open_index(tmp_path / "idx", s.with_(store="faiss"), emb).loaded.store.count() > 0
    if kind == "memory":
        assert old["token"] not in memory_store.BUILDS
    else:
        from rag.stores.milvus_client import connect

        assert old["collection"] not in connect(s.milvus.uri).list_collections()


def _lose_store_data(kind: str, folder: Path, settings) -> None:
    info = read_manifest(folder)["store"]
    if kind == "faiss":
        (folder / "vectors.faiss").unlink()
    elif kind == "memory":
        memory_store.BUILDS.pop(info["token"])
    else:
        from rag.stores.milvus_client import connect

        connect(settings.milvus.uri).drop_collection(info["collection"])


@pytest.mark.parametrize("kind", KINDS)
def test_missing_store_data_is_a_clear_load_error_and_a_rebuild_repairs_it(tmp_path, kind):
    s, emb = settings_for(tmp_path, kind), HashingEmbedder()
    corpus = corpus_of(tmp_path, 2)
    build_index(corpus, tmp_path / "idx", s, emb)
    _lose_store_data(kind, tmp_path / "idx", s)
    with pytest.raises(IndexLoadError) as err:
        open_index(tmp_path / "idx", s, emb)
    assert "rebuild" in str(err.value) and str(tmp_path / "idx") in str(err.value)
    report = build_index(corpus, tmp_path / "idx", s, emb)  # not "up to date": the data is gone
    assert not report.up_to_date
    assert open_index(tmp_path / "idx", s, emb).loaded.store.count() == report.chunks


def test_an_unknown_store_kind_names_the_kinds_there_are(tmp_path):
    with pytest.raises(ValueError) as err:
        make_fake_settings(tmp_path).with_(store="cassandra").validate()
    assert "cassandra" in str(err.value) and "faiss" in str(err.value) and "milvus" in str(err.value)
