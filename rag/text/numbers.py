"""Quantities in Chinese news text, normalized for comparison: "5.02萬" and "50,200",
"六成" and "60%", "88億元" and "8,800,000,000元" are the same number.

Pure functions over (folded or original) text; offsets are into the text given.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}
_SMALL = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}

# Units grouped by what they measure: a claim's "20層" is compared with the archive's
# "13層", never with its "66億元".
UNIT_KINDS = {
    "money": ("港元", "港币", "港幣", "美元", "人民币", "人民幣", "元", "块", "塊", "欧元", "歐元", "英镑", "英鎊"),
    "percent": ("%", "％", "个百分点", "個百分點"),
    "floors": ("层", "層", "楼层", "樓層"),
    "companies": ("家",),
    "people": ("名", "人", "位"),
    "area": ("平方米", "平方呎", "平方尺", "平方英尺", "平方公里", "公顷", "公頃", "呎"),
    "length": ("公里", "千米", "厘米", "毫米", "英里", "米"),
    "weight": ("公斤", "千克", "吨", "噸", "克"),
    "duration": ("小时", "小時", "分钟", "分鐘", "秒钟", "秒鐘"),
    "count": ("个", "個", "所", "项", "項", "宗", "间", "間", "台", "部", "款", "只", "隻", "座", "栋", "棟", "条", "條"),
    "days": ("天", "日"),
    "months": ("个月", "個月"),
    "years": ("年",),
    "month": ("月",),
    "times": ("倍", "次"),
}
UNIT_OF = {u: k for k, us in UNIT_KINDS.items() for u in us}  # unit -> the kind it measures
_UNITS = sorted(UNIT_OF, key=len, reverse=True)

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?|[零〇一二两兩三四五六七八九十百千]+(?:点[零〇一二两兩三四五六七八九]+)?"
_QUANTITY = re.compile(
    rf"(?P<pct>百分之(?P<pctnum>{_NUM}))"
    rf"|(?P<num>{_NUM})\s*(?P<big>[万萬亿億]+)?\s*(?P<more>多|余|餘)?\s*"
    rf"(?P<cheng>成)?(?P<unit>{'|'.join(map(re.escape, _UNITS))})?")


@dataclass(frozen=True)
class Quantity:
    """A number with the kind of thing it counts ("" when it has no unit)."""

    value: float
    kind: str
    start: int
    end: int
    text: str
    approximate: bool = False  # "4万多", "110多个"


def chinese_number(text: str) -> float | None:
    """The value of an Arabic or Chinese numeral ("1,200", "5.02", "二十三", "两千五百"); None if none."""
    t = text.replace(",", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        return float(t)
    if "点" in t:
        whole, frac = t.split("点", 1)
        w = chinese_number(whole)
        digits = "".join(str(DIGITS.get(c, "")) for c in frac)
        return None if w is None or not digits else float(f"{int(w)}.{digits}")
    if not t or any(c not in DIGITS and c not in _SMALL for c in t):
        return None
    if all(c in DIGITS for c in t) and len(t) > 1:  # "二〇二四": digit by digit
        return float("".join(str(DIGITS[c]) for c in t))
    total, digit = 0, None
    for c in t:
        if c in DIGITS:
            digit = DIGITS[c]
        else:
            total += (1 if digit is None else digit) * _SMALL[c]
            digit = None
    return float(total + (digit or 0))


def quantities(text: str) -> list[Quantity]:
    """Every number in ``text`` with its unit kind, in order. A year ("2024年") has kind
    "year" and a bare ordinal-less number has kind ""."""
    out: list[Quantity] = []
    for m in _QUANTITY.finditer(text):
        if m.group("pct"):
            v = chinese_number(m.group("pctnum"))
            if v is not None:
                out.append(Quantity(v, "percent", m.start(), m.end(), m.group()))
            continue
        raw = m.group("num")
        v = chinese_number(raw)
        if v is None or (len(raw) == 1 and raw in "十百千" and not m.group("unit") and not m.group("big")):
            continue
        for big in m.group("big") or "":
            v *= _BIG[big]
        unit = m.group("unit") or ""
        if m.group("cheng"):  # "六成" is 60%
            kind, v = "percent", v * 10
        elif unit == "年" and 1900 <= v <= 2100 and not m.group("big") and not m.group("more"):
            kind = "year"  # "2024年", "二〇二四年"; "三年" stays a duration
        else:
            kind = UNIT_OF.get(unit, "")
        end = m.end() if (unit or m.group("big") or m.group("cheng")) else m.start("num") + len(raw)
        out.append(Quantity(round(v, 6), kind, m.start(), end, text[m.start():end], bool(m.group("more"))))
    return out


def same_value(a: Quantity, b: Quantity, tolerance: float = 0.005) -> bool:
    """Equal within ``tolerance`` (relative): "5.02萬" = "50,200", "88億" != "66億". An
    approximate figure ("4万多") matches anything from it up to the next round step."""
    if a.kind in ("year", "month") or b.kind in ("year", "month"):
        return a.value == b.value  # 2019 is not 2022, however close
    if a.approximate or b.approximate:
        lo, hi = sorted((a.value, b.value))
        return hi <= lo * 1.5 if lo > 0 else hi == 0
    if a.value == b.value:
        return True
    return abs(a.value - b.value) <= tolerance * max(abs(a.value), abs(b.value))
