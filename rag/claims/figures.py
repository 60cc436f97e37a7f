"""Figures as a sentence asserts them: value, unit, currency and the qualifier its wording
gives ("近", "约", "多", "超", "不超过"), and whether one figure says what another says.

Pure functions over folded text (``text.numbers`` parses the numerals).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..text.numbers import Quantity, quantities

# Units that name the same thing ("名" and "人" count people) share a canonical form;
# two units of one kind that differ ("平方公里" and "平方米") are another figure.
_CANONICAL_UNIT = {
    "港元": "元", "港币": "元", "港幣": "元", "美元": "元", "人民币": "元", "人民幣": "元", "元": "元", "块": "元",
    "塊": "元", "欧元": "元", "歐元": "元", "英镑": "元", "英鎊": "元",
    "%": "%", "％": "%", "个百分点": "pp", "個百分點": "pp",
    "层": "层", "層": "层", "楼层": "层", "樓層": "层",
    "名": "人", "人": "人", "位": "人",
    "平方米": "平方米", "平方呎": "平方呎", "平方尺": "平方呎", "平方英尺": "平方呎", "呎": "平方呎",
    "平方公里": "平方公里", "公顷": "公顷", "公頃": "公顷", "米": "米",
    "天": "天", "日": "天", "个月": "个月", "個月": "个月", "年": "年", "月": "月", "倍": "倍", "次": "次",
    "家": "家",
}
_CURRENCY = [("港元", "HKD"), ("港币", "HKD"), ("hk$", "HKD"), ("美元", "USD"), ("us$", "USD"), ("美金", "USD"),
             ("人民币", "CNY"), ("rmb", "CNY"), ("欧元", "EUR"), ("英镑", "GBP"), ("日元", "JPY"), ("日圆", "JPY"),
             ("新台币", "TWD"), ("澳门元", "MOP")]
_CURRENCY_WORD = re.compile("|".join(re.escape(w) for w, _ in sorted(_CURRENCY, key=lambda x: -len(x[0]))))
_CURRENCY_OF = dict(_CURRENCY)

# The qualifier the wording gives a figure (folded text): what it allows, nothing more.
# "近" is "nearly" unless it ends a word of place ("临近", "靠近", "附近", "最近").
_BEFORE = re.compile(r"(不超过|不多于|不高于|最多|至多|将近|接近|逼近|不足|不到|少于|低于|未满|(?<![临靠附邻最亲贴])近|大约|约为|约|大概|逾|超过|超出|"
                     r"多于|高于|至少|超)\s*$")
_AT_MOST = re.compile(r"(?:不超过|不多于|不高于|最多|至多)[^，,。；;\d]{0,6}$")
_AFTER = re.compile(r"^\s*(左右|上下|以上|以下|之多)")
_QUALIFIER = {"不超过": "at_most", "不多于": "at_most", "不高于": "at_most", "最多": "at_most", "至多": "at_most",
              "将近": "under", "接近": "under", "逼近": "under", "近": "under", "不足": "under", "不到": "under",
              "少于": "under", "低于": "under", "未满": "under", "以下": "under",
              "大约": "about", "约为": "about", "约": "about", "大概": "about", "左右": "about", "上下": "about",
              "逾": "over", "超过": "over", "超出": "over", "多于": "over", "高于": "over", "至少": "over",
              "超": "over", "以上": "over", "之多": "", "多": "over"}
# The words that give a figure its qualifier ("多" alone is mostly something else).
QUALIFIER_WORDS = frozenset(w for w in _QUALIFIER if w != "多")


@dataclass(frozen=True)
class Figure:
    """A figure as asserted: value, kind and unit, currency ("" when not named) and the
    qualifier ("" exact, "about", "under" = just below, "over" = above; ``step`` is the
    width "多" allows: "7000多" is 7000 to 8000)."""

    value: float
    kind: str
    unit: str
    currency: str
    qualifier: str
    step: float
    text: str
    start: int
    end: int
    shown: str = ""  # the text with the currency word that follows it ("66亿元人民币")


def _step(q: Quantity) -> float:
    """The width "多"/"余" allows: one unit of the last non-zero digit as written
    ("7000多" -> 1000, "99亿多" -> 1亿, "4万多" -> 1万)."""
    digits = re.match(r"[\d,.]+", q.text)
    if not digits:
        return max(q.value * 0.1, 1.0)
    raw = digits.group().replace(",", "")
    base = float(raw) if raw.replace(".", "", 1).isdigit() else q.value
    scale = q.value / base if base else 1.0
    if "." in raw:
        return 10 ** -len(raw.split(".")[1]) * scale
    n = int(raw) if raw.isdigit() else 0
    zeros = len(str(n)) - len(str(n).rstrip("0")) if n else 0
    return 10 ** zeros * scale


def figures(folded: str) -> list[Figure]:
    """The figures of a folded sentence worth comparing (with a unit, in digits, or scaled
    by 万/亿; a month only from 1 to 12, so a name such as "千月" is not one)."""
    out: list[Figure] = []
    for q in quantities(folded):
        if not (q.kind or re.search(r"[\d万亿]", q.text)):
            continue
        if q.kind == "month" and not (1 <= q.value <= 12 and q.value == int(q.value)):
            continue
        if folded[max(0, q.start - 1):q.start] == "第":
            continue  # an ordinal ("第一台") is a word, compared as one
        unit = ""
        m = re.search(r"[^\d,.\s万亿多余零〇一二两三四五六七八九十百千点成]+$", q.text)
        if m:
            unit = _CANONICAL_UNIT.get(m.group(), m.group())
        if q.kind == "percent":
            unit = "pp" if "百分点" in q.text else "%"
        before = folded[max(0, q.start - 4):q.start]
        after = folded[q.end:q.end + 4]
        qual = ""
        mb, ma = _BEFORE.search(before), _AFTER.search(after)
        if q.approximate:
            qual = "over"
        elif _AT_MOST.search(folded[max(0, q.start - 10):q.start]):
            qual = "at_most"
        elif mb:
            qual = _QUALIFIER[mb.group(1)]
        elif ma:
            qual = _QUALIFIER[ma.group(1)]
        currency, shown = "", q.text
        if q.kind == "money":
            near = folded[max(0, q.start - 4):q.end + 4]
            cm = _CURRENCY_WORD.search(near)
            if cm:
                currency = _CURRENCY_OF[cm.group()]
                tail = re.match(rf"\s*(?:{_CURRENCY_WORD.pattern})", folded[q.end:q.end + 5])
                shown = q.text + tail.group() if tail else q.text
        out.append(Figure(q.value, q.kind, unit, currency, qual, _step(q) if qual == "over" else 0.0,
                          q.text, q.start, q.end, shown))
    return out


def equal_value(a: float, b: float) -> bool:
    """The same number (floats from parsing: no tolerance beyond rounding)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def figure_agrees(claim: Figure, evidence: Figure) -> bool:
    """Whether ``evidence`` (same kind and unit) says what ``claim`` says, reading each
    qualifier for what it allows."""
    c, e = claim, evidence
    if c.kind in ("year", "month") or e.kind in ("year", "month"):
        return equal_value(c.value, e.value)
    if c.qualifier == e.qualifier:  # "约9成" is not "约10成", "超20亿" not "超20万"
        return equal_value(c.value, e.value)
    if c.qualifier == "":
        return False  # an exact figure where the evidence gives an approximate one
    if c.qualifier == "about":  # "约X": an exact figure within 5% of X, or "近X", "逾X"
        return (e.qualifier == "" and abs(e.value - c.value) <= 0.05 * abs(c.value)) or \
            (e.qualifier in ("under", "over") and equal_value(c.value, e.value))
    if c.qualifier == "under":  # "近X": a figure a little below X
        return e.qualifier in ("", "about") and 0.9 * c.value <= e.value < c.value
    if c.qualifier == "over":  # "超X" / "X多": above X (and below X + step for "多")
        hi = c.value + c.step if c.step else math.inf
        return e.qualifier == "" and c.value < e.value < hi
    return False
