"""Pure functions that turn library records into the page's HTML and Markdown.

No Gradio here, so every piece is unit-testable. Everything that comes from a
scraped page (passages, titles, sources) is escaped: it renders as text.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Sequence

from rag.api import RagIndex
from rag.citations import is_ref
from rag.records import Answer, Citation, Document
from rag.text.fold import to_script
from rag.text.sanitize import sanitize

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")

# Interface text, written in Traditional Chinese; Simplified is derived with OpenCC.
STRINGS = {
    "title": "香港創科新聞問答",
    "subtitle": "以新聞原文回答問題，每句答案都附出處，可點擊核對。",
    "ask": "提問",
    "placeholder": "輸入問題，例如：阿里巴巴在銅鑼灣買下了幾層寫字樓？",
    "sources": "出處",
    "no_sources": "提問後，這裏會列出答案引用的原文段落。",
    "related": "可能相關（並非答案的證據）",
    "searched": "已搜尋",
    "context": "展開原文上下文",
    "lookup": "出處查詢",
    "lookup_hint": "貼上段落編號（如 000_0f407bbef8b93a09#3）、範圍（doc:120-180）或一句話，查看支持它的原文。",
    "lookup_button": "查詢",
    "settings": "設定",
    "mode": "檢索方式",
    "top_k": "來源數目",
    "script": "答案字體",
    "docs": "搜尋的文章（不選即全部）",
    "empty": "請先輸入問題。",
    "too_long": "問題太長了（{n} 字），請精簡到 {limit} 字以內。",
    "error": "無法處理這個問題：{msg}",
    "section": "章節",
    "offsets": "位置",
    "score": "相關度",
    "no_support": "找不到支持這句話的段落。",
    "ui_lang": "介面文字",
    "examples": "試試這些問題",
    "related_flag": "相關文章摘錄（原網頁已截斷）",
    "clear": "清除對話",
    "related_hint": "右側「出處」列出了最接近的段落，僅供參考，並非答案的證據。",
}


def t(key: str, lang: str = "traditional", **kw: object) -> str:
    s = STRINGS[key].format(**kw) if kw else STRINGS[key]
    return to_script(s, "simplified") if lang == "simplified" else s


def escape_text(text: str) -> str:
    """Plain text for HTML: tags and entities shown as text; invisible and bidi
    control characters dropped (they could hide or reorder what is shown)."""
    return html.escape(sanitize(text), quote=True)


def escape_markdown(text: str) -> str:
    """Plain text for a Markdown message: no tag, link or image can form."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(sanitize(text), quote=False))


def marker_link(turn: int, marker: int) -> str:
    return f'<a class="cite-marker" href="#src-{turn}-{marker}" data-turn="{turn}" data-marker="{marker}">[{marker}]</a>'


def answer_message(answer: Answer, turn: int, lang: str = "traditional") -> str:
    """The chat message for an answer: escaped text with clickable [n] markers."""
    parts: list[str] = []
    if answer.abstained:
        parts.append(escape_markdown(answer.answer))
        if answer.related:
            parts.append(f'\n\n<small class="related-hint">{t("related_hint", lang)}</small>')
    else:
        # Built from the library's segments, never by parsing the text: a "[1]"
        # inside a source stays text and cannot pose as a marker.
        for text, marker in answer.segments:
            parts.append(escape_markdown(text) + marker_link(turn, marker))
    if answer.searched_question and answer.searched_question != answer.question:
        parts.append(f'\n\n<small class="searched">{t("searched", lang)}：{escape_markdown(answer.searched_question)}</small>')
    return "".join(parts)


_ATOM = re.compile(r"<(\w+)\b[^>]*>.*?</\1>|<[^>]*>|&\w+;|&#\d+;|\\.|.", re.DOTALL)


def stream_pieces(message: str, step: int = 12) -> list[str]:
    """Growing prefixes of a message for streaming. An element (``<a …>[1]</a>``), an
    entity or a backslash escape is never cut, so every prefix renders cleanly."""
    pieces: list[str] = []
    pos = 0
    last = 0
    for m in _ATOM.finditer(message):
        pos = m.end()
        if pos - last >= step:
            pieces.append(message[:pos])
            last = pos
    if not pieces or pieces[-1] != message:
        pieces.append(message)
    return pieces


def _doc_meta(doc: Document) -> str:
    bits = [b for b in (doc.date[:10], "、".join(doc.authors)) if b]
    src = doc.sources[0].label if doc.sources else ""
    if src:
        bits.append(src)
    return " · ".join(bits)


def _passage_html(idx: RagIndex, c: Citation) -> tuple[str, str]:
    """The cited chunk with the quote marked, and the same inside its surrounding context.
    If the index was rebuilt since the answer (the chunk is gone or now says something
    else), only the quote is shown: it is what the answer cited."""
    chunk = idx.chunks.get(c.chunk_id)
    doc = idx.documents.get(c.doc_id)
    if chunk is None or doc is None or doc.text[c.start:c.end] != c.quote or not chunk.start <= c.start <= c.end <= chunk.end:
        body = f"<mark>{escape_text(c.quote)}</mark>"
        return body, body
    text = doc.text
    lk = idx.cite(c.chunk_id, context_chars=300)
    body = (escape_text(text[chunk.start:c.start]) + f"<mark>{escape_text(c.quote)}</mark>"
            + escape_text(text[c.end:chunk.end]))
    context = (escape_text(lk.before) + '<span class="ctx-passage">' + body + "</span>" + escape_text(lk.after))
    return body, context


