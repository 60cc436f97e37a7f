"""The Gradio page. Handlers call the library and the pure view functions; no
retrieval or answering logic lives here."""
from __future__ import annotations

import json
import logging
import os
import re

# No telemetry: Gradio reports to api.gradio.app unless told not to, and reads this
# switch when it is imported (the Blocks below also pass analytics_enabled=False).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from rag.api import RagIndex  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.filters import DocFilter  # noqa: E402
from rag.text.fold import detect_script  # noqa: E402

from . import view  # noqa: E402
from .session import MAX_TURNS, Chat, add_reply, set_reply, start_turn  # noqa: E402,F401 (MAX_TURNS: re-exported)

log = logging.getLogger(__name__)

CSS = """
.gradio-container {max-width: 1880px !important}
/* Wide screens: the sources sit beside the chat and scroll on their own, inside the
   viewport, so a highlighted quote is never pushed below the fold or under other parts
   of the page. Narrow screens (phones): stacked under the chat, the page scrolls. */
@media (min-width: 900px) {
  #sources-col {position: sticky; top: .5rem; align-self: flex-start; max-height: calc(100vh - 1rem);
                overflow-y: auto; overscroll-behavior: contain}
  .hint-narrow {display: none}
}
@media (max-width: 899px) {
  #main-row {flex-direction: column}
  .hint-wide {display: none}
}
#chat {height: min(68vh, 760px) !important}
.src-group .src-question {font-weight: 600; margin-bottom: .5em; color: #444}
.src-item {border: 1px solid #ddd; border-radius: 8px; padding: .6em .8em; margin-bottom: .7em; background: #fff}
.src-item.selected {border-color: #d97706; box-shadow: 0 0 0 2px #fcd34d}
.src-head {font-weight: 600}
.src-marker {color: #b45309}
.src-meta, .src-ids, .src-section {font-size: .85em; color: #666}
.src-flag {font-size: .8em; color: #92400e; background: #fef3c7; display: inline-block; padding: 0 .4em; border-radius: 4px}
.src-passage {margin: .4em 0; line-height: 1.7}
.src-passage mark, .ctx mark {background: #fde68a; padding: 0 .1em}
mark strong.short-span {background: #fbbf24}
strong.short-answer {font-size: 1.05em}
.ctx {font-size: .92em; line-height: 1.7; color: #333; white-space: pre-wrap}
.ctx-passage {background: #f3f4f6}
a.cite-marker {color: #b45309; font-weight: 600; text-decoration: none; cursor: pointer; margin: 0 .1em}
small.searched {color: #777}
a.edit-searched {color: #1d4ed8; text-decoration: underline dotted; cursor: pointer}
small.converted {color: #92400e; font-size: .75em; margin-left: .15em; cursor: help}
a.copy-answer {font-size: .85em; color: #555}
.related-head {font-weight: 600; color: #555}
.rel-quote {color: #555; font-size: .9em}
.sources-empty {color: #777}
.claim {border: 1px solid #ddd; border-radius: 8px; padding: .6em .8em; margin-bottom: .8em}
.claim-text {font-weight: 600; margin-bottom: .3em}
.verdict {display: inline-block; padding: .1em .5em; border-radius: 4px; font-weight: 600; margin-bottom: .4em}
.verdict-supported {background: #dcfce7; color: #166534}
.verdict-contradicted {background: #fee2e2; color: #991b1b}
.verdict-partly_supported {background: #fef3c7; color: #92400e}
.verdict-not_found {background: #f3f4f6; color: #374151}
.claim-diff {margin: .3em 0 .5em}
.claim-contradicted mark {background: #fecaca}
"""

