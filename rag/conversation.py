"""Rewrite a follow-up question with the previous turn, before retrieval."""
from __future__ import annotations

import re

from .text.tokenize import tokenize

_FOLLOWUP = re.compile(r"^(?:那么|那麼|那|还有|還有|另外|而|至于|至於)?\s*(?P<core>.+?)\s*(?:呢|又如何|又怎样|又怎樣|怎么样|怎麼樣)?\s*[？?]?$")
_SELF_CONTAINED = re.compile(r"多少|几|幾|什么|什麼|哪|谁|誰|如何|怎样|怎樣|是否|吗|嗎|为什么|為什麼|何")


def is_followup(question: str) -> bool:
    """Short questions ending in 呢 or opening with 那 that do not ask anything on their own."""
    q = question.strip()
    if len(q) > 20:
        return False
    starts = q.startswith(("那", "还有", "還有", "另外", "至于", "至於"))
    ends = bool(re.search(r"(呢|又如何|怎么样|怎麼樣)[？?]?$", q))
    return (starts or ends) and not _SELF_CONTAINED.search(_FOLLOWUP.match(q).group("core") if _FOLLOWUP.match(q) else q)


def rewrite_followup(previous: str, question: str) -> str:
    """"那深圳分園呢？" after "河套香港園區有多少家機構落戶？" -> "河套深圳分園有多少家機構落戶？".

    The follow-up's subject replaces the span of the previous question it most
    resembles (shared characters, similar length); with no resemblance it is put
    in front. A question that is not a follow-up is returned unchanged.
    """
    if not previous.strip() or not is_followup(question):
        return question
    m = _FOLLOWUP.match(question.strip())
    core = m.group("core") if m else question.strip()
    tokens = tokenize(previous)
    best, best_score = None, 0.0
    pos_tokens = []
    pos = 0
    for t in tokens:
        i = previous.find(t, pos)
        pos_tokens.append((i, i + len(t)))
        pos = i + len(t)
    for i in range(len(pos_tokens)):
        for j in range(i, min(i + 3, len(pos_tokens))):
            a, b = pos_tokens[i][0], pos_tokens[j][1]
            span = previous[a:b]
            shared = len(set(span) & set(core))
            if not shared:
                continue
            score = shared - 0.25 * abs(len(span) - len(core))
            if score > best_score:
                best, best_score = (a, b), score
    if best is None:
        return f"{core} {previous.strip()}"
    a, b = best
    return previous[:a] + core + previous[b:]
