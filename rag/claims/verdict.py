"""A verdict on a claim against one passage sentence: supported, contradicted, partly
supported or not found.

Pure: folded claim and folded sentence (and the tagger's tokens) in, a ``Judgement``
out. The caller (``RagIndex.check_claim``, the generation gate) picks the sentences and
keeps the strongest judgement. The comparison of meaning is ``claims.meaning.align``:

- supported: the sentence is about what the claim is about and every element the claim
  asserts is in it: each figure with its unit, currency and qualifier, each year, each
  person, place and organisation (or in the sentences before it), the same polarity and
  direction, and every content word (or a synonym);
- contradicted: about the same thing, but an element differs: another figure, currency,
  unit or year; a negation or a reversed verb (收购 for 出售); another person or company
  in the same role; names in swapped roles. Both sides are shown;
- partly supported: about the same thing, nothing differs, but some of what the claim
  asserts is not there (a clause, a superlative, a judgement, a currency the archive does
  not name); what is missing is named;
- not found: anything else. A sentence that merely shares words is not a match.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ..answering import bigrams, coverage
from ..text.entities import GENERIC_PLACES, Entity, canonical, find_entities
from ..text.numbers import quantities, same_value
from ..text.tokenize import content_terms
from .language import language_of
from .meaning import Token, align, names, same_name

SUPPORTED, CONTRADICTED, PARTLY, NOT_FOUND = "supported", "contradicted", "partly_supported", "not_found"
VERDICTS = (SUPPORTED, CONTRADICTED, PARTLY, NOT_FOUND)

# How much of the claim's content (words and character pairs, figures and names set
# aside) a sentence must hold to be about the same thing. A claim whose figures or names
# are found needs less than one with none. Chosen on the hand-made claims of
# eval/datasets/seeds_claims.jsonl (see eval/README.md).
MIN_TOPIC = 0.6
MIN_TOPIC_WITH_FIGURES = 0.35

Tag = Callable[[str], Sequence[Token]]


@dataclass(frozen=True)
class Judgement:
    verdict: str
    topic: float  # share of the claim's content found in the sentence
    claim_says: tuple[str, ...] = ()  # the claim's elements that differ
    archive_says: tuple[str, ...] = ()  # what the sentence gives instead
    missing: tuple[str, ...] = ()  # the claim's elements the sentence does not hold
    kinds: tuple[str, ...] = ()  # the kind of each difference and gap (figure, name, negation, ...)


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
    return a.kind == b.kind and same_name(a.text, b.text)


def named_in(e: Entity, text: str, found: list[Entity]) -> bool:
    """``e`` is written in ``text``, or one of the names ``found`` there is it or a short form."""
    return e.text in text or any(_same_name(e, o) for o in found)


def judge(claim: str, sentence: str, idf: Callable[[str], float], before: str = "", earlier: str = "",
          tag: Tag | None = None, referents: str = "") -> Judgement:
    """The verdict of one (folded) sentence on one (folded) claim. ``before`` is the
    sentence in front of it and ``earlier`` the ones before that, in the same passage:
    news often names the company there ("某公司也推出了新模型。…准确率超过九成").
    ``tag`` types words and names (``text.tagging.default_tagger()`` in the product);
    ``referents``: the document before the passage, for a sentence that points back ("在此")."""
    if tag is None:
        from ..text.tagging import default_tagger

        tag = default_tagger()
    window = before + sentence
    if language_of(claim) not in ("zh", "", language_of(sentence)):
        return Judgement(NOT_FOUND, 0.0)  # a claim in another language is not what the archive says
    claim_tokens = tag(claim)
    context_names = names(earlier + before, tag(earlier + before)) if earlier or before else []
    near = names(before, tag(before), proper=True) if before else []
    a = align(claim, claim_tokens, sentence, tag(sentence), earlier + before, context_names, near, referents)
    spans = [(f.start, f.end) for f in a.claim_figures]
    topic = topic_share(claim, window, spans, idf)
    rest = topic_share(claim, window, spans + [(n.start, n.end) for n in a.claim_names], idf)
    strong = any(f.kind not in ("year", "month") for f in a.claim_figures)
    threshold = MIN_TOPIC_WITH_FIGURES if (a.anchors or strong) else MIN_TOPIC
    said = tuple(dict.fromkeys(c for c, _ in a.differs if c))
    archive = tuple(dict.fromkeys(e for _, e in a.differs if e))
    kinds = a.kinds
    if a.substituted and not a.figures_differ and not a.figure_missing and not a.name_missing:
        # The same statement, figures and all, about another person, company or place.
        if rest >= threshold:
            return Judgement(CONTRADICTED, round(rest, 4), said, archive, a.missing, kinds)
        return Judgement(NOT_FOUND, round(topic, 4))
    if topic < threshold:
        return Judgement(NOT_FOUND, round(topic, 4))
    if a.differs and not a.substituted and (a.anchors or topic >= MIN_TOPIC):
        # Something specific of the claim agrees (a figure, a name), or most of its words:
        # the same statement, said otherwise.
        return Judgement(CONTRADICTED, round(topic, 4), said, archive, a.missing, kinds)
    if a.exact:
        other = _year_of_the_sentence_before(claim, sentence, before, spans, idf)
        if other:
            # The claim's words are the sentence before's, its year this one's: two facts.
            return Judgement(CONTRADICTED, round(topic, 4), other[0], other[1], (), ("year",))
        return Judgement(SUPPORTED, round(topic, 4))
    if (a.figure_anchors or not strong) and (a.anchors or topic >= MIN_TOPIC):
        # Part of it is there: at least one of its figures when it has any (a claim whose
        # every figure is missing is not found, whatever words it shares).
        gaps = a.missing + tuple(c or e for c, e in a.differs)
        return Judgement(PARTLY, round(topic, 4), said, archive, gaps, kinds)
    return Judgement(NOT_FOUND, round(topic, 4))


def _year_of_the_sentence_before(claim: str, sentence: str, before: str, spans: list[tuple[int, int]],
                                 idf: Callable[[str], float]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(the claim's years, the years of the sentence before) when the claim says mostly
    what the sentence before says, dated by a year only this sentence gives: "2007年，某队
    降级。2008年，某人转会。" does not support "2008年，某队降级"."""
    years = [q for q in quantities(claim) if q.kind == "year"]
    if not years or not before:
        return None
    before_years = [q for q in quantities(before) if q.kind == "year"]
    if not before_years or any(same_value(y, b) for y in years for b in before_years):
        return None
    if topic_share(claim, before, spans, idf) <= topic_share(claim, sentence, spans, idf):
        return None
    return tuple(y.text for y in years), tuple(dict.fromkeys(b.text for b in before_years))


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


def _named_instead(question: str, text: str) -> tuple[str, ...]:
    """The question's companies and places (not the broad regions) that ``text`` does not
    hold while it names another of the same kind."""
    out: list[str] = []
    qe = [e for e in find_entities(question) if e.kind in ("org", "place")]
    te = [e for e in find_entities(text) if e.kind in ("org", "place")]
    others = [x for x in te if not any(_same_name(x, c) for c in qe)]
    for e in qe:
        if canonical(e.text) in GENERIC_PLACES:
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