JS = """
() => {
  document.addEventListener('click', (e) => {
    const c = e.target.closest('a.copy-answer');
    if (c) {
      // Plain text: the answer as read (markers kept, links and hints left out), then its
      // numbered sources as the panel lists them (title, date and outlet, chunk id, offsets).
      e.preventDefault(); e.stopPropagation();
      const turn = (c.getAttribute('href') || '').replace('#copy-', '');
      const msg = c.closest('.message') || c.parentElement;
      const clone = msg.cloneNode(true);
      clone.querySelectorAll('a.copy-answer, small.searched, small.converted, small.related-hint').forEach((x) => x.remove());
      const lines = [clone.innerText.trim(), '', (c.dataset && c.dataset.head) || c.getAttribute('title') || ''];
      document.querySelectorAll('#src-group-' + turn + ' .src-item').forEach((it) => {
        const part = (sel) => { const el = it.querySelector(sel); return el ? el.innerText.replace(/\\s+/g, ' ').trim() : ''; };
        lines.push([part('.src-head'), part('.src-meta'), part('.src-ids')].filter(Boolean).join(' · '));
      });
      const text = lines.join('\\n');
      const label = c.textContent;
      const done = () => { c.textContent = '✓ ' + label; setTimeout(() => { c.textContent = label; }, 1500); };
      const fallback = () => {  // no Clipboard API on plain http: copy through a hidden text area
        const t = document.createElement('textarea'); t.value = text; t.style.position = 'fixed'; t.style.opacity = '0';
        document.body.appendChild(t); t.select(); try { document.execCommand('copy'); done(); } finally { t.remove(); }
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
      else fallback();
      return;
    }
    const q = e.target.closest('a.edit-searched');
    if (q) {  // put the rewritten follow-up in the question box, ready to edit
      e.preventDefault(); e.stopPropagation();
      const box = document.querySelector('#question textarea');
      if (box) { box.value = q.textContent.trim(); box.dispatchEvent(new Event('input', {bubbles: true})); box.focus(); }
      return;
    }
    const a = e.target.closest('a.cite-marker, a[href^="#src-"]');
    if (!a) {
      // A click anywhere on an answer shows that answer's sources (the server agrees a
      // moment later; this keeps the panel right even if its HTML did not change).
      const row = e.target.closest('.bot-row, .message');
      const tag = row && row.querySelector('.turn-tag');
      const m2 = tag && tag.className.match(/turn-(\\d+)/);
      if (m2) showTurn(m2[1]);
      return;
    }
    e.preventDefault(); e.stopPropagation();
    const m = (a.getAttribute('href') || '').match(/#src-(\\d+)-(\\d+)/);
    if (!m) return;
    showTurn(m[1]);
    document.querySelectorAll('.src-item.selected').forEach((x) => x.classList.remove('selected'));
    const el = document.getElementById('src-' + m[1] + '-' + m[2]);
    if (el) {
      el.classList.add('selected');
      const mark = el.querySelector('mark') || el;
      mark.scrollIntoView({block: 'center'});  // the quote itself, not just the card's top
    }
  }, true);
  function showTurn(turn) {
    document.querySelectorAll('.src-group').forEach((g) => { g.style.display = g.dataset.turn === String(turn) ? '' : 'none'; });
  }
}
"""

# Up to 16 visitors' questions are handled at once, but only Settings.compute_slots (2,
# the cores) compute at once inside RagIndex.ask: a visitor waiting for a language model
# holds no compute slot, so one slow or hostile model never blocks the others. Up to 32
# more wait in line, and past that a request is refused at once with "queue is full".
CONCURRENT_ANSWERS = 16
QUEUE_SIZE = 32
# Memory per visitor is bounded: a chat (kept on the server, see session.py) holds its
# last MAX_TURNS turns, and the server keeps the state of the last SESSIONS visitors.
SESSIONS = 1000

MODES = {"混合（推薦）": "hybrid", "語義": "dense", "關鍵詞": "bm25"}
SCRIPTS = {"跟隨提問": "auto", "繁體": "traditional", "简体": "simplified"}
LANGS = {"繁體": "traditional", "简体": "simplified"}


def _pick(options: dict[str, str], label: str | None, default: str) -> str:
    """The value of a choice label shown in either script ("語義" or "语义")."""
    if label in options:
        return options[label]
    for key, value in options.items():
        if view.to_script(key, "simplified") == label:
            return value
    return default


