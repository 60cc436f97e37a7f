"""Citation references: every id the library makes can be looked up, and numbers are bounded."""
from __future__ import annotations

import pytest

from rag.api import open_index
from rag.citations import is_ref, parse_ref
from rag.embedding.fake import HashingEmbedder
from rag.errors import InputError
from rag.index import build_index
from webapp import view

# File names readers really use: spaces (ASCII and U+3000), "#", ":", a newline.
ODD_NAMES = ["報道 2024", "報道\u3000全形空格", "issue#7", "時間 10:30-11:00", "第一行\n第二行", " 前後空格 "]
TEXT = "前海合作區的新聞\n\n前海合作区去年吸引外资八十亿元。区内企业超过十万家。\n"


@pytest.fixture()
def odd_idx(tmp_path, fake_settings):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, name in enumerate(ODD_NAMES):
        (corpus / f"{name}.txt").write_text(TEXT.replace("八十", "八十" + "一二三四五六"[i]), encoding="utf-8")
    build_index(corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    return open_index(tmp_path / "idx", fake_settings, HashingEmbedder())


def test_every_document_id_is_citable_by_chunk_and_span(odd_idx):
    assert set(odd_idx.documents) == set(ODD_NAMES)
    for chunk in odd_idx.chunks.values():
        lk = odd_idx.cite(chunk.chunk_id)
        assert (lk.doc.doc_id, lk.chunk_id, lk.start, lk.end) == (chunk.doc_id, chunk.chunk_id, chunk.start, chunk.end)
        span = odd_idx.cite(f"{chunk.doc_id}:{chunk.start}-{chunk.start + 3}")
        assert span.doc.doc_id == chunk.doc_id and span.quote == chunk.text[:3]
        assert is_ref(chunk.chunk_id, odd_idx.documents)


def test_answers_citing_odd_ids_show_their_sources(odd_idx):
    turns = {}
    for turn, name in enumerate(ODD_NAMES):
        a = odd_idx.ask("前海合作區去年吸引外資多少？", doc_ids=[name])
        assert not a.abstained and a.citations[0].doc_id == name
        turns[turn] = a
        panel = view.sources_panel(odd_idx, turns, turn)
        assert f'id="src-{turn}-1"' in panel and "<mark>" in panel and 'class="ctx-passage"' in panel
        looked = view.lookup_html(odd_idx.look_up(a.citations[0].chunk_id), odd_idx.documents)
        assert "lookup-result" in looked and "<mark>" in looked


def test_the_reference_as_written_wins_over_the_trimmed_one():
    docs = {" 前後空格 ": None, "前後空格": None}
    assert parse_ref(" 前後空格 #0", docs).doc_id == " 前後空格 "
    assert parse_ref("前後空格#0 ", docs).doc_id == "前後空格"
    assert parse_ref("a:b:1-2").doc_id == "a:b" and parse_ref("a:b:1-2").span == (1, 2)
    assert parse_ref("x#y#3").doc_id == "x#y" and parse_ref("x#y#3").n == 3


@pytest.mark.parametrize("ref", ["a#" + "9" * 5000, "a:0-" + "9" * 5000, "a:" + "1" * 4400 + "-2", "a#" + "9" * 20,
                                 "a:0-" + "9" * 40])
def test_huge_numbers_are_refused_with_a_message(ref, small_corpus, tmp_path, fake_settings):
    build_index(small_corpus, tmp_path / "small", fake_settings, HashingEmbedder())
    idx = open_index(tmp_path / "small", fake_settings, HashingEmbedder())
    expected = "digits" if len(ref) < 100 else "characters"
    with pytest.raises(InputError, match=expected):
        idx.cite(ref)
    with pytest.raises(InputError, match=expected):
        view.lookup_html(idx.look_up(ref), idx.documents)  # (the page's handler shows that message)


@pytest.mark.parametrize("top_k", [-3, 0, 51, 100_000_000, 10**50, "5; drop", 2.5, True])
def test_top_k_is_bounded_at_the_library(odd_idx, top_k):
    with pytest.raises(InputError, match="top_k"):
        odd_idx.support("前海合作區吸引外資", top_k=top_k)
    with pytest.raises(InputError, match="top_k"):
        odd_idx.search("前海合作區", top_k=top_k)
    with pytest.raises(InputError, match="top_k"):
        odd_idx.ask("前海合作區吸引外資多少？", top_k=top_k)


def test_top_k_in_range_is_honoured(odd_idx):
    assert len(odd_idx.support("前海合作區吸引外資", top_k=2)) <= 2
    assert len(odd_idx.search("前海合作區", top_k=5.0)) == 5  # a slider sends floats


@pytest.mark.parametrize("context", [-1, 5001, 10**40, "200"])
def test_context_is_bounded(odd_idx, context):
    chunk = next(iter(odd_idx.chunks.values()))
    with pytest.raises(InputError, match="context"):
        odd_idx.cite(chunk.chunk_id, context_chars=context)


def test_overlong_reference_is_refused_quickly(odd_idx):
    with pytest.raises(InputError):
        odd_idx.cite("x" * 1_500_000 + "#1")
