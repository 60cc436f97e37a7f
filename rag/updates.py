"""Adding and removing documents: the corpus folder changes, then the index follows.

The corpus folder stays the source of truth, so that ``rag index`` later agrees with
``rag add`` and ``rag remove``: an added file is copied into it, and a removed
document's file is moved to ``<corpus>/.removed/`` (never deleted). The index is then
brought up to date by the same build as ``rag index``, which reuses every unchanged
document's chunks, vectors and keyword postings and swaps the new build in whole. If
the build fails, the corpus folder is put back as it was.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .citations import unknown_document
from .corpus import SUFFIXES, decode_strict, document_from_text, read_article, text_path
from .embedding.base import Embedder
from .errors import InputError
from .index_store import BuildReport, build_index, read_documents, read_manifest, store_settings
from .settings import Settings

log = logging.getLogger(__name__)
REMOVED = ".removed"  # where removed documents' files go, inside the corpus folder (not read by builds)


@dataclass(frozen=True)
class UpdateReport:
    """What an add or remove changed: document ids, where files went, and the build."""

    added: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    moved_to: tuple[str, ...]
    build: BuildReport


def settings_for(index: Path, settings: Settings) -> tuple[Settings, Path, dict]:
    """The settings that update ``index`` the way it was built (store, chunking), its
    corpus folder and its manifest."""
    manifest = read_manifest(index)
    corpus = Path(manifest.get("corpus", {}).get("path", ""))
    if not str(corpus) or not corpus.is_dir():
        raise InputError(f"index {index} was built from the corpus folder {str(corpus)!r}, which is not there; "
                         f"run rag index --corpus FOLDER --out {index} instead")
    chunking = manifest.get("chunking", {})
    changes = store_settings(manifest)
    if isinstance(chunking.get("size"), int):
        changes["chunk_size"] = chunking["size"]
    if isinstance(chunking.get("overlap_sentences"), int):
        changes["chunk_overlap_sentences"] = chunking["overlap_sentences"]
    threshold = manifest.get("vector_index", {}).get("threshold")
    if isinstance(threshold, int):
        changes["ann_threshold"] = threshold
    return settings.with_(**changes).validate(), corpus, manifest


def _existing(corpus: Path, doc_id: str) -> list[Path]:
    return [corpus / f"{doc_id}{s}" for s in SUFFIXES if (corpus / f"{doc_id}{s}").exists()]


def _aside(corpus: Path, path: Path) -> Path:
    """Move ``path`` into ``<corpus>/.removed/`` under a name that is free; return where."""
    folder = corpus / REMOVED
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}{path.suffix}"
    os.rename(path, target)
    return target


def add_documents(index: Path, files: Sequence[Path], settings: Settings, embedder: Embedder,
                  replace: bool = False, progress: Callable[[int, int], None] | None = None) -> UpdateReport:
    """Copy ``files`` into the index's corpus folder and update the index.

    Every file is checked first (a readable .txt/.md article in UTF-8, cleanable); a
    document id that the corpus already holds with other text is refused unless
    ``replace``, in which case the previous file goes to ``.removed/``."""
    settings, corpus, _ = settings_for(index, settings)
    if not files:
        raise InputError("name at least one .txt or .md file to add")
    plan: list[tuple[Path, str, bytes]] = []
    ids: set[str] = set()
    for f in files:
        f = Path(f)
        if f.suffix.lower() not in SUFFIXES:
            raise InputError(f"{text_path(f)} is not a .txt or .md file; only articles in those formats are indexed")
        if not f.is_file():
            raise InputError(f"{text_path(f)} does not exist or is not a file")
        data = read_article(f, f.parent, settings.max_document_bytes)
        document_from_text(f.stem, text_path(f), decode_strict(data, text_path(f)))  # refuses what a build would skip
        if f.stem in ids:
            raise InputError(f"two of the files are named {f.stem!r}: a document id is its file name, so rename one")
        ids.add(f.stem)
        plan.append((f, f.stem, data))
    added, unchanged, moved, put = [], [], [], []
    try:
        for f, doc_id, data in plan:
            present = _existing(corpus, doc_id)
            target = corpus / f"{doc_id}{f.suffix.lower()}"
            if [target] == present and target.read_bytes() == data:
                unchanged.append(doc_id)
                continue
            if present and not replace:
                raise InputError(f"the corpus already has a document {doc_id!r} ({text_path(present[0])}) with other "
                                 "text; pass --replace to replace it (the old file is kept in "
                                 f"{text_path(corpus / REMOVED)}) or rename the new file")
            for p in present:
                moved.append((p, _aside(corpus, p)))
            tmp = corpus / f".{doc_id}.adding-{os.getpid()}"  # no .txt suffix: a build ignores it
            tmp.write_bytes(data)
            os.replace(tmp, target)
            put.append(target)
            added.append(doc_id)
        report = build_index(corpus, index, settings, embedder, progress=progress)
    except BaseException:
        for p in put:  # the corpus goes back to what it was
            p.unlink(missing_ok=True)
        for original, aside in reversed(moved):
            os.rename(aside, original)
        raise
    return UpdateReport(tuple(added), tuple(unchanged), (), tuple(text_path(a) for _, a in moved), report)


def remove_documents(index: Path, doc_ids: Sequence[str], settings: Settings, embedder: Embedder,
                     progress: Callable[[int, int], None] | None = None) -> UpdateReport:
    """Move the documents' files to ``<corpus>/.removed/`` and update the index."""
    settings, corpus, manifest = settings_for(index, settings)
    known = manifest.get("corpus", {}).get("documents", {})
    if not doc_ids:
        raise InputError("name at least one document id to remove (list them with: rag docs)")
    missing = [d for d in doc_ids if d not in known]
    if missing:
        raise unknown_document(missing[0], read_documents(index, manifest))
    if set(known) <= set(doc_ids):
        raise InputError("that would remove every document of the index; build a new index instead")
    moved: list[tuple[Path, Path]] = []
    try:
        for d in dict.fromkeys(doc_ids):
            present = _existing(corpus, d)
            if not present:
                log.warning("the file of %s is no longer in %s", d, corpus)
            for p in present:
                moved.append((p, _aside(corpus, p)))
        report = build_index(corpus, index, settings, embedder, progress=progress)
    except BaseException:
        for original, aside in reversed(moved):
            os.rename(aside, original)
        raise
    return UpdateReport((), (), tuple(dict.fromkeys(doc_ids)), tuple(text_path(a) for _, a in moved), report)


def restore_hint(corpus: Path) -> str:
    return f"removed files are kept in {text_path(corpus / REMOVED)}; move one back and run rag index to restore it"

