"""Build the ingest test files from the seed articles, the way they occur in the wild:

- ``html/<id>.html``: a saved news page with a real site's chrome around the article
  (header, navigation, breadcrumb, an ad block, a gambling-spam block, related articles,
  a comment section, a footer) and its metadata in meta tags and JSON-LD;
- ``docx/<id>.docx``: a Word file with headings, core properties and a running header;
- ``pdf/<id>.pdf``: that Word file printed to PDF by LibreOffice (fonts-noto-cjk, so the
  CJK fonts are embedded as in real reports), running header and page-number footer on
  every page, one of them in two columns;
- ``gold/<id>.json``: the article's paragraphs and the chrome's strings, to measure what
  an extractor kept and what leaked in.

Run from the repository root: ``python tests/data/ingest/build.py`` (needs python-docx
and Debian's libreoffice-writer-nogui + fonts-noto-cjk; the built files are committed,
so the tests need neither).
"""
from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from rag.corpus import read_corpus  # noqa: E402

TWO_COLUMNS = {"003_fc18a87fd1563ce0"}
SITE = "港聞速遞"  # the fictional site whose chrome wraps every page
NAV = ["首頁", "要聞", "港澳", "財經", "科技", "國際", "評論", "視頻", "專題", "English"]
AD = ["廣告", "立即下載港聞速遞APP，新用戶領取三十天會員", "限時優惠：訂閱電子報即享八折"]
SPAM = ["金沙娛樂城官方網站", "註冊即送888元彩金", "真人視訊 百家樂 體育投注 一站式平台", "點擊進入 永久網址"]
RELATED_FILLER = [("本港樓市成交量回升 二手屋苑議價空間收窄", "地產代理指，上周末十大屋苑錄得成交。"),
                  ("港股半日收市 恒指微升 科指跑輸大市", "港股今早高開後反覆，成交額較上日減少。")]
COMMENTS = [("路人甲", "寫得很好，希望政府多做實事。"), ("Kelvin_HK", "同意，但係租金太貴啦。"),
            ("讀者0931", "期待後續報道！")]
FOOTER = ["關於我們", "聯絡我們", "私隱政策", "使用條款", f"© 2026 {SITE} 版權所有 不得轉載"]


def article_of(doc) -> dict:
    """The seed's article as the page shows it: sections of paragraphs, and its teasers."""
    sections, related = [], []
    for s in doc.sections:
        paras, cur, prev = [], "", None
        for a, b in s.spans:
            if prev is not None and "\n" in doc.text[prev:a]:
                paras.append(cur)
                cur = ""
            cur += doc.text[a:b]
            prev = b
        if cur:
            paras.append(cur)
        if s.kind == "related":
            related.append((s.title, "".join(paras)))
        else:
            heading = "" if (not sections and s.title == doc.title) else s.title
            sections.append((heading, paras))
    meta = dict(doc.metadata)
    return {"id": doc.doc_id, "title": doc.title, "date": doc.date, "authors": list(doc.authors),
            "outlet": meta.get("outlet", ""), "sections": sections, "related": related}


def _chrome_strings(art: dict) -> list[str]:
    related = art["related"] or RELATED_FILLER
    return (NAV + AD + SPAM + [t for t, _ in related] + [x for t, x in related]
            + [f"{u}：{c}" for u, c in COMMENTS] + FOOTER)


