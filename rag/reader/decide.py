"""Pure decisions on what the reader returned: map each passage's best span to the
original text, find the sentence that holds it, drop spans in instruction-shaped
sentences, spans about another subject and spans without a number for a "how many"
question (each earns its place on held-out training data: eval.rule_ablation), and rank
them by margin (span score minus no-answer score). A document that holds too little of
what the question is about (``topic_coverage``) is not read at all."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

from ..answering import coverage, is_instruction
from ..claims.verdict import subject_conflict
from ..records import Chunk, Document, Hit
from ..text.fold import fold
from ..text.tokenize import content_terms, cut
from .features import SpanScore
from .spans import FoldedText

# Not part of an answer at its edges ("13層，" -> "13層").
_EDGE = set(" \t\r\n\u3000，。、；：！？,.;:!?「」『』“”\"'（）()《》【】[]〈〉…—-·")


# A question that asks "how many / how much" is answered by a phrase with a number in it,
# so a span without one ("阿里內部員工" for "阿里巴巴在香港聘請了多少名員工？") is not its
# answer. Written on the training sets (folded): of their 211 questions this matches, 2
# reference answers hold no numeral, both where 几 is not what is asked ("北朝几个朝代中，
# 哪个…", "20几所"). "哪几" / "第几" / "几乎" ask for names, ordinals or nothing.
_ASKS_QUANTITY = re.compile(r"多少(?!年来)|(?<![哪这那第])几[个名家层岁位座件台辆人倍届所间艘架条]")
_NUMERAL = re.compile(r"[0-9一二三四五六七八九十百千万亿两几数半零〇廿卅余多]")


def asks_quantity(folded_question: str) -> bool:
    """Whether a (folded) question asks how many or how much."""
    return bool(_ASKS_QUANTITY.search(folded_question))


def has_numeral(folded_text: str) -> bool:
    """Whether (folded) text holds a number, in digits or Chinese numerals."""
    return bool(_NUMERAL.search(folded_text))


@lru_cache(maxsize=256)
def folded_document(text: str) -> str:
    """A document's text folded to Simplified (remembered: a long article takes ~13 ms)."""
    return fold(text, "simplified")


def topic_coverage(folded_question: str, folded_document: str, idf: Callable[[str], float],
                   known: Callable[[str], bool] | None = None, top: int | None = None) -> float:
    """Share of the question's idf weight (its words without figures) that the document
    holds (0 to 1; 1 when the question has no such word). A document about another fish,
    station or player than the question's leaves its rarest words out. Given ``known``
    (whether the corpus has the word at all), words no document has are left out: they
    are mostly jieba's splits of the question ("通获", "批者" in "高才通获批者") and tell
    no document from another. Given ``top``, only the question's ``top`` rarest words
    count (its names): the words of the asking itself ("介绍一下", "一般", "时候") are
    common, and an article about the right subject need not hold them."""
    terms = [t for t in dict.fromkeys(content_terms(folded_question))
             if not re.search(r"\d", t) and (known is None or known(t))]
    if top is not None:
        # Rarest first; ties keep the question's order, so the choice is deterministic.
        terms = sorted(terms, key=lambda t: -idf(t))[:top]
    return coverage(terms, idf, folded_document) if terms else 1.0


