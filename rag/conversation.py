"""Rewrite a follow-up question with the previous turn, before retrieval."""
from __future__ import annotations

import re

from .text.entities import find_entities
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


_JOINERS = re.compile(r"^[\s和与與及、,，/]*$")
# A bare name as a whole follow-up ("蔚來呢？"): a short run of Han or Latin letters. What
# kind of name it is the gazetteer may not know; the structure of the follow-up says it
# is a name all the same.
_BARE_NAME = re.compile(r"^[\u3400-\u9fffA-Za-z][\u3400-\u9fffA-Za-z0-9&.\- ]{0,11}$")
# What a question of the form "X的Y…" asks about: X, a short phrase before its first 的
# ("比亞迪的總部設在哪個城市？" is about 比亞迪).
_LEADING_SUBJECT = re.compile(r"^(?P<subject>[\u3400-\u9fffA-Za-z][\u3400-\u9fffA-Za-z0-9&.\- ]{0,7}?)的")


def leading_subject(question: str) -> tuple[int, int] | None:
    """The span of what ``question`` is about when it opens "X的…" and X names no place
    or year (a place or a year is a setting, not the subject), else None."""
    m = _LEADING_SUBJECT.match(question)
    if m is None:
        return None
    subject = m.group("subject")
    if any(e.kind in ("place", "year") for e in find_entities(subject)) or _SELF_CONTAINED.search(subject):
        return None
    return m.start("subject"), m.end("subject")


def substitute_entities(previous: str, core: str) -> str | None:
    """The previous question with the follow-up's names put in place of the names of
    the same kind: "京東" for "阿里巴巴和螞蟻集團", "深圳" for "香港", "2024" for
    "2023". None when the follow-up is not just names, or names nothing of a kind the
    previous question has."""
    new = find_entities(core)
    rest = core
    for e in reversed(new):
        rest = rest[:e.start] + rest[e.end:]
    subject = leading_subject(previous)
    if not new:
        # A name no list knows, in place of what the previous question is about.
        if subject is not None and _BARE_NAME.match(core) and not _SELF_CONTAINED.search(core):
            return previous[:subject[0]] + core + previous[subject[1]:]
        return None
    if not _JOINERS.match(rest.replace("年", "")):
        return None
    old = find_entities(previous)
    out, changed = previous, False
    for kind in dict.fromkeys(e.kind for e in new):
        mine = [e for e in new if e.kind == kind]
        theirs = [e for e in old if e.kind == kind]
        if not theirs:
            if kind == "org" and subject is not None and not changed:
                # An organisation for a subject no list knows ("那联想呢？" after
                # "某某的打印机…").
                out, changed = out[:subject[0]] + "、".join(e.text for e in mine) + out[subject[1]:], True
            continue
        if kind == "place" and len(theirs) > 1:
            # A city for a city ("深圳" for "香港" in "河套香港園區"), a district for a district.
            level = [e for e in theirs if e.broad == mine[0].broad]
            theirs = level[:1] or theirs[:1]
        else:
            # A run of names joined by 和/、 ("阿里巴巴和螞蟻集團") is replaced as a whole.
            run = [theirs[0]]
            for e in theirs[1:]:
                if _JOINERS.match(previous[run[-1].end:e.start]):
                    run.append(e)
                else:
                    break
            theirs = run
        a, b = theirs[0].start, theirs[-1].end
        shift = len(out) - len(previous)  # earlier kinds may have changed the length
        joined = "、".join(e.text for e in mine) if len(mine) > 1 else mine[0].text
        out = out[:a + shift] + joined + out[b + shift:]
        changed = True
    return out if changed else None


def rewrite_followup(previous: str, question: str) -> str:
    """Rewrite an elliptical follow-up with the previous question.

    - Just a name: the name replaces the one of the same kind, "京東呢？" after
      "阿里巴巴在銅鑼灣買了幾層？" -> "京東在銅鑼灣買了幾層？" (place for place, organisation
      for organisation, year for year).
    - Anything longer: it replaces the span of the previous question it most resembles,
      "那深圳分園呢？" after "河套香港園區有多少家機構落戶？" -> "河套深圳分園有多少家機構落戶？".
    - No resemblance at all: it is put in front. A question that is not a follow-up
      is returned unchanged.
    """
    if not previous.strip() or not is_followup(question):
        return question
    m = _FOLLOWUP.match(question.strip())
    core = m.group("core") if m else question.strip()
    swapped = substitute_entities(previous, core)
    if swapped is not None:
        return swapped
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
