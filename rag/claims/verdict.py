"""A verdict on a claim against one passage: supported, contradicted or not found.

Pure: folded claim and folded sentence in, a ``Judgement`` out. The caller (``RagIndex.
check_claim``) retrieves the passages and keeps the strongest judgement.

- supported: the sentence is about what the claim is about, every figure of the claim
  is in it (after normalising numerals and units: "5.02萬" = "50,200"), and every
  company or place the claim names is in it (or in the sentence before).
- contradicted: the sentence is about the same thing and names the same companies and
  places, but gives another figure of the same kind ("66億元" where the claim says
  "88億", "13層" for "20層", another year); or it says the same thing, figures and
  all, of another company or place.
- not found: anything else. A sentence that merely shares words is not a match.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..answering import bigrams, coverage
from ..text.entities import GENERIC_PLACES, Entity, canonical, find_entities, listed
from ..text.numbers import Quantity, quantities, same_value
from ..text.tokenize import content_terms

SUPPORTED, CONTRADICTED, NOT_FOUND = "supported", "contradicted", "not_found"
VERDICTS = (SUPPORTED, CONTRADICTED, NOT_FOUND)

# How much of the claim's content (words and character pairs, figures and names set
# aside) a sentence must hold to be about the same thing. A claim whose figures all
# agree with the sentence needs less than one with no figure. Chosen on the hand-made
# claims of eval/datasets/seeds_claims.jsonl (see eval/README.md).
MIN_TOPIC = 0.6
MIN_TOPIC_WITH_FIGURES = 0.35


@dataclass(frozen=True)
class Judgement:
    verdict: str
    topic: float  # share of the claim's content found in the sentence
    claim_says: tuple[str, ...] = ()  # the claim's figures or names that differ
    archive_says: tuple[str, ...] = ()  # what the sentence gives instead


def significant(qs: list[Quantity]) -> list[Quantity]:
    """Figures worth comparing: with a unit, written in digits, or scaled by 万/亿
    ("两万份" is a count; "一號中心" is a name)."""
    return [q for q in qs if q.kind or re.search(r"[\d万萬亿億]", q.text)]


def _masked(claim: str, spans: list[tuple[int, int]]) -> str:
    return "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(claim))


def topic_share(claim: str, text: str, spans: list[tuple[int, int]], idf: Callable[[str], float]) -> float:
    """How much of the claim (outside ``spans``: its figures, and names when given) the
    text holds: the mean of idf-weighted word coverage and character-pair coverage
    (words alone fail on paraphrase and on jieba's splits of unknown names)."""
    masked = _masked(claim, spans)
    terms = [t for t in content_terms(claim) if t.strip() and t in masked and not re.search(r"\d", t)]
    pairs = bigrams(masked)
    words = coverage(terms, idf, text) if terms else None
    chars = len(pairs & bigrams(text)) / len(pairs) if pairs else None
    got = [x for x in (words, chars) if x is not None]
    return sum(got) / len(got) if got else 0.0


def _same_name(a: Entity, b: Entity) -> bool:
    """One name, or a short form of it ("阿里" and "阿里巴巴", "蚂蚁" and "蚂蚁集团", "劳福局"
    and "劳工及福利局")."""
    if a.kind != b.kind or min(len(a.text), len(b.text)) < 2:
        return False
    x, y = canonical(a.text), canonical(b.text)
    return x in y or y in x


def named_in(e: Entity, text: str, found: list[Entity]) -> bool:
    """``e`` is written in ``text``, or one of the names ``found`` there is it or a short form."""
    return e.text in text or any(_same_name(e, o) for o in found)


def judge(claim: str, sentence: str, idf: Callable[[str], float], before: str = "", earlier: str = "") -> Judgement:
    """The verdict of one (folded) sentence on one (folded) claim. ``before`` is the
    sentence in front of it and ``earlier`` the ones before that, in the same passage:
    news often names the company there ("雷霆游戏也落地了大模型技术。…准确率超过88%")."""
    cq = significant(quantities(claim))
    strong = [q for q in cq if q.kind not in ("year", "month", "")]  # a year alone ties nothing together
    ce = [e for e in find_entities(claim) if e.kind in ("org", "place")]
    window = before + sentence
    named_window = earlier + window
    we = [e for e in find_entities(named_window) if e.kind in ("org", "place")]
    figure_spans = [(q.start, q.end) for q in cq]
    topic = topic_share(claim, window, figure_spans, idf)
    # Without the names: how much the rest agrees when a name differs.
    rest = topic_share(claim, window, figure_spans + [(e.start, e.end) for e in ce], idf)

    sq = significant(quantities(sentence))
    figures_claim: list[str] = []
    figures_archive: list[str] = []
    unstated = matched = 0
    for q in cq:
        if any(x.kind == q.kind and same_value(x, q) for x in sq):
            matched += q in strong
            continue
        others = [x for x in sq if x.kind == q.kind and q.kind]
        if others:
            figures_claim.append(q.text)
            figures_archive.extend(x.text for x in others if x.text not in figures_archive)
        else:
            unstated += 1
    names_claim: list[str] = []
    names_archive: list[str] = []
    missing = present = 0
    for e in ce:
        if named_in(e, named_window, we):
            present += not e.broad  # "香港" is in half the archive: it ties nothing together
            continue
        instead = [x.text for x in we if x.kind == e.kind and not any(_same_name(x, c) for c in ce)]
        if instead:
            names_claim.append(e.text)
            names_archive.extend(x for x in instead[:2] if x not in names_archive)
        else:
            missing += 1

    if figures_claim and not names_claim and not missing and topic >= (MIN_TOPIC_WITH_FIGURES if strong else MIN_TOPIC):
        # Same names, same subject, another figure.
        return Judgement(CONTRADICTED, round(topic, 4), tuple(figures_claim), tuple(figures_archive))
    anchored = matched or present
    if names_claim and not figures_claim and not unstated and rest >= (MIN_TOPIC_WITH_FIGURES if anchored else MIN_TOPIC):
        # The same statement, figures and all, about another company or place.
        return Judgement(CONTRADICTED, round(rest, 4), tuple(names_claim), tuple(names_archive))
    if not figures_claim and not names_claim and not missing and not unstated and \
            topic >= (MIN_TOPIC_WITH_FIGURES if matched else MIN_TOPIC):
        return Judgement(SUPPORTED, round(topic, 4))
    return Judgement(NOT_FOUND, round(topic, 4))


def subject_conflict(question: str, window: str) -> tuple[str, ...]:
    """The names and years of a (folded) question that a (folded) passage window answers
    about something else: the question names 腾讯 and the window, not naming it, names
    阿里巴巴 instead; or 2023年 where the window gives only 2025年. Empty when the window is
    about the question's subject (or says nothing of the kind). The same test as a claim's
    "another company, place or year", applied before an answer is given."""
    out = list(_named_instead(question, window))
    years = [q for q in quantities(question) if q.kind == "year"]
    window_years = [q for q in quantities(window) if q.kind == "year"]
    for y in years:
        if window_years and not any(same_value(y, w) for w in window_years):
            out.append(y.text)
    return tuple(out)


def sentence_names_another(question: str, sentence: str) -> tuple[str, ...]:
    """The companies of a (folded) question that a (folded) sentence leaves out while
    naming another itself: "阿里巴巴斥巨资收购写字楼" for a question about 腾讯, whatever the
    sentences before it name. Only companies the gazetteer lists count, on both sides: a
    name found by its suffix ("…集团", "…有限公司") or a Latin word is as often the answer
    ("母公司是上海文化广播影视集团") or the subject's own short form ("魏斯可" for 魏斯可金融公司)
    as another subject. Places are left to the window test: a sentence names a district
    ("港岛", "铜锣湾") of the question's city as often as not."""
    return _named_instead(question, sentence, kinds=("org",), listed_only=True)


def _named_instead(question: str, text: str, kinds: tuple[str, ...] = ("org", "place"),
                   listed_only: bool = False) -> tuple[str, ...]:
    """The question's names of ``kinds`` (not the broad regions) that ``text`` does not
    hold while it names another of the same kind (``listed_only``: gazetteer names only)."""
    out: list[str] = []
    qe = [e for e in find_entities(question) if e.kind in ("org", "place")]
    te = [e for e in find_entities(text) if e.kind in ("org", "place")]
    others = [x for x in te if not any(_same_name(x, c) for c in qe) and (not listed_only or listed(x.text))]
    for e in qe:
        if e.kind not in kinds or canonical(e.text) in GENERIC_PLACES or (listed_only and not listed(e.text)):
            continue
        if named_in(e, text, te):
            continue
        if any(x.kind == e.kind for x in others):
            out.append(e.text)
    return tuple(out)


def split_claims(text: str, limit: int = 10) -> list[str]:
    """One claim per sentence (。！？; or a line), at most ``limit``."""
    parts = [p.strip() for p in re.split(r"(?<=[。！？!?；;])|\n+", text)]
    return [p for p in parts if p and re.search(r"\w", p)][:limit]
