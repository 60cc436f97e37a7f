"""``python -m eval run <claims>.jsonl``: the claim check against a hand-labelled set.

Each line: ``{"id", "claim", "verdict": supported|contradicted|not_found, "kind"}``
(kind: true, figure, entity, unrelated — how the claim was made). Reports verdict
accuracy, the confusion matrix, accuracy per kind, and the count that matters most:
"supported" given to a claim that is altered or unrelated."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from rag.api import RagIndex
from rag.claims.verdict import VERDICTS
from rag.errors import InputError
from rag.text.fold import detect_script


@dataclass(frozen=True)
class ClaimItem:
    id: str
    claim: str
    verdict: str
    kind: str


def is_claim_set(path: Path) -> bool:
    """True when the first record of a JSONL file has a "claim" field."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    return "claim" in json.loads(line)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return False


def load_claims(path: Path) -> list[ClaimItem]:
    items, seen = [], set()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"claim set {path} cannot be read ({exc})") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path}:{n}: not valid JSON ({exc})") from exc
        if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("id", "claim", "verdict")):
            raise InputError(f"{path}:{n}: needs string fields id, claim and verdict")
        if obj["verdict"] not in VERDICTS:
            raise InputError(f"{path}:{n}: verdict {obj['verdict']!r} is not one of {', '.join(VERDICTS)}")
        if obj["id"] in seen:
            raise InputError(f"{path}:{n}: duplicate id {obj['id']!r}")
        seen.add(obj["id"])
        items.append(ClaimItem(obj["id"], obj["claim"], obj["verdict"], str(obj.get("kind", ""))))
    if not items:
        raise InputError(f"claim set {path} has no claims")
    return items


def evaluate_claims(idx: RagIndex, items: list[ClaimItem]) -> dict:
    rows = []
    for it in items:
        c = idx.check_claim(it.claim)
        rows.append({"id": it.id, "claim": it.claim, "kind": it.kind, "script": detect_script(it.claim),
                     "expected": it.verdict, "verdict": c.verdict, "right": c.verdict == it.verdict,
                     "claim_says": list(c.claim_says), "archive_says": list(c.archive_says), "topic": c.topic,
                     "evidence": [{"chunk_id": e.chunk_id, "start": e.start, "end": e.end, "quote": e.quote}
                                  for e in c.evidence]})
    by_kind: dict[str, list[bool]] = defaultdict(list)
    by_script: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r["right"])
        by_script[r["script"]].append(r["right"])
    confusion = Counter((r["expected"], r["verdict"]) for r in rows)
    return {
        "claims": len(rows),
        "accuracy": round(sum(r["right"] for r in rows) / len(rows), 4),
        "supported_but_not_true": sum(1 for r in rows if r["verdict"] == "supported" and r["expected"] != "supported"),
        "by_kind": {k: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)} for k, v in sorted(by_kind.items())},
        "by_script": {k: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)} for k, v in sorted(by_script.items())},
        "confusion": {f"{e} -> {g}": n for (e, g), n in sorted(confusion.items())},
        "rows": rows,
    }


def claims_markdown(report: dict, title: str) -> str:
    lines = [f"# {title}", "", f"{report['claims']} claims · verdict accuracy **{report['accuracy']:.3f}** · "
             f"\"supported\" given to an altered or unrelated claim: **{report['supported_but_not_true']}**", "",
             "| kind | claims | accuracy |", "|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {v['accuracy']:.3f} |" for k, v in report["by_kind"].items()]
    lines += ["", "| script | claims | accuracy |", "|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {v['accuracy']:.3f} |" for k, v in report["by_script"].items()]
    lines += ["", "| expected -> given | claims |", "|---|---|"]
    lines += [f"| {k} | {n} |" for k, n in report["confusion"].items()]
    wrong = [r for r in report["rows"] if not r["right"]]
    if wrong:
        lines += ["", "## Wrong verdicts", ""]
        lines += [f"- `{r['id']}` {r['claim']} — expected {r['expected']}, got {r['verdict']}" for r in wrong]
    return "\n".join(lines) + "\n"
