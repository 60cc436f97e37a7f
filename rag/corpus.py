"""Read a folder of .txt/.md articles into Documents (the disk edge of ingestion)."""
from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import InputError
from .records import Document, Source
from .settings import Settings
from .text.clean import clean
from .text.sanitize import has_surrogates, sanitize

log = logging.getLogger(__name__)
SUFFIXES = (".txt", ".md")
MAX_DOCUMENT_BYTES = Settings.max_document_bytes  # the default, for callers without settings


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


def text_path(path: Path) -> str:
    """``path`` as text that is always valid UTF-8: bytes of a name that are not UTF-8
    are shown as ``\\xff`` escapes (the path itself can then not be opened with it)."""
    return valid_text(os.fsdecode(path))


def valid_text(text: str) -> str:
    """``text`` with any surrogate-escaped bytes (from a path that is not UTF-8) shown as
    ``\\xff`` escapes, so that it can be written as UTF-8."""
    if not has_surrogates(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no byte was escaped to
        return sanitize(text)


def corpus_files(folder: Path) -> list[Path]:
    """The .txt/.md entries of ``folder`` (not yet checked: see ``read_corpus``)."""
    if not folder.is_dir():
        raise InputError(f"corpus folder {folder} does not exist; pass --corpus DIR with .txt/.md files")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
        raise InputError(f"corpus folder {folder} has no .txt or .md files")
    return files


def read_article(path: Path, root: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of one corpus file, or InputError saying why it cannot be an article.

    Refused: symlinks that lead outside ``root`` (a corpus must not pull in other
    files of the machine), anything but a regular file (a FIFO would block the
    read forever), files over ``max_bytes`` and files with NUL bytes (binary)."""
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a file")
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise InputError(f"{path}: a broken symlink") from None
        if not target.is_relative_to(root.resolve()):
            raise InputError(f"{path}: a symlink to {target}, outside the corpus folder; copy the file in instead")
    try:
        with open(path, "rb", opener=_open_nonblocking) as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise InputError(f"{path}: not a regular file")
            if info.st_size > max_bytes:
                raise InputError(f"{path}: {info.st_size:,} bytes, over the {max_bytes:,}-byte limit for one "
                                 "article; split it or raise max_document_bytes")
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:  # grew while being read
        raise InputError(f"{path}: over the {max_bytes:,}-byte limit for one article")
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(f"{path}: a binary file (NUL byte at {nul}), not article text")
    return data


def _open_nonblocking(path: str, flags: int) -> int:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
    return os.open(path, flags | os.O_NONBLOCK)


@dataclass(frozen=True)
class Unchanged:
    """A file whose text a previous build already cleaned (same path, same sha256): the
    build reuses that build's records for it instead of cleaning it again."""

    doc_id: str
    path: str
    sha256: str


def read_corpus(folder: Path, max_bytes: int = MAX_DOCUMENT_BYTES,
                known: Mapping[str, tuple[str, str]] | None = None) -> tuple[list, list[Skipped]]:
    """Every readable article in ``folder``; the others are reported, not fatal.

    ``known`` (a previous build's documents: id -> (path, sha256 of the text)): a file
    whose text is unchanged comes back as an ``Unchanged`` record, not cleaned again;
    every other one as a Document."""
    known = known or {}
    docs: list[Document] = []
    skipped: list[Skipped] = []
    seen: dict[str, Path] = {}
    for path in corpus_files(folder):
        if has_surrogates(path.name):
            # A name that is not UTF-8 cannot be a document id (ids are written as UTF-8
            # JSON and shown to readers): skip it like any other unusable file.
            shown = text_path(path)
            skipped.append(Skipped(shown, f"{shown}: the file name is not valid UTF-8; rename the file "
                                          "(its text was not read)"))
            log.warning("skipped %s: file name not UTF-8", shown)
            continue
        doc_id = path.stem
        if doc_id in seen:
            skipped.append(Skipped(str(path), f"duplicate document id {doc_id!r} (also {seen[doc_id].name})"))
            continue
        try:
            text = decode_strict(read_article(path, folder, max_bytes), text_path(path))
            prior = known.get(doc_id)
            sha = hashlib.sha256(text.encode("utf-8")).hexdigest() if prior is not None else ""
            if prior is not None and prior == (text_path(path), sha):
                docs.append(Unchanged(doc_id, prior[0], sha))
            else:
                docs.append(document_from_text(doc_id, text_path(path), text))
            seen[doc_id] = path
        except InputError as exc:
            skipped.append(Skipped(text_path(path), valid_text(str(exc))))
            log.warning("skipped %s", exc)
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
