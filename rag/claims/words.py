"""Words of a claim against the words of its evidence (pure): where each token stands,
content words with the tagger's splits mended, synonyms, numerals written either way,
negations and what they negate."""
from __future__ import annotations

import re
from typing import Sequence

from ..text.numbers import DIGITS
from .language import HAN
from .lexicon import LIGHT, NEGATIONS, NEGATION_PREFIX, NEGATION_WORDS, SYNONYMS

Token = tuple[str, str]


def placed(text: str, tokens: Sequence[Token]):
    """(offset, word, tag) of each token found in ``text``, left to right."""
    pos = 0
    for word, tag in tokens:
        i = text.find(word, pos)
        if i < 0:
            continue
        pos = i + len(word)
        yield i, word, tag


def word_found(word: str, text: str) -> bool:
    """The word, or a synonym of it, is in ``text`` ("第一台" and "首台" too; "一到" and
    "1到", "半个世纪" and "半世纪")."""
    if word in text:
        return True
    if any(c in DIGITS for c in word) and "".join(str(DIGITS.get(c, c)) for c in word) in text:
        return True
    if "个" in word and len(word) > 2 and word.replace("个", "") in text:
        return True
    if word.startswith("第一") and len(word) > 2 and "首" + word[2:] in text:
        return True
    if word.startswith("首") and len(word) > 1 and "第一" + word[1:] in text:
        return True
    return any(s in text for s in SYNONYMS.get(word, ()))


def negations(tokens: Sequence[Token]) -> list[str]:
    """The negation and cancellation words among ``tokens`` (a two-character cue also
    inside a word the tagger joined wrongly)."""
    out = []
    for w, t in tokens:
        inner = [c for c in NEGATION_WORDS if c in w and c != w]
        if inner:
            out.append(inner[0])
            continue
        if w in NEGATIONS or (t in ("v", "vn") and NEGATION_PREFIX.match(w) and len(w) <= 3
                              and w not in ("不断", "不少", "不仅", "不但", "未来", "无论", "非常", "不同", "无数", "不过")):
            out.append(w)
    return out


def clauses(folded: str) -> list[str]:
    return [c for c in re.split(r"[，,；;。！？!?：:、]", folded) if c.strip()]


def content_words(text: str, tokens: Sequence[Token]):
    """``placed`` with runs of one-character verbs, nouns and adjectives joined: the
    tagger splits words it does not know ("停" + "售"), and one character alone is
    passed over as carrying nothing."""
    run: list[tuple[int, str, str]] = []
    for item in [*placed(text, tokens), (len(text), "", "")]:
        i, w, t = item
        single = len(w) == 1 and HAN.search(w) and t in ("v", "vn", "n", "a") and w not in LIGHT
        if single and (not run or run[-1][0] + 1 == i):
            run.append(item)
            continue
        if len(run) > 1:
            yield run[0][0], "".join(x[1] for x in run), "v" if any(x[2] == "v" for x in run) else run[0][2]
        else:
            yield from run
        run = [item] if single else []
        if not single and w:
            yield item


def negates_claim_word(following: Sequence[Token], claim: str) -> bool:
    """The evidence's negation is about something the claim says: the word it negates
    (the next content word in its clause) is in the claim, or the clause ends there.
    "可不限次数往来" negates a number of trips, which a claim about the length of a stay
    does not assert."""
    for w, t in following:
        if not HAN.search(w) and not w.isalnum():
            return True  # the clause ends: what is negated is the negation word's own
        if w in LIGHT or t in ("u", "p", "c", "d", "w"):
            continue
        return word_found(w, claim) or (len(w) >= 2 and pieces_found(w, claim))
    return True


def token_has(tokens: Sequence[Token], ch: str) -> bool:
    """A one-character direction word stands as a word ("增" in "增至", not in "增值税")."""
    return any(w == ch or (len(w) == 2 and w.startswith(ch) and w[1] in "至到加长幅多") for w, _ in tokens)


def pieces_found(word: str, text: str) -> bool:
    """A compound the evidence writes with something between its parts ("商业写字楼"
    against "商业及写字楼"): every two-character piece of it is in the evidence."""
    if len(word) < 4:
        return False
    return all(word[i:i + 2] in text for i in range(0, len(word) - 1, 2)) and word[-2:] in text


DIGIT_RUN = re.compile(r"(?<![\d.])\d+(?:,\d{3}(?!\d))*(?:\.\d+)?")
