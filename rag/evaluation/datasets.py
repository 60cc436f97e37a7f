"""QA sets (one JSONL format) and the CMRC 2018 loader."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..text.fold import to_script

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QAItem:
    """One question: acceptable answers (any script) and the documents that contain one.
    ``answers == []`` and ``doc_ids == []`` mark a question the corpus cannot answer."""

    id: str
    question: str
    answers: tuple[str, ...]
    doc_ids: tuple[str, ...]
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def answerable(self) -> bool:
        return bool(self.doc_ids)


def load_jsonl(path: Path) -> list[QAItem]:
    """Read a QA set; a bad line raises InputError naming the file, line and field."""
    items: list[QAItem] = []
    seen: set[str] = set()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise InputError(f"QA set {path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"QA set {path} is not valid UTF-8 at byte {exc.start}") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        for key, kind in (("id", str), ("question", str), ("answers", list), ("doc_ids", list)):
            if not isinstance(obj.get(key), kind):
                raise InputError(f"{path}:{n}: field {key!r} must be a {kind.__name__}")
        if obj["id"] in seen:
            raise InputError(f"{path}:{n}: duplicate id {obj['id']!r}")
        if bool(obj["answers"]) != bool(obj["doc_ids"]):
            raise InputError(f"{path}:{n}: 'answers' and 'doc_ids' must both be empty (unanswerable) or both set")
        seen.add(obj["id"])
        extra = {k: v for k, v in obj.items() if k not in ("id", "question", "answers", "doc_ids")}
        items.append(QAItem(obj["id"], obj["question"], tuple(obj["answers"]), tuple(obj["doc_ids"]), extra))
    if not items:
        raise InputError(f"QA set {path} has no questions")
    return items


def load_cmrc(path: Path, traditional: bool = False) -> tuple[dict[str, str], list[QAItem]]:
    """CMRC 2018 (SQuAD format) as a corpus {passage id: text} and a QA set whose gold
    document is each question's own passage. ``traditional`` converts the passages
    (not the questions) with OpenCC s2t."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"CMRC file {path} does not exist; pass --cmrc-file PATH") from exc
    corpus: dict[str, str] = {}
    items: list[QAItem] = []
    skipped: list[str] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            pid = para["id"]
            text = para["context"]
            corpus[pid] = to_script(text, "traditional") if traditional else text
            for qa in para["qas"]:
                if not qa["question"].strip():
                    skipped.append(qa["id"])  # CMRC 2018 trial has two questions without text
                    continue
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                items.append(QAItem(qa["id"], qa["question"], answers, (pid,), {"title": article.get("title", "")}))
    if skipped:
        log.warning("%s: %d questions without text left out (%s)", Path(path).name, len(skipped), ", ".join(skipped))
    return corpus, items


def write_corpus(corpus: dict[str, str], folder: Path) -> None:
    """Write passages as <id>.txt (only files whose content changed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for pid, text in corpus.items():
        p = folder / f"{pid}.txt"
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
