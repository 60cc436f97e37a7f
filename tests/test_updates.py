"""Adding and removing documents without a rebuild, in both stores, checked against fresh builds."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SEEDS, make_fake_settings
from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.errors import InputError
from rag.index import build_index, load_index, read_manifest
from rag.journal import journal_path, removed_folder
from rag.updates import add_documents, remove_documents


QUESTIONS = [json.loads(line)["question"] for line in
             (ROOT / "eval" / "datasets" / "seeds_qa.jsonl").open(encoding="utf-8")][:30]


NEW = {
    "zz_ferry": "天星小輪新聞\n\n天星小輪宣布明年起票價上調一成。公司表示燃油成本上升了百分之三十。\n",
    "zz_park": "---\ntitle: 科學園擴建\ndate: 2025-03-04\n---\n\n科學園第三期擴建工程今年動工，預計新增八萬平方米樓面。\n",
    "zz_tech": "数码港新闻\n\n数码港今年引入了一百二十家金融科技公司，其中三成来自内地。\n",
}


def _corpus(tmp: Path) -> Path:
    c = tmp / "corpus"
    shutil.copytree(SEEDS, c)
    return c


def _write(folder: Path, doc_id: str, text: str) -> Path:
    p = folder / f"{doc_id}.txt"
    p.write_text(text, encoding="utf-8")
    return p


def _compare(a, b, tol: float, keyword_rtol: float = 0.0, keyword_top: int = 10) -> None:
    """Same hits, in the same order, scores within ``tol``, for every question and mode.
    ``keyword_rtol``/``keyword_top``: how close the keyword and hybrid legs must be."""
    for q in QUESTIONS + ["天星小輪票價", "科學園擴建", "数码港金融科技"]:
        for mode in ("bm25", "dense", "hybrid"):
            x, y = a.search(q, mode=mode, top_k=10), b.search(q, mode=mode, top_k=10)
            n, rtol = (10, 0.0) if mode == "dense" else (keyword_top, keyword_rtol)
            assert [h.chunk_id for h in x][:n] == [h.chunk_id for h in y][:n], (q, mode)
            assert np.allclose([h.score for h in x][:n], [h.score for h in y][:n], atol=tol, rtol=rtol), (q, mode)


@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_adds_and_removes_match_a_fresh_build(tmp_path, store):
    if store == "milvus":
        pytest.importorskip("milvus_lite")
    s = make_fake_settings(tmp_path / "models")
    if store == "milvus":
        s = s.with_(store="milvus", milvus_uri=str(tmp_path / "m.db"))
    corpus, incoming = _corpus(tmp_path), tmp_path / "incoming"
    incoming.mkdir()
    emb = HashingEmbedder()
    idx = tmp_path / "idx"
    build_index(corpus, idx, s, emb)
    files = {d: _write(incoming, d, t) for d, t in NEW.items()}
    seeds = sorted(p.stem for p in SEEDS.glob("*.txt"))

    r = add_documents(idx, [files["zz_ferry"], files["zz_park"]], s, emb)
    assert r.added == ("zz_ferry", "zz_park") and r.build.embedded_vectors == 2
    r = remove_documents(idx, [seeds[1]], s, emb)
    assert (removed_folder(idx.resolve()) / f"{seeds[1]}.txt").is_file() and not (corpus / f"{seeds[1]}.txt").exists()
    add_documents(idx, [files["zz_tech"]], s, emb)
    changed = _write(incoming, "zz_park", NEW["zz_park"].replace("八萬", "九萬"))
    r = add_documents(idx, [changed], s, emb, replace=True)
    assert r.moved_to and r.build.embedded_vectors == 1  # only the changed chunk is embedded again
    remove_documents(idx, ["zz_ferry"], s, emb)

    # The fresh build of the same final corpus, from scratch, in another store location.
    fresh_settings = s.with_(milvus_uri=str(tmp_path / "fresh.db")) if store == "milvus" else s
    build_index(corpus, tmp_path / "fresh", fresh_settings, emb, force=True)
    a, b = open_index(idx, s, emb), open_index(tmp_path / "fresh", fresh_settings, emb)
    assert sorted(a.documents) == sorted(b.documents) == sorted([*set(seeds) - {seeds[1]}, "zz_park", "zz_tech"])
    assert [c.chunk_id for c in a.loaded.chunks] == [c.chunk_id for c in b.loaded.chunks]
    if store == "faiss":
        _compare(a, b, 1e-6)
    else:
        # Milvus Lite 3.2.2 keeps counting deleted rows in its BM25 document frequencies
        # (compaction did not change that): after these updates, keyword scores are up to
        # 7% off a fresh build's, while the top hits stay the same. Dense is exact.
        _compare(a, b, 1e-5, keyword_rtol=0.10, keyword_top=3)
    if store == "faiss":
        # The keyword statistics are those of a fresh build, exactly.
        x, y = a.loaded.bm25, b.loaded.bm25
        assert np.array_equal(x.doc_len, y.doc_len) and set(x.vocab) == set(y.vocab)
        for term in list(y.vocab)[:200]:
            assert x.idf(term) == y.idf(term)
    else:
        assert read_manifest(idx)["store"]["generation"] == 6  # five updates after the build
    assert "九萬" in a.ask("科學園第三期擴建新增多少樓面？").answer


def test_the_faiss_update_rewrites_only_what_changed(tmp_path, monkeypatch):
    """An add embeds and tokenizes only the new article (the rest is reused), and leaves
    an index that loads and passes every check."""
    s = make_fake_settings(tmp_path / "models")
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    build_index(corpus, tmp_path / "idx", s, emb)
    import rag.index.build as store_mod

    seen = []
    real = store_mod.tokenize
    monkeypatch.setattr(store_mod, "tokenize", lambda text: seen.append(text) or real(text))
    f = _write(tmp_path, "zz_ferry", NEW["zz_ferry"])
    r = add_documents(tmp_path / "idx", [f], s, emb)
    assert len(seen) == 1 and r.build.reused_vectors == 132
    loaded = load_index(tmp_path / "idx", s, emb)
    assert loaded.vectors.ntotal == len(loaded.chunks) == loaded.bm25.n_docs == 133


def test_bad_adds_and_removes_leave_corpus_and_index_as_they_were(tmp_path):
    s = make_fake_settings(tmp_path / "models")
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    idx = tmp_path / "idx"
    build_index(corpus, idx, s, emb)
    before_files = sorted(p.name for p in corpus.iterdir())
    before_manifest = (idx / "manifest.json").read_bytes()
    bad = tmp_path / "bad.txt"
    bad.write_bytes("前海新聞\n\n".encode() + b"\xff\xfe broken")
    with pytest.raises(InputError, match="not valid UTF-8"):
        add_documents(idx, [bad], s, emb)
    with pytest.raises(InputError, match="does not exist"):
        add_documents(idx, [tmp_path / "missing.txt"], s, emb)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4 truncated")
    with pytest.raises(InputError, match="notes.pdf: a damaged PDF"):
        add_documents(idx, [tmp_path / "notes.pdf"], s, emb)
    (tmp_path / "notes.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError, match="not a format this product reads"):
        add_documents(idx, [tmp_path / "notes.xlsx"], s, emb)
    seed = sorted(SEEDS.glob("*.txt"))[0]
    clash = _write(tmp_path, seed.stem, "另一篇文章\n\n內容完全不同的一篇新聞。\n")
    with pytest.raises(InputError, match="already has a document .* --replace"):
        add_documents(idx, [clash], s, emb)
    with pytest.raises(InputError, match="no document 'nosuch'"):
        remove_documents(idx, ["nosuch"], s, emb)
    with pytest.raises(InputError, match="every document"):
        remove_documents(idx, [p.stem for p in SEEDS.glob("*.txt")], s, emb)
    assert sorted(p.name for p in corpus.iterdir()) == before_files
    assert (idx / "manifest.json").read_bytes() == before_manifest


def test_a_failed_build_puts_the_corpus_back(tmp_path, monkeypatch):
    s = make_fake_settings(tmp_path / "models")
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    build_index(corpus, tmp_path / "idx", s, emb)
    manifest = (tmp_path / "idx" / "manifest.json").read_bytes()
    seed = sorted(corpus.glob("*.txt"))[0]
    original = seed.read_bytes()
    before = sorted(p.name for p in corpus.iterdir())
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    changed = _write(incoming, seed.stem, "換了的文章\n\n全新的內容在這裏，講述另一件事。\n")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(HashingEmbedder, "embed_passages", broken)
    with pytest.raises(OSError):
        add_documents(tmp_path / "idx", [changed], s, emb, replace=True)
    assert seed.read_bytes() == original and not list(removed_folder((tmp_path / "idx").resolve()).glob("*"))
    assert sorted(p.name for p in corpus.iterdir()) == before and not journal_path((tmp_path / "idx").resolve()).exists()
    with pytest.raises(OSError):
        add_documents(tmp_path / "idx", [_write(incoming, "zz_new", NEW["zz_tech"])], s, emb)
    assert not (corpus / "zz_new.txt").exists()
    import rag.updates

    monkeypatch.setattr(rag.updates, "build_locked", broken)
    with pytest.raises(OSError):
        remove_documents(tmp_path / "idx", [seed.stem], s, emb)
    assert seed.read_bytes() == original and not list(removed_folder((tmp_path / "idx").resolve()).glob("*"))
    assert sorted(p.name for p in corpus.iterdir()) == before and not journal_path((tmp_path / "idx").resolve()).exists()
    assert (tmp_path / "idx" / "manifest.json").read_bytes() == manifest


def test_cli_add_and_remove(tmp_path):
    corpus = _corpus(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "rag.cli"]
    flags = ["--model", "fake", "--cache-dir", str(tmp_path / "models")]

    def run(*args):
        return subprocess.run([*base, *args[:1], *flags, *args[1:]], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    assert run("index", "--corpus", "corpus", "--out", "idx").returncode == 0
    f = _write(tmp_path, "zz_ferry", NEW["zz_ferry"])
    r = run("add", str(f), "--index", "idx")
    assert r.returncode == 0 and "added 1 document(s): zz_ferry" in r.stdout and "6 documents" in r.stdout, r.stderr
    assert (corpus / "zz_ferry.txt").read_text(encoding="utf-8") == NEW["zz_ferry"]
    r = run("ask", "天星小輪的票價明年怎樣？", "--index", "idx", "--json")
    assert json.loads(r.stdout)["citations"][0]["doc_id"] == "zz_ferry"
    r = run("add", str(f), "--index", "idx")
    assert r.returncode == 0 and "unchanged: zz_ferry" in r.stdout
    r = run("remove", "zz_ferry", "--index", "idx")
    assert r.returncode == 0 and ".idx.removed/zz_ferry.txt" in r.stdout and not (corpus / ".removed").exists()
    r = run("remove", "zz_ferry", "--index", "idx")
    assert r.returncode == 2 and "no document 'zz_ferry'" in r.stderr and "Traceback" not in r.stderr
    r = run("add", str(tmp_path / "nope.txt"), "--index", "idx")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run("add", str(f), "--index", "no-index-here")
    assert r.returncode == 2 and "no index at no-index-here" in r.stderr


def test_ids_with_quotes_and_backslashes_survive_updates(tmp_path):
    """The update reads document ids off the previous build's JSON lines without parsing
    them whole: ids that JSON must escape come back exactly."""
    s = make_fake_settings(tmp_path / "models")
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    odd = 'zz "引號" \\ 反斜線'
    _write(corpus, odd, NEW["zz_tech"])
    build_index(corpus, tmp_path / "idx", s, emb)
    r = add_documents(tmp_path / "idx", [_write(tmp_path, "zz_ferry", NEW["zz_ferry"])], s, emb)
    assert r.build.embedded_vectors == 1
    idx = open_index(tmp_path / "idx", s, emb)
    assert odd in idx.documents and idx.search("数码港金融科技", mode="bm25")[0].doc_id == odd
    remove_documents(tmp_path / "idx", [odd], s, emb)
    assert odd not in open_index(tmp_path / "idx", s, emb).documents


def test_an_index_from_before_paths_were_recorded_updates_incrementally(tmp_path, monkeypatch):
    from rag.index import manifest_digest

    s = make_fake_settings(tmp_path / "models")
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    build_index(corpus, tmp_path / "idx", s, emb)
    path = tmp_path / "idx" / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    del m["corpus"]["paths"]  # what the previous version wrote
    m["manifest_sha256"] = manifest_digest(m)
    path.write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    import rag.index.build as store_mod

    seen = []
    real = store_mod.tokenize
    monkeypatch.setattr(store_mod, "tokenize", lambda text: seen.append(text) or real(text))
    r = add_documents(tmp_path / "idx", [_write(tmp_path, "zz_ferry", NEW["zz_ferry"])], s, emb)
    assert len(seen) == 1 and r.build.reused_vectors == 132
    assert read_manifest(tmp_path / "idx")["corpus"]["paths"]["zz_ferry"].endswith("zz_ferry.txt")


def _cli(tmp_path: Path, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    flags = ["--model", "fake", "--cache-dir", str(tmp_path / "models")]
    return subprocess.run([sys.executable, "-m", "rag.cli", args[0], *flags, *args[1:]], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=cwd, timeout=180)


def test_an_update_finds_the_corpus_from_the_index_not_the_current_folder(tmp_path):
    """Built in A with a relative --corpus, updated from B, which holds another corpus/:
    A's corpus gets the file and the index keeps its documents; B is never touched."""
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir(), b.mkdir()
    shutil.copytree(SEEDS, a / "corpus")
    (b / "corpus").mkdir()
    _write(b / "corpus", "zz_other", NEW["zz_tech"])
    assert _cli(tmp_path, a, "index", "--corpus", "corpus", "--out", "index").returncode == 0
    new = _write(tmp_path, "zz_ferry", NEW["zz_ferry"])
    r = _cli(tmp_path, b, "add", str(new), "--index", "../A/index")
    assert r.returncode == 0 and "6 documents" in r.stdout, r.stdout + r.stderr
    assert (a / "corpus" / "zz_ferry.txt").is_file() and sorted(p.name for p in (b / "corpus").iterdir()) == [
        "zz_other.txt"]
    r = _cli(tmp_path, b, "remove", "zz_ferry", "--index", "../A/index")
    assert r.returncode == 0 and "5 documents" in r.stdout, r.stdout + r.stderr
    assert not (a / "corpus" / "zz_ferry.txt").exists() and (b / "corpus" / "zz_other.txt").is_file()
    # Moved with its corpus, the index still finds it (recorded relative to the index too).
    shutil.move(str(a), str(tmp_path / "A2"))
    r = _cli(tmp_path, b, "add", str(new), "--index", "../A2/index")
    assert r.returncode == 0 and (tmp_path / "A2" / "corpus" / "zz_ferry.txt").is_file(), r.stderr