def sources_panel(idx: RagIndex, turns: Sequence[Answer | None], selected: int, lang: str = "traditional") -> str:
    """HTML of every turn's sources; only the selected turn's group is shown.

    ``turns`` is indexed like the chat's turns (None for a turn that failed), so a
    group's id matches the markers ``answer_message`` wrote for that turn."""
    if not any(turns):
        return f'<div class="sources-empty">{escape_text(t("no_sources", lang))}</div>'
    groups = []
    for turn, answer in enumerate(turns):
        if answer is None:
            continue
        hidden = "" if turn == selected else ' style="display:none"'
        items = []
        cited = {}
        for c in answer.citations:
            cited.setdefault(c.marker, []).append(c)
        for marker, cits in cited.items():
            first = cits[0]
            doc = idx.documents.get(first.doc_id)
            title = doc.title if doc else first.title
            section = f'<div class="src-section">{escape_text(t("section", lang))}：{escape_text(first.section)}</div>' \
                if first.section and first.section != title else ""
            chunk = idx.chunks.get(first.chunk_id)
            flag = f'<div class="src-flag">{escape_text(t("related_flag", lang))}</div>' \
                if chunk is not None and chunk.kind == "related" else ""
            passages = []
            for c in cits:
                body, context = _passage_html(idx, c)
                passages.append(
                    f'<div class="src-passage">{body}</div>'
                    f'<details class="src-context"><summary>{escape_text(t("context", lang))}</summary>'
                    f'<div class="ctx">{context}</div></details>'
                    f'<div class="src-ids">{escape_text(c.chunk_id)} · {escape_text(t("offsets", lang))} {c.start}–{c.end}</div>')
            items.append(
                f'<div class="src-item" id="src-{turn}-{marker}" data-marker="{marker}">'
                f'<div class="src-head"><span class="src-marker">[{marker}]</span> '
                f'<span class="src-title">{escape_text(title)}</span></div>'
                f'<div class="src-meta">{escape_text(_doc_meta(doc) if doc else "")}</div>{section}{flag}{"".join(passages)}</div>')
        if answer.abstained and answer.related:
            rel = "".join(
                f'<li><span class="src-title">{escape_text(c.title)}</span> · {escape_text(c.chunk_id)}<br>'
                f'<span class="rel-quote">{escape_text(c.quote)}</span></li>' for c in answer.related)
            items.append(f'<div class="related"><div class="related-head">{escape_text(t("related", lang))}</div>'
                         f'<ul>{rel}</ul></div>')
        q = escape_text(answer.question)
        groups.append(f'<div class="src-group" id="src-group-{turn}" data-turn="{turn}"{hidden}>'
                      f'<div class="src-question">{q}</div>{"".join(items)}</div>')
    return "".join(groups)


def lookup_html(idx: RagIndex, query: str, lang: str = "traditional") -> str:
    """The citation-lookup view: a chunk id or span with context, or passages supporting a sentence."""
    q = query.strip()
    if not q:
        return f"<div>{escape_text(t('lookup_hint', lang))}</div>"
    if is_ref(q):
        lk = idx.cite(q)
        d = lk.doc
        return (f'<div class="lookup-result"><div class="src-title">{escape_text(d.title)}</div>'
                f'<div class="src-meta">{escape_text(_doc_meta(d))}</div>'
                f'<div class="src-ids">{escape_text(lk.chunk_id or d.doc_id)} · {lk.start}–{lk.end}</div>'
                f'<div class="ctx">{escape_text(lk.before)}<mark>{escape_text(lk.quote)}</mark>{escape_text(lk.after)}</div></div>')
    supports = idx.support(q)
    if not supports:
        return f"<div>{escape_text(t('no_support', lang))}</div>"
    rows = []
    for s in supports:
        c = s.citation
        rows.append(f'<div class="src-item"><div class="src-head">{s.rank}. <span class="src-title">{escape_text(c.title)}</span>'
                    f' <span class="src-score">{escape_text(t("score", lang))} {s.score:.2f}</span></div>'
                    f'<div class="src-passage"><mark>{escape_text(c.quote)}</mark></div>'
                    f'<div class="src-ids">{escape_text(c.chunk_id)} · {c.start}–{c.end}</div></div>')
    return "".join(rows)


@dataclass(frozen=True)
class DocChoice:
    label: str
    doc_id: str


def document_choices(idx: RagIndex) -> list[DocChoice]:
    out = []
    for d in sorted(idx.documents.values(), key=lambda d: d.doc_id):
        meta = _doc_meta(d)
        out.append(DocChoice(f"{d.title}" + (f"（{meta}）" if meta else ""), d.doc_id))
    return out


EXAMPLES = [
    "阿里巴巴在铜锣湾买下了几层写字楼？",
    "河套香港園區有多少家機構落戶？",
    "香港预计到2028年创科人才缺口有多大？",
    "小紅書的香港辦公室在哪裏？",
]
