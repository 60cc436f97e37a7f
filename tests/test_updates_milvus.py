"""Updates of an index whose store is Milvus (Milvus Lite, real): readers see one generation at
a time, a relative database path, any file name, repairs of a damaged collection or database
file, a copied index folder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SEEDS, make_fake_settings
from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.index import build_index, read_manifest
from rag.updates import add_documents, remove_documents
from test_updates import NEW, _cli, _corpus, _write


def test_milvus_reader_sees_one_generation_at_a_time(tmp_path):
    """While an update writes the next generation, a reader of the current one sees the
    old document whole; after the swap, readers see the new one whole."""
    pytest.importorskip("milvus_lite")
    from rag.stores.base import StoreRow
    from rag.stores.milvus_client import connect
    from rag.stores.milvus_writer import CollectionWriter

    s = make_fake_settings(tmp_path / "models").with_(store="milvus", milvus_uri=str(tmp_path / "m.db"))
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    build_index(corpus, tmp_path / "idx", s, emb)
    before = open_index(tmp_path / "idx", s, emb)
    m = read_manifest(tmp_path / "idx")
    doc = sorted(before.documents)[0]
    rows = [c for c in before.loaded.chunks if c.doc_id == doc]
    writer = CollectionWriter(s.store_config(), m["store"], m["model"]["dimension"], "unused", "tokens", False, 32)
    assert writer.incremental and writer.generation == 2
    vec = np.ones(m["model"]["dimension"], dtype=np.float32) / np.sqrt(m["model"]["dimension"])
    writer.write([StoreRow(f"{c.chunk_id}@new", c.chunk_id, doc, "", c.start, c.end, "", "", vec, ("獨一無二",))
                  for c in rows], [doc])
    # Not committed: the reader of generation 1 sees the old rows of the document, all
    # of them, and none of the new; generation 2 would see exactly the new ones.
    from rag.stores.milvus_client import filter_expr

    client, name = connect(str(tmp_path / "m.db")), m["store"]["collection"]
    for g, hidden, marker in ((1, [], 0), (2, [doc], len(rows))):
        found = client.query(name, filter=filter_expr(g, [doc], hidden), output_fields=["pk"])
        assert len(found) == len(rows) and sum(f["pk"].endswith("@new") for f in found) == marker
    assert before.loaded.store.keyword(["獨一無二"], 50) == []
    assert len(before.search("香港", mode="dense", top_k=50, doc_ids=[doc])) == min(50, len(rows))
    # A crash here (no swap): the next build rolls the half-written generation back.
    writer.abandon()
    report = build_index(corpus, tmp_path / "idx", s, emb)
    assert report.up_to_date
    assert open_index(tmp_path / "idx", s, emb).search("香港", mode="dense", top_k=3)


def test_a_relative_milvus_path_is_the_one_the_index_was_built_with(tmp_path):
    pytest.importorskip("milvus_lite")
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir(), b.mkdir()
    shutil.copytree(SEEDS, a / "corpus")
    r = _cli(tmp_path, a, "index", "--corpus", "corpus", "--out", "index", "--store", "milvus",
             "--milvus-uri", "kb.db")
    assert r.returncode == 0, r.stderr
    assert read_manifest(a / "index")["store"]["uri"] == str((a / "kb.db").resolve())
    r = _cli(tmp_path, b, "ask", "香港", "--index", "../A/index", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["citations"], r.stderr
    r = _cli(tmp_path, b, "add", str(_write(tmp_path, "zz_ferry", NEW["zz_ferry"])), "--index", "../A/index")
    assert r.returncode == 0 and "6 documents" in r.stdout, r.stderr
    assert list(b.iterdir()) == []  # no stray kb.db


@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_any_valid_file_name_works_in_both_stores(tmp_path, store):
    """Control characters, quotes, backslashes and a line break in a file name: the
    document is indexed, found with a document filter, replaced and removed, and the
    index stays loadable (Milvus once refused such ids in every filter, for good)."""
    if store == "milvus":
        pytest.importorskip("milvus_lite")
    s = make_fake_settings(tmp_path / "models")
    if store == "milvus":
        s = s.with_(store="milvus", milvus_uri=str(tmp_path / "m.db"))
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    odd = ["zz\x1b[31mred", "zz\x01ctl", 'zz "q" \\ b', "zz\nline"]
    for d, text in zip(odd, [*NEW.values(), NEW["zz_ferry"]]):
        _write(corpus, d, text)
    idx = tmp_path / "idx"
    build_index(corpus, idx, s, emb)
    for d in odd[:3]:
        assert open_index(idx, s, emb).search("新聞", mode="hybrid", top_k=3, doc_ids=[d])[0].doc_id == d
    incoming = tmp_path / "in"
    incoming.mkdir()
    r = add_documents(idx, [_write(incoming, odd[0], NEW["zz_tech"] + "再補一句。\n")], s, emb, replace=True)
    assert r.added == (odd[0],)
    remove_documents(idx, [odd[1], odd[3]], s, emb)
    docs = open_index(idx, s, emb).documents
    assert odd[0] in docs and odd[2] in docs and odd[1] not in docs and odd[3] not in docs
    assert "再補一句" in docs[odd[0]].text
    assert not build_index(corpus, idx, s, emb, force=True).up_to_date
    assert open_index(idx, s, emb).search("新聞", mode="dense", top_k=3, doc_ids=[odd[2]])[0].doc_id == odd[2]


def _milvus(tmp_path: Path):
    pytest.importorskip("milvus_lite")
    s = make_fake_settings(tmp_path / "models").with_(store="milvus", milvus_uri=str(tmp_path / "m.db"))
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    build_index(corpus, tmp_path / "idx", s, emb)
    return s, corpus, emb


def test_the_suggested_repair_of_a_damaged_collection_repairs_it(tmp_path):
    """Rows deleted behind the index: loading names the repair, the repair rebuilds (it
    does not say "up to date"), and an add on the damaged collection rebuilds it too."""
    from rag.errors import IndexLoadError
    from rag.stores.milvus_client import connect

    s, corpus, emb = _milvus(tmp_path)
    idx = tmp_path / "idx"
    info = read_manifest(idx)["store"]
    client = connect(info["uri"])
    seed = sorted(corpus.glob("*.txt"))[0].stem
    client.delete(info["collection"], filter=f'doc_id in ["{seed}"]')
    with pytest.raises(IndexLoadError, match=r"rebuild with: rag index --corpus \S+ --store milvus") as err:
        open_index(idx, s, emb)
    assert str(corpus.resolve()) in str(err.value)
    assert not build_index(corpus, idx, s, emb).up_to_date  # the repair the message names
    assert open_index(idx, s, emb).search("香港", mode="hybrid", top_k=3, doc_ids=[seed])
    client.delete(read_manifest(idx)["store"]["collection"], filter=f'doc_id in ["{seed}"]')
    r = add_documents(idx, [_write(tmp_path, "zz_ferry", NEW["zz_ferry"])], s, emb)
    assert r.added == ("zz_ferry",)
    loaded = open_index(idx, s, emb)
    assert loaded.search("香港", mode="hybrid", top_k=3, doc_ids=[seed]) and "zz_ferry" in loaded.documents


def test_updating_a_copy_of_an_index_folder_leaves_the_original_whole(tmp_path):
    s, corpus, emb = _milvus(tmp_path)
    idx, backup = tmp_path / "idx", tmp_path / "backup"
    shutil.copytree(idx, backup)
    before = [h.chunk_id for h in open_index(idx, s, emb).search("香港", mode="hybrid", top_k=10)]
    add_documents(backup, [_write(tmp_path, "zz_ferry", NEW["zz_ferry"])], s, emb)
    remove_documents(backup, [sorted(p.stem for p in SEEDS.glob("*.txt"))[0]], s, emb)
    assert read_manifest(backup)["store"]["collection"] != read_manifest(idx)["store"]["collection"]
    assert "zz_ferry" in open_index(backup, s, emb).documents
    original = open_index(idx, s, emb)  # loads: its collection was not touched
    assert [h.chunk_id for h in original.search("香港", mode="hybrid", top_k=10)] == before
    add_documents(idx, [_write(tmp_path, "zz_park", NEW["zz_park"])], s, emb)  # and still updates in place
    assert "zz_park" in open_index(idx, s, emb).documents and "zz_park" not in open_index(backup, s, emb).documents


def test_damaged_milvus_lite_files_are_one_line_and_the_repair_works(tmp_path):
    pytest.importorskip("milvus_lite")
    _corpus(tmp_path)
    assert _cli(tmp_path, tmp_path, "index", "--corpus", "corpus", "--out", "idx", "--store", "milvus",
                "--milvus-uri", "kb.db").returncode == 0
    for f in (tmp_path / "kb.db").rglob("*"):
        if f.is_file() and f.stat().st_size:
            data = bytearray(f.read_bytes())
            for i in range(0, len(data), 512):
                data[i:i + 8] = b"\xff" * 8
            f.write_bytes(bytes(data))
    r = _cli(tmp_path, tmp_path, "ask", "香港", "--index", "idx")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "may be damaged" in r.stderr and "rag index --corpus" in r.stderr
    fix = r.stderr.split("rebuild with: ")[1].split()
    r = _cli(tmp_path, tmp_path, *fix[1:])  # the repair as printed (rag index --corpus … --out idx)
    assert r.returncode == 0 and "up to date" not in r.stdout, r.stdout + r.stderr
    r = _cli(tmp_path, tmp_path, "ask", "香港", "--index", "idx", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["citations"], r.stderr