def test_a_refused_update_never_touches_the_corpus(tmp_path, monkeypatch):
    """While another process builds the index, a remove or add is refused, and it moved
    nothing in the corpus meanwhile (that build would have read the corpus without it)."""
    from rag.index import locked

    s = make_fake_settings(tmp_path / "models")
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    idx = tmp_path / "idx"
    build_index(corpus, idx, s, emb)
    seed = sorted(corpus.glob("*.txt"))[0].stem
    changes = []
    for name in ("rename", "replace", "unlink"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda *a, _real=real, _name=name, **k: changes.append((_name, a)) or _real(*a, **k))
    with locked(idx):  # another build holds the lock
        changes.clear()
        with pytest.raises(InputError, match="another build"):
            remove_documents(idx, [seed], s, emb)
        replacement = _write(tmp_path, seed, "換了的文章\n\n全新的內容在這裏，講述另一件事。\n")
        with pytest.raises(InputError, match="another build"):
            add_documents(idx, [replacement, _write(tmp_path, "zz_ferry", NEW["zz_ferry"])], s, emb, replace=True)
        assert not [c for c in changes if any(str(corpus) in str(x) for x in c[1])], changes


def test_a_corpus_file_named_in_another_case_is_the_same_document(tmp_path):
    """HAND.TXT in the corpus is document HAND: adding HAND.txt is refused (not reported as
    added while the index keeps the old text), or replaces it as asked."""
    s = make_fake_settings(tmp_path / "models")
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    (corpus / "HAND.TXT").write_text(NEW["zz_tech"], encoding="utf-8")
    idx = tmp_path / "idx"
    build_index(corpus, idx, s, emb)
    incoming = tmp_path / "in"
    incoming.mkdir()
    new = _write(incoming, "HAND", NEW["zz_ferry"])
    with pytest.raises(InputError, match="already has a document 'HAND'.*HAND.TXT"):
        add_documents(idx, [new], s, emb)
    assert [p.name for p in corpus.glob("HAND.*")] == ["HAND.TXT"]
    r = add_documents(idx, [new], s, emb, replace=True)
    assert r.added == ("HAND",) and [p.name for p in corpus.glob("HAND.*")] == ["HAND.txt"]
    assert (removed_folder(idx.resolve()) / "HAND.TXT").read_text(encoding="utf-8") == NEW["zz_tech"]
    idx_open = open_index(idx, s, emb)
    assert "天星小輪" in idx_open.documents["HAND"].text
    # The same text under another case of the suffix is unchanged, not a second document.
    same = incoming / "HAND.TxT"
    same.write_text(NEW["zz_ferry"], encoding="utf-8")
    assert add_documents(idx, [same], s, emb).unchanged == ("HAND",)


