"""What a new build reuses from the previous one: unchanged documents' records, vectors and
keyword postings, and the embedding cache."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import stores
from ..bm25 import BM25Index
from ..corpus import document_from_json, text_path
from ..embedding.base import Embedder, vectors_compatible
from ..errors import IndexLoadError
from ..records import Chunk, Document
from ..settings import Settings
from .manifest import FORMAT_VERSION, checked_bytes, chunk_settings, normalization, store_info

log = logging.getLogger(__name__)


def cache_key(fingerprint: str, text: str) -> str:
    return hashlib.sha256(f"{fingerprint}\0{text}".encode("utf-8")).hexdigest()


def read_cache(folder: Path, manifest: dict | None) -> tuple[list[str], np.ndarray] | None:
    """The previous build's embedding cache (one key and vector per chunk row), or None
    unless the cache files match their checksums in its manifest (a damaged cache must
    not slip wrong vectors into the next build)."""
    sums = (manifest or {}).get("cache_files", {})
    if not sums:  # no previous index, or one from an older format: nothing to trust
        return None
    try:
        blobs = {name: (folder / name).read_bytes() for name in ("embed_cache_keys.json", "embed_cache.npy")}
        if any(hashlib.sha256(blobs[n]).hexdigest() != sums.get(n) for n in blobs):
            log.warning("not reusing the vectors in %s: the embedding cache does not match its checksums", folder)
            return None
        keys = json.loads(blobs["embed_cache_keys.json"].decode("utf-8"))
        arr = np.load(io.BytesIO(blobs["embed_cache.npy"]), allow_pickle=False)
        if not isinstance(keys, list) or len(keys) != len(arr) or arr.ndim != 2:
            return None
        return keys, arr
    except (OSError, ValueError):
        return None


_FIELDS = {name: re.compile(b'"' + name.encode() + rb'": ("(?:[^"\\]|\\.)*")') for name in ("doc_id", "path")}


def _field_of(line: bytes, name: str) -> str:
    """The string field ``name`` (doc_id or path) of one JSON line of documents.jsonl or
    chunks.jsonl, without parsing the rest of it (the article's text is most of the line).
    Our records put these fields before any text, so the first match is the field."""
    m = _FIELDS[name].search(line)
    if m is None:
        raise ValueError(f"a record without {name}")
    return json.loads(m.group(1))


def _doc_id_of(line: bytes) -> str:
    return _field_of(line, "doc_id")


@dataclass
class Previous:
    """What a build reuses of the build it replaces: unchanged documents keep their
    chunks, vectors, keyword postings and JSON lines without being cleaned, embedded,
    tokenized or even parsed again (parsing 100k chunk records cost 5 s of an add)."""

    manifest: dict
    keys: list[str]
    matrix: np.ndarray
    bm25: BM25Index
    document_lines: dict[str, bytes]
    chunk_lines: list[bytes]
    chunk_docs: list[str]  # the document of each row
    _documents: dict[str, Document] = field(default_factory=dict)

    @property
    def known(self) -> dict[str, tuple[str, str]]:
        """doc id -> (path, sha256) of every document of the previous build."""
        sums = self.manifest.get("corpus", {}).get("documents", {})
        paths = self.manifest.get("corpus", {}).get("paths") or {  # builds before paths were recorded
            d: _field_of(line, "path") for d, line in self.document_lines.items()}
        return {d: (paths.get(d, ""), sums.get(d, "")) for d in self.document_lines}

    def document(self, doc_id: str) -> Document:
        if doc_id not in self._documents:
            self._documents[doc_id] = document_from_json(json.loads(self.document_lines[doc_id]))
        return self._documents[doc_id]

    def chunk(self, row: int) -> Chunk:
        """Row ``row``'s chunk, parsed and checked against its document's text."""
        return parse_chunks(self.chunk_lines[row], {self.chunk_docs[row]: self.document(self.chunk_docs[row])})[0]


def reusable(previous: dict | None, settings: Settings, embedder: Embedder) -> bool:
    """Whether the previous build's chunks and vectors are what this build would make."""
    return (previous is not None and previous.get("format_version") == FORMAT_VERSION
            and previous.get("model", {}).get("fingerprint") == embedder.fingerprint
            and vectors_compatible(previous.get("model", {}), embedder)
            and previous.get("chunking") == chunk_settings(settings)
            and previous.get("normalization") == normalization(settings))


# The files ``previous_build`` reads (and checks against their checksums).
RECORD_FILES = ("documents.jsonl", "chunks.jsonl", "bm25.npz", "bm25_terms.json")


def previous_build(folder: Path, manifest: dict) -> Previous | None:
    """The previous build's records, checked against its manifest; None if anything is
    missing or damaged (the build then starts from scratch, reusing only valid vectors)."""
    cache = read_cache(folder, manifest)
    files = manifest.get("files", {})
    if cache is None or not set(RECORD_FILES) <= set(files):
        return None
    try:
        blobs = {n: checked_bytes(folder, n, files[n]) for n in RECORD_FILES}
        doc_lines = blobs["documents.jsonl"].splitlines(keepends=True)
        chunk_lines = blobs["chunks.jsonl"].splitlines(keepends=True)
        documents = {_doc_id_of(line): line for line in doc_lines}
        chunk_docs = [_doc_id_of(line) for line in chunk_lines]
        bm25 = BM25Index.from_bytes(blobs["bm25.npz"], blobs["bm25_terms.json"])
    except (IndexLoadError, ValueError, KeyError, TypeError, IndexError, OSError, zipfile.BadZipFile) as exc:
        log.warning("not reusing the previous build in %s: %s", folder, exc)
        return None
    keys, matrix = cache
    if not (len(keys) == len(chunk_lines) == bm25.n_docs) or len(documents) != len(doc_lines) \
            or set(chunk_docs) - set(documents) or set(documents) != set(manifest["corpus"].get("documents", {})):
        return None
    return Previous(manifest, keys, matrix, bm25, documents, chunk_lines, chunk_docs)


def parse_documents(documents_jsonl: bytes) -> dict[str, Document]:
    docs = {}
    for line in io.StringIO(documents_jsonl.decode("utf-8")):
        d = document_from_json(json.loads(line))
        docs[d.doc_id] = d
    return docs


def parse_chunks(chunks_jsonl: bytes, docs: dict[str, Document]) -> list[Chunk]:
    chunks = []
    for line in io.StringIO(chunks_jsonl.decode("utf-8")):
        o = json.loads(line)
        c = Chunk(o["chunk_id"], o["doc_id"], o["section"], o["start"], o["end"], o["text"],
                  tuple(map(tuple, o["sentences"])), o["kind"], o["truncated"])
        doc = docs.get(c.doc_id)
        if doc is None or doc.text[c.start:c.end] != c.text:
            raise ValueError(f"chunk {c.chunk_id} does not match the text of its document")
        chunks.append(c)
    return chunks


def owned_store(previous: dict | None, out: Path) -> dict:
    """The previous build's store section, if that build's collection belongs to this
    folder. A copy of an index folder (``cp -r index backup``) names the original's
    collection: an update of the copy gets a collection of its own and never changes or
    drops the original's."""
    info = store_info(previous)
    folder = info.get("folder")
    external = info.get("kind") in stores.kinds() and stores.backend(info["kind"]).external
    if external and folder is not None and folder != text_path(out):
        log.warning("index %s is a copy of %s: this build gets its own %s store and leaves %s's to that index",
                    out, folder, info.get("kind"), folder)
        return {"kind": f"{info.get('kind')}-of-another-folder"}
    return info


def same_store(previous: dict, info: dict, settings: Settings) -> bool:
    """Whether ``settings`` build into the store ``info`` (the previous build's own, see
    ``owned_store``) as it stands, so an unchanged corpus is up to date."""
    if settings.store != info.get("kind"):
        return False
    return stores.backend(settings.store).same(previous, info, settings)
