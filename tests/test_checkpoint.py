"""rag.index.checkpoint: a build stopped half-way resumes and embeds only what is missing;
the index readers see stays the old one until the new build is whole."""
from __future__ import annotations

import json

import numpy as np
import pytest

from eval.resume_check import Counting, Stopping
from rag.embedding.fake import HashingEmbedder
from rag.index import build_index, checkpoint, load_index


def _corpus(folder, n_docs: int):
    folder.mkdir()
    for i in range(n_docs):
        body = "".join(f"第{i}篇文章的第{j}句話講述香港科技園公司在{2000 + j}年新增了{i * j}家初創企業。" for j in range(40))
        (folder / f"doc{i:04d}.txt").write_text(f"標題{i}\n\n{body}\n", encoding="utf-8")
    return folder


def test_a_stopped_build_resumes_and_embeds_only_what_is_missing(tmp_path, fake_settings, monkeypatch):
    monkeypatch.setattr(checkpoint, "BATCH", 50)
    corpus = _corpus(tmp_path / "corpus", 80)
    out = tmp_path / "idx"
    # An older index is in place: readers keep it while the new build runs and fails.
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "a.txt").write_text("舊文章\n\n香港科技園公司今年新增了三百家初創企業。\n", encoding="utf-8")
    build_index(tmp_path / "old", out, fake_settings, HashingEmbedder())
    before = (out / "manifest.json").read_bytes()
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, out, fake_settings, Stopping(allow=230))
    assert (out / "manifest.json").read_bytes() == before  # the old index, whole
    assert load_index(out, fake_settings).documents.keys() == {"a"}
    saved = checkpoint.load(out)
    assert len(saved) == 200  # four whole batches of 50 (the fifth was stopped)
    counting = Counting()
    report = build_index(corpus, out, fake_settings, counting)
    total = report.chunks
    assert total > 400 and counting.embedded == total - 200 == report.embedded_vectors
    assert not checkpoint.folder_of(out).exists()  # cleared once the new index is in place
    # The same vectors as a build that was never stopped.
    fresh = tmp_path / "fresh"
    build_index(corpus, fresh, fake_settings, HashingEmbedder())
    assert np.array_equal(np.load(out / "embed_cache.npy"), np.load(fresh / "embed_cache.npy"))
    assert json.loads((out / "manifest.json").read_text())["counts"]["chunks"] == total


def test_a_damaged_part_is_embedded_again(tmp_path, fake_settings, monkeypatch):
    monkeypatch.setattr(checkpoint, "BATCH", 40)
    corpus = _corpus(tmp_path / "corpus", 20)
    out = tmp_path / "idx"
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, out, fake_settings, Stopping(allow=90))
    parts = sorted(checkpoint.folder_of(out).glob("part-*.npz"))
    assert len(parts) == 2
    parts[0].write_bytes(parts[0].read_bytes()[:100])  # cut off
    counting = Counting()
    report = build_index(corpus, out, fake_settings, counting)
    assert counting.embedded == report.chunks - 40
    fresh = tmp_path / "fresh"
    build_index(corpus, fresh, fake_settings, HashingEmbedder())
    assert np.array_equal(np.load(out / "embed_cache.npy"), np.load(fresh / "embed_cache.npy"))
