"""Read a folder of articles into Documents (the disk edge of ingestion): .txt/.md as
they are, .html/.htm, .pdf and .docx through their readers (``rag.ingest``)."""
from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import InputError
from .ingest import SUFFIXES, TEXT_SUFFIXES, Extracted, extract, reader_for
from .records import Document, Source
from .settings import Settings
from .text.clean import clean
from .text.sanitize import has_surrogates, sanitize

log = logging.getLogger(__name__)
MAX_DOCUMENT_BYTES = Settings.max_document_bytes  # the default, for callers without settings
MAX_SOURCE_BYTES = Settings.max_source_bytes


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


def document_from_text(doc_id: str, path: str, text: str, extracted: Extracted | None = None) -> Document:
    """Clean one article's text into a Document (pure: no disk). Given what a format's
    reader extracted, the file's own statements win over what cleaning finds in the text:
    a page's headline, published date, outlet and authors; a PDF's or Word file's date is
    used only when the text gives none (it is when the file was made)."""
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    cleaned = clean(text)
    if not cleaned.sections:
        raise InputError(f"{path}: no article text left after cleaning")
    ex = extracted or Extracted(text, "text")
    metadata = list(cleaned.metadata)
    if ex.outlet:
        metadata = [("outlet", ex.outlet)] + [kv for kv in metadata if kv != ("outlet", ex.outlet)]
    if ex.url:
        metadata.append(("url", ex.url))
    date, date_from = ex.date, ex.kind
    if not date:
        date, date_from = cleaned.date, "text"
    if not date and ex.created:
        date, date_from = ex.created, f"{ex.kind} file properties"
    if date and ex.kind != "text":
        metadata.append(("date_from", date_from))
    return Document(
        doc_id=doc_id,
        path=path,
        text=text,
        title=ex.title or cleaned.title or doc_id,
        sections=tuple(cleaned.sections),
        date=date,
        sources=tuple(cleaned.sources),
        authors=tuple(ex.authors or cleaned.authors),
        metadata=tuple(metadata),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        file_format=ex.kind,
        pages=ex.pages,
    )


def document_from_file(path: Path, data: bytes, shown: str, max_text_bytes: int = MAX_DOCUMENT_BYTES) -> Document:
    """The Document of one corpus file's bytes, by its format (pure: no disk). The text
    extracted from a .html/.pdf/.docx file must fit ``max_text_bytes`` as a text file must."""
    if reader_for(path) is None:
        return document_from_text(path.stem, shown, decode_strict(data, shown))
    found = extract(path, data, shown)
    size = len(found.text.encode("utf-8"))
    if size > max_text_bytes:
        raise InputError(f"{shown}: {size:,} bytes of text, over the {max_text_bytes:,}-byte limit for one article; "
                         "split it or raise max_document_bytes")
    return document_from_text(path.stem, shown, found.text, found)


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
    """The article files of ``folder`` by suffix (not yet checked: see ``read_corpus``)."""
    if not folder.is_dir():
        raise InputError(f"corpus folder {folder} does not exist; pass --corpus DIR with articles "
                         f"({' '.join(SUFFIXES)})")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
        raise InputError(f"corpus folder {folder} has no articles ({' '.join(SUFFIXES)} files)")
    return files


def read_article(path: Path, root: Path, max_bytes: int = MAX_DOCUMENT_BYTES,
                 max_source_bytes: int = MAX_SOURCE_BYTES) -> bytes:
    """The bytes of one corpus file, or InputError saying why it cannot be an article.

    Refused: symlinks that lead outside ``root`` (a corpus must not pull in other
    files of the machine), anything but a regular file (a FIFO would block the
    read forever), text files over ``max_bytes`` and with NUL bytes (binary), and
    .html/.pdf/.docx files over ``max_source_bytes``."""
    binary = path.suffix.lower() not in TEXT_SUFFIXES
    if binary:
        max_bytes = max_source_bytes
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
                                 f"article; split it or raise {'max_source_bytes' if binary else 'max_document_bytes'}")
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:  # grew while being read
        raise InputError(f"{path}: over the {max_bytes:,}-byte limit for one article")
    nul = -1 if binary else data.find(b"\0")
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
                known: Mapping[str, tuple[str, str]] | None = None,
                max_source_bytes: int = MAX_SOURCE_BYTES) -> tuple[list, list[Skipped]]:
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
            log.info("skipped %s: file name not UTF-8", shown)
            continue
        doc_id = path.stem
        if doc_id in seen:
            skipped.append(Skipped(str(path), f"duplicate document id {doc_id!r} (also {seen[doc_id].name})"))
            continue
        try:
            data = read_article(path, folder, max_bytes, max_source_bytes)
            shown, prior = text_path(path), known.get(doc_id)
            if reader_for(path) is None:
                text = decode_strict(data, shown)
                # Compared before cleaning: an unchanged text file is not cleaned again.
                sha = hashlib.sha256(text.encode("utf-8")).hexdigest() if prior is not None else ""
                if prior == (shown, sha):
                    docs.append(Unchanged(doc_id, prior[0], sha))
                    seen[doc_id] = path
                    continue
                doc = document_from_text(doc_id, shown, text)
            else:  # a page, PDF or Word file is compared by the text extracted from it
                doc = document_from_file(path, data, shown, max_bytes)
            docs.append(Unchanged(doc_id, prior[0], doc.sha256) if prior == (doc.path, doc.sha256) else doc)
            seen[doc_id] = path
        except InputError as exc:
            skipped.append(Skipped(text_path(path), valid_text(str(exc))))
            log.info("skipped %s", exc)
    return docs, skipped


def document_to_json(doc: Document) -> dict:
    return {
        "doc_id": doc.doc_id, "path": doc.path, "title": doc.title, "date": doc.date,
        "authors": list(doc.authors), "sources": [vars(s) for s in doc.sources],
        "metadata": [list(kv) for kv in doc.metadata], "sha256": doc.sha256,
        "sections": [{"title": s.title, "kind": s.kind, "truncated": s.truncated,
                      "spans": [list(sp) for sp in s.spans]} for s in doc.sections],
        "text": doc.text, "file_format": doc.file_format, "pages": [list(p) for p in doc.pages],
    }


def document_from_json(obj: dict) -> Document:
    from .records import Section

    return Document(
        doc_id=obj["doc_id"], path=obj["path"], text=obj["text"], title=obj["title"],
        sections=tuple(Section(s["title"], tuple(tuple(sp) for sp in s["spans"]), s["kind"], s["truncated"])
                       for s in obj["sections"]),
        date=obj.get("date", ""), sources=tuple(Source(**s) for s in obj.get("sources", [])),
        authors=tuple(obj.get("authors", [])), metadata=tuple(tuple(kv) for kv in obj.get("metadata", [])),
        sha256=obj.get("sha256", ""), file_format=obj.get("file_format", "text"),
        pages=tuple(tuple(p) for p in obj.get("pages", [])),
    )