def page_html(art: dict) -> str:
    e = html.escape
    url = f"https://news.example.hk/article/{art['id']}.html"
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": art["title"],
          "mainEntityOfPage": url, "publisher": {"@type": "Organization", "name": art["outlet"] or SITE}}
    if art["date"]:
        ld["datePublished"] = art["date"]
    if art["authors"]:
        ld["author"] = [{"@type": "Person", "name": a} for a in art["authors"]]
    head = [f"<title>{e(art['title'])} | {SITE}</title>",
            f'<meta property="og:title" content="{e(art["title"])}">',
            f'<meta property="og:site_name" content="{e(art["outlet"] or SITE)}">',
            f'<link rel="canonical" href="{url}">',
            f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>']
    if art["date"]:
        head.append(f'<meta property="article:published_time" content="{e(art["date"])}">')
    body = ['<header class="site-header"><a class="logo" href="/">' + e(SITE) + "</a>",
            '<nav class="main-nav"><ul>' + "".join(f'<li><a href="/c/{i}">{e(n)}</a></li>' for i, n in enumerate(NAV))
            + "</ul></nav></header>",
            f'<div class="breadcrumb"><a href="/">{e(NAV[0])}</a> &gt; <a href="/c/4">{e(NAV[4])}</a></div>',
            '<div class="ad-banner" id="ad-top"><span class="ad-label">' + e(AD[0]) + "</span>"
            + "".join(f"<a href=\"/promo\">{e(a)}</a>" for a in AD[1:]) + "</div>",
            '<main><article class="article">', f"<h1>{e(art['title'])}</h1>"]
    byline = []
    if art["authors"]:
        byline.append(f'<span class="author">記者 {e("、".join(art["authors"]))}</span>')
    if art["date"]:
        byline.append(f'<time datetime="{e(art["date"])}">{e(art["date"][:10])}</time>')
    if byline:
        body.append('<div class="byline">' + " ".join(byline) + "</div>")
    body.append('<div class="article-body">')
    for heading, paras in art["sections"]:
        if heading:
            body.append(f"<h2>{e(heading)}</h2>")
        body += [f"<p>{e(p)}</p>" for p in paras]
    body.append("</div></article>")
    body.append('<aside class="spam-links">' + "".join(f'<a href="https://casino.example/{i}">{e(s)}</a>'
                                                       for i, s in enumerate(SPAM)) + "</aside>")
    related = art["related"] or RELATED_FILLER
    body.append('<section class="related"><h3>相關文章</h3><ul>' + "".join(
        f'<li><a href="/r/{i}">{e(t)}</a><p>{e(x)}</p></li>' for i, (t, x) in enumerate(related)) + "</ul></section>")
    body.append('<section id="comments" class="comments"><h3>讀者留言</h3>' + "".join(
        f'<div class="comment"><span class="user">{e(u)}</span>：<p>{e(c)}</p></div>' for u, c in COMMENTS)
        + "</section></main>")
    body.append('<footer class="site-footer">' + " | ".join(f'<a href="/about/{i}">{e(f)}</a>'
                                                            for i, f in enumerate(FOOTER)) + "</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"zh-Hant\"><head><meta charset=\"utf-8\">\n" + "\n".join(head)
            + "\n</head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_docx(art: dict, path: Path, two_columns: bool = False) -> None:
    from docx import Document as Docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    d = Docx()
    style = d.styles["Normal"]
    style.font.name = "Noto Serif CJK TC"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Serif CJK TC")
    style.font.size = Pt(11)
    for name in ("Title", "Heading 2"):
        st = d.styles[name]
        st.font.name = "Noto Sans CJK TC"
        st.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "Noto Sans CJK TC")
    props = d.core_properties
    props.title = art["title"]
    props.author = "、".join(art["authors"])
    if art["date"]:
        props.created = datetime.fromisoformat(art["date"]).replace(tzinfo=None)
    else:  # python-docx's template says 2013-12-23: a file without a date must say none
        for el in list(props._element):
            if el.tag.endswith(("}created", "}modified")):
                props._element.remove(el)
    props.comments = "built by tests/data/ingest/build.py"
    sect = d.sections[0]
    sect.header.paragraphs[0].text = f"{art['outlet'] or SITE} · 專題報道"
    footer = sect.footer.paragraphs[0]
    footer.add_run("第 ")
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        run = footer.add_run()
        if kind:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run._r.append(fld)
        else:
            instr = OxmlElement("w:instrText")
            instr.text = text
            run._r.append(instr)
    footer.add_run(" 頁")
    d.add_heading(art["title"], level=0)
    for heading, paras in art["sections"]:
        if heading:
            d.add_heading(heading, level=2)
        for p in paras:
            d.add_paragraph(p)
    if two_columns:
        cols = sect._sectPr.find(qn("w:cols"))
        if cols is None:
            cols = OxmlElement("w:cols")
            sect._sectPr.append(cols)
        cols.set(qn("w:num"), "2")
        cols.set(qn("w:space"), "425")
    d.save(path)


def _date_pdf(src: Path, date: str, dst: Path) -> None:
    """The PDF with the article's date as its creation date, or none (LibreOffice writes the
    time it printed, which is not the article's)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(src))
    info = {k: v for k, v in (writer.metadata or {}).items() if k not in ("/CreationDate", "/ModDate")}
    if date:
        info["/CreationDate"] = "D:" + date[:10].replace("-", "") + "000000"
    writer._info = None
    writer.add_metadata(info)
    with open(dst, "wb") as fh:
        writer.write(fh)


def main() -> int:
    docs, _ = read_corpus(ROOT / "seeds")
    for sub in ("html", "docx", "pdf", "gold"):
        (OUT / sub).mkdir(exist_ok=True)
    soffice = shutil.which("soffice")
    with tempfile.TemporaryDirectory() as tmp:
        for doc in docs:
            art = article_of(doc)
            (OUT / "html" / f"{doc.doc_id}.html").write_text(page_html(art), encoding="utf-8")
            write_docx(art, OUT / "docx" / f"{doc.doc_id}.docx")
            paged = Path(tmp) / f"{doc.doc_id}.docx"
            write_docx(art, paged, two_columns=doc.doc_id in TWO_COLUMNS)
            if soffice:
                subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", tmp, str(paged)],
                               check=True, capture_output=True, timeout=300)
                _date_pdf(Path(tmp) / f"{doc.doc_id}.pdf", art["date"], OUT / "pdf" / f"{doc.doc_id}.pdf")
            gold = {"title": art["title"], "date": art["date"], "outlet": art["outlet"], "authors": art["authors"],
                    "paragraphs": [x for h, ps in art["sections"] for x in ([h] if h else []) + ps],
                    "chrome": _chrome_strings(art), "running": [f"{art['outlet'] or SITE} · 專題報道"],
                    "two_columns": doc.doc_id in TWO_COLUMNS}
            (OUT / "gold" / f"{doc.doc_id}.json").write_text(json.dumps(gold, ensure_ascii=False, indent=1) + "\n",
                                                             encoding="utf-8")
            print(doc.doc_id, "built")
    if not soffice:
        print("soffice not found: PDFs not rebuilt (apt-get install libreoffice-writer-nogui fonts-noto-cjk)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
