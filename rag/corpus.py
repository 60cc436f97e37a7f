"""Read a folder of .txt/.md articles into Documents (the disk edge of ingestion)."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .records import Document, Source
from .text.clean import clean

log = logging.getLogger(__name__)
SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Skipped:
    """A corpus file that was not indexed, and why."""

    path: str
    reason: str


def decode_strict(data: bytes, name: str) -> str:
    """Decode UTF-8 strictly; raise InputError naming the file and the byte offset."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not valid UTF-8 at byte {exc.start} ({exc.reason}); "
                         "re-save the file as UTF-8") from exc
    return text[1:] if text.startswith("\ufeff") else text  # a BOM is not article text


def document_from_text(doc_id: str, path: str, text: str) -> Document:
    """Clean one article's text into a Document (pure: no disk)."""
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    cleaned = clean(text)
    if not cleaned.sections:
        raise InputError(f"{path}: no article text left after cleaning")
    return Document(
        doc_id=doc_id,
        path=path,
        text=text,
        title=cleaned.title or doc_id,
        sections=tuple(cleaned.sections),
        date=cleaned.date,
        sources=tuple(cleaned.sources),
        authors=tuple(cleaned.authors),
        metadata=tuple(cleaned.metadata),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def corpus_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"corpus folder {folder} does not exist; pass --corpus DIR with .txt/.md files")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise InputError(f"corpus folder {folder} has no .txt or .md files")
    return files


def read_corpus(folder: Path) -> tuple[list[Document], list[Skipped]]:
    """Every readable article in ``folder``; unreadable ones are reported, not fatal."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    seen: dict[str, Path] = {}
    for path in corpus_files(folder):
        doc_id = path.stem
        if doc_id in seen:
            skipped.append(Skipped(str(path), f"duplicate document id {doc_id!r} (also {seen[doc_id].name})"))
            continue
        try:
            text = decode_strict(path.read_bytes(), str(path))
            docs.append(document_from_text(doc_id, str(path), text))
            seen[doc_id] = path
        except InputError as exc:
            skipped.append(Skipped(str(path), str(exc)))
            log.warning("skipped %s", exc)
        except OSError as exc:
            skipped.append(Skipped(str(path), f"{path}: cannot be read ({exc.strerror})"))
    return docs, skipped


def document_to_json(doc: Document) -> dict:
    return {
        "doc_id": doc.doc_id, "path": doc.path, "title": doc.title, "date": doc.date,
        "authors": list(doc.authors), "sources": [vars(s) for s in doc.sources],
        "metadata": [list(kv) for kv in doc.metadata], "sha256": doc.sha256,
        "sections": [{"title": s.title, "kind": s.kind, "truncated": s.truncated,
                      "spans": [list(sp) for sp in s.spans]} for s in doc.sections],
        "text": doc.text,
    }


def document_from_json(obj: dict) -> Document:
    from .records import Section

    return Document(
        doc_id=obj["doc_id"], path=obj["path"], text=obj["text"], title=obj["title"],
        sections=tuple(Section(s["title"], tuple(tuple(sp) for sp in s["spans"]), s["kind"], s["truncated"])
                       for s in obj["sections"]),
        date=obj.get("date", ""), sources=tuple(Source(**s) for s in obj.get("sources", [])),
        authors=tuple(obj.get("authors", [])), metadata=tuple(tuple(kv) for kv in obj.get("metadata", [])),
        sha256=obj.get("sha256", ""),
    )
