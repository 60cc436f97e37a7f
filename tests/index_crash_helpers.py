"""Shared by the crash, damage and rebuild tests: make corpora, build in a child
process, and check that a loaded index is one whole build."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import ROOT
from rag.embedding.fake import HashingEmbedder
from rag.index import LoadedIndex
from rag.text.chunking import match_text
from rag.text.fold import fold


def write_corpus(folder: Path, version: str, n_docs: int = 60) -> Path:
    """``n_docs`` articles whose every sentence names ``version``: records of one
    build can be told from another's."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    for i in range(n_docs):
        body = "".join(f"版本{version}的第{i}篇報道第{j}句提到香港科技園的第{j * 7 + i}項計劃。" for j in range(40))
        (folder / f"doc{i:03d}.txt").write_text(f"第{i}篇報道（{version}）\n\n{body}\n", encoding="utf-8")
    return folder


BUILD_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, "tests")
from conftest import make_fake_settings
from rag.embedding.fake import HashingEmbedder
from rag.index import build_index
s = make_fake_settings(Path(sys.argv[3]))
for corpus in sys.argv[1].split(","):
    build_index(Path(corpus), Path(sys.argv[2]), s, HashingEmbedder(), force=True)
    print("built", corpus, flush=True)
"""


def start_build(corpora: list[Path], out: Path, cache: Path) -> subprocess.Popen:
    """A child process that builds ``out`` from each corpus in turn."""
    return subprocess.Popen([sys.executable, "-c", BUILD_SCRIPT, ",".join(map(str, corpora)), str(out), str(cache)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_one_build(loaded: LoadedIndex, sample: int = 25) -> str:
    """The loaded index is a single complete build: every record, vector and keyword
    row agrees with one corpus version. Returns that version."""
    versions = {c.text.split("的第", 1)[0].removeprefix("版本") for c in loaded.chunks}
    assert len(versions) == 1, f"records of several builds: {versions}"
    docs = loaded.documents
    assert set(loaded.manifest["corpus"]["documents"]) == set(docs)
    for d in docs.values():
        assert loaded.manifest["corpus"]["documents"][d.doc_id] == d.sha256
    assert loaded.vectors.ntotal == len(loaded.chunks) == loaded.bm25.n_docs
    emb = HashingEmbedder()
    rows = np.linspace(0, len(loaded.chunks) - 1, min(sample, len(loaded.chunks))).astype(int)
    for r in rows:
        c = loaded.chunks[r]
        want = emb.embed_passages([fold(match_text(docs[c.doc_id], c))])[0]
        assert np.allclose(loaded.vectors.reconstruct(int(r)), want, atol=1e-5), f"vector {r} is not chunk {c.chunk_id}'s"
    return versions.pop()

