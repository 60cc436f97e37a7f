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
