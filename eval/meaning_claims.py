"""The meaning claim set: true, paraphrased and altered claims over the seeds and CMRC
2018 dev passages, for measuring whether "supported" means it (issue 31).

    python -m eval.meaning_claims build          # writes eval/datasets/meaning_claims.jsonl
    python -m eval.meaning_claims corpus DIR     # the seeds and the passages the claims use
    rag index --corpus DIR --out DIR.index && python -m eval run eval/datasets/meaning_claims.jsonl --index DIR.index

Source sentences are drawn with a fixed seed: sentences of 15 to 70 characters with a
figure and a name. Each gives its true claim (the sentence) and altered claims made by
one operator each: negation, direction, currency, unit, scale, figure, year, person,
organisation, place, added content. Paraphrases and claims in another language are
written by hand (``meaning_claims_hand.jsonl``, keyed by source). Half the sources are
checked in the other script (OpenCC). The operators do not read the checker's word
lists: their negation cues, reversed verbs and added clauses are their own.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

from rag.text.fold import fold, to_script
from rag.text.numbers import quantities
from rag.text.tagging import default_tagger

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
CMRC_DEV = ROOT.parent / "shared" / "benchmarks" / "cmrc2018_dev.json"
OUT = ROOT / "eval" / "datasets" / "meaning_claims.jsonl"
HAND = ROOT / "eval" / "datasets" / "meaning_claims_hand.jsonl"
SEED = 20261205
N_SEEDS, N_CMRC = 22, 28

# Verbs of saying and the copula: negating them changes who said what, not the fact.
_NOT_NEGATED = {"是", "为", "有", "表示", "认为", "了解到", "告诉", "指出", "称", "说", "显示", "提及", "透露", "留意到"}
_NEGATE = ["并未", "没有", "并非", "从未", "不再", "未曾", "否认"]
_REVERSE = [("收购", "出售"), ("增长", "下降"), ("增加", "减少"), ("上升", "回落"), ("提高", "降低"), ("开设", "关闭"),
            ("成立", "解散"), ("加入", "离开"), ("获得", "失去"), ("开始", "结束"), ("开通", "停运"), ("进口", "出口"),
            ("扩大", "缩减"), ("升至", "跌至"), ("增至", "降至"), ("超过", "不足"), ("胜", "负"), ("击败", "败给"),
            ("最早", "最晚"), ("最大", "最小"), ("最高", "最低"), ("首个", "最后一个"), ("上涨", "下跌"), ("出生", "去世"),
            ("发行", "停售"), ("支持", "反对"), ("批准", "否决"), ("建成", "拆除"), ("落户", "撤出"), ("入驻", "迁出"),
            ("推出", "撤回"), ("吸引", "流失"), ("成为", "不再是"), ("举行", "取消"), ("创办", "关闭"), ("签约", "解约")]
_ADDED = ["，创下历史最高纪录", "，是全球首个同类项目", "，但该消息其后被证实为假新闻", "，并因此获得国家最高荣誉",
          "，是当年规模最大的一次", "，事后被指涉嫌造假", "，引发全城轰动", "，此举遭到业界一致批评"]
_UNIT_SWAP = [("平方米", "平方公里"), ("平方公里", "平方米"), ("公里", "米"), ("米", "公里"), ("层", "栋"), ("%", "个百分点"),
              ("个百分点", "%"), ("公斤", "吨"), ("吨", "公斤"), ("小时", "分钟"), ("分钟", "小时"), ("天", "个月"),
              ("个月", "天"), ("人", "家"), ("家", "人"), ("名", "家"), ("座", "层"), ("英尺", "米"), ("平方尺", "平方米")]
_CURRENCY_SWAP = [("港元", "美元"), ("港币", "美元"), ("人民币", "港元"), ("美元", "英镑"), ("欧元", "美元"), ("元", "美元")]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.findall(r"[^。！？\n]+[。！？]", text)]


def _good(sentence: str, tagger) -> bool:
    f = fold(sentence)
    if not 15 <= len(f) <= 70 or re.search(r"[「」“”\"《》()（）]", f):
        return False
    figs = [q for q in quantities(f) if q.kind or re.search(r"[\d万亿]", q.text)]
    named = [w for w, t in tagger(f) if t in ("PER", "ORG", "LOC") and len(w) >= 2]
    return bool(figs) and bool(named)


def sources(tagger, seed: int = SEED, exclude: frozenset[str] = frozenset()) -> list[dict]:
    """The source sentences, drawn with ``seed``; none of ``exclude`` (the sentences of
    another set, so that a held-out set shares no source with it)."""
    rng = random.Random(seed)
    seeds = []
    for path in sorted(SEEDS.glob("*.txt")):
        for s in _sentences(path.read_text(encoding="utf-8")):
            if _good(s, tagger) and s not in exclude:
                seeds.append({"doc": path.stem, "sentence": s})
    cmrc = []
    data = json.loads(CMRC_DEV.read_text(encoding="utf-8"))["data"]
    for art in data:
        for para in art["paragraphs"]:
            for s in _sentences(para["context"]):
                if _good(s, tagger) and s not in exclude:
                    cmrc.append({"doc": para["id"], "sentence": s})
    rng.shuffle(seeds)
    rng.shuffle(cmrc)
    picked, docs = [], set()
    for pool in (seeds, cmrc):
        # The seeds run out after two sets: CMRC passages make up the rest.
        n, got = (N_SEEDS if pool is seeds else N_SEEDS + N_CMRC - len(picked)), 0
        for item in pool:
            if got == n:
                break
            if pool is cmrc and item["doc"] in docs:
                continue  # one sentence per passage: more passages, more variety
            docs.add(item["doc"])
            picked.append(item)
            got += 1
    for i, item in enumerate(picked):
        item["source"] = f"{'h' if exclude else 's'}{i:02d}"
    return picked


def _first(f: str, pairs, rng: random.Random) -> str | None:
    hits = [(a, b) for a, b in pairs if a in f]
    if not hits:
        return None
    a, b = rng.choice(hits)
    i = f.index(a)
    return f[:i] + b + f[i + len(a):]


def alter(sentence: str, kind: str, tagger, pool: dict[str, list[str]], rng: random.Random) -> str | None:
    """``sentence`` (Simplified) with one element changed, or None when it has none of that kind."""
    f = sentence
    toks = tagger(f)
    if kind == "negation":
        pos = 0
        for w, t in toks:
            i = f.find(w, pos)
            pos = i + len(w)
            if t == "v" and i > 1 and w not in _NOT_NEGATED:
                return f[:i] + rng.choice(_NEGATE) + f[i:]
        return None
    if kind == "direction":
        return _first(f, _REVERSE, rng) or _first(f, [(b, a) for a, b in _REVERSE], rng)
    if kind == "currency":
        for q in quantities(f):
            if q.kind == "money":
                tail = f[q.end:q.end + 3]
                for a, b in _CURRENCY_SWAP:  # the longest currency word at the figure
                    if q.text.endswith(a) and not (a == "元" and q.text[-2:-1] in "港美欧日"):
                        return f[:q.end - len(a)] + b + f[q.end:]
                    if tail.startswith(a):
                        return f[:q.end] + b + f[q.end + len(a):]
        return None
    if kind == "unit":
        for q in quantities(f):
            if not re.search(r"\d", q.text) or q.kind == "year":
                continue
            for a, b in _UNIT_SWAP:
                if q.text.endswith(a):
                    return f[:q.end - len(a)] + b + f[q.end:]
        return None
    if kind == "scale":
        for q in quantities(f):
            if "万" in q.text:
                return f[:q.start] + q.text.replace("万", "亿") + f[q.end:]
            if "亿" in q.text:
                return f[:q.start] + q.text.replace("亿", "万") + f[q.end:]
        for q in quantities(f):
            if q.kind not in ("year", "month") and re.match(r"\d", q.text):
                m = re.match(r"\d+", q.text)
                return f[:q.start] + m.group() + "0" + f[q.start + m.end():]
        return None
    if kind == "figure":
        for q in quantities(f):
            if q.kind not in ("year", "month") and re.match(r"\d", q.text):
                m = re.match(r"\d+", q.text)
                n = int(m.group())
                return f[:q.start] + str(n + max(1, n // 7)) + f[q.start + m.end():]
        return None
    if kind == "year":
        for q in quantities(f):
            if q.kind == "year":
                return f[:q.start] + str(int(q.value) + rng.choice((-1, 1))) + q.text[4:] + f[q.end:]
        return None
    tag = {"person": "PER", "organisation": "ORG", "place": "LOC"}.get(kind)
    if tag:
        for w, t in toks:
            if t == tag and len(w) >= 2:
                others = [o for o in pool[tag] if o != w and o not in f and w not in o and o not in w]
                if others:
                    return f.replace(w, rng.choice(others), 1)
        return None
    if kind == "added":
        return f.rstrip("。！？") + rng.choice(_ADDED) + "。"
    raise ValueError(kind)


KINDS = ("negation", "direction", "currency", "unit", "scale", "figure", "year", "person", "organisation", "place",
         "added")
EXPECTED = {k: "contradicted" for k in KINDS} | {"added": "partly_supported"}


def build(seed: int = SEED, hand: Path = HAND, exclude: frozenset[str] = frozenset(), prefix: str = "mc") -> list[dict]:
    tagger = default_tagger()
    picked = sources(tagger, seed, exclude)
    pool: dict[str, list[str]] = {"PER": [], "ORG": [], "LOC": []}
    for it in picked:
        for w, t in tagger(fold(it["sentence"])):
            if t in pool and len(w) >= 2 and w not in pool[t]:
                pool[t].append(w)
    rng = random.Random(seed + 1)
    rows = []
    for n, it in enumerate(picked):
        script = "traditional" if n % 2 else "simplified"
        simple = to_script(it["sentence"], "simplified")  # operators work on Simplified; shown in `script`
        base = {"source": it["source"], "doc": it["doc"]}
        rows.append(base | {"claim": to_script(it["sentence"], script), "verdict": "supported", "kind": "true"})
        for kind in KINDS:
            changed = alter(simple, kind, tagger, pool, rng)
            if changed and changed != simple:
                rows.append(base | {"claim": to_script(changed, script), "verdict": EXPECTED[kind], "kind": kind})
    if hand.exists():
        for line in hand.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    for i, r in enumerate(rows):
        r["id"] = f"{prefix}-{i:03d}"
    return [{"id": r["id"], **{k: v for k, v in r.items() if k != "id"}} for r in rows]


def write_corpus(folder: Path, rows: list[dict]) -> None:
    """The seeds and the CMRC passages the claims were made from, as <id>.txt files."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in SEEDS.glob("*.txt"):
        (folder / path.name).write_bytes(path.read_bytes())
    wanted = {r["doc"] for r in rows if r["doc"].startswith("DEV_")}
    data = json.loads(CMRC_DEV.read_text(encoding="utf-8"))["data"]
    for art in data:
        for para in art["paragraphs"]:
            if para["id"] in wanted:
                (folder / f"{para['id']}.txt").write_text(para["context"], encoding="utf-8")


