"""rag.ingest: saved news pages, PDFs and Word files in, measured on the seed articles
rendered as they occur in the wild (tests/data/ingest/build.py), plus real pages from
trafilatura's own test resources; bad files are skipped with one line each."""
from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from eval.ingest_bench import chrome_leaked, gold_article, kept_leaked, on_page, page_accuracy, paragraph_keys, pdf_pages, squeeze
from rag.corpus import read_corpus
from rag.errors import InputError
from rag.ingest import SUFFIXES, extract, sniff
from rag.ingest.html import HtmlReader, page_metadata

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "ingest"
GOLD = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((DATA / "gold").glob("*.json"))}
FORMATS = ("html", "pdf", "docx")


def _extract(kind: str, doc_id: str):
    path = DATA / kind / f"{doc_id}.{kind}"
    return extract(path, path.read_bytes(), path.name)


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize("doc_id", sorted(GOLD))
def test_the_article_is_kept_and_the_chrome_left_out(kind, doc_id):
    gold = GOLD[doc_id]
    got = _extract(kind, doc_id)
    kept, leaked = kept_leaked(gold_article(gold), got.text)
    assert kept >= 0.98, (kind, doc_id, kept)
    assert leaked <= 0.01, (kind, doc_id, leaked)
    assert chrome_leaked(gold, got.text) == []


@pytest.mark.parametrize("doc_id", sorted(GOLD))
def test_every_pdf_paragraph_is_on_the_page_the_pdf_shows_it(doc_id):
    data = (DATA / "pdf" / f"{doc_id}.pdf").read_bytes()
    got = _extract("pdf", doc_id)
    pages = len(pdf_pages(data, GOLD[doc_id]))
    assert got.pages[0] == (0, 1) and [p for _, p in got.pages] == list(range(1, pages + 1))
    right, located = page_accuracy(data, GOLD[doc_id], got)
    # Every paragraph is found, in the extracted text and on a page, and on the right one.
    assert located == len(paragraph_keys(GOLD[doc_id])) >= 10
    assert right == located


def test_two_columns_are_read_column_by_column():
    doc_id = next(d for d, g in GOLD.items() if g["two_columns"])
    got = _extract("pdf", doc_id)
    # Each paragraph of the article comes out whole, in the article's order.
    paragraphs = [squeeze(p) for p in GOLD[doc_id]["paragraphs"] if len(squeeze(p)) > 30]
    flat = squeeze(got.text)
    positions = [flat.find(p) for p in paragraphs]
    assert -1 not in positions and positions == sorted(positions)


def test_metadata_comes_from_the_file():
    # A page states its headline, date, outlet, author and address.
    dated = next(d for d, g in GOLD.items() if g["date"])
    got = _extract("html", dated)
    assert (got.title, got.date) == (GOLD[dated]["title"], GOLD[dated]["date"])
    assert got.outlet and got.url.startswith("https://news.example.hk/")
    # A page without a published date has none: the dates in its text are not guessed.
    undated = next(d for d, g in GOLD.items() if not g["date"] and re.search(r"20\d\d年", "".join(g["paragraphs"])))
    assert _extract("html", undated).date == ""
    # Word and PDF: the file's creation date, only as the file states it.
    assert _extract("docx", dated).created == GOLD[dated]["date"][:10]
    assert _extract("pdf", dated).created == GOLD[dated]["date"][:10]
    assert _extract("docx", undated).created == "" and _extract("pdf", undated).created == ""
    assert _extract("pdf", dated).title == GOLD[dated]["title"]


def test_a_real_news_page():
    data = gzip.decompress((DATA / "real" / "fivethirtyeight.html.gz").read_bytes())
    got = HtmlReader().extract(data, "fivethirtyeight.html")
    assert got.title.startswith("Could Manchin Actually Leave")
    assert (got.date[:10], got.outlet, got.authors) == ("2021-10-25", "FiveThirtyEight", ("Geoffrey Skelley",))
    assert got.url.startswith("https://fivethirtyeight.com/features/")
    assert "Manchin" in got.text and len(got.text) > 3000
    for chrome in ("Sign up for", "Filed under", "Comments"):
        assert chrome not in got.text


def test_page_metadata_without_json_ld_uses_meta_tags_and_time():
    import lxml.html

    tree = lxml.html.fromstring(
        '<html><head><meta property="og:site_name" content="明報"><meta name="author" content="陳大文">'
        '<title>標題 | 明報</title></head><body><article><h1>港鐵新線通車</h1>'
        '<time datetime="2025-03-05T08:00:00+08:00">3月5日</time><p>正文。</p></article></body></html>')
    meta = page_metadata(tree)
    assert meta["title"] == "港鐵新線通車" and meta["date"].startswith("2025-03-05")
    assert meta["outlet"] == "明報" and meta["authors"] == ("陳大文",)
    # A <time> outside the article (the site's clock, a sidebar) is not the article's date.
    tree = lxml.html.fromstring('<html><body><header><time datetime="2026-01-01">今日</time></header>'
                                "<article><p>正文。</p></article></body></html>")
    assert page_metadata(tree)["date"] == ""


