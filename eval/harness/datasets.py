"""QA sets (one JSONL format) and the CMRC 2018 loader."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InputError
from rag.text.fold import to_script

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
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{n}: each line must be a JSON object with id, question, answers and doc_ids, "
                             f"not a {type(obj).__name__}")
        for key, kind in (("id", str), ("question", str), ("answers", list), ("doc_ids", list)):
            if not isinstance(obj.get(key), kind):
                raise InputError(f"{path}:{n}: field {key!r} must be a {kind.__name__}")
        for key in ("answers", "doc_ids"):
            if not all(isinstance(x, str) for x in obj[key]):
                raise InputError(f"{path}:{n}: every entry of {key!r} must be a string")
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


_SAFE_ID = re.compile(r"[^\W][\w\-.]{0,119}", re.UNICODE)


def safe_id(pid: object, path: Path) -> str:
    """A passage id that can name its corpus file: letters, digits, ``_``, ``-`` and ``.``,
    not starting with a dot; anything else (``../x``, ``/etc/x``, a control character)
    is refused. Ids from a data file are names, never paths."""
    if not isinstance(pid, str) or not _SAFE_ID.fullmatch(pid):
        raise InputError(f"{path}: passage id {str(pid)[:60]!r} cannot name a corpus file (only letters, digits, "
                         "_, - and ., not starting with a dot); fix the data file")
    return pid


def load_cmrc(path: Path, traditional: bool = False) -> tuple[dict[str, str], list[QAItem]]:
    """CMRC 2018 (SQuAD format) as a corpus {passage id: text} and a QA set whose gold
    document is each question's own passage. ``traditional`` converts the passages
    (not the questions) with OpenCC s2t. A file of another shape, or with passage ids
    that are not plain names, is refused with the place it went wrong."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"CMRC file {path} does not exist; pass --cmrc-file PATH") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"CMRC file {path} cannot be read as UTF-8 JSON ({exc})") from exc
    corpus: dict[str, str] = {}
    items: list[QAItem] = []
    skipped: list[str] = []
    try:
        for ai, article in enumerate(data["data"]):
            for pi, para in enumerate(article["paragraphs"]):
                # CMRC 2018 train names no passage: its place in the file does.
                pid = safe_id(para["id"], path) if "id" in para else f"{Path(path).stem}_{ai}_{pi}"
                text = para["context"]
                if not isinstance(text, str):
                    raise TypeError(f"passage {pid}: context is not a string")
                corpus[pid] = to_script(text, "traditional") if traditional else text
                for qa in para["qas"]:
                    answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                    if not all(isinstance(a, str) for a in answers) or not isinstance(qa["question"], str):
                        raise TypeError(f"question {qa.get('id')!r}: the question and answers must be strings")
                    if not qa["question"].strip():
                        skipped.append(str(qa["id"]))  # CMRC 2018 trial has two questions without text
                        continue
                    items.append(QAItem(str(qa["id"]), qa["question"], answers, (pid,),
                                        {"title": str(article.get("title", ""))}))
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"CMRC file {path} is not in SQuAD format (data[].paragraphs[].id, context, qas[].id, "
                         f"question, answers[].text): {exc}") from exc
    if skipped:
        log.warning("%s: %d questions without text left out (%s)", Path(path).name, len(skipped), ", ".join(skipped))
    return corpus, items


def write_corpus(corpus: dict[str, str], folder: Path) -> None:
    """Write passages as <id>.txt inside ``folder`` (only files whose content changed)."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for pid, text in corpus.items():
        p = folder / f"{pid}.txt"
        if p.resolve().parent != root:  # never outside the folder, whatever the id
            raise InputError(f"passage id {pid[:60]!r} would be written outside {folder}; fix the data file")
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
