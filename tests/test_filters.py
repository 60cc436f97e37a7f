"""Filters by date and source: the pure rules, then through ask, search, the CLI and MCP's tools."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.errors import InputError
from rag.filters import DocFilter, check_filter, describe, matching
from rag.presentation.strings import filter_text
from rag.index import build_index

from conftest import ROOT


@pytest.fixture()
def dated(tmp_path, fake_settings):
    """Four articles: dated 2023-11-05 (信報), 2024-06-30 (信報), 2024-12 (month only, 大公報), undated."""
    c = tmp_path / "corpus"
    c.mkdir()
    (c / "a.md").write_text("---\ntitle: 舊聞\ndate: 2023-11-05\n---\n\n來源：信報\n\n前海合作區吸引外資五十億元。\n", encoding="utf-8")
    (c / "b.md").write_text("---\ntitle: 年中\ndate: 2024-06-30\n---\n\n來源：信報\n\n前海合作區吸引外資八十億元。\n", encoding="utf-8")
    (c / "c.md").write_text("---\ntitle: 年底\ndate: 2024-12\n---\n\n來源：大公報\n\n前海合作區吸引外資九十億元。\n", encoding="utf-8")
    (c / "d.txt").write_text("無日期\n\n前海合作區吸引外資一百億元。\n", encoding="utf-8")
    out = tmp_path / "idx"
    build_index(c, out, fake_settings, HashingEmbedder())
    return open_index(out, fake_settings, HashingEmbedder()), out


def test_dates_cover_whole_years_and_months_and_are_checked():
    assert check_filter(DocFilter(" 2024 ", "2024-06", (" 信報 ", ""))) == DocFilter("2024", "2024-06", ("信報",))
    for bad in ("2024-13", "2023-02-29", "24", "yesterday", "2024/06/30"):
        with pytest.raises(InputError, match="date"):
            check_filter(DocFilter(since=bad))
    with pytest.raises(InputError, match="after --until"):
        check_filter(DocFilter("2025", "2024"))
    assert describe(DocFilter("2024", "2024-02")) == "只搜尋 2024-01-01 至 2024-02-29 的文章"
    assert describe(DocFilter(sources=("信报",)), "simplified") == "只搜寻 来源为 信报 的文章"


def test_filters_narrow_the_documents_before_ranking(dated):
    idx, _ = dated
    docs = idx.documents
    assert {d: (docs[d].date, docs[d].meta("outlet")) for d in docs}["d"] == ("", "")
    assert matching(docs, DocFilter("2024")) == ["b", "c"]  # the undated article is left out
    assert matching(docs, DocFilter(until="2024-06")) == ["a", "b"]
    assert matching(docs, DocFilter("2024-12-15", "2024-12-20")) == ["c"]  # "2024-12" covers the month
    assert matching(docs, DocFilter(sources=("信报",))) == ["a", "b"]  # either script
    assert matching(docs, DocFilter("2024", sources=("信報",))) == ["b"]
    a = idx.ask("前海合作區吸引外資多少？", filters=DocFilter("2024", sources=("信報",)))
    assert {h.doc_id for h in a.hits} == {"b"} and filter_text(a) == "只搜尋 2024-01-01 至 …、來源為 信報 的文章"
    assert all(c.doc_id == "b" for c in a.citations)
    assert {h.doc_id for h in idx.search("前海外資", filters=DocFilter(until="2023"))} == {"a"}
    # A filter combined with a document choice keeps what both allow.
    assert {h.doc_id for h in idx.ask("前海外資多少？", doc_ids=["a", "c"], filters=DocFilter("2024")).hits} == {"c"}
    with pytest.raises(InputError, match=r"no document passes the filter .*4 documents; 3 dated \(2023-11-05 to 2024-12\)"):
        idx.ask("前海外資多少？", filters=DocFilter("2030"))
    assert filter_text(idx.ask("前海外資多少？")) == ""


def test_cli_filters_say_what_was_applied(dated):
    _, out = dated
    r = subprocess.run([sys.executable, "-m", "rag", "ask", "前海合作區吸引外資多少？", "--index", str(out), "--model", "fake",
                        "--since", "2024-07", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["filter"].startswith("只搜尋 2024-07-01") and {h["doc_id"] for h in j["hits"]} == {"c"}
    r = subprocess.run([sys.executable, "-m", "rag", "ask", "前海外資？", "--index", str(out), "--model", "fake",
                        "--source", "明報"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no document passes the filter" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "rag", "ask", "前海外資？", "--index", str(out), "--model", "fake",
                        "--until", "2024-02-30"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not a date" in r.stderr


def test_the_page_applies_the_date_and_source_settings(dated):
    from webapp import page, view

    idx, _ = dated
    assert view.outlet_choices(idx) == ["信報", "大公報"]
    assert page._filters("  ", None, []) is None
    f = page._filters("2024", "", ["信報", 3])
    assert f == DocFilter("2024", "", ("信報",))
    a = idx.ask("前海合作區吸引外資多少？", filters=f)
    msg = view.answer_message(a, 1, "traditional")
    assert "只搜尋 2024-01-01 至 …、來源為 信報 的文章" in msg
    assert view.input_error(_refusal(idx, DocFilter("2030")), "traditional").startswith("無法處理這個問題")


def _refusal(idx, f):
    try:
        idx.ask("前海外資？", filters=f)
    except InputError as exc:
        return exc
    raise AssertionError("accepted")
