"""Cleaning rules, on the real seeds and on small hand-made pages."""
from __future__ import annotations

import re

from rag.corpus import document_from_text
from rag.text.clean import clean, is_heading_like, strip_leading_credits, strip_site_names

from conftest import seed_text


def kept_text(text: str, cleaned) -> str:
    return "".join(text[a:b] for s in cleaned.sections for a, b in s.spans)


def test_front_matter_and_footnotes_become_metadata():
    text = seed_text("001")
    c = clean(text)
    assert c.title == "香港的AI人才困境：国际化雄心与本土短板间的拉锯战"
    assert c.date.startswith("2025-06-30")
    assert ("tags", "高才通") in c.metadata
    assert len(c.sources) == 5 and c.sources[0].url.startswith("https://www.jiemian.com/")
    body = kept_text(text, c)
    assert "[^1]" not in body and "href=" not in body and "featured_image" not in body
    assert "**" not in body
    assert "预计将面临1.8万至2.3万人的人力短缺" in body


def test_spam_mirror_page_keeps_article_and_teasers():
    text = seed_text("004")
    c = clean(text)
    assert c.title == "AI人才缺口扩大,香港再出手面向内地“抢人才”"
    body = kept_text(text, c)
    for junk in ("欧博体育", "皇家马德里", "Leave a Reply", "Your email address", "Related Post", "图片来源",
                 "BWIN", "必一", "三亿(集团)", "[…]", "界面新闻记者 |"):
        assert junk not in body, junk
    related = [s for s in c.sections if s.kind == "related"]
    assert [s.title for s in related] == [
        "全球出货量突破2000万台,这家珠海公司实现了国产打印机的全面破壁",
        "市场份额下滑,广东游戏产业想借大模型催生下一个爆款",
        "香港抢占RWA风口:基础设施、生态规模与产业链",
    ]
    assert all(s.truncated for s in related)
    assert "张熹珑" in c.authors
    assert any(k == "photo_credit" for k, _ in c.metadata)


def test_bylines_are_metadata_not_text():
    assert ("proofreader", "李凌鋒") in clean(seed_text("000")).metadata
    assert "李凌鋒" not in clean(seed_text("000")).authors
    for prefix, name in (("000", "李凌鋒"), ("003", "湯嘉平"), ("002", "鍾韻"), ("000", "卓泳")):
        text = seed_text(prefix)
        c = clean(text)
        assert name in c.authors or (name, "proofreader") in [(v, k) for k, v in c.metadata]
        assert name not in kept_text(text, c).replace("記者" + name, "")
    text = seed_text("000")
    assert "校對" not in kept_text(text, clean(text))
    # A sentence that merely mentions a reporter stays.
    assert "記者了解到" in kept_text(text, clean(text))


def test_all_article_lines_are_kept():
    """Every line is kept as text, used as a title, or matched by a metadata rule."""
    for prefix in ("000", "001", "002", "003", "004"):
        text = seed_text(prefix)
        doc = document_from_text(prefix, prefix, text)
        body = "".join(text[a:b] for s in doc.sections for a, b in s.spans)
        titles = {s.title for s in doc.sections} | {doc.title} | {v for _, v in doc.metadata}
        lines = text.split("\n")
        if lines[0] == "---":  # front matter: checked by its own test
            lines = lines[lines.index("---", 1) + 1:]
        for line in lines:
            line = line.strip()
            if not line or line.startswith("[^") or len(line) < 15:
                continue
            plain = re.sub(r"\[\^\d+\]|\*\*|^#+\s*|^[-▲▼>]\s*", "", line).strip()
            head = plain[:15]
            assert head in body or any(head in t for t in titles) or "Leave" in line or "Your email" in line \
                or " – " in line or line.startswith(("界面新闻记者", "图片来源")), (prefix, line[:40])


def test_spans_point_into_original_without_markup():
    for prefix in ("000", "001", "002", "003", "004"):
        text = seed_text(prefix)
        for s in clean(text).sections:
            for a, b in s.spans:
                assert 0 <= a < b <= len(text)
                assert text[a:b] == text[a:b].strip()
                assert "\n" not in text[a:b]


def test_site_names_and_credits_generic():
    assert strip_site_names("某某娱乐 – 官方网站 – 新能源车销量创新高") == ("新能源车销量创新高", ["某某娱乐", "官方网站"])
    assert strip_site_names("没有分隔符的标题") == ("没有分隔符的标题", [])
    cut, names, credits = strip_leading_credits("图片来源:视觉中国 新华社记者 | 李四 正文从这里开始。")
    assert names == [("author", "李四")] and credits == ["图片来源:视觉中国"]
    assert strip_leading_credits("责任编辑：王五")[1] == [("editor", "王五")]
    assert "正文从这里开始" == "图片来源:视觉中国 新华社记者 | 李四 正文从这里开始。"[cut:].rstrip("。")
    assert strip_leading_credits("記者了解到，這家公司")[0] == 0
    assert is_heading_like("內地大廠扎堆香港核心商圈")
    assert not is_heading_like("這是一個句子。")


def test_generic_comment_form_and_related_block():
    page = ("网站A – 一篇新闻的标题\n\n第一段正文，讲了一件事。\n\nLeave a Reply\nYour email address will not be published.\n"
            "Related Posts\n网站B – 另一篇文章\n记者 | 张三 另一篇文章的开头，被截断了 […]\n")
    c = clean(page)
    assert c.title == "一篇新闻的标题"
    body = kept_text(page, c)
    assert body == "第一段正文，讲了一件事。另一篇文章的开头，被截断了"
    assert c.sections[-1].kind == "related" and c.sections[-1].truncated and c.sections[-1].title == "另一篇文章"
    assert ("related_author", "张三") in c.metadata


def test_provenance_from_byline_source_line_and_dateline():
    from rag import provenance

    d = document_from_text("x", "x.txt", "港股新聞標題\n\n界面新闻记者 | 张熹珑\n\n2025年6月28日，香港交易所公布數據。全文完。\n")
    assert provenance.outlet(d) == "界面新闻" and d.authors == ("张熹珑",) and provenance.date(d) == "2025-06-28"
    assert d.meta("date_from") == "dateline" and not provenance.title_is_guessed(d)
    d = document_from_text("y", "y.txt", "標題\n\n正文第一句。" + "正文。" * 200 + "\n\n來源：明報\n發佈時間：2024/3/5\n")
    assert provenance.outlet(d) == "明報" and provenance.date(d) == "2024-03-05"
    assert "來源" not in "".join(d.text[a:b] for s in d.sections for a, b in s.spans)  # the line is metadata


def test_no_date_is_never_guessed_and_a_headline_less_title_says_so():
    from rag import provenance

    d = document_from_text("z", "z.txt", "走在香港銅鑼灣時代廣場周邊，不時能遇見打工人。展覽於6月28日舉行。\n")
    assert provenance.date(d) == "" and provenance.outlet(d) == ""
    assert provenance.title_is_guessed(d) and d.title == "走在香港銅鑼灣時代廣場周邊"


def test_references_are_outlets_of_linked_articles_not_the_documents_outlet():
    from rag import provenance

    d = document_from_text("r", "r.md", "---\ntitle: 標題\n---\n\n正文。[^1]\n\n"
                           "[^1]: [AI人才缺口扩大](https://www.jiemian.com/article/1.html)\n")
    assert provenance.outlet(d) == "" and provenance.references(d) == ["界面新闻"]
    assert provenance.outlet_of_url("https://news.example.org/a") == "news.example.org"