def _choices(options: dict[str, str], lang: str) -> list[str]:
    return [k if k in LANGS else view.to_script(k, lang) for k in options]


def _chat(value: object) -> Chat:
    return value if isinstance(value, Chat) else Chat()


def _lang(label: object) -> str:
    return LANGS.get(label, "traditional") if isinstance(label, str) else "traditional"


def _filters(since: object, until: object, sources: object) -> DocFilter | None:
    """The page's date and source settings as a filter (None when none is set)."""
    text = lambda v: v.strip() if isinstance(v, str) else ""  # noqa: E731
    chosen = tuple(x for x in sources if isinstance(x, str)) if isinstance(sources, list) else ()
    f = DocFilter(text(since), text(until), chosen[:20])
    return f or None


def _answer_script(chosen: str, question: str, lang: str) -> str:
    """The script the answer will be in (as ``RagIndex.ask`` decides it)."""
    if chosen in ("traditional", "simplified"):
        return chosen
    found = detect_script(question)
    return found if found in ("traditional", "simplified") else lang


def _generating(idx: RagIndex, ask: dict):
    """Run ``idx.ask(**ask)`` in a worker and yield (sentences passed so far, None) as
    each generated sentence passes the gate, then ((), the Answer). The worker's
    exception is raised here."""
    import queue
    import threading

    events: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["answer"] = idx.ask(**ask, on_sentence=lambda g: events.put(g.text))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc
        finally:
            events.put(None)

    threading.Thread(target=work, daemon=True, name="generate").start()
    passed: list[str] = []
    while (item := events.get()) is not None:
        passed.append(item)
        yield tuple(passed), None
    if "error" in outcome:
        raise outcome["error"]
    yield (), outcome["answer"]


