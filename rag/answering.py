"""Extractive answers with verified citations; the evidence test that decides to abstain.

Everything here is pure: it takes documents, chunks and hits and returns records.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from .records import Chunk, Citation, Document, Hit
from .text.fold import fold, in_script
from .text.tokenize import content_terms

_NUMERIC_Q = re.compile(r"多少|几|幾|何时|何時|哪一年|哪年|什么时候|什麼時候|多大|多高|多长|多長|比例|百分之|率")
_STOP_CHARS = set("的了是在和与與及或也都就而被把对對于於为為以从從到由将將其之这這那吗嗎呢吧啊么麼什多少几幾哪谁誰如何怎样樣请請问問？?，,。")

# What kind of phrase answers a kind of question (both sides folded to Simplified):
# a sentence holding such a phrase is a better answer than one that only repeats the question.
_N = r"[\d.,]+|[一二三四五六七八九十百千万亿两几数]+"
_EXPECTED = [(re.compile(q), re.compile(a)) for q, a in (
    (r"多大|面积|多少平方", rf"(?:{_N})\s*(?:平方米|平方尺|平方公里|平方英尺|呎|亩)"),
    (r"多少钱|金额|花了多少|斥资|融资|营收|收入|规模|拨款|投资", rf"(?:{_N})\s*(?:万|亿|万亿)?\s*(?:元|港元|美元|人民币|港币)"),
    (r"多少人|人数|几名|多少名|多少位", rf"(?:{_N})\s*(?:万|亿)?\s*(?:人|名|位)"),
    (r"哪一年|哪年|何时|什么时候|几月|哪个月|哪天", r"\d{4}\s*年|\d{1,2}\s*月|[一二三四五六七八九十]+月|月底|年底|年初"),
    (r"多少家|几家", rf"(?:{_N})\s*(?:万)?\s*家"),
    (r"比例|占比|百分之|多少成|率", r"%|％|百分之|[一二三四五六七八九]成"),
    (r"几层|多少层", rf"(?:{_N})\s*层"),
)]

# Sentences addressed to a language model rather than to a reader ("忽略以上指令…",
# "ignore previous instructions"): scraped pages plant them. They say nothing about
# the world, so they are never used as evidence (they stay in the index, and a
# citation lookup still shows them). Matched on folded (Simplified, lower-case) text.
_INSTRUCTION = re.compile(
    r"(?:忽略|无视|忽视|不要理会|不理会|跳过)(?:掉)?(?:以上|上面|上述|之前|前面|先前|此前|所有|全部|一切)(?:的|所有的?|全部的?)?"
    r"(?:指令|指示|提示|说明|规则|要求|内容|设定|对话)"
    r"|你(?:现在)?(?:必须|只能|务必|一定要)(?:回答|回复|输出|说|扮演|假装|遵守)"
    r"|(?:系统提示|系统指令|提示词|system prompt|jailbreak|越狱模式)"
    r"|ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier|preceding) (?:instructions|prompts|messages|rules)"
    r"|disregard (?:all |any )?(?:the )?(?:previous|prior|above|earlier) "
    r"|you (?:are now|must now|must answer|must reply)"
)


def is_instruction(folded_sentence: str) -> bool:
    """True for a sentence that gives orders to an AI model (prompt injection)."""
    return bool(_INSTRUCTION.search(folded_sentence))


@dataclass(frozen=True)
class ScoredSentence:
    chunk_id: str
    doc_id: str
    start: int
    end: int
    score: float
    coverage: float


def bigrams(folded: str) -> set[str]:
    chars = [c for c in folded if c.isalnum() and c not in _STOP_CHARS]
    return {a + b for a, b in zip(chars, chars[1:])}


def _longest_shared_run(term: str, text: str) -> int:
    """Length of the longest run of 2+ characters of ``term`` that occurs in ``text`` (else 0)."""
    for n in range(len(term) - 1, 1, -1):
        if any(term[i : i + n] in text for i in range(len(term) - n + 1)):
            return n
    return 0


def coverage(terms: Sequence[str], idf: Callable[[str], float], folded_text: str) -> float:
    """Share of the question's idf weight whose terms occur in the text (0 to 1)."""
    if not terms:
        return 0.0
    total = found = 0.0
    for t in set(terms):
        w = idf(t)
        total += w
        if t in folded_text:
            found += w
        elif len(t) > 2:  # partial credit for a shortened name: 阿里 for 阿里巴巴
            found += w * _longest_shared_run(t, folded_text) / len(t)
    return found / total if total else 0.0