HOLDOUT_SEED = 20261206


def _set(holdout: int, tagger) -> dict:
    """Where one set's rows go and how its sources are drawn. Held-out set ``n`` (each
    written after the checker's rules were frozen) draws with its own seed and shares no
    source sentence with the first set or an earlier held-out one."""
    if not holdout:
        return {"seed": SEED, "hand": HAND, "out": OUT, "exclude": frozenset(), "prefix": "mc"}
    taken = {it["sentence"] for it in sources(tagger)}
    for n in range(1, holdout):
        taken |= {it["sentence"] for it in sources(tagger, HOLDOUT_SEED + n - 1, frozenset(taken))}
    suffix = "" if holdout == 1 else str(holdout)
    data = ROOT / "eval" / "datasets"
    return {"seed": HOLDOUT_SEED + holdout - 1, "hand": data / f"meaning_claims_holdout{suffix}_hand.jsonl",
            "out": data / f"meaning_claims_holdout{suffix}.jsonl", "exclude": frozenset(taken),
            "prefix": f"mh{suffix}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--holdout", type=int, default=0, metavar="N",
                   help="held-out set N (1: eval/datasets/meaning_claims_holdout.jsonl, 2: …_holdout2.jsonl)")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="write the claim set")
    sub.add_parser("sources", help="print the source sentences (to write the hand claims against)")
    c = sub.add_parser("corpus", help="write the corpus the claim set is checked against")
    c.add_argument("folder")
    args = p.parse_args(argv)
    tagger = default_tagger()
    which = _set(args.holdout, tagger)
    out = which["out"]
    if args.cmd == "sources":
        for it in sources(tagger, which["seed"], which["exclude"]):
            print(it["source"], it["doc"], it["sentence"])
        return 0
    if args.cmd == "build":
        rows = build(which["seed"], which["hand"], which["exclude"], which["prefix"])
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        kinds: dict[str, int] = {}
        for r in rows:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        print(f"{len(rows)} claims in {out.relative_to(ROOT)}: {kinds}")
        return 0
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if x.strip()]
    write_corpus(Path(args.folder), rows)
    print(f"corpus for {len(rows)} claims in {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