def build_page(idx: RagIndex) -> gr.Blocks:
    """The chat page over an opened index."""
    choices = [(c.label, c.doc_id) for c in view.document_choices(idx)]

    # Handlers return values, never gr.skip()/gr.update(): Gradio 6.31 keeps a new
    # component object per session for every property update it is sent, so a chat
    # streaming updates grew without bound (measured: about 270 KB a question).
    # Every handler catches every error: a failure is one message in the page's
    # language, and the chat (kept on the server) stays usable.
    def panel_of(chat: Chat, selected: int, lang: str) -> str:
        """The sources panel of ``chat``, or one message in the page's language if it
        cannot be made (each source already falls back to its quote on its own)."""
        try:
            return view.sources_panel(idx, chat.answers, selected, lang)
        except Exception:  # noqa: BLE001
            log.exception("sources panel failed")
            return f"<div>{view.escape_text(view.t('failed', lang))}</div>"

    def respond(message, chat, lang_label, mode_label, top_k, script_label, doc_ids, since="", until="",
                sources=None):
        lang = _lang(lang_label)
        chat = _chat(chat)
        panel_now = panel_of(chat, chat.last_answered(), lang)
        question = (message if isinstance(message, str) else "").strip()
        if not question:
            gr.Info(view.t("empty", lang))
            yield chat.messages, panel_now, chat
            return
        limit = idx.settings.max_question_chars
        # An overlong paste is echoed shortened: the library refuses it anyway.
        shown = question if len(question) <= limit else question[:limit] + "…"
        turn = start_turn(chat, view.escape_markdown(shown))
        yield chat.messages, panel_now, chat
        try:
            idx.refresh()  # a rebuilt index is used from the next question on
            ask = dict(question=question, mode=_pick(MODES, mode_label, "hybrid"), top_k=top_k,
                       script=_pick(SCRIPTS, script_label, "auto"), doc_ids=doc_ids or None,
                       previous_question=chat.previous_question(),
                       filters=_filters(since, until, sources))
            if idx.model is None:
                answer = idx.ask(**ask)
            else:
                # A generated answer's sentences are shown once the whole reply has come and
                # each has passed the citation gate (never a token before, nothing of a reply
                # that is cut), then replaced by the full answer.
                answer = None
                replied = False
                for passed, result in _generating(idx, ask):
                    if result is not None:
                        answer = result
                        break
                    text = view.generating_message(passed, _answer_script(ask["script"], question, lang))
                    if replied:
                        set_reply(chat, text)
                    else:
                        add_reply(chat, turn, text)
                        replied = True
                    yield chat.messages, panel_now, chat
                if replied:  # the placeholder gives way to the answer (or the error below)
                    chat.messages.pop()
                    chat.message_turns.pop()
            full = view.answer_message(answer, turn, lang)
            panel = view.sources_panel(idx, {**chat.answers, turn: answer}, turn, lang)
        except RagError as exc:
            msg = (view.t("too_long", lang, n=len(question), limit=limit) if len(question) > limit
                   else view.input_error(exc, lang, question, limit))
            add_reply(chat, turn, view.escape_markdown(msg))
            yield chat.messages, panel_now, chat
            return
        except Exception:  # noqa: BLE001
            log.exception("answering %r failed", question[:80])
            add_reply(chat, turn, view.escape_markdown(view.t("failed", lang)))
            yield chat.messages, panel_now, chat
            return
        add_reply(chat, turn, "", answer)
        for piece in view.stream_pieces(full):
            set_reply(chat, piece)
            yield chat.messages, panel_now, chat
        yield chat.messages, panel, chat

    def select_turn(chat, lang_label, evt: gr.SelectData):
        lang = _lang(lang_label)
        chat = _chat(chat)
        return panel_of(chat, chat.turn_of_message(evt.index), lang)

    def lookup(query, lang_label):
        lang = _lang(lang_label)
        try:
            idx.refresh()
            return view.lookup_html(idx, query if isinstance(query, str) else "", lang)
        except RagError as exc:
            return f"<div>{view.escape_text(view.input_error(exc, lang))}</div>"
        except Exception:  # noqa: BLE001
            log.exception("lookup failed")
            return f"<div>{view.escape_text(view.t('failed', lang))}</div>"

    def clear():
        return [], view.sources_panel(idx, {}, 0), Chat()

    def document_lists():
        """The article and outlet choices of the index as it is now: documents added
        (rag add) or removed since the page started show up when the page is opened
        and whenever the article list is opened."""
        try:
            idx.refresh()
            return (gr.update(choices=[(c.label, c.doc_id) for c in view.document_choices(idx)]),
                    gr.update(choices=view.outlet_choices(idx)))
        except Exception:  # noqa: BLE001 - the lists keep what they had
            log.exception("refreshing the document lists failed")
            return gr.update(), gr.update()

    def relabel(lang_label, mode_label, script_label, chat):
        lang = _lang(lang_label)
        chat = _chat(chat)
        t = lambda key: view.t(key, lang)  # noqa: E731
        mode_value, script_value = _pick(MODES, mode_label, "hybrid"), _pick(SCRIPTS, script_label, "auto")
        mode_choices, script_choices = _choices(MODES, lang), _choices(SCRIPTS, lang)
        panel = panel_of(chat, chat.last_answered(), lang)
        return (gr.update(placeholder=t("placeholder")), gr.update(value=t("ask")),
                f"## {t('title')}\n{t('subtitle')}", gr.update(label=t("docs")),
                gr.update(label=t("mode"), choices=mode_choices, value=mode_choices[list(MODES.values()).index(mode_value)]),
                gr.update(label=t("top_k")),
                gr.update(label=t("script"), choices=script_choices,
                          value=script_choices[list(SCRIPTS.values()).index(script_value)]),
                gr.update(label=t("ui_lang")),
                gr.update(value=t("clear")), f"### {t('sources')}", gr.update(label=t("ask")),
                gr.update(label=t("lookup")), gr.update(label=t("settings")), t("lookup_hint"),
                gr.update(value=t("lookup_button")), gr.update(label=t("examples")),
                panel, gr.update(label=t("since")), gr.update(label=t("until")), gr.update(label=t("outlets")))

    with gr.Blocks(title=view.t("title"), analytics_enabled=False) as page:
        chat_state = gr.State(Chat())
        header = gr.Markdown(f"## {view.t('title')}\n{view.t('subtitle')}")
        with gr.Tab(view.t("ask")) as ask_tab:
            with gr.Row(elem_id="main-row"):
                with gr.Column(scale=3, min_width=340):
                    # latex_delimiters=[]: news, not formulas; "$$…$$" in a source must show as written.
                    chat = gr.Chatbot(label=view.t("ask"), show_label=False, elem_id="chat", sanitize_html=True,
                                      render_markdown=True, latex_delimiters=[], feedback_options=None,
                                      buttons=[])  # our own copy link copies plain text with the sources
                    with gr.Row():
                        # The box stops a pasted book early (the library's limit is checked
                        # and explained after sending; a huge paste would only be refused).
                        box = gr.Textbox(placeholder=view.t("placeholder"), show_label=False, scale=5,
                                         max_lines=3, elem_id="question", max_length=4 * idx.settings.max_question_chars)
                        send = gr.Button(view.t("ask"), variant="primary", scale=1, elem_id="send")
                    examples = gr.Examples(view.EXAMPLES, inputs=box, label=view.t("examples"))
                    clear_btn = gr.Button(view.t("clear"), size="sm")
                with gr.Column(scale=2, min_width=340, elem_id="sources-col"):
                    sources_head = gr.Markdown(f"### {view.t('sources')}")
                    panel = gr.HTML(view.sources_panel(idx, [], 0), elem_id="sources-panel")
            with gr.Accordion(view.t("settings"), open=False) as settings_box:
                with gr.Row():
                    mode = gr.Radio(list(MODES), value="混合（推薦）", label=view.t("mode"))
                    top_k = gr.Slider(1, 10, value=idx.settings.top_k, step=1, label=view.t("top_k"))
                    script = gr.Radio(list(SCRIPTS), value="跟隨提問", label=view.t("script"))
                    lang = gr.Radio(list(LANGS), value="繁體", label=view.t("ui_lang"))
                docs = gr.Dropdown(choices, multiselect=True, label=view.t("docs"), elem_id="doc-filter")
                with gr.Row():
                    # Dates and sources narrow the articles before ranking (rag.filters).
                    since = gr.Textbox("", label=view.t("since"), placeholder="2024-01-01", max_lines=1, max_length=10,
                                       elem_id="filter-since")
                    until = gr.Textbox("", label=view.t("until"), placeholder="2024-12-31", max_lines=1, max_length=10,
                                       elem_id="filter-until")
                    outlets = gr.Dropdown(view.outlet_choices(idx), value=[], multiselect=True, label=view.t("outlets"),
                                          elem_id="filter-sources")
        with gr.Tab(view.t("lookup")) as lookup_tab:
            lookup_hint = gr.Markdown(view.t("lookup_hint"))
            with gr.Row():
                lookup_box = gr.Textbox(show_label=False, scale=5, elem_id="lookup-box")
                lookup_btn = gr.Button(view.t("lookup_button"), scale=1, elem_id="lookup-send")
            lookup_out = gr.HTML(elem_id="lookup-result")

        # The chat's history is not an input: the server keeps it (session.py), so no
        # visitor can make the server hold megabytes of history sent with a question.
        inputs = [box, chat_state, lang, mode, top_k, script, docs, since, until, outlets]
        outputs = [chat, panel, chat_state]
        box.submit(respond, inputs, outputs, api_name="chat")
        send.click(respond, inputs, outputs, api_name=False)
        # The box is cleared in the browser, once, when the question is sent: clearing it
        # from the stream would wipe what the reader starts typing meanwhile.
        box.submit(None, None, box, js="() => ''", api_name=False, queue=False)
        send.click(None, None, box, js="() => ''", api_name=False, queue=False)
        chat.select(select_turn, [chat_state, lang], panel, api_name=False)
        clear_btn.click(clear, None, [chat, panel, chat_state], api_name=False)
        lookup_btn.click(lookup, [lookup_box, lang], lookup_out, api_name="lookup")
        lookup_box.submit(lookup, [lookup_box, lang], lookup_out, api_name=False)
        page.load(document_lists, None, [docs, outlets], api_name=False)
        docs.focus(document_lists, None, [docs, outlets], api_name=False)
        lang.change(relabel, [lang, mode, script, chat_state],
                    [box, send, header, docs, mode, top_k, script, lang, clear_btn, sources_head, ask_tab, lookup_tab,
                     settings_box, lookup_hint, lookup_btn, examples.dataset, panel, since, until, outlets],
                    api_name=False)
    return page


