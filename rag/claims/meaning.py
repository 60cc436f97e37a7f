"""What a sentence asserts, element by element, and whether a piece of evidence says it.

One comparison for every place the product calls something checked: ``rag cite
--claim`` (``claims.verdict.judge``) and the gate in front of generated sentences.
A claim is split into the elements it asserts, and each is looked for in the evidence:

- figures with their unit, currency, scale and the qualifier the wording gives ("近" is
  just under, "约" about, "多"/"超"/"逾" above: nothing is stretched beyond that);
  years and months;
- names, typed by the tagger (person, place, organisation) and by the name patterns of
  ``text.entities``; a name missing while the evidence names another of the same kind in
  its place is "another buyer, another speaker";
- polarity (不, 未, 并非, 否认, 取消 ...) and direction (收购/出售, 增/减, 跃升/骤降 ...);
- the remaining content words: a clause, a superlative or a judgement ("假新闻") that the
  evidence does not hold is content the evidence does not support.

Figures and their qualifiers are read in ``claims.figures``, names in ``claims.names``,
words (synonyms, numerals, negations) in ``claims.words``; the language and
reader-directed lines, refused before any comparison, in ``claims.language``.
Pure: folded text and the tagger's tokens in, an ``Alignment`` out.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Sequence

from ..text.entities import BROAD_PLACES, Entity, canonical
from .figures import QUALIFIER_WORDS, Figure, equal_value, figure_agrees, figures
from .language import HAN
from .lexicon import CODE, CONTENT_TAGS, DIRECTION_PAIRS, DIRECTION_SINGLE, LIGHT, NAME_TAGS, SUPERLATIVE, SYNONYMS
from .names import DEICTIC, actor, names, overlaps, role_swap, same_name, short_place_found
from .words import (DIGIT_RUN, Token, clauses, content_words, negates_claim_word, negations, pieces_found, placed,
                    token_has, word_found)

__all__ = ["Alignment", "Token", "align", "names", "same_name"]


@dataclass(frozen=True)
class Alignment:
    """How a claim lines up with one piece of evidence.

    ``differs``: (what the claim says, what the evidence says instead) for each element
    the evidence gives otherwise; ``missing``: the claim's elements the evidence does
    not hold; ``kinds``: the kind of each difference or gap (figure, currency, unit,
    year, name, negation, direction, role, content); ``substituted``: a name differs
    where the evidence names another of the same kind."""

    differs: tuple[tuple[str, str], ...] = ()
    missing: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    anchors: int = 0  # figures (not years) and specific names found: what ties the two together
    figure_anchors: int = 0  # of which figures
    substituted: bool = False
    claim_figures: tuple[Figure, ...] = ()
    claim_names: tuple[Entity, ...] = ()
    figures_differ: bool = False
    figure_missing: bool = False
    name_missing: bool = False

    @property
    def exact(self) -> bool:
        return not self.differs and not self.missing


def align(claim: str, claim_tokens: Sequence[Token], sentence: str, sentence_tokens: Sequence[Token],
          context: str = "", context_names: Sequence[Entity] = (), near_names: Sequence[Entity] = (),
          referents: str = "") -> Alignment:
    """Line the (folded) claim up with a (folded) evidence sentence. ``context`` is the
    text before the sentence in its passage: a name or a year the sentence leaves to it
    ("该公司…") counts as said; figures and words must be in the sentence itself (with
    the sentence just before it). Another name in the claim's place is looked for in the
    sentence and ``near_names`` (those of the sentence just before it). ``referents`` is
    the document before the passage: when the sentence points back ("在此", "当地"), a
    place or company the claim names there is what it points to."""
    window = context + sentence
    differs: list[tuple[str, str]] = []
    missing: list[str] = []
    kinds: list[str] = []
    anchors = 0
    fig_differ = fig_missing = name_missing = substituted = False
    fig_anchors = 0

    # Figures.
    cf = figures(claim)
    # Figures are the sentence's own; years too when it gives any (else the passage's
    # before it date the sentence).
    offset = len(context)
    own = figures(sentence)
    context_dates = [e for e in figures(context) if e.kind in ("year", "month")]  # read once, used twice
    ef = [replace(e, start=e.start + offset, end=e.end + offset) for e in own]
    if not any(e.kind == "year" for e in own):
        ef = context_dates + ef
    for c in cf:
        same_kind = [e for e in ef if e.kind == c.kind and (e.kind or e.unit == c.unit)]
        if not same_kind:  # one side without a unit: the value alone
            same_kind = [e for e in ef if (not c.kind or not e.kind) and e.kind not in ("year", "month")
                         and c.kind not in ("year", "month") and equal_value(e.value, c.value)]
        same_unit = [e for e in same_kind if e.unit == c.unit or not c.unit or not e.unit]
        agree = [e for e in same_unit if figure_agrees(c, e)]
        if c.kind == "year" and agree:
            other = _year_of_fact(c, cf, claim, ef, window, claim_tokens)
            if other is not None:
                differs.append((c.text, other.text))
                kinds.append("year")
                fig_differ = True
                continue
        if agree:
            cur = [e for e in agree if not c.currency or e.currency == c.currency]
            if cur:
                anchors += c.kind not in ("year", "month")
                fig_anchors += c.kind not in ("year", "month")
                continue
            named = [e for e in agree if e.currency]
            if named:
                differs.append((c.shown or c.text, named[0].shown or named[0].text))
                kinds.append("currency")
                fig_differ = True
            else:
                missing.append(c.text)  # the evidence does not name the currency
                kinds.append("currency")
                fig_missing = True
            continue
        if same_unit:
            differs.extend((c.text, t) for t in dict.fromkeys(e.text for e in same_unit[:3]))
            kinds.append("year" if c.kind == "year" else "figure")
            fig_differ = True
        elif same_kind and c.unit:
            differs.extend((c.text, t) for t in dict.fromkeys(e.text for e in same_kind[:3]))
            kinds.append("unit")
            fig_differ = True
        else:
            missing.append(c.text)
            kinds.append("year" if c.kind == "year" else "figure")
            fig_missing = True

    # Names.
    cn = names(claim, claim_tokens)
    en = list(context_names) + names(sentence, sentence_tokens)
    claim_spans = [(n.start, n.end) for n in cn]
    in_place = [*near_names, *names(sentence, sentence_tokens, proper=True)]  # what may stand in a name's place
    points_back = bool(referents) and DEICTIC.search(sentence) is not None
    for n in cn:
        if points_back and n.kind in ("place", "org") and n.text in referents:
            anchors += canonical(n.text) not in BROAD_PLACES
            continue
        if n.text in window or short_place_found(n.text, window) or any(same_name(n.text, o.text) and actor(o.kind) == actor(n.kind) for o in en):
            anchors += canonical(n.text) not in BROAD_PLACES  # "香港" ties nothing together
            continue
        # A stand-in is another name: not one holding a claim name ("香港创科" for "香港").
        instead = [o.text for o in in_place if actor(o.kind) == actor(n.kind)
                   and not any(overlaps(o.text, c.text) for c in cn) and o.text not in claim]
        if instead:
            differs.extend((n.text, o) for o in dict.fromkeys(instead[:2]))
            kinds.append("name")
            substituted = True
        else:
            missing.append(n.text)
            kinds.append("name")
            name_missing = True

    # Polarity, in the clauses that carry the claim's words.
    cneg = negations(claim_tokens)
    words = [w for w, t in claim_tokens if t in ("v", "vn", "n", "a") and len(w) >= 2 and w not in LIGHT]
    near = [c for c in clauses(sentence) if any(word_found(w, c) for w in words)] or [sentence]
    said_there = set(negations(sentence_tokens))
    eneg = [w for k, (w, _) in enumerate(sentence_tokens) if w in said_there and any(w in c for c in near)
            and negates_claim_word(sentence_tokens[k + 1:k + 4], claim)]
    for w in cneg:
        if w not in eneg and not any(w in e or e in w for e in eneg):
            differs.append((w, ""))
            kinds.append("negation")
    for w in eneg:
        if not any(w in c or c in w for c in cneg):
            differs.append(("", w))
            kinds.append("negation")

    # Direction.
    for a, b in DIRECTION_PAIRS:
        for said, other in ((a, b), (b, a)):
            if said in claim and other in window and said not in window and other not in claim:
                if len(said) == 1 and not token_has(claim_tokens, said) or len(other) == 1 and not token_has(sentence_tokens, other):
                    continue
                differs.append((said, other))
                kinds.append("direction")

    # Roles: a name before the shared action in the claim must be before it in the evidence.
    role = role_swap(claim, claim_tokens, cn, sentence)
    if role:
        differs.append(role)
        kinds.append("role")

    # Codes and model names ("A3", "5G"): the same one or another.
    for code in dict.fromkeys(CODE.findall(claim)):
        if code in window:
            continue
        alike = [x for x in CODE.findall(window) if x != code and x[:1] == code[:1]]
        if alike:
            differs.append((code, alike[0]))
            kinds.append("figure")
            fig_differ = True
        else:
            missing.append(code)
            kinds.append("figure")
            fig_missing = True

    # Every number the claim writes, as often as it writes it ("14至14岁" against "13至14岁",
    # a list with one number doubled): figures compare values, this counts the digits.
    # A figure with a qualifier ("约2200家") was weighed by what the qualifier allows.
    loose = [(f.start, f.end) for f in cf if f.qualifier]
    # In the sentence itself: a number elsewhere in the passage is about something else.
    # Years and months may be the passage's (the figure check dated the sentence by them).
    said_numbers = Counter(n.replace(",", "") for n in DIGIT_RUN.findall(sentence))
    for f in own:  # "六月", "八十亿元": the evidence may write a number in words
        if not re.search(r"\d", f.text):
            for scale in (1, 10_000, 100_000_000):  # "80亿" writes the digits before the 亿
                if float(f.value / scale).is_integer():
                    said_numbers[str(int(f.value / scale))] += 1
    dates = [(f.start, f.end) for f in cf if f.kind in ("year", "month")]
    said_dates = said_numbers + Counter(n for f in context_dates for n in DIGIT_RUN.findall(f.text))
    written = [(m.group().replace(",", ""), any(a <= m.start() < b for a, b in dates))
               for m in DIGIT_RUN.finditer(claim) if not any(a <= m.start() < b for a, b in loose)]
    for (number, is_date), times in Counter(written).items():
        if (said_dates if is_date else said_numbers)[number] < times and number not in missing:
            missing.append(number)
            kinds.append("figure")
            fig_missing = True

    # Content the evidence does not hold.
    covered = [(f.start, f.end) for f in cf] + claim_spans
    for i, w, t in content_words(claim, claim_tokens):
        ordinal = t == "m" and SUPERLATIVE.search(w) is not None  # "首个", "第一位": a claim like "最"
        if (t not in CONTENT_TAGS and not ordinal) or t in NAME_TAGS or w in LIGHT or not HAN.search(w):
            continue
        if t == "v" and len(w) == 1 and w not in DIRECTION_SINGLE:
            continue  # "做", "用", "去": the words around them carry the claim
        if t == "TIME" and re.search(r"[\d零〇一二两三四五六七八九十百千]", w):
            continue  # "三年间", "2024年底": the figures stand for it
        if t == "d" and not SUPERLATIVE.search(w):
            continue  # adverbs of degree and aspect; superlatives ("最", "首次") are claims
        if any(a <= i and i + len(w) <= b for a, b in covered) or re.search(r"\d", w):
            continue
        if w in QUALIFIER_WORDS and any(f.qualifier for f in cf):
            continue  # "最多30天": the figure's comparison weighed what its qualifier allows
        if word_found(w, window) or pieces_found(w, window) or any(w in c for c, _ in differs):
            continue
        if len(w) >= 2 and w[-1] in "者们性化方" and w[:-1] in window:
            continue  # "获批者" split as "获" + "批者": the stem is there
        nxt = claim[i + len(w):i + len(w) + 2]
        if any(w + nxt[:k] in SYNONYMS and word_found(w + nxt[:k], window) for k in (1, 2)):
            continue  # "买" + "下": the tagger split a word the synonym list holds
        missing.append(w)
        kinds.append("content")
    return Alignment(tuple(differs), tuple(dict.fromkeys(missing)), tuple(kinds), anchors, fig_anchors, substituted,
                     tuple(cf), tuple(cn), fig_differ, fig_missing, name_missing)


def _year_of_fact(year: Figure, cf: Sequence[Figure], claim: str, ef: Sequence[Figure], window: str,
                  tokens: Sequence[Token]) -> Figure | None:
    """The year the evidence gives for the claim's fact when it is another one: in
    "《2025年…统计》，2024年…总数47210人" the head count is of 2024, whatever else the
    sentence dates. Only for a claim with one year, against evidence with several: the
    claim's fact is the first figure after its year (else the first content word after
    it), and the evidence's year for it is the last one before the same fact."""
    if len({f.value for f in cf if f.kind == "year"}) != 1 or len({e.value for e in ef if e.kind == "year"}) < 2:
        return None
    at = -1
    after = [f for f in cf if f.kind not in ("year", "month") and f.start > year.start]
    if after:
        same = [e for e in ef if e.kind == after[0].kind and e.unit == after[0].unit and figure_agrees(after[0], e)]
        at = same[-1].start if same else -1
    else:
        for i, w, t in placed(claim, tokens):
            if i > year.start and t in ("v", "vn", "n") and len(w) >= 2 and w not in LIGHT and window.count(w) == 1:
                at = window.find(w)
                break
    if at < 0:
        return None
    years = [e for e in ef if e.kind == "year" and e.end <= at]
    if not years or any(equal_value(e.value, year.value) for e in years[-1:]):
        return None
    return years[-1]