@dataclass(frozen=True)
class ReadSpan:
    """A span the reader found, in original offsets, with the sentence holding it, its
    passage's fused retrieval score (``Hit.score``: relative to the other candidates) and
    its passage's cosine with the question (``Hit.dense_score``: absolute)."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    margin: float
    sentence: tuple[int, int]
    retrieval: float = 0.0
    dense: float = 0.0


@dataclass(frozen=True)
class Decision:
    """Whether to answer with a span: ``margin + retrieval_weight * x`` above
    ``threshold``, where ``x`` is the passage's fused retrieval score (``input`` "fused") or
    its cosine with the question ("dense"). The fused score says how far the passage
    stands out from the other candidates; the passage of a question the corpus cannot
    answer (a sibling article that shares its names) stands out less than the question's
    own, however confident the reader. It is chosen for one fusion (z-score, with its dense
    weight) and applies to hybrid retrieval with that fusion only, and not where a filter
    leaves few candidates (it collapses there). The cosine means the same on any corpus
    and under any filter: that rule applies to hybrid retrieval with any fusion and any
    filter (it was chosen on hybrid retrieval). The span with the best score answers (not
    the surest), and only above the threshold."""

    retrieval_weight: float
    threshold: float
    fusion: str = "zscore"
    dense_weight: float = 0.4
    input: str = "fused"
    # The early stop chosen with this rule and these weights (the lead compared with it
    # uses the rule's weight): python -m eval.tune_stop_margin --ship. None: not chosen.
    stop_margin: float | None = None

    def applies(self, mode: str, fusion: str, dense_weight: float) -> bool:
        if self.input == "dense":
            return mode == "hybrid"
        return mode == "hybrid" and fusion == self.fusion and abs(dense_weight - self.dense_weight) < 1e-9

    def score(self, span: ReadSpan) -> float:
        return span.margin + self.retrieval_weight * (span.dense if self.input == "dense" else span.retrieval)


def stop_lead(first: ReadSpan, others: Sequence[Hit], rule: Decision | None) -> float:
    """How sure the best hit's span is, against what the passages after it (``others``,
    not read yet) could do, in margin units (pure): its margin, plus, where the combined
    decision ``rule`` applies, the weight times how far its passage's retrieval input is
    above the best of theirs. Another passage's span outscores it (as the answer, or in
    clearing the threshold where it does not) only with a margin above this lead, so the
    early stop compares the lead, not the bare margin, with the stop margin: a first
    passage that stands out in retrieval needs a less confident span to answer alone."""
    if rule is None or not others:
        return first.margin
    if rule.input == "dense":
        rest = [h.dense_score for h in others if h.dense_score is not None]
        best = max(rest) if rest else first.dense
        return first.margin + rule.retrieval_weight * (first.dense - best)
    return first.margin + rule.retrieval_weight * (first.retrieval - max(h.score for h in others))


# A span never cuts a bracket. Brackets that hold a name (a title, a quoted name): a name
# begun before the span is taken whole. Brackets of an aside: an aside begun before the
# span is left out (the answer follows it); one the span opens is closed.
_NAME_BRACKETS = {"《": "》", "「": "」", "『": "』", "“": "”", "〈": "〉"}
_ASIDE_BRACKETS = {"（": "）", "(": ")", "【": "】", "[": "]"}
_MAX_NAME = 40  # characters a title or quoted name may run past the span
# Words that qualify a figure: "近500家" is not "500家" (as jieba cuts folded Simplified
# text). On CMRC 2018 train, trial and DRCD dev, a reference answer keeps a qualifier
# standing as its own word before the figure 40 times and leaves it out 11 times when the
# question does not say it; when the question says it ("大约为多少年"), 2 against 13; and
# "约" inside a word ("签约三年") is never kept (17 times). Over the 86 reference answers
# with such a word before their figure, this rule gives the reference's edge for 62, the
# earlier one (any of these strings before a digit) for 48.
_QUALIFIERS = frozenset(("将近", "接近", "超过", "多达", "大约", "约为", "约", "近", "超", "逾", "至少", "不少于"))
_FIGURE_START = re.compile(r"[0-9一二三四五六七八九十百千万两半数几]")


def _qualifier_before(text: str, start: int, question: str) -> int:
    """How many characters of ``text`` before ``start`` (where a figure begins) qualify
    it (0: none): a qualifier that jieba cuts as its own word (not the "约" of "签约"),
    and that the (folded, Simplified) ``question`` does not already say."""
    left = fold(text[max(0, start - 8):start], "simplified")
    right = fold(text[start:start + 4], "simplified")
    if not _FIGURE_START.match(right):
        return 0
    words, at = [], 0
    for word in cut(left + right):
        if at >= len(left):
            break
        words.append(word)
        at += len(word)
    if at != len(left):
        return 0  # the figure's first character is cut into one word with what precedes it
    # The word before the figure, or the two before it ("约" "为"), when they qualify it.
    for n in (1, 2):
        q = "".join(words[-n:])
        if len(words) >= n and q in _QUALIFIERS:
            said = q in question or (q == "约为" and "约" in question)
            whole = fold(text[max(0, start - len(q)):start], "simplified") == q
            return len(q) if whole and not said else 0
    return 0


def _whole_brackets(text: str, start: int, end: int) -> tuple[int, int]:
    """The span with no bracket cut: a name's bracket left open is closed (or opened) by
    taking the whole name; an aside left open is dropped."""
    closers = {**_NAME_BRACKETS, **_ASIDE_BRACKETS}
    openers = {c: o for o, c in closers.items()}
    stack: list[int] = []
    i = start
    while i < end:
        ch = text[i]
        if ch in closers:
            stack.append(i)
        elif ch in openers:
            if stack and text[stack[-1]] == openers[ch]:
                stack.pop()
            elif ch in _NAME_BRACKETS.values():  # the name began before the span: take it whole
                j = text.rfind(openers[ch], max(0, start - _MAX_NAME), start)
                if j < 0:
                    return start, end
                start = j
            else:  # the aside began before the span: the answer is after it
                start, stack = i + 1, []
        i += 1
    if stack:
        # A bracket the span opens and does not close: closed by taking it whole when it
        # closes soon after (an aside often holds the answer's other form, "斯莱布尼尔
        # （Sleipnir）"), else the span ends before it.
        first = stack[0]
        close = text.find(closers[text[first]], end, end + _MAX_NAME)
        end = close + 1 if close >= 0 else first
    return start, end


# "由X增至Y": a span that runs from the old figure to the new one answers with the new one
# (a question about a change asks where it went), without the year that dates it.
_CHANGED_TO = re.compile(r"(?:增|升|降|减|減|跌|涨|漲|扩大|擴大|提高|提升|上升|下降|增长|增長|增加|减少|減少|跃升|躍升|攀升|回落)"
                         r"(?:至|到)\s*(?:(?:19|20)\d{2}\s*年的?)?")


def trim(text: str, start: int, end: int, question: str = "") -> tuple[int, int]:
    """``[start, end)`` without punctuation or spaces at either edge (may become empty),
    no bracket cut (``_whole_brackets``), and with the qualifier of a figure it starts
    with ("近", "约", "超过", "逾" …) kept, unless the (folded, Simplified) ``question``
    already says it."""
    for _ in range(2):  # taking a bracket whole may bring punctuation to an edge
        while start < end and text[start] in _EDGE and text[start] not in _NAME_BRACKETS:
            start += 1
        while end > start and text[end - 1] in _EDGE and text[end - 1] not in _NAME_BRACKETS.values():
            end -= 1
        start, end = _whole_brackets(text, start, end)
    # A whole name in its brackets is the name ("《…》" -> "…", as references write it).
    if end - start > 2 and _NAME_BRACKETS.get(text[start]) == text[end - 1] \
            and text.count(text[start], start, end) == 1:
        start, end = start + 1, end - 1
    moved = None
    for moved in _CHANGED_TO.finditer(text, start, end):
        pass
    if moved is not None and moved.end() < end:
        start = moved.end()
    if start < end:
        start -= _qualifier_before(text, start, question)
    return start, end


def rank_spans(hits: Sequence[Hit], chunks: dict[str, Chunk], documents: dict[str, Document],
               folded: Sequence[FoldedText], spans: Sequence[SpanScore | None], fold_target: str,
               question: str = "") -> list[ReadSpan]:
    """One ReadSpan per passage that has a usable span (None: not read), best margin
    first. Given the (folded, Simplified) ``question``, spans from sentences about
    another company, place or year than the question's are dropped, and so are spans
    without a number when it asks how many or how much."""
    out = []
    quantity = asks_quantity(question)
    # A passage only the keyword leg found has no cosine: it is below every dense candidate's.
    floor = min((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
    for h, f, sp in zip(hits, folded, spans):
        if sp is None or sp.end <= sp.start:
            continue
        chunk, doc = chunks[h.chunk_id], documents[h.doc_id]
        a, b = trim(doc.text, *f.to_original(sp.start, sp.end), question)
        if a >= b:
            continue
        phrase = fold(doc.text[a:b], "simplified")
        if quantity and not has_numeral(phrase):
            continue  # "how many" is not answered by a phrase without a number
        sentence = next(((s0, s1) for s0, s1 in chunk.sentences if s0 <= a < s1), None)
        if sentence is None or is_instruction(fold(doc.text[sentence[0]:sentence[1]], fold_target)):
            continue
        if question:
            # The sentence (with the three before it in the passage, where news names its
            # subject) must be about the question's company, place and year: a span read
            # from a sentence about another company is not an answer, however confident.
            before = chunk.starts_before(sentence[0])
            window = fold(doc.text[before[0] if before else sentence[0]:sentence[1]], "simplified")
            if subject_conflict(question, window):
                continue
        out.append(ReadSpan(chunk.chunk_id, doc.doc_id, a, min(b, sentence[1]), sp.score - sp.null, sentence, h.score,
                            h.dense_score if h.dense_score is not None else floor))
    out.sort(key=lambda r: -r.margin)
    return out
