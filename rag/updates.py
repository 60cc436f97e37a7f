"""Adding and removing documents: the corpus folder changes, then the index follows.

The corpus folder stays the source of truth, so that ``rag index`` later agrees with
``rag add`` and ``rag remove``: an added file is copied into it, and a removed
document's file is moved out of it, to a folder beside the index
(``.<index>.removed/``; never deleted). The index is then brought up to date by the same
build as ``rag index``, which reuses every unchanged document's chunks, vectors and
keyword postings and swaps the new build in whole.

Nothing touches the corpus before the index's build lock is held, and every change is
written to the update journal (``rag.journal``) before it is made: a build that fails
puts the corpus back at once, and an update that was killed is rolled back by the next
build or update of the index.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .citations import unknown_document
from .corpus import document_from_file, read_article, text_path
from .ingest import SUFFIXES
from .embedding.base import Embedder
from .errors import InputError
from .index import BuildReport, as_built, build_locked, corpus_folder, locked, read_documents, read_manifest
from .journal import Journal, removed_folder
from .settings import Settings

log = logging.getLogger(__name__)


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
    corpus folder and its manifest. The corpus is found from the index (``corpus_folder``),
    never from the current folder."""
    manifest = read_manifest(index)
    found = corpus_folder(index, manifest)
    # Keep the corpus as it was named when that still leads to the same folder (document
    # paths stay as they were); else the found, absolute one.
    named = Path(str(manifest.get("corpus", {}).get("path", "")))
    corpus = named if str(named) and named.is_dir() and os.path.samefile(named, found) else found
    return as_built(settings, manifest, Path(os.path.realpath(index)).parent), corpus, manifest


def _existing(corpus: Path, doc_id: str) -> list[Path]:
    """The corpus files that are document ``doc_id``: any case of any article suffix (a
    build reads ``A.TXT`` or ``A.pdf`` as document ``A`` too, so it must be found, replaced or
    refused alike)."""
    try:
        return sorted(p for p in corpus.iterdir() if p.stem == doc_id and p.suffix.lower() in SUFFIXES)
    except OSError as exc:
        raise InputError(f"the corpus folder {text_path(corpus)} cannot be listed ({exc.strerror})") from exc


def _aside_target(folder: Path, path: Path) -> Path:
    """A free name in ``folder`` for the file ``path`` moved aside."""
    target = folder / path.name
    if target.exists() or target.is_symlink():
        target = folder / f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}{path.suffix}"
    return target


def _removed_folder(target: Path) -> Path:
    folder = removed_folder(target)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{text_path(folder)} is a file, but removed articles are kept in a folder of that name; "
                         "move the file away and try again")
    return folder


def add_documents(index: Path, files: Sequence[Path], settings: Settings, embedder: Embedder,
                  replace: bool = False, progress: Callable[[int, int], None] | None = None) -> UpdateReport:
    """Copy ``files`` into the index's corpus folder and update the index.

    Every file is checked first (a readable article that a build would index: .txt/.md in
    UTF-8, or .html/.htm, .pdf, .docx with article text in it); a
    document id that the corpus already holds with other text is refused unless
    ``replace``, in which case the previous file is moved beside the index (``.<index>.removed/``)."""
    settings, corpus, _ = settings_for(index, settings)
    if not files:
        raise InputError(f"name at least one article file to add ({' '.join(SUFFIXES)})")
    plan: list[tuple[Path, str, bytes]] = []
    ids: set[str] = set()
    for f in files:
        f = Path(f)
        if f.suffix.lower() not in SUFFIXES:
            raise InputError(f"{text_path(f)}: not a format this product reads; articles are {' '.join(SUFFIXES)} files")
        if not f.is_file():
            raise InputError(f"{text_path(f)} does not exist or is not a file")
        data = read_article(f, f.parent, settings.max_document_bytes, settings.max_source_bytes)
        document_from_file(f, data, text_path(f), settings.max_document_bytes)  # refuses what a build would skip
        if f.stem in ids:
            raise InputError(f"two of the files are named {f.stem!r}: a document id is its file name, so rename one")
        ids.add(f.stem)
        plan.append((f, f.stem, data))
    added, unchanged, moved = [], [], []
    # Nothing in the corpus changes before the lock: another process's build must never
    # see a file that a refused update moved.
    with locked(index) as target:
        aside = _removed_folder(target)
        with Journal(target) as journal:  # the corpus changes and the build: all or nothing
            for f, doc_id, data in plan:
                present = _existing(corpus, doc_id)
                want = corpus / f"{doc_id}{f.suffix.lower()}"
                if len(present) == 1 and present[0].read_bytes() == data:
                    unchanged.append(doc_id)
                    continue
                if present and not replace:
                    raise InputError(f"the corpus already has a document {doc_id!r} ({text_path(present[0])}) with "
                                     "other text; pass --replace to replace it (the old file is kept in "
                                     f"{text_path(aside)}) or rename the new file")
                for p in present:
                    to = _aside_target(aside, p)
                    journal.move(p, to)
                    moved.append(to)
                # no .txt suffix: a build ignores it
                journal.put(want, data, corpus / f".{doc_id}.adding-{os.getpid()}")
                added.append(doc_id)
            report = build_locked(corpus, target, settings, embedder, progress)
    return UpdateReport(tuple(added), tuple(unchanged), (), tuple(text_path(a) for a in moved), report)


def remove_documents(index: Path, doc_ids: Sequence[str], settings: Settings, embedder: Embedder,
                     progress: Callable[[int, int], None] | None = None) -> UpdateReport:
    """Move the documents' files out of the corpus (to ``.<index>.removed/`` beside the index) and update the index."""
    settings, corpus, manifest = settings_for(index, settings)
    known = manifest.get("corpus", {}).get("documents", {})
    if not doc_ids:
        raise InputError("name at least one document id to remove (list them with: rag docs)")
    missing = [d for d in doc_ids if d not in known]
    if missing:
        raise unknown_document(missing[0], read_documents(index, manifest))
    if set(known) <= set(doc_ids):
        raise InputError("that would remove every document of the index; build a new index instead")
    moved: list[Path] = []
    with locked(index) as target:
        aside = _removed_folder(target)
        with Journal(target) as journal:  # the corpus changes and the build: all or nothing
            for d in dict.fromkeys(doc_ids):
                present = _existing(corpus, d)
                if not present:
                    log.warning("the file of %s is no longer in %s", d, corpus)
                for p in present:
                    to = _aside_target(aside, p)
                    journal.move(p, to)
                    moved.append(to)
            report = build_locked(corpus, target, settings, embedder, progress)
    return UpdateReport((), (), tuple(dict.fromkeys(doc_ids)), tuple(text_path(a) for a in moved), report)


def restore_hint(index: Path) -> str:
    folder = removed_folder(Path(os.path.realpath(index)))
    return f"removed files are kept in {text_path(folder)}; move one back into the corpus and run rag index to restore it"
