"""Clean scraped news text into sections of exact spans plus metadata.

Nothing is rewritten: the result is a list of (start, end) spans into the
original text, so every chunk and citation can point at exact offsets. The
rules are written once, for the shapes scraped Chinese news takes:

- YAML front matter (title, date, summary, tags) and Markdown footnote
  definitions (source links) become metadata, not text;
- Markdown headings and short unpunctuated lines are section titles;
- a title line "Site – Other site – Real title" keeps only the real title;
- photo credits, bylines (記者 / 编辑 / 校對 …) are metadata;
- comment-form boilerplate ("Leave a Reply", "Your email address…") is dropped;
- after a "Related Post" marker, each "Site – Title" line starts a teaser section
  flagged ``kind="related"``, ``truncated=True`` when it ends in "[…]";
- inline markup (footnote markers, ``**``, link targets, HTML tags) is cut out
  of the spans.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..records import Section, Source
from .sentences import trim_span

_ROLE = (r"(?:责任编辑|責任編輯|记者|記者|编辑|編輯|责编|責編|校对|校對|撰文|撰稿|通讯员|通訊員|"
         r"主编|主編|编审|編審|审校|審校|实习生|實習生|摄影|攝影|撰写|撰寫)")
_NAME = r"[\u4e00-\u9fff·]{2,4}"
_CREDIT_KEY = r"(?:图片来源|圖片來源|图片|圖片|图源|圖源|图/|圖/|配图|配圖|题图|題圖|Photo|Image|Credit)"
# One byline or credit at the start of a line, followed by space or the line end.
_LEAD = re.compile(
    rf"(?:(?P<org>[\w·]{{0,12}}?)(?P<role>{_ROLE})\s*(?:[|｜:：/]\s*|\s+)(?P<names>{_NAME}(?:\s*[、,，/]\s*{_NAME})*)"
    rf"|(?P<credit>{_CREDIT_KEY}\s*[:：]\s*[^\s]+))(?:\s+|$)"
)
_CAPTION_CREDIT = re.compile(r"^\S{0,12}(?:製圖|制图|攝|摄|供圖|供图|資料圖片|资料图片)$")
_FOOTNOTE_DEF = re.compile(r"^\[\^([^\]]+)\]:\s*(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"(?:[-*•●◆■]|\d+[.、)）])\s+")
_QUOTE = re.compile(r">\s?")
_CAPTION_MARK = re.compile(r"[▲▼△▽►◄]\s*")
_SITE_SEP = re.compile(r"\s+[–—|｜]\s+")
_TRUNCATED = re.compile(r"\s*(?:\[(?:…|\.\.\.|……)\]|\[\s*\.\.\.\s*\])\s*$")
_SENTENCE_END = re.compile(r"[。！？!?；;]")
_INLINE_MARKUP = re.compile(
    r"\[\^[^\]\s]{1,10}\]"          # footnote marker [^1]
    r"|!\[[^\]]*\]\([^)]*\)"        # image
    r"|\]\([^)\s]*\)"                # the target half of a link [text](url)
    r"|\[(?=[^\]\n]*\]\([^)\s]*\))"  # the opening bracket of such a link
    r"|\*\*|__"                      # emphasis
    r"|<[^>\n]{1,200}>"              # HTML tags
)
_BOILERPLATE = re.compile(
    r"^(?:leave a reply|leave a comment|cancel reply|your email address will not be published.*"
    r"|required fields are marked.*|comment\s*\*?|name\s*\*?|email\s*\*?|website"
    r"|save my name, email, and website.*|post comment|share this:?|like this:?"
    r"|發表評論|发表评论|發表回覆|发表回复|您的電子郵件地址不會被公開.*|您的电子邮箱地址不会被公开.*)$",
    re.IGNORECASE,
)
_RELATED_MARK = re.compile(
    r"^(?:related posts?|related articles?|you may also like|相关文章|相關文章|相关阅读|相關閱讀|延伸阅读|延伸閱讀|猜你喜欢|猜你喜歡)\s*[:：]?$",
    re.IGNORECASE,
)
# Common Chinese surnames (both scripts): a bare 2-3 character line starting with one is a name.
_SURNAMES = frozenset(
    "王李張张劉刘陳陈楊杨黃黄趙赵吳吴周徐孫孙馬马朱胡郭何林羅罗高鄭郑梁謝谢宋唐許许韓韩馮冯鄧邓曹彭曾蕭萧田董"
    "潘袁蔡蔣蒋余于杜葉叶程魏蘇苏呂吕丁任沈姚盧卢姜崔鍾钟譚谭陸陆汪范金石廖賈贾夏韋韦付方白鄒邹孟熊秦邱江尹"
    "薛閻阎段雷侯龍龙史陶黎賀贺顧顾毛郝龔龚邵萬万錢钱嚴严覃武戴莫孔向湯汤卓岑麥麦溫温歐欧區区伍關关黎車车"
)
_NAME_LINE = re.compile(r"^[\u4e00-\u9fff]{2,3}$")


def _is_name_line(line: str) -> bool:
    return bool(_NAME_LINE.match(line)) and line[0] in _SURNAMES
_TITLE_MAX = 40


@dataclass
class Cleaned:
    """What cleaning found: the title, sections of spans, and metadata."""

    title: str = ""
    date: str = ""
    meta_outlet: str = ""
    sections: list[Section] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    metadata: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Line:
    start: int
    end: int
    text: str
    kind: str = "para"  # para | heading | drop
    content_start: int = 0  # where the kept content begins (after markers)
    content_end: int = 0
    title: str = ""


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    pos = 0
    for raw in text.split("\n"):
        end = pos + len(raw)
        a, b = trim_span(text, pos, end)
        out.append(_Line(a, b, text[a:b], content_start=a, content_end=b))
        pos = end + 1
    return out


def strip_site_names(line: str) -> tuple[str, list[str]]:
    """'Site – Other – Title' -> ('Title', ['Site', 'Other']); other lines unchanged."""
    parts = _SITE_SEP.split(line)
    if len(parts) < 2 or not parts[-1].strip():
        return line, []
    return parts[-1].strip(), [p.strip() for p in parts[:-1]]


_WRITER_ROLES = ("记者", "記者", "撰文", "撰稿", "通讯员", "通訊員", "实习生", "實習生", "撰写", "撰寫")


def strip_leading_credits(line: str) -> tuple[int, list[tuple[str, str]], list[str]]:
    """Length of the byline/credit prefix of ``line``, with the (role, name) pairs and
    credits found. Role is "author" for reporters and writers, else "editor"/"proofreader"/"photographer"."""
    pos, names, credits = 0, [], []
    while True:
        m = _LEAD.match(line, pos)
        if not m:
            return pos, names, credits
        if m.group("credit"):
            credits.append(m.group("credit"))
        else:
            role = m.group("role")
            kind = ("author" if role in _WRITER_ROLES else "proofreader" if role in ("校对", "校對")
                    else "photographer" if role in ("摄影", "攝影") else "editor")
            names.extend((kind, n) for n in re.split(r"\s*[、,，/]\s*", m.group("names")) if n)
        pos = m.end()


def is_heading_like(line: str) -> bool:
    """A short line with no sentence punctuation: a title or section heading."""
    if not 0 < len(line) <= _TITLE_MAX or _SENTENCE_END.search(line):
        return False
    # A line broken mid-sentence ("…硬件基礎設施，其") is not a heading.
    return not line.endswith(("，", ",", "、", "：", ":")) and not (len(line) > 15 and "，" in line)


def inline_spans(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """Spans of ``text[a:b]`` with inline markup cut out (and whitespace trimmed)."""
    spans: list[tuple[int, int]] = []
    pos = a
    for m in _INLINE_MARKUP.finditer(text, a, b):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, b))
    trimmed = (trim_span(text, s, e) for s, e in spans)
    return [(s, e) for s, e in trimmed if s < e]


def _parse_front_matter(lines: list[_Line], result: Cleaned) -> int:
    """Consume YAML front matter; return the index of the first line after it."""
    first = next((i for i, ln in enumerate(lines) if ln.text), None)
    if first is None or lines[first].text != "---":
        return 0
    close = next((i for i in range(first + 1, min(len(lines), first + 200)) if lines[i].text == "---"), None)
    if close is None:
        return 0
    key = ""
    for ln in lines[first + 1 : close]:
        m = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", ln.text)
        if m:
            key, value = m.group(1), m.group(2).strip().strip('"').strip("'")
            if key == "title":
                result.title = value
            elif key == "date":
                result.date = value
            elif value:
                result.metadata.append((key, value))
        elif ln.text.startswith("- ") and key:
            result.metadata.append((key, ln.text[2:].strip().strip('"')))
    for ln in lines[first : close + 1]:
        ln.kind = "drop"
    return close + 1


def _parse_source(note: str) -> Source:
    m = re.search(r"<a\b[^>]*href=\"([^\"]+)\"[^>]*>(.*?)</a>(.*)$", note)
    if m:
        return Source(label=m.group(2).strip(), url=m.group(1), note=m.group(3).strip(" ·"))
    m = re.search(r"\[([^\]]+)\]\(([^)]+)\)(.*)$", note)
    if m:
        return Source(label=m.group(1).strip(), url=m.group(2), note=m.group(3).strip(" ·"))
    url = re.search(r"https?://\S+", note)
    return Source(label=note, url=url.group(0) if url else "")


_SOURCE_LINE = re.compile(r"^(?:来源|來源|稿源|出处|出處|Source)\s*[:：]\s*([^\s:：]{2,30})\s*$", re.IGNORECASE)
_FULL_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*(?:年|-|/|\.)\s*(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})(?:日|号|號)?(?!\d)")
_DATE_LABEL = re.compile(r"(?:发布时间|發佈時間|發布時間|发表时间|發表時間|更新时间|更新時間|刊登日期|日期|Published|Date)\s*[:：]?\s*",
                         re.IGNORECASE)


def find_dateline(body: str, head_chars: int = 300) -> str:
    """The article's date as YYYY-MM-DD, from a dated line ("發佈時間：2025年6月30日")
    anywhere, or a full date in its first ``head_chars`` characters (a dateline); ""
    when there is none. A month and day without a year ("6月28日") is not a date of the
    article: it is never completed by guessing the year."""
    candidates = [m for m in _FULL_DATE.finditer(body)
                  if m.start() < head_chars or _DATE_LABEL.search(body[max(0, m.start() - 12):m.start()])]
    for m in candidates:
        y, mo, d = (int(g) for g in m.groups())
        if 1 <= mo <= 12 and 1 <= d <= 31:
            return f"{y:04d}-{mo:02d}-{d:02d}"
    return ""


def clean(text: str) -> Cleaned:
    """Find the title, sections, sources, bylines and boilerplate of one article."""
    result = Cleaned()
    lines = _lines(text)
    body_from = _parse_front_matter(lines, result)
    summary = dict(result.metadata).get("summary", "")

    # Pass 1: classify every line on its own.
    related = False
    for ln in lines[body_from:]:
        t = ln.text
        if not t or ln.kind == "drop":
            ln.kind = "drop"
            continue
        if m := _FOOTNOTE_DEF.match(t):
            result.sources.append(_parse_source(m.group(2)))
            ln.kind = "drop"
            continue
        if _BOILERPLATE.match(t):
            ln.kind = "drop"
            continue
        if _RELATED_MARK.match(t):
            related = True
            ln.kind = "drop"
            continue
        if _CAPTION_CREDIT.match(t):
            result.metadata.append(("photo_credit", t))
            ln.kind = "drop"
            continue
        if not related and (m := _SOURCE_LINE.match(t)) and not result.meta_outlet:
            result.meta_outlet = m.group(1).strip()
            result.metadata.append(("outlet", result.meta_outlet))
            ln.kind = "drop"
            continue
        if not related and not result.meta_outlet and (m := _LEAD.match(t)) and m.group("org") and len(m.group("org")) >= 2:
            result.meta_outlet = m.group("org")  # "界面新闻记者 | 张熹珑": the reporter's outlet
            result.metadata.append(("outlet", result.meta_outlet))
        cut, names, credits = strip_leading_credits(t)
        if related:  # a teaser's byline belongs to the other article
            result.metadata.extend((f"related_{kind}", n) for kind, n in names)
        else:
            for kind, n in names:
                if kind == "author":
                    if n not in result.authors:
                        result.authors.append(n)
                else:
                    result.metadata.append((kind, n))
        result.metadata.extend(("photo_credit", c) for c in credits)
        if cut >= len(t):
            ln.kind = "drop"
            continue
        ln.content_start = ln.start + cut
        if m := _HEADING.match(t):
            ln.kind = "heading"
            ln.title = m.group(2).strip()
            ln.content_start = ln.start + m.start(2)
            continue
        for marker in (_QUOTE, _BULLET, _CAPTION_MARK):
            if m := marker.match(text, ln.content_start, ln.end):
                ln.content_start = m.end()
        content = text[ln.content_start : ln.end]
        if summary and content.strip() == summary:
            ln.kind = "drop"  # the front-matter summary repeated as a lead quote
            continue
        if related:
            if m := _TRUNCATED.search(text, ln.content_start, ln.end):
                ln.content_end = m.start()
                ln.kind = "para-truncated"
                continue
            title, sites = strip_site_names(content)
            if sites or is_heading_like(content):
                ln.kind = "related-heading"
                ln.title = title
                result.metadata.extend(("site_name", s) for s in sites)
            continue
        title, sites = strip_site_names(content)
        if cut == 0 and is_heading_like(title) and not _BULLET.match(t):
            ln.kind = "heading"
            ln.title = title
            result.metadata.extend(("site_name", s) for s in sites)

    kept = [ln for ln in lines[body_from:] if ln.kind != "drop"]

    # Pass 2: the title block (headings before the first paragraph) and author lines.
    block: list[_Line] = []
    for ln in kept:
        if ln.kind != "heading":
            break
        block.append(ln)
    # The block's last heading heads the first paragraph, unless it is a bare name.
    if len(block) > 1 and not _is_name_line(block[-1].title) and not block[-1].text.startswith("#"):
        block.pop()
    if block and not result.title:
        h1 = [ln for ln in block if ln.text.startswith("# ")]
        result.title = (h1[0] if h1 else max(block, key=lambda ln: len(ln.title))).title
    for ln in block:
        if ln.title == result.title:
            pass
        elif _is_name_line(ln.title):
            result.authors.append(ln.title)
        else:
            result.metadata.append(("subtitle", ln.title))
        ln.kind = "drop"
    # A bare 2-3 character name right under a heading is that column's byline.
    previous = None
    for ln in kept:
        if ln.kind == "drop":
            continue
        if ln.kind == "heading" and previous is not None and previous.kind == "heading" and _is_name_line(ln.title):
            result.authors.append(ln.title)
            ln.kind = "drop"
            continue
        previous = ln
    # A heading-like line with nothing after it (an author's affiliation, say) is metadata.
    trailing = [ln for ln in kept if ln.kind != "drop"]
    while trailing and trailing[-1].kind == "heading":
        result.metadata.append(("note", trailing[-1].title))
        trailing[-1].kind = "drop"
        trailing.pop()

    # Pass 3: sections.
    current = Section(title=result.title, spans=())
    spans: list[tuple[int, int]] = []

    def flush(next_section: Section) -> None:
        nonlocal current, spans
        if spans:
            result.sections.append(Section(current.title, tuple(spans), current.kind, current.truncated))
        current, spans = next_section, []

    for ln in kept:
        if ln.kind == "drop":
            continue
        if ln.kind == "heading":
            flush(Section(title=ln.title, spans=()))
        elif ln.kind == "related-heading":
            flush(Section(title=ln.title, spans=(), kind="related"))
        else:
            if ln.kind == "para-truncated":
                current = Section(current.title, (), "related", truncated=True)
            spans.extend(inline_spans(text, ln.content_start, ln.content_end))
    flush(Section(title="", spans=()))

    if not result.date:
        found = find_dateline(text[lines[body_from].start if body_from < len(lines) else 0:])
        if found:
            result.date = found
            result.metadata.append(("date_from", "dateline"))
    if not result.title and result.sections:
        a, b = result.sections[0].spans[0]
        first = re.split(r"[。！？!?，,]", text[a:b], maxsplit=1)[0]
        result.title = first[:_TITLE_MAX] + ("…" if len(first) > _TITLE_MAX else "")
        # No headline: the title is the article's first words, and says so where shown.
        result.metadata.append(("title_from", "first sentence"))
        result.sections = [Section(result.title if s.title == "" else s.title, s.spans, s.kind, s.truncated)
                           for s in result.sections]
    return result