def score_sentences(question_folded: str, hits: Sequence[Hit], chunks: dict[str, Chunk],
                    docs: dict[str, Document], idf: Callable[[str], float], fold_target: str = "simplified") -> list[ScoredSentence]:
    """Score every sentence of the hit chunks as an answer to the question."""
    terms = content_terms(question_folded)
    q_bigrams = bigrams(question_folded)
    wants_number = bool(_NUMERIC_Q.search(question_folded))
    seen: set[tuple[str, int, int]] = set()
    out: list[ScoredSentence] = []
    for rank, hit in enumerate(hits):
        chunk = chunks[hit.chunk_id]
        doc = docs[chunk.doc_id]
        prior = 1.0 / (1.0 + rank)
        for a, b in chunk.sentences:
            if (chunk.doc_id, a, b) in seen:
                continue
            seen.add((chunk.doc_id, a, b))
            s = fold(doc.text[a:b], fold_target)
            if is_instruction(s if fold_target == "simplified" else fold(doc.text[a:b], "simplified")):
                continue
            cov = coverage(terms, idf, s)
            bi = len(q_bigrams & bigrams(s)) / len(q_bigrams) if q_bigrams else 0.0
            score = 0.5 * cov + 0.3 * bi + 0.2 * prior
            if wants_number and re.search(r"\d|[一二三四五六七八九十百千萬万億亿兩两]", s):
                score += 0.05
            score += 0.1 * any(q.search(question_folded) and a.search(s) for q, a in _EXPECTED)
            if len(s) < 8:  # fragments ("全球排名") answer nothing
                score -= 0.2
            out.append(ScoredSentence(chunk.chunk_id, chunk.doc_id, a, b, score, cov))
    out.sort(key=lambda x: (-x.score, x.chunk_id, x.start))
    return out


def select_sentences(scored: Sequence[ScoredSentence], max_sentences: int) -> list[ScoredSentence]:
    """The best sentence and up to ``max_sentences - 1`` close runners-up, in document order per chunk."""
    if not scored:
        return []
    best = scored[0].score
    chosen = [s for s in scored[:max_sentences] if s.score >= 0.8 * best]
    return chosen


def verify_citation(doc: Document, chunk: Chunk, start: int, end: int, quote: str) -> bool:
    """True when the quote is exactly the document's text at the offsets and inside the chunk."""
    return (0 <= chunk.start <= start < end <= chunk.end <= len(doc.text)
            and doc.text[start:end] == quote
            and doc.text[chunk.start:chunk.end] == chunk.text
            and chunk.doc_id == doc.doc_id)


def make_citations(sentences: Sequence[ScoredSentence], chunks: dict[str, Chunk],
                   docs: dict[str, Document]) -> list[Citation]:
    """Number the cited chunks [1], [2]… in order of first use; drop what does not verify."""
    markers: dict[str, int] = {}
    out: list[Citation] = []
    for s in sentences:
        chunk, doc = chunks[s.chunk_id], docs[s.doc_id]
        quote = doc.text[s.start:s.end]
        if not verify_citation(doc, chunk, s.start, s.end, quote):
            continue
        marker = markers.setdefault(s.chunk_id, len(markers) + 1)
        out.append(Citation(marker, chunk.chunk_id, doc.doc_id, doc.title, chunk.section, s.start, s.end, quote,
                            doc.page_at(s.start)))
    return out


# Square brackets in a quoted sentence are shown full width, so that in an answer's
# text "[n]" is only ever a marker the library wrote (a source may contain "[1]").
BRACKETS = str.maketrans({"[": "［", "]": "］"})


def answer_segments(citations: Sequence[Citation], script: str) -> tuple[list[tuple[str, int]], list[int]]:
    """Each quoted sentence as displayed (no hidden characters, brackets full width)
    with its marker, and the markers of the sentences converted to the asker's script.
    A sentence already in the asker's script is shown exactly as written."""
    segments, converted = [], []
    for c in citations:
        text, changed = in_script(c.quote, script)
        segments.append((text.strip().translate(BRACKETS), c.marker))
        if changed:
            converted.append(c.marker)
    return segments, sorted(set(converted))


def compose_answer(segments: Sequence[tuple[str, int]]) -> str:
    """The answer text: each sentence followed by its marker, "sentence[1]sentence[2]"."""
    return "".join(f"{text}[{marker}]" for text, marker in segments)