def _encrypted_pdf(tmp_path: Path) -> Path:
    import pypdf

    w = pypdf.PdfWriter(clone_from=pypdf.PdfReader(DATA / "pdf" / f"{sorted(GOLD)[1]}.pdf"))
    w.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    p = tmp_path / "locked.pdf"
    with open(p, "wb") as fh:
        w.write(fh)
    return p


def _bad_files(tmp_path: Path) -> dict[str, str]:
    """Bad files as they occur, each with the words its one line must hold."""
    import pypdf

    d = tmp_path
    bad = {}
    _encrypted_pdf(d)
    bad["locked.pdf"] = "encrypted"
    full = (DATA / "pdf" / f"{sorted(GOLD)[0]}.pdf").read_bytes()
    (d / "cut.pdf").write_bytes(full[: len(full) // 3])
    bad["cut.pdf"] = "damaged PDF"
    w = pypdf.PdfWriter()
    w.add_blank_page(595, 842)
    with open(d / "scan.pdf", "wb") as fh:
        w.write(fh)
    bad["scan.pdf"] = "no text layer"
    with open(d / "huge.pdf", "wb") as fh:  # sparse: 200 MB on paper, nothing read
        fh.write(b"%PDF-1.7\n")
        fh.truncate(200_000_000)
    bad["huge.pdf"] = "over the 50,000,000-byte limit"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * 20_000_000)
    (d / "bomb.docx").write_bytes(buf.getvalue())
    bad["bomb.docx"] = "zip bomb"
    (d / "notzip.docx").write_bytes(b"PK\x03\x04 this is not a zip at all")
    bad["notzip.docx"] = "not a Word file"
    (d / "empty.html").write_text("<html><head><title>首頁</title></head><body><nav><a href='/'>首頁</a></nav></body></html>",
                                  encoding="utf-8")
    bad["empty.html"] = "no article text"
    (d / "lies.pdf").write_bytes((DATA / "html" / f"{sorted(GOLD)[0]}.html").read_bytes())
    bad["lies.pdf"] = "the file is an HTML page"
    (d / "lies2.docx").write_bytes(full)
    bad["lies2.docx"] = "the file is a PDF"
    return bad


def test_bad_files_are_skipped_with_one_line_and_the_rest_indexed(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    bad = _bad_files(corpus)
    for kind in FORMATS:
        src = DATA / kind / f"{sorted(GOLD)[2]}.{kind}"
        (corpus / f"good-{kind}.{kind}").write_bytes(src.read_bytes())
    before = {p.name: p.read_bytes() for p in corpus.iterdir() if p.name != "huge.pdf"}
    docs, skipped = read_corpus(corpus)
    assert sorted(d.doc_id for d in docs) == ["good-docx", "good-html", "good-pdf"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert set(reasons) == set(bad)
    for name, words in bad.items():
        assert words in reasons[name] and name in reasons[name] and "\n" not in reasons[name], (name, reasons[name])
    # The originals are untouched.
    assert {p.name: p.read_bytes() for p in corpus.iterdir() if p.name != "huge.pdf"} == before


def test_the_same_article_in_every_format_reads_alike():
    doc_id = sorted(GOLD)[2]
    docs = {}
    for kind in FORMATS:
        from rag.corpus import document_from_file

        path = DATA / kind / f"{doc_id}.{kind}"
        docs[kind] = document_from_file(path, path.read_bytes(), path.name)
    assert {d.title for d in docs.values()} == {GOLD[doc_id]["title"]}
    assert {d.file_format for d in docs.values()} == set(FORMATS)
    assert docs["pdf"].pages and not docs["html"].pages and not docs["docx"].pages
    # Cleaning finds the same sections in each: the headings are headings in all three.
    heads = [{s.title for s in d.sections} for d in docs.values()]
    assert heads[0] == heads[1] == heads[2]


def test_sniffing():
    assert sniff(b"%PDF-1.7\n") == "pdf" and sniff(b"PK\x03\x04") == "docx"
    assert sniff(b"\xef\xbb\xbf<!DOCTYPE html><html>") == "html" and sniff("新聞".encode()) == ""
    assert {".txt", ".md", ".html", ".htm", ".pdf", ".docx"} == set(SUFFIXES)


def test_a_text_corpus_needs_none_of_the_ingest_packages():
    code = ("import sys; from pathlib import Path; from rag.corpus import read_corpus; "
            "docs, _ = read_corpus(Path('seeds')); assert len(docs) == 5; "
            "print(sorted(m for m in ('trafilatura', 'pdfminer', 'docx', 'lxml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _rag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", *args, "--model", "fake"], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def pdf_index(tmp_path_factory):
    base = tmp_path_factory.mktemp("pdfidx")
    corpus = base / "corpus"
    corpus.mkdir()
    for p in (DATA / "pdf").glob("*.pdf"):
        (corpus / p.name).write_bytes(p.read_bytes())
    r = _rag("index", "--corpus", str(corpus), "--out", str(base / "idx"))
    assert r.returncode == 0, r.stderr
    return base


@pytest.mark.parametrize("question", ["河套香港園區有多少家機構落戶？", "香港初創企業總量有多少家？",
                                      "阿里巴巴在铜锣湾买下了几层写字楼？", "高才通获批来港的人数有多少？"])
def test_a_pdf_citation_names_the_page_its_quote_is_on(pdf_index, question):
    r = _rag("ask", question, "--index", str(pdf_index / "idx"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["citations"], out
    for c in out["citations"]:
        truth = pdf_pages((DATA / "pdf" / f"{c['doc_id']}.pdf").read_bytes(), GOLD[c["doc_id"]])
        assert on_page(truth, c["page"], c["quote"]), c
    # The terminal says it too, and the lookup shows the page of the extracted text.
    text = _rag("ask", question, "--index", str(pdf_index / "idx")).stdout
    assert f"p. {out['citations'][0]['page']}" in text
    ref = out["citations"][0]["chunk_id"]
    cite = _rag("cite", ref, "--index", str(pdf_index / "idx"))
    assert "page: p. " in cite.stdout and "of the PDF" in cite.stdout
    docs = _rag("docs", "--index", str(pdf_index / "idx"))
    assert "PDF, " in docs.stdout and " pages" in docs.stdout


def test_the_page_shows_a_pdf_citation_with_its_page(pdf_index):
    from conftest import make_fake_settings
    from rag.api import open_index
    from rag.embedding.fake import HashingEmbedder
    from webapp import view

    idx = open_index(pdf_index / "idx", make_fake_settings(pdf_index / "models"), HashingEmbedder())
    a = idx.ask("河套香港園區有多少家機構落戶？")
    assert a.citations and a.citations[0].page >= 1
    panel = view.sources_panel(idx, [a], 0)
    assert f'<strong class="src-page">p. {a.citations[0].page}</strong>' in panel
    found = idx.cite(a.citations[0].chunk_id)
    assert "p. " in view.lookup_html(found, idx.documents)
    assert any("PDF" in c.label for c in view.document_choices(idx))


def test_rag_add_takes_a_word_file_and_refuses_a_broken_one(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    first, second = sorted(GOLD)[:2]
    (corpus / f"{first}.html").write_bytes((DATA / "html" / f"{first}.html").read_bytes())
    assert _rag("index", "--corpus", str(corpus), "--out", str(tmp_path / "idx")).returncode == 0
    word = tmp_path / f"{second}.docx"
    word.write_bytes((DATA / "docx" / f"{second}.docx").read_bytes())
    r = _rag("add", str(word), "--index", str(tmp_path / "idx"))
    assert r.returncode == 0, r.stderr
    assert (corpus / f"{second}.docx").read_bytes() == word.read_bytes()  # the original, untouched
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not a zip")
    r = _rag("add", str(broken), "--index", str(tmp_path / "idx"))
    assert r.returncode != 0 and "not a Word file" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in corpus.iterdir()) == [f"{first}.html", f"{second}.docx"]
    listed = json.loads(_rag("docs", "--index", str(tmp_path / "idx"), "--json").stdout)
    assert {d["format"] for d in listed} == {"html", "docx"}


@pytest.mark.parametrize("charset,encoding", [("gb2312", "gb18030"), ("big5", "big5"), ("utf-8", "utf-8")])
def test_a_page_is_read_in_the_charset_it_declares(tmp_path, charset, encoding):
    body = "香港科技園公司今年新增了三百家初創企業，園區面積擴大至四十萬平方米。" * 3
    if charset == "gb2312":
        body = "香港科技园公司今年新增了三百家初创企业，园区面积扩大至四十万平方米。" * 3
    page = (f'<html><head><meta charset="{charset}"><title>科技園新聞</title></head><body><nav>首頁 新聞</nav>'
            f"<article><h1>科技園新聞</h1><p>{body}</p><p>{body}</p></article></body></html>")
    path = tmp_path / "page.htm"
    path.write_bytes(page.encode(encoding))
    got = extract(path, path.read_bytes(), path.name)
    assert body in got.text and got.title == "科技園新聞"
    path.write_bytes(page.encode(encoding)[:-60] + b"\xff\xfe\xfd" + page.encode(encoding)[-60:])
    if charset == "utf-8":
        with pytest.raises(InputError, match="not valid utf-8 at byte"):
            extract(path, path.read_bytes(), path.name)


def test_an_xhtml_page_with_an_xml_declaration_is_read(tmp_path):
    page = ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml"><head>'
            '<title>港鐵新線通車</title><meta property="og:site_name" content="明報"/></head><body><article>'
            "<h1>港鐵新線通車</h1><p>港鐵屯馬綫今日全線通車，沿線新增多個車站，預計每日載客量達到數十萬人次。</p>"
            "<p>港鐵公司表示，新線通車後將密切監察客流情況，並按需要調整班次。</p></article></body></html>")
    path = tmp_path / "x.html"
    path.write_text(page, encoding="utf-8")
    got = extract(path, path.read_bytes(), path.name)
    assert got.title == "港鐵新線通車" and got.outlet == "明報" and "屯馬綫今日全線通車" in got.text
