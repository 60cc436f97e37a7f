"""Pure functions that turn library records into the page's HTML and Markdown.

No Gradio here, so every piece is unit-testable. Everything that comes from a
scraped page (passages, titles, sources) is escaped: it renders as text.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
import logging
from typing import Mapping, Sequence

from rag.api import RagIndex
from rag.citations import Lookup, lookup_chunk
from rag import provenance
from rag.records import Answer, Citation, ClaimCheck, Document, ShortAnswer
from rag.text.fold import in_script
from rag.presentation.strings import answer_text, filter_text, format_text, notice_text, page_text, t
from rag.text.sanitize import sanitize

log = logging.getLogger(__name__)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
# Characters that would let Markdown make something of document text: "$" starts LaTeX
# (and "%" a LaTeX comment) in Gradio's renderer, ":" and "@" let "https://…",
# "www…" and e-mail addresses become links (GFM autolinks). As entities they show as
# themselves and form nothing.
_MD_ENTITIES = {"$": "&#36;", "%": "&#37;", ":": "&#58;", "@": "&#64;"}
_MD_ENTITY_CHARS = re.compile("[$%:@]")
MAX_TITLE_CHARS = 120  # a title shown in a list, a panel or the article filter
_SPACES = re.compile(r"\s+")

def outlet_choices(idx: RagIndex) -> list[str]:
    """The outlets of the index's documents (for the source filter), each once."""
    seen: list[str] = []
    for d in idx.documents.values():
        o = display_line(provenance.outlet(d), 40)
        if o and o not in seen:
            seen.append(o)
    return sorted(seen)


def generating_message(passed: Sequence[str], lang: str) -> str:
    """The reply while a generated answer streams: the sentences that have passed the
    citation gate so far (their citations come with the full answer)."""
    text = "".join(in_script(p, lang)[0] for p in passed)
    return (f'<small class="answer-kind">{escape_text(t("checking", lang))}</small>\n\n'
            + escape_markdown(text) + " …")


def input_error(exc: Exception, lang: str, question: str = "", limit: int = 0) -> str:
    """The interface's own words for a refused input (``InputError.kind``); the library's
    message, after a prefix in the interface's language, only for kinds without one."""
    kind = getattr(exc, "kind", "invalid")
    if kind == "too_long":
        return t("too_long", lang, n=len(question), limit=limit)
    if kind == "unknown_document":
        return t("err_unknown_document", lang, doc=display_line(getattr(exc, "subject", ""), 80))
    if kind in ("empty", "no_words", "not_utf8"):
        return t(f"err_{kind}", lang)
    return t("error", lang, msg=str(exc))


def escape_text(text: str) -> str:
    """Plain text for HTML: tags and entities shown as text; invisible and bidi
    control characters dropped (they could hide or reorder what is shown)."""
    return html.escape(sanitize(text), quote=True)


def escape_markdown(text: str) -> str:
    """Plain text for a Markdown message: no tag, link, autolink, image or formula
    can form; the reader sees exactly the characters of ``text``."""
    escaped = _MD_SPECIAL.sub(r"\\\1", html.escape(sanitize(text), quote=False))
    return _MD_ENTITY_CHARS.sub(lambda m: _MD_ENTITIES[m.group()], escaped)