def test_removed_articles_stay_out_of_the_corpus_and_out_of_git(tmp_path):
    """Removed files go beside the index (never into the corpus folder, which a build and
    the tests read), in a folder that the repository's .gitignore covers for index/."""
    s = make_fake_settings(tmp_path / "models")
    corpus, emb = _corpus(tmp_path), HashingEmbedder()
    idx = tmp_path / "idx"
    build_index(corpus, idx, s, emb)
    seed = sorted(corpus.glob("*.txt"))[0].stem
    remove_documents(idx, [seed], s, emb)
    assert not [p for p in corpus.iterdir() if p.name.startswith(".")]
    assert (tmp_path / ".idx.removed" / f"{seed}.txt").is_file()
    if shutil.which("git") and (ROOT / ".git").exists():
        r = subprocess.run(["git", "check-ignore", "-q", str(removed_folder(ROOT / "index") / "x.txt")], cwd=ROOT)
        assert r.returncode == 0
    # A file where the folder should be: one clear refusal, corpus unchanged.
    shutil.rmtree(tmp_path / ".idx.removed")
    (tmp_path / ".idx.removed").write_text("not a folder")
    before = sorted(p.name for p in corpus.iterdir())
    with pytest.raises(InputError, match="is a file"):
        remove_documents(idx, [sorted(corpus.glob("*.txt"))[0].stem], s, emb)
    assert sorted(p.name for p in corpus.iterdir()) == before


@pytest.mark.parametrize("failure", [
    "faiss.write_index = lambda *a: (_ for _ in ()).throw(RuntimeError("
    "'Error in faiss::FileIOWriter: fwrite failed: No space left on device'))",
    "import numpy; numpy.save = lambda *a, **k: (_ for _ in ()).throw(OSError(28, 'No space left on device'))",
])
def test_a_full_disk_during_an_add_is_one_line_and_loses_nothing(tmp_path, failure):
    corpus = _corpus(tmp_path)
    assert _cli(tmp_path, tmp_path, "index", "--corpus", "corpus", "--out", "idx").returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "idx").iterdir()}
    files = sorted(p.name for p in corpus.iterdir())
    new = _write(tmp_path, "zz_ferry", NEW["zz_ferry"])
    code = (f"import sys, faiss; {failure}; from rag.cli import main; "
            f"sys.exit(main(['add', '--model', 'fake', '--cache-dir', {str(tmp_path / 'models')!r}, "
            f"{str(new)!r}, '--index', 'idx']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=180,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "No space left on device" in r.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "idx").iterdir()} == before
    assert sorted(p.name for p in corpus.iterdir()) == files
