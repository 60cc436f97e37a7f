"""Names in a claim and in its evidence (pure): people, places and organisations typed by
the tagger and the patterns of ``text.entities``; when two are one name; a name in another
role around the same verb."""
from __future__ import annotations

import re
from typing import Sequence

from ..text.entities import BROAD_PLACES, Entity, canonical, find_entities
from .language import HAN
from .lexicon import LIGHT, MEASURE, NAME_TAGS, PLACE_SHORT, PLACE_SHORT_AFTER
from .words import Token, placed


def names(folded: str, tokens: Sequence[Token], proper: bool = False) -> list[Entity]:
    """People, places and organisations: the tagger's, and those ``text.entities`` finds
    by its patterns (an organisation by its suffix, a Latin name), without overlaps.
    ``proper``: also the tagger's other proper nouns (nz: a brand, a company the model does
    not type), as organisations; used only for what stands in a claim name's place."""
    found: list[Entity] = []
    for i, word, tag in placed(folded, tokens):
        if proper and tag == "nz" and len(word) >= 2 and HAN.search(word):
            tag = "ORG"
        if tag in NAME_TAGS and len(word) >= 2:
            if word[0] in MEASURE and i > 0 and folded[i - 1].isdigit():
                word, i = word[1:], i + 1  # "15所全国重点实验室": the measure word belongs to the figure
            if len(word) >= 2:
                found.append(Entity(word, NAME_TAGS[tag], i, i + len(word)))
    for e in find_entities(folded):
        text, start = e.text, e.start
        if text[0] in MEASURE and start > 0 and folded[start - 1].isdigit():
            text, start = text[1:], start + 1
        if e.kind in ("org", "place") and len(text) >= 2 and all(e.end <= n.start or start >= n.end for n in found):
            found.append(Entity(text, e.kind, start, e.end))
    return _joined(sorted(found, key=lambda n: n.start), folded)


def _joined(found: list[Entity], folded: str) -> list[Entity]:
    """A foreign name the tagger split at its dot ("米捷图", "·", "干沙利斯") is one person:
    else another given name before the same surname would pass as a short form."""
    out: list[Entity] = []
    for n in found:
        last = out[-1] if out else None
        if last and last.kind == n.kind == "person" and folded[last.end:n.start] in ("·", "•", "・", "‧"):
            out[-1] = Entity(folded[last.start:n.end], "person", last.start, n.end)
        else:
            out.append(n)
    return out




def actor(kind: str) -> str:
    """People and organisations play the same roles (a buyer, a speaker)."""
    return "actor" if kind in ("person", "org") else kind


def same_name(a: str, b: str) -> bool:
    """One name or a short form of it ("阿里" and "阿里巴巴")."""
    if min(len(a), len(b)) < 2 or not overlaps(a, b):
        return False
    short, long_ = sorted((canonical(a), canonical(b)), key=len)
    # "香港" is not "香港创科国际", nor "中国" "中国银行": a broad place inside a longer name
    # names something else unless the rest only says which part of it ("香港特区").
    return short not in BROAD_PLACES or long_ in BROAD_PLACES or long_[len(short):] in PLACE_PARTS


def overlaps(a: str, b: str) -> bool:
    """One name holds the other."""
    x, y = canonical(a), canonical(b)
    return min(len(x), len(y)) >= 2 and (x in y or y in x)


def short_place_found(name: str, text: str) -> bool:
    """The place is written in its one-character form after a verb of place ("在港")."""
    short = PLACE_SHORT.get(canonical(name))
    return bool(short) and any(c + short in text for c in PLACE_SHORT_AFTER)


_CLAUSE_END = re.compile(r"[，,；;。！？!?：:]")


def role_swap(claim: str, tokens: Sequence[Token], cn: Sequence[Entity], sentence: str) -> tuple[str, str] | None:
    """A name that comes before the claim's action verb and after the same verb in the
    evidence, or the reverse ("A收购B" against "B收购A"). Passive wording is left alone."""
    if re.search(r"被|由|获", claim + sentence):
        return None
    verbs = [w for w, t in tokens if t == "v" and len(w) >= 2 and w not in LIGHT and claim.count(w) == 1
             and sentence.count(w) == 1]
    if not verbs:
        return None
    v = verbs[0]
    cv, sv = claim.find(v), sentence.find(v)
    for n in cn:
        if sentence.count(n.text) != 1 or n.kind == "place":
            continue
        ns = sentence.find(n.text)
        if _CLAUSE_END.search(claim[min(n.end, cv):max(n.start, cv + len(v))]) or \
                _CLAUSE_END.search(sentence[min(ns + len(n.text), sv):max(ns, sv + len(v))]):
            continue  # in another clause than the verb: not a role of it
        before_c = n.start < cv
        before_s = sentence.find(n.text) < sv
        if before_c != before_s:
            return (f"{n.text}{v}" if before_c else f"{v}{n.text}", f"{n.text}{v}" if before_s else f"{v}{n.text}")
    return None


# Words by which a sentence points back to a place or company named before it.
DEICTIC = re.compile(r"在此|于此|此地|此处|该处|该地|当地|这里|该址|同址|同一栋|该楼|这栋")


PLACE_PARTS = {"", "特区", "特别行政区", "地区", "市", "省", "本地", "全境", "境内", "全国", "政府", "特区政府"}