def display_line(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """A document field shown on one line (a title, section, source, date): invisible
    characters dropped, line breaks and runs of spaces made one space, capped at
    ``limit`` characters. Not escaped: for HTML use ``escape_text`` on the result."""
    line = _SPACES.sub(" ", sanitize(text)).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def marker_link(turn: int, marker: int) -> str:
    return f'<a class="cite-marker" href="#src-{turn}-{marker}" data-turn="{turn}" data-marker="{marker}">[{marker}]</a>'


def answer_message(answer: Answer, turn: int, lang: str = "traditional") -> str:
    """The chat message for an answer: escaped text with clickable [n] markers, quotes
    converted to the asker's script marked, and a copy link (page.py's script copies the
    message as plain text with the turn's numbered sources)."""
    # The message speaks the answer's script (a Simplified question gets Simplified
    # hints); the page around it keeps the interface language.
    lang = answer.script if answer.script in ("traditional", "simplified") else lang
    # Which turn this message is: a click on it shows its sources (page.py's script).
    parts: list[str] = [f'<span class="turn-tag turn-{turn}"></span>']
    if answer.generation:  # a model was asked: say which kind of answer this is
        kind = "label_generated" if answer.generated else "label_quoted"
        parts.append(f'<small class="answer-kind {kind}">{escape_text(t(kind, lang))}</small>\n\n')
    notice = notice_text(answer)  # why the quoted answer is shown, or that it is of another year than asked
    if notice:
        parts.append(f'<small class="answer-notice">{escape_text(notice)}</small>\n\n')
    if answer.filters:  # which articles were searched
        parts.append(f'<small class="answer-filter">{escape_text(filter_text(answer))}</small>\n\n')
    if answer.abstained:
        parts.append(escape_markdown(answer_text(answer)))
        if answer.related:
            parts.append(f'\n\n<small class="related-hint">{t("related_hint", lang)}</small>')
    else:
        if answer.short_text:  # the reader's short answer, in bold, above its sentence
            parts.append(f'<strong class="short-answer">{escape_markdown(answer.short_text)}</strong>\n\n')
        # Built from the library's segments, never by parsing the text: a "[1]"
        # inside a source stays text and cannot pose as a marker.
        for text, marker in answer.segments:
            parts.append(escape_markdown(text) + marker_link(turn, marker))
            if marker in answer.converted:  # the others are the original, character for character
                parts.append(f'<small class="converted" title="{escape_text(t("converted_title", lang))}">'
                             f'{escape_text(t("converted", lang))}</small>')
    if answer.searched_question and answer.searched_question != answer.question:
        # The follow-up as rewritten and searched; one click puts it in the box to edit.
        q = answer.searched_question
        parts.append(f'\n\n<small class="searched">{t("searched", lang)}：<a class="edit-searched" href="#edit-{turn}" '
                     f'title="{escape_text(t("edit_hint", lang))}">'
                     f'{escape_markdown(q)}</a> <span class="edit-hint">（{escape_text(t("edit_hint", lang))}）</span></small>')
    if not answer.abstained:
        # The page's script builds the plain text from this message and the turn's sources.
        parts.append(f'\n\n<a class="copy-answer" href="#copy-{turn}" title="{escape_text(t("sources_plain", lang))}：">'
                     f'{escape_text(t("copy", lang))}</a>')
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


def _doc_meta(doc: Document, lang: str = "traditional", say_unknown: bool = True) -> str:
    """Date, authors and outlet of a document (``rag.provenance.line``, as the CLI and MCP
    give them). A source always shows a date and an outlet, or says it has none ("日期不詳")."""
    return provenance.line(provenance.of(doc), t("no_date", lang) if say_unknown else "",
                           t("no_outlet", lang) if say_unknown else "",
                           t("references", lang) if say_unknown else "", display_line)


def _title(doc: Document | None, fallback: str, lang: str = "traditional") -> str:
    if doc is not None and provenance.title_is_guessed(doc):
        return t("untitled", lang) + display_line(doc.title).rstrip("…") + "…"
    return display_line(doc.title if doc else fallback)


def _marked_quote(c: Citation, short: ShortAnswer | None) -> str:
    """The quote in <mark>, with the short answer inside it in bold when it lies there."""
    if short is None or short.chunk_id != c.chunk_id or not c.start <= short.start < short.end <= c.end:
        return f"<mark>{escape_text(c.quote)}</mark>"
    a, b = short.start - c.start, short.end - c.start
    return (f"<mark>{escape_text(c.quote[:a])}<strong class=\"short-span\">{escape_text(c.quote[a:b])}</strong>"
            f"{escape_text(c.quote[b:])}</mark>")


def _passage_html(idx: RagIndex, cits: Sequence[Citation], short: ShortAnswer | None = None) -> tuple[str, str]:
    """The cited chunk, once, with every quoted sentence of it marked, and the same
    inside its surrounding context. If the index was rebuilt since the answer (the chunk
    is gone or now says something else), only the quotes are shown: they are what the
    answer cited."""
    first = cits[0]
    chunk = idx.chunks.get(first.chunk_id)
    doc = idx.documents.get(first.doc_id)
    ordered = sorted({(c.start, c.end): c for c in cits}.values(), key=lambda c: c.start)
    if chunk is None or doc is None or any(
            doc.text[c.start:c.end] != c.quote or not chunk.start <= c.start <= c.end <= chunk.end for c in ordered):
        body = " … ".join(_marked_quote(c, short) for c in ordered)
        return body, body
    text = doc.text
    lk = lookup_chunk(doc, chunk, context_chars=300)  # the records themselves: ids are never re-parsed
    parts, pos = [], chunk.start
    for c in ordered:
        if c.start < pos:  # overlapping quotes: the later one is already inside the earlier
            continue
        parts.append(escape_text(text[pos:c.start]) + _marked_quote(c, short))
        pos = c.end
    body = "".join(parts) + escape_text(text[pos:chunk.end])
    context = (escape_text(lk.before) + '<span class="ctx-passage">' + body + "</span>" + escape_text(lk.after))
    return body, context


def _page_part(page: int) -> str:
    """A citation's page in a paged source, in bold, with the separator after it ("" when not paged)."""
    return f'<strong class="src-page">{escape_text(page_text(page))}</strong> · ' if page else ""


def _numbered(turns: Mapping[int, Answer | None] | Sequence[Answer | None]) -> list[tuple[int, Answer]]:
    pairs = turns.items() if isinstance(turns, Mapping) else enumerate(turns)
    return [(turn, a) for turn, a in sorted(pairs, key=lambda p: p[0]) if a is not None]


def _source_item(idx: RagIndex, turn: int, marker: int, cits: Sequence[Citation], lang: str,
                 short: ShortAnswer | None = None) -> str:
    first = cits[0]
    doc = idx.documents.get(first.doc_id)
    title = _title(doc, first.title, lang)
    section = display_line(first.section)
    section_html = f'<div class="src-section">{escape_text(t("section", lang))}：{escape_text(section)}</div>' \
        if section and section != display_line(doc.title if doc else first.title) else ""
    chunk = idx.chunks.get(first.chunk_id)
    flag = ""
    if chunk is not None and chunk.kind == "related":
        # An excerpt of another article that the page showed: its own title first, clearly
        # headed, and the host page only as where it was found.
        flag = f'<div class="src-flag">{escape_text(t("related_header", lang))}</div>'
        section_html = f'<div class="src-section">{escape_text(t("shown_on", lang))}{escape_text(title)}</div>'
        title = section or title
    body, context = _passage_html(idx, cits, short)
    spans = "、".join(f"{c.start}–{c.end}" for c in sorted({(c.start, c.end): c for c in cits}.values(),
                                                           key=lambda c: c.start))
    passage = (f'<div class="src-passage">{body}</div>'
               f'<details class="src-context"><summary>{escape_text(t("context", lang))}</summary>'
               f'<div class="ctx">{context}</div></details>'
               f'<div class="src-ids">{escape_text(first.chunk_id)} · {_page_part(first.page)}'
               f'{escape_text(t("offsets", lang))} {spans}</div>')
    return (f'<div class="src-item" id="src-{turn}-{marker}" data-marker="{marker}">{flag}'
            f'<div class="src-head"><span class="src-marker">[{marker}]</span> '
            f'<span class="src-title">{escape_text(title)}</span></div>'
            f'<div class="src-meta">{escape_text(_doc_meta(doc, lang) if doc else "")}</div>{section_html}'
            f'{passage}</div>')


def _quote_only_item(turn: int, marker: int, cits: Sequence[Citation]) -> str:
    """What a source shows when its full view cannot be made: the verified quotes."""
    quotes = "".join(f'<div class="src-passage"><mark>{escape_text(c.quote)}</mark></div>'
                     f'<div class="src-ids">{escape_text(c.chunk_id)} · {_page_part(c.page)}{c.start}–{c.end}</div>'
                     for c in cits)
    return (f'<div class="src-item" id="src-{turn}-{marker}" data-marker="{marker}">'
            f'<div class="src-head"><span class="src-marker">[{marker}]</span> '
            f'<span class="src-title">{escape_text(display_line(cits[0].title))}</span></div>{quotes}</div>')


def sources_panel(idx: RagIndex, turns: Mapping[int, Answer | None] | Sequence[Answer | None], selected: int,
                  lang: str = "traditional") -> str:
    """HTML of every turn's sources; only the selected turn's group is shown.

    ``turns`` maps a chat turn to its answer (a list is indexed by turn, None for a
    turn that failed), so a group's id matches the markers ``answer_message`` wrote."""
    numbered = _numbered(turns)
    if not numbered:
        return f'<div class="sources-empty">{escape_text(t("no_sources", lang))}</div>'
    groups = []
    for turn, answer in numbered:
        hidden = "" if turn == selected else ' style="display:none"'
        items = []
        cited: dict[int, list[Citation]] = {}
        for c in answer.citations:
            cited.setdefault(c.marker, []).append(c)
        for marker, cits in cited.items():
            try:
                items.append(_source_item(idx, turn, marker, cits, lang, answer.short_answer))
            except Exception:  # noqa: BLE001 - one odd record must not take the panel (and the chat) down
                log.exception("could not show source %s of turn %s in full", cits[0].chunk_id, turn)
                items.append(_quote_only_item(turn, marker, cits))
        if answer.abstained and answer.related:
            rel = "".join(
                f'<li><span class="src-title">{escape_text(display_line(c.title))}</span> · {escape_text(c.chunk_id)}<br>'
                f'<span class="rel-quote">{escape_text(c.quote)}</span></li>' for c in answer.related)
            items.append(f'<div class="related"><div class="related-head">{escape_text(t("related", lang))}</div>'
                         f'<ul>{rel}</ul></div>')
        q = escape_text(answer.question)
        groups.append(f'<div class="src-group" id="src-group-{turn}" data-turn="{turn}"{hidden}>'
                      f'<div class="src-question">{q}</div>{"".join(items)}</div>')
    return "".join(groups)


def lookup_html(found: Lookup | Sequence[ClaimCheck] | None, documents: Mapping[str, Document],
                lang: str = "traditional") -> str:
    """The lookup tab's view of ``RagIndex.look_up``: a chunk or span with its context, or
    a verdict per claim; the hint when nothing was asked (``None``)."""
    if found is None:
        return f"<div>{escape_text(t('lookup_hint', lang))}</div>"
    if isinstance(found, Lookup):
        lk, d = found, found.doc
        return (f'<div class="lookup-result"><div class="src-title">{escape_text(_title(d, d.title, lang))}</div>'
                f'<div class="src-meta">{escape_text(_doc_meta(d, lang))}</div>'
                f'<div class="src-ids">{escape_text(lk.chunk_id or d.doc_id)} · {_page_part(lk.page)}{lk.start}–{lk.end}</div>'
                f'<div class="ctx">{escape_text(lk.before)}<mark>{escape_text(lk.quote)}</mark>{escape_text(lk.after)}</div></div>')
    return "".join(claim_html(documents, c, lang) for c in found)


def claim_html(documents: Mapping[str, Document], c: ClaimCheck, lang: str = "traditional") -> str:
    """One claim's verdict: the evidence highlighted when the archive supports or
    contradicts it (with both figures side by side), and for "not found" the nearest
    passages plainly, nothing highlighted as a match."""
    head = (f'<div class="claim claim-{c.verdict}"><div class="claim-text">{escape_text(c.claim)}</div>'
            f'<div class="verdict verdict-{c.verdict}">{escape_text(t("verdict_" + c.verdict, lang))}</div>')
    body = ""
    if c.verdict == "contradicted":
        none = t("nothing_of_kind", lang)
        body += (f'<div class="claim-diff">{escape_text(t("archive_says", lang))}<b>{escape_text("、".join(c.archive_says) or none)}</b>'
                 f'{escape_text(t("claim_says", lang))}<b>{escape_text("、".join(c.claim_says) or none)}</b></div>')
    if c.verdict == "partly_supported" and c.missing:
        body += (f'<div class="claim-diff">{escape_text(t("not_in_archive", lang))}'
                 f'<b>{escape_text("、".join(c.missing))}</b></div>')
    for e in c.evidence:
        doc = documents.get(e.doc_id)
        body += (f'<div class="src-item"><div class="src-head"><span class="src-title">{escape_text(_title(doc, e.title, lang))}</span></div>'
                 f'<div class="src-meta">{escape_text(_doc_meta(doc, lang) if doc else "")}</div>'
                 f'<div class="src-passage"><mark>{escape_text(e.quote)}</mark></div>'
                 f'<div class="src-ids">{escape_text(e.chunk_id)} · {_page_part(e.page)}{escape_text(t("offsets", lang))} '
                 f'{e.start}–{e.end}</div></div>')
    if c.verdict == "not_found" and c.related:
        rel = "".join(f'<li><span class="src-title">{escape_text(display_line(r.title))}</span> · {escape_text(r.chunk_id)}<br>'
                      f'<span class="rel-quote">{escape_text(r.quote)}</span></li>' for r in c.related)
        body += f'<div class="related"><div class="related-head">{escape_text(t("nearest", lang))}</div><ul>{rel}</ul></div>'
    return head + body + "</div>"


@dataclass(frozen=True)
class DocChoice:
    label: str
    doc_id: str


def document_choices(idx: RagIndex) -> list[DocChoice]:
    out = []
    for d in sorted(idx.documents.values(), key=lambda d: d.doc_id):
        meta = " · ".join(m for m in (_doc_meta(d, say_unknown=False), format_text(d)) if m)
        out.append(DocChoice(display_line(d.title) + (f"（{meta}）" if meta else ""), d.doc_id))
    return out


EXAMPLES = [
    "阿里巴巴在铜锣湾买下了几层写字楼？",
    "河套香港園區有多少家機構落戶？",
    "香港预计到2028年创科人才缺口有多大？",
    "小紅書的香港辦公室在哪裏？",
]