MAX_REQUEST_BYTES = 2_000_000  # a question is 500 characters; no request of the page comes near this

# The routes the page and its API use, by method: everything else Gradio serves (file
# uploads, audio "process_recording", streaming inputs, monitoring, proxies, run
# history, vibe editing, and whatever a later Gradio adds) is refused. An allow-list,
# so that a route nobody here knows about is closed by default.
_API = r"(?:chat|lookup)"
_READ_ROUTES = re.compile(
    r"/|/config/?|/gradio_api/info/?|/gradio_api/queue/data|/gradio_api/heartbeat/[\w-]+"
    r"|/gradio_api/startup-events|/(?:gradio_api/)?theme\.css|/assets/[\w.@/-]+|/static/[\w.@/-]+"
    r"|/svelte/[\w.@/-]+|/favicon\.ico|/robots\.txt|/manifest\.json|/pwa_icon(?:/\d+)?|/logout/?"
    r"|/gradio_api/(?:login_check|token|app_id|user)/?|/gradio_api/call/" + _API + r"/[\w-]+"
    r"|/gradio_api/file=.+")
_WRITE_ROUTES = re.compile(
    r"/login/?|/gradio_api/queue/join|/gradio_api/cancel|/gradio_api/reset/?|/gradio_api/(?:call|run)/" + _API + "/?")


