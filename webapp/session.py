"""One visitor's chat, kept on the server and bounded in size.

The page never takes the chat history from the browser: a client could send
megabytes of it with every question, and Gradio would keep a copy per visitor. The
server keeps what it showed itself, the last ``MAX_TURNS`` turns (messages and the
answers behind their sources panel), so a visitor's state has a fixed upper size
whatever they send. Pure data and functions: no Gradio here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from rag.records import Answer

MAX_TURNS = 30  # turns a chat shows and keeps the sources of


@dataclass
class Chat:
    """The chat as shown: ``messages`` (Gradio "messages" dicts), the turn each message
    belongs to, and the answers of the turns still shown. Turn numbers only grow, so a
    marker ``[n]`` of turn ``t`` always finds its source group ``t``."""

    messages: list[dict] = field(default_factory=list)
    message_turns: list[int] = field(default_factory=list)
    answers: dict[int, Answer] = field(default_factory=dict)
    turns: int = 0  # questions asked so far, failed ones included

    def last_answered(self) -> int:
        """The newest turn that has an answer (0 when none)."""
        return max(self.answers, default=0)

    def turn_of_message(self, index: object) -> int:
        """The turn of the message at ``index`` as the chat shows it; the newest
        answered turn for anything else (a stale or forged index)."""
        if isinstance(index, (list, tuple)) and index:
            index = index[0]
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(self.message_turns):
            turn = self.message_turns[index]
            if turn in self.answers:
                return turn
        return self.last_answered()

    def previous_question(self) -> str:
        """What the newest answered turn searched for (a follow-up is read against it)."""
        return self.answers[self.last_answered()].searched_question if self.answers else ""


def start_turn(chat: Chat, shown_question: str) -> int:
    """Add the visitor's question as a new turn; returns its number."""
    turn = chat.turns
    chat.turns += 1
    chat.messages.append({"role": "user", "content": shown_question})
    chat.message_turns.append(turn)
    _trim(chat)
    return turn


def add_reply(chat: Chat, turn: int, content: str, answer: Answer | None = None) -> None:
    """Add the reply to ``turn`` (an answer, or a message saying what went wrong)."""
    chat.messages.append({"role": "assistant", "content": content})
    chat.message_turns.append(turn)
    if answer is not None:
        # The panel needs the citations, not the ranked hits: keep the state small.
        chat.answers[turn] = dataclasses.replace(answer, hits=(), timings_ms={})
    _trim(chat)


def set_reply(chat: Chat, content: str) -> None:
    """Replace the text of the last reply (streaming shows it growing)."""
    chat.messages[-1] = {"role": "assistant", "content": content}


def _trim(chat: Chat) -> None:
    oldest = chat.turns - MAX_TURNS
    while chat.message_turns and chat.message_turns[0] < oldest:
        chat.message_turns.pop(0)
        chat.messages.pop(0)
    for turn in [t for t in chat.answers if t < oldest]:
        del chat.answers[turn]
