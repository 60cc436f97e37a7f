"""The Gradio page. Handlers call the library and the pure view functions; no
retrieval or answering logic lives here."""
from __future__ import annotations

import logging
import os

# No telemetry: Gradio reports to api.gradio.app unless told not to, and reads this
# switch when it is imported (the Blocks below also pass analytics_enabled=False).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from rag.api import RagIndex  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.filters import DocFilter  # noqa: E402
from rag.pipeline.query import script_of_answer  # noqa: E402
from rag.text.fold import to_script  # noqa: E402

from . import view  # noqa: E402
from .assets import CSS, JS  # noqa: E402
from .guard import RequestGuard  # noqa: E402
from .session import MAX_TURNS, Chat, add_reply, set_reply, start_turn  # noqa: E402,F401 (MAX_TURNS: re-exported)

log = logging.getLogger(__name__)

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
        if to_script(key, "simplified") == label:
            return value
    return default


def _choices(options: dict[str, str], lang: str) -> list[str]:
    return [k if k in LANGS else to_script(k, lang) for k in options]


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
                    text = view.generating_message(passed, script_of_answer(question, ask["script"], ask["previous_question"]))
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
            text = query if isinstance(query, str) else ""
            return view.lookup_html(idx.look_up(text) if text.strip() else None, idx.documents, lang)
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


def launch(page: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           prevent_thread_lock: bool = False, root_path: str = "") -> None:
    """Launch with safe defaults: local only, no share link, bounded queue, no uploads,
    no file access beyond Gradio's own assets, bounded request bodies."""
    page.queue(default_concurrency_limit=CONCURRENT_ANSWERS, max_size=QUEUE_SIZE)
    page.launch(server_name=host, server_port=port, share=False, auth=auth, max_file_size="1mb",
                prevent_thread_lock=prevent_thread_lock, footer_links=[], root_path=root_path or None, css=CSS, js=JS,
                theme=gr.themes.Soft(), show_error=False, mcp_server=False, strict_cors=True,
                state_session_capacity=SESSIONS, app_kwargs={"middleware": [Middleware(RequestGuard)]})