def route_allowed(method: str, path: str) -> bool:
    """Whether the page serves ``method path`` (Gradio's own checks still apply)."""
    if method in ("GET", "HEAD"):
        return bool(_READ_ROUTES.fullmatch(path))
    if method == "POST":
        return bool(_WRITE_ROUTES.fullmatch(path))
    if method == "OPTIONS":  # CORS preflight: only for what may be posted or read
        return bool(_WRITE_ROUTES.fullmatch(path) or _READ_ROUTES.fullmatch(path))
    return False


class RequestGuard:
    """ASGI middleware in front of Gradio's routes.

    - Only the routes the page uses are served (``route_allowed``); every route that
      takes files is among those refused (403).
    - Request bodies over ``MAX_REQUEST_BYTES`` are refused with 413 before Gradio
      parses them.
    """

    def __init__(self, app, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":  # the page uses none
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method", ""), scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root + "/"):  # behind a proxy that keeps the prefix
            path = path[len(root):]
        if not route_allowed(method, path):
            log.info("refused %s %s (not a route of this page)", method, path[:200])
            await _refuse(send, 403, "this route is not used by the page and is disabled "
                                     "(uploads are disabled on this server)")
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or len(length) > 12 or int(length) > self.max_bytes):
            await _refuse(send, 413, f"request body over {self.max_bytes} bytes")
            return
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # a chunked body that grows past the limit
                    raise ValueError(f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def launch(page: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           prevent_thread_lock: bool = False, root_path: str = "") -> None:
    """Launch with safe defaults: local only, no share link, bounded queue, no uploads,
    no file access beyond Gradio's own assets, bounded request bodies."""
    page.queue(default_concurrency_limit=CONCURRENT_ANSWERS, max_size=QUEUE_SIZE)
    page.launch(server_name=host, server_port=port, share=False, auth=auth, max_file_size="1mb",
                prevent_thread_lock=prevent_thread_lock, footer_links=[], root_path=root_path or None, css=CSS, js=JS,
                theme=gr.themes.Soft(), show_error=False, mcp_server=False, strict_cors=True,
                state_session_capacity=SESSIONS, app_kwargs={"middleware": [Middleware(RequestGuard)]})
