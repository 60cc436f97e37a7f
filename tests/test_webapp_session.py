"""A visitor's chat on the server: numbered turns, bounded size, stale indexes."""
from __future__ import annotations

from rag.records import Answer
from webapp.session import MAX_TURNS, Chat, add_reply, set_reply, start_turn


def _answer(q: str) -> Answer:
    return Answer(q, "答", False, (), (), "traditional", searched_question=q)


def test_turns_number_messages_and_answers():
    chat = Chat()
    t0 = start_turn(chat, "問一")
    add_reply(chat, t0, "答一", _answer("問一"))
    t1 = start_turn(chat, "問二")
    add_reply(chat, t1, "出錯了")  # a failed turn keeps its number, has no answer
    t2 = start_turn(chat, "問三")
    add_reply(chat, t2, "", _answer("問三"))
    set_reply(chat, "答三")
    assert (t0, t1, t2) == (0, 1, 2) and chat.messages[-1]["content"] == "答三"
    assert chat.turn_of_message(0) == 0 and chat.turn_of_message(5) == 2
    assert chat.turn_of_message(3) == 2  # a failed turn's message shows the newest sources
    for stale in (99, -1, "x", None, [1, 0], True):
        assert chat.turn_of_message(stale) in (0, 2)
    assert chat.previous_question() == "問三"


def test_a_chat_keeps_only_its_last_turns():
    chat = Chat()
    for i in range(5 * MAX_TURNS):
        turn = start_turn(chat, f"問{i}" * 200)
        add_reply(chat, turn, f"答{i}", _answer(f"問{i}"))
    assert len(chat.messages) == 2 * MAX_TURNS and len(chat.answers) == MAX_TURNS
    assert min(chat.answers) == 4 * MAX_TURNS and chat.message_turns[0] == 4 * MAX_TURNS
    assert chat.turns == 5 * MAX_TURNS
