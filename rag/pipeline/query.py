"""The first stage of an answer: the question checked and prepared (cleaned, bounded, the
follow-up rewritten, the filters applied, the answer's script chosen)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..conversation import rewrite_followup
from ..errors import InputError
from ..filters import DocFilter, check_filter, restrict
from ..records import Document
from ..settings import SCRIPTS, Settings
from ..text.fold import detect_script, fold
from ..text.sanitize import has_surrogates, has_words, sanitize, surrogate_at

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _too_long(n: int, limit: int) -> InputError:
    return InputError(f"the question has {n} characters; the limit is {limit}. Ask about one thing at a time.",
                      "too_long")


def check_question(question: str, settings: Settings) -> str:
    """The question, cleaned of invisible and control characters, or InputError.

    The length limit (``settings.max_question_chars``, 500 by default) is enforced
    here, not only in the page: a news question is one or two sentences (the
    longest in the CMRC dev set has 60 characters), and a bound keeps jieba,
    OpenCC and the model's tokenizer fast on any input."""
    if not isinstance(question, str):
        raise InputError(f"the question must be text, not {type(question).__name__}")
    pos = surrogate_at(question)
    if pos is not None:  # bytes that were not UTF-8 (surrogate-escaped by Python)
        raise InputError(f"the question is not valid UTF-8 (at character {pos}); type it again as UTF-8 text",
                         "not_utf8")
    limit = settings.max_question_chars
    # Checked before cleaning too, so that a huge input is refused before it is copied.
    if len(question) > 4 * limit:
        raise _too_long(len(question), limit)
    q = sanitize(question).strip()
    if not q:
        raise InputError("the question is empty; type a question in Chinese, e.g. 阿里巴巴在铜锣湾买下了几层写字楼？", "empty")
    if len(q) > limit:
        raise _too_long(len(q), limit)
    if not has_words(q):
        raise InputError(f"the question {q[:20]!r} has no word to search for (only punctuation or symbols); "
                         "type a question in Chinese", "no_words")
    return q


MAX_TOP_K = 50  # passages a caller may ask for (Settings.validate allows the same)
MAX_DOC_FILTER = 1000  # document ids in one filter


def check_top_k(top_k: object, default: int) -> int:
    """``top_k`` as a count of passages from 1 to MAX_TOP_K (None: ``default``), or InputError."""
    if top_k is None:
        return default
    if isinstance(top_k, bool):
        raise InputError(f"top_k {top_k!r} is not a number; give 1 to {MAX_TOP_K}")
    if not isinstance(top_k, int):
        try:
            as_float = float(top_k)  # a slider may send 5.0
        except (TypeError, ValueError, OverflowError):
            as_float = float("nan")
        if not as_float.is_integer():
            raise InputError(f"top_k {str(top_k)[:20]!r} is not a whole number; give 1 to {MAX_TOP_K}")
        top_k = int(as_float)
    if not 1 <= top_k <= MAX_TOP_K:
        shown = str(top_k) if len(str(top_k)) <= 12 else f"a {len(str(top_k))}-digit number"
        raise InputError(f"top_k {shown} is out of range; give 1 to {MAX_TOP_K} passages")
    return top_k


@dataclass(frozen=True)
class Query:
    """A checked question, ready to search: ``searched`` is what retrieval sees (a
    follow-up rewritten with the previous question), ``folded`` the same folded for
    matching, ``script`` the script the answer is written in."""

    question: str
    searched: str
    folded: str
    script: str
    mode: str
    doc_ids: Sequence[str] | None
    filters: DocFilter | None
    previous_question: str = ""
    # Words searched with the question but not read as it: a later part of a question in
    # several parts is searched with the first part, which names what it is about.
    context: str = ""

    @property
    def search_text(self) -> str:
        """What retrieval sees: the (rewritten) question, with its context after it."""
        return f"{self.searched} {self.context}" if self.context else self.searched

    @property
    def chinese(self) -> bool:
        """Whether the question has a Chinese character (the archive is answered in Chinese)."""
        return bool(HAN.search(self.question))


def script_of_answer(question: str, script: str = "auto", previous_question: str = "") -> str:
    """The script an answer is written in: the one asked for, else the question's, else
    the previous question's, else Simplified (the page words its progress with this too)."""
    if script not in SCRIPTS:
        raise InputError(f"script {script!r} is not one of {', '.join(SCRIPTS)}")
    found = detect_script(question) if script == "auto" else script
    if found == "unknown":
        found = detect_script(previous_question) if previous_question else "simplified"
        found = "simplified" if found == "unknown" else found
    return found


def prepare_query(question: str, settings: Settings, documents: dict[str, Document], *, mode: str | None = None,
                  script: str = "auto", doc_ids: Sequence[str] | None = None, previous_question: str = "",
                  filters: DocFilter | None = None, context: str = "") -> Query:
    """Check and prepare a question, or InputError naming what is wrong."""
    question = check_question(question, settings)
    filters = check_filter(filters) if filters else None
    if filters:
        doc_ids = restrict(documents, filters, doc_ids)
    if previous_question:
        ok = isinstance(previous_question, str) and not has_surrogates(previous_question)
        previous_question = sanitize(previous_question[: 4 * settings.max_question_chars]) if ok else ""
    searched = rewrite_followup(previous_question, question) if previous_question else question
    answer_script = script_of_answer(question, script, previous_question)
    return Query(question, searched, fold(searched, settings.fold_target), answer_script, mode or settings.mode,
                 doc_ids, filters, previous_question, context if searched == question else "")
