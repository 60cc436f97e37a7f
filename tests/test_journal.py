"""The update journal: an add or remove that was killed is rolled back by the next build."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS, make_fake_settings
from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.index import build_index
from rag.journal import Journal, journal_path, recover, removed_folder
from rag.updates import add_documents

CHILD = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, str(Path(sys.argv[1]) / "tests"))
from conftest import make_fake_settings
from rag.embedding.fake import HashingEmbedder
from rag.updates import add_documents

class Stalling(HashingEmbedder):
    def embed_passages(self, texts, progress=None):
        Path(sys.argv[3]).write_text("embedding")
        time.sleep(600)  # killed here, after the corpus changed, before the swap

s = make_fake_settings(Path(sys.argv[2]) / "models")
add_documents(Path(sys.argv[2]) / "idx", [Path(p) for p in sys.argv[4:]], s, Stalling(), replace=True)
"""


def _setup(tmp_path: Path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    s, emb = make_fake_settings(tmp_path / "models"), HashingEmbedder()
    build_index(corpus, tmp_path / "idx", s, emb)
    return corpus, s, emb


def _kill_mid_add(tmp_path: Path, files: list[Path]) -> None:
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT), str(tmp_path), str(ready), *map(str, files)])
    deadline = time.time() + 120
    while not ready.exists():
        assert child.poll() is None and time.time() < deadline, "the child add never reached the embedding"
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()


@pytest.mark.slow
@pytest.mark.parametrize("next_step", ["add", "index"])
def test_a_killed_add_is_rolled_back_by_the_next_update(tmp_path, next_step):
    corpus, s, emb = _setup(tmp_path)
    seed = sorted(corpus.glob("*.txt"))[0]
    original, before = seed.read_bytes(), sorted(p.name for p in corpus.iterdir())
    incoming = tmp_path / "in"
    incoming.mkdir()
    changed = incoming / seed.name
    changed.write_text("換了的文章\n\n全新的內容在這裏，講述另一件事。\n", encoding="utf-8")
    half = incoming / "zz_half.txt"
    half.write_text("半途新聞\n\n這篇文章的加入被中斷了，不應出現在索引裏。\n", encoding="utf-8")
    _kill_mid_add(tmp_path, [changed, half])
    idx = (tmp_path / "idx").resolve()
    assert (corpus / "zz_half.txt").exists() and journal_path(idx).exists()  # what the kill left

    if next_step == "add":
        other = incoming / "zz_next.txt"
        other.write_text("下一篇新聞\n\n這一篇是之後正常加入的文章。\n", encoding="utf-8")
        r = add_documents(tmp_path / "idx", [other], s, emb)
        assert r.added == ("zz_next",)
        before = sorted(before + ["zz_next.txt"])
    else:
        build_index(corpus, tmp_path / "idx", s, emb)
    assert sorted(p.name for p in corpus.iterdir()) == before and seed.read_bytes() == original
    assert not journal_path(idx).exists() and not list(removed_folder(idx).glob("*"))
    docs = open_index(tmp_path / "idx", s, emb).documents
    assert "zz_half" not in docs and docs[seed.stem].text.encode("utf-8") == original.decode("utf-8").encode("utf-8")


def test_a_published_update_is_kept_and_only_its_own_files_are_undone(tmp_path):
    corpus, s, emb = _setup(tmp_path)
    idx = (tmp_path / "idx").resolve()
    # Crashed before its swap: its file is removed, but not a file a user put there since.
    j = Journal(idx)
    j.put(corpus / "zz_a.txt", b"A", corpus / ".zz_a.tmp")
    j.put(corpus / "zz_b.txt", b"B", corpus / ".zz_b.tmp")
    (corpus / "zz_b.txt").write_bytes(b"the user's own edit")
    assert "rolled back" in recover(idx)
    assert not (corpus / "zz_a.txt").exists() and (corpus / "zz_b.txt").read_bytes() == b"the user's own edit"
    (corpus / "zz_b.txt").unlink()
    # Crashed after its swap (the manifest changed): the update stands.
    j = Journal(idx)
    j.put(corpus / "zz_c.txt", "丙新聞\n\n丙的內容。\n".encode(), corpus / ".zz_c.tmp")
    build_index(corpus, tmp_path / "idx", s, emb)  # a build that saw it (it is under the lock: recover first)
    assert not journal_path(idx).exists() and not (corpus / "zz_c.txt").exists()  # rolled back, not published
    j = Journal(idx)
    j.put(corpus / "zz_c.txt", "丙新聞\n\n丙的內容。\n".encode(), corpus / ".zz_c.tmp")
    (idx / "manifest.json").write_bytes((idx / "manifest.json").read_bytes() + b" ")  # as if swapped in
    assert "already been published" in recover(idx) and (corpus / "zz_c.txt").exists()
    # A damaged journal is kept for the user and the corpus left alone.
    journal_path(idx).write_text("{not json")
    assert "damaged" in recover(idx) and (corpus / "zz_c.txt").exists()
    assert journal_path(idx).with_name(journal_path(idx).name + ".damaged").exists()
