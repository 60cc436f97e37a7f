"""Folding, tokenizing, sentence splitting and chunking (property tests included)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from rag.corpus import document_from_text
from rag.records import Document, Section
from rag.text.chunking import chunk_document, pack_sentences
from rag.text.fold import detect_script, fold, to_script
from rag.text.sentences import split_sentences
from rag.text.tokenize import content_terms, tokenize

from conftest import seed_text


def test_fold_script_and_width():
    assert fold("銅鑼灣") == fold("铜锣湾") == "铜锣湾"
    assert fold("ＡＢＣ１２３") == "abc123"
    assert to_script("铜锣湾写字楼", "traditional") == "銅鑼灣寫字樓"
    assert to_script("銅鑼灣", "simplified") == "铜锣湾"
    assert detect_script("香港地鐵的車費是多少？") == "traditional"
    assert detect_script("阿里巴巴在铜锣湾买下了几层写字楼？") == "simplified"
    assert detect_script("香港") == "unknown"


def test_tokenize_folded_traditional_matches_simplified():
    assert tokenize(fold("香港創新科技發展藍圖")) == tokenize("香港创新科技发展蓝图")
    assert "，" not in tokenize("你好，世界")
    assert "几层" not in content_terms("阿里巴巴买下了几层写字楼")


def test_split_sentences_on_chinese_ends_and_quotes():
    text = "他說：「我們會來。」然後走了！真的嗎？是的；好…\n新的一行"
    parts = [text[a:b] for a, b in split_sentences(text)]
    assert parts == ["他說：「我們會來。」", "然後走了！", "真的嗎？", "是的；", "好…", "新的一行"]
    other = "價格是66.5億元. Next one."
    assert [other[a:b] for a, b in split_sentences(other)] == ["價格是66.5億元.", "Next one."]


_chars = st.sampled_from(list("香港科技园。！？；…」”\n ab.1") + ["記者", "銅鑼灣"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_chars, max_size=80).map("".join))
def test_split_covers_every_non_space_char(text):
    spans = split_sentences(text)
    covered = "".join(text[a:b] for a, b in spans)
    assert covered.replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert all(a < b for a, b in spans) and all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(_chars, min_size=1, max_size=120).map("".join), st.integers(20, 200), st.integers(0, 2))
def test_chunks_reproduce_original_for_any_text(text, size, overlap):
    if not text.strip():
        return
    doc = Document("d", "d", text, "t", (Section("t", ((0, len(text)),)),))
    chunks = chunk_document(doc, size, overlap)
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert all(c.start <= a < b <= c.end for a, b in c.sentences)
    # every sentence is in some chunk
    sentences = set(split_sentences(text))
    assert sentences == {s for c in chunks for s in c.sentences}


def test_pack_sentences_size_and_overlap():
    s = [(0, 100), (100, 200), (200, 300), (300, 400)]
    groups = pack_sentences(s, 250, 1)
    assert groups == [[(0, 100), (100, 200)], [(100, 200), (200, 300)], [(200, 300), (300, 400)]]
    assert pack_sentences([(0, 1000)], 100, 1) == [[(0, 1000)]]
    assert pack_sentences(s, 1000, 1) == [s]


def test_seed_chunks_exact_and_within_sections():
    for prefix in ("000", "001", "002", "003", "004"):
        text = seed_text(prefix)
        doc = document_from_text(prefix, prefix, text)
        chunks = chunk_document(doc, 300, 1)
        assert chunks and [c.chunk_id for c in chunks] == [f"{prefix}#{i}" for i in range(len(chunks))]
        for c in chunks:
            assert text[c.start:c.end] == c.text
            section = next(s for s in doc.sections if s.title == c.section and s.spans[0][0] <= c.start)
            assert section.spans[0][0] <= c.start and c.end <= section.spans[-1][1]
            assert len(c.text) <= 300 or len(c.sentences) == 1
