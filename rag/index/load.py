"""Load an index folder for searching, checked against its manifest."""
from __future__ import annotations

import functools
import logging
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..bm25 import BM25Index
from ..embedding.base import Embedder
from ..errors import IndexLoadError
from ..records import Chunk, Document
from ..settings import Settings
from ..stores.base import Store
from .. import stores
from .manifest import checked_bytes, manifest_bytes, parse_manifest, store_info, check_matches
from .previous import RECORD_FILES, parse_chunks, parse_documents

log = logging.getLogger(__name__)


def read_documents(folder: Path, manifest: dict) -> dict[str, Document]:
    """The documents of an index (checked against the manifest), without its vectors."""
    digest = manifest.get("files", {}).get("documents.jsonl", "")
    try:
        return parse_documents(checked_bytes(folder, "documents.jsonl", digest))
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexLoadError(f"index file {folder}/documents.jsonl cannot be read ({exc}); "
                             f"rebuild with: rag index --out {folder}") from exc


@dataclass
class LoadedIndex:
    """One complete build of an index, read from disk and checked."""

    path: Path
    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: object  # faiss.Index (None when the vectors live in Milvus)
    bm25: BM25Index  # the keyword statistics the answer step weighs words with (idf)
    row_of: dict[str, int]
    chunk_by_id: dict[str, Chunk] = field(default_factory=dict)
    store: Store | None = None  # dense and keyword search (rag.stores)

    @property
    def build_id(self) -> str:
        """Identifies this build: the manifest's own checksum."""
        return self.manifest.get("manifest_sha256", "")

    @functools.cached_property
    def chunk_counts(self) -> dict[str, int]:
        """How many chunks each document has."""
        counts: dict[str, int] = {}
        for c in self.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        return counts

    @functools.cached_property
    def article_idf(self) -> Callable[[str], float]:
        """idf with a word's frequency counted in articles, not chunks (``BM25Index.grouped_idf``)."""
        article = {d: i for i, d in enumerate(self.documents)}
        # The keyword index's rows are the chunks, in order (as ``row_of``); a chunk whose
        # article is missing stands alone.
        group = [article.get(c.doc_id, len(article) + row) for row, c in enumerate(self.chunks)]
        return self.bm25.grouped_idf(np.array(group, dtype=np.int64))


class _Changed(Exception):
    """The index was swapped while being read: read it again."""


LOAD_ATTEMPTS = 5


def load_index(folder: Path, settings: Settings, embedder: Embedder | None = None) -> LoadedIndex:
    """Open an index, checking format, checksums and that it matches the settings/embedder.

    Every file is read once and checked against the manifest that was read first,
    so a build swapped in meanwhile can never mix with the previous one: the read
    starts over (a few times) and then fails with IndexLoadError."""
    folder = Path(folder)
    for attempt in range(LOAD_ATTEMPTS):
        try:
            return _load_once(folder, settings, embedder)
        except _Changed:
            log.info("index %s changed while being read; reading it again", folder)
            time.sleep(0.05 * (attempt + 1))
    raise IndexLoadError(f"index {folder} kept changing while being read (is a build swapping it in "
                         "over and over?); try again when the build is done")


def _load_once(folder: Path, settings: Settings, embedder: Embedder | None) -> LoadedIndex:
    mpath = folder / "manifest.json"
    mbytes = manifest_bytes(folder)

    def changed() -> bool:
        try:
            return mpath.read_bytes() != mbytes
        except OSError:
            return True

    try:
        manifest = parse_manifest(mbytes, mpath, folder)
    except IndexLoadError:
        if changed():
            raise _Changed() from None
        raise
    check_matches(folder, manifest, settings, embedder)
    files = manifest.get("files", {})
    try:
        store_kind = stores.backend(store_info(manifest).get("kind", "faiss"))
    except ValueError as exc:
        raise IndexLoadError(f"{mpath}: {exc}; rebuild with: rag index --out {folder}") from None
    required = set(RECORD_FILES) | set(store_kind.folder_files)
    if not required <= set(files):
        raise IndexLoadError(f"{mpath} lists no checksum for {', '.join(sorted(required - set(files)))}; "
                             f"rebuild with: rag index --out {folder}")
    blobs: dict[str, bytes] = {}
    for name in sorted(required):
        try:
            blobs[name] = checked_bytes(folder, name, files[name])
        except IndexLoadError:
            if changed():  # a new build was swapped in meanwhile: not damage
                raise _Changed() from None
            raise
    # From here on only checked bytes are parsed. A parse error means the manifest and
    # the files were edited together: refuse, naming the file.
    current = "documents.jsonl"
    try:
        docs = parse_documents(blobs["documents.jsonl"])
        current = "chunks.jsonl"
        chunks = parse_chunks(blobs["chunks.jsonl"], docs)
        current = "bm25.npz or bm25_terms.json"  # the keyword index is the pair
        bm25 = BM25Index.from_bytes(blobs["bm25.npz"], blobs["bm25_terms.json"])
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise IndexLoadError(f"index file {folder}/{current} cannot be read ({exc}); "
                             f"rebuild with: rag index --out {folder}") from exc
    if bm25.n_docs != len(chunks):
        raise IndexLoadError(f"index {folder} is inconsistent: {len(chunks)} chunks, {bm25.n_docs} keyword rows; "
                             f"rebuild with: rag index --out {folder}")
    row_of = {c.chunk_id: i for i, c in enumerate(chunks)}
    store = store_kind.open(manifest, folder, settings, blobs, chunks, bm25, row_of)
    index = getattr(store, "vectors", None)  # the FAISS index, for the benches and tests that read it
    return LoadedIndex(folder, manifest, docs, chunks, index, bm25, row_of, {c.chunk_id: c for c in chunks}, store)
