from __future__ import annotations

import pytest

from rag.corpus import decode_strict, read_corpus
from rag.errors import InputError


def test_invalid_utf8_reported_with_byte_offset(tmp_path):
    (tmp_path / "good.txt").write_text("正常的文章。內容完整。", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes("開頭正常".encode("utf-8") + b"\xff\xfe" + "後面".encode("utf-8"))
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    docs, skipped = read_corpus(tmp_path)
    assert [d.doc_id for d in docs] == ["good"]
    reasons = {s.path.rsplit("/", 1)[1]: s.reason for s in skipped}
    assert "byte 12" in reasons["bad.txt"] and "UTF-8" in reasons["bad.txt"]
    assert "empty" in reasons["empty.md"]


def test_decode_strict_strips_bom_only():
    assert decode_strict("\ufeff新聞".encode("utf-8"), "x") == "新聞"
    with pytest.raises(InputError, match="byte 0"):
        decode_strict(b"\x80", "x")


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_corpus(tmp_path / "nope")


def test_hostile_files_are_reported_and_skipped(tmp_path):
    import os

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("正常的文章。內容完整。", encoding="utf-8")
    (corpus / "huge.txt").write_bytes("中國".encode("utf-8") * 1_800_000)  # 10.8 MB, one line, no punctuation
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (corpus / "nul.md").write_bytes("看似文字".encode("utf-8") + b"\0\0\0")
    (corpus / "whitespace.txt").write_text(" \n\t\u3000\n", encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("機密：不應被索引。", encoding="utf-8")
    (corpus / "escape.txt").symlink_to(outside)
    (corpus / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    (corpus / "inside.txt").symlink_to(corpus / "good.txt")  # a link within the corpus is fine
    (corpus / "folder.txt").mkdir()
    os.mkfifo(corpus / "pipe.txt")  # would block a plain read forever
    docs, skipped = read_corpus(corpus)
    assert sorted(d.doc_id for d in docs) == ["good", "inside"]
    reasons = {os.path.basename(s.path): s.reason for s in skipped}
    assert set(reasons) == {"huge.txt", "binary.txt", "nul.md", "whitespace.txt", "escape.txt", "dangling.txt",
                            "folder.txt", "pipe.txt"}
    assert "5,000,000-byte limit" in reasons["huge.txt"]
    assert "binary" in reasons["binary.txt"] or "UTF-8" in reasons["binary.txt"]
    assert "NUL byte at 12" in reasons["nul.md"]
    assert "empty" in reasons["whitespace.txt"]
    assert "outside the corpus folder" in reasons["escape.txt"]
    assert "broken symlink" in reasons["dangling.txt"]
    assert "folder" in reasons["folder.txt"] and "regular file" in reasons["pipe.txt"]
    assert all("機密" not in d.text for d in docs)


def test_a_long_unpunctuated_file_under_the_limit_is_indexed_in_bounded_pieces(tmp_path, fake_settings):
    from rag.embedding.fake import HashingEmbedder
    from rag.index import build_index, load_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "long.txt").write_text("標題\n\n" + "中国" * 100_000 + "\n", encoding="utf-8")
    (corpus / "good.txt").write_text("正常的文章。內容完整。", encoding="utf-8")
    report = build_index(corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    assert report.documents == 2 and not report.skipped
    loaded = load_index(tmp_path / "idx", fake_settings, HashingEmbedder())
    long_chunks = [c for c in loaded.chunks if c.doc_id == "long"]
    assert len(long_chunks) >= 500 and all(len(c.text) <= 400 for c in long_chunks)


def test_a_file_vanishing_mid_run_is_reported(tmp_path, monkeypatch):
    import rag.corpus as corpus_mod

    (tmp_path / "a.txt").write_text("第一篇文章。", encoding="utf-8")
    (tmp_path / "b.txt").write_text("第二篇文章。", encoding="utf-8")
    listed = corpus_mod.corpus_files(tmp_path)
    (tmp_path / "a.txt").unlink()  # deleted between listing and reading
    monkeypatch.setattr(corpus_mod, "corpus_files", lambda folder: listed)
    docs, skipped = read_corpus(tmp_path)
    assert [d.doc_id for d in docs] == ["b"]
    assert len(skipped) == 1 and "cannot be read" in skipped[0].reason and "No such file" in skipped[0].reason


def test_a_file_name_that_is_not_utf8_is_skipped_not_fatal(tmp_path, fake_settings):
    import os

    from rag.embedding.fake import HashingEmbedder
    from rag.index import build_index, read_manifest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("正常的文章。內容完整。", encoding="utf-8")
    with open(os.path.join(os.fsencode(corpus), b"\xff\xfebad.txt"), "wb") as fh:
        fh.write("另一篇文章。".encode("utf-8"))
    docs, skipped = read_corpus(corpus)
    assert [d.doc_id for d in docs] == ["good"]
    assert len(skipped) == 1 and "file name is not valid UTF-8" in skipped[0].reason
    assert "\\xff\\xfebad.txt" in skipped[0].path
    skipped[0].reason.encode("utf-8")  # printable and writable as UTF-8
    report = build_index(corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    assert report.documents == 1 and len(report.skipped) == 1
    assert "\\xff\\xfebad.txt" in read_manifest(tmp_path / "idx")["skipped"][0]["path"]
