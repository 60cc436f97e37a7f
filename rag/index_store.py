"""The index directory: build it atomically, describe it in a manifest, load and check it.

Layout of an index folder (all readable; no pickle anywhere):
  manifest.json      format version, model, normalization, chunking, counts, checksums
  documents.jsonl    one Document per line, original text included
  chunks.jsonl       one Chunk per line
  vectors.faiss      the FAISS index of chunk vectors (row i = chunk i)
  bm25.npz, bm25_terms.json   the keyword index over jieba tokens of folded text
  embed_cache.npy, embed_cache_keys.json   vectors by hash of (model, passage text)
"""
from __future__ import annotations

import ctypes
import dataclasses
import errno
import fcntl
import functools
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import vectors as vec
from .bm25 import BM25Index
from .corpus import Skipped, Unchanged, document_from_json, document_to_json, read_corpus, text_path
from .embedding.base import Embedder, vectors_compatible
from .checksums import sha256_file
from .errors import IndexLoadError, InputError
from .journal import recover as recover_update
from .records import Chunk, Document
from .settings import Settings
from .stores.base import Store, absolute_store_uri
from .stores.faiss_store import FaissStore
from .text.chunking import chunk_document, match_text
from .text.fold import fold
from .text.tokenize import tokenize

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: the manifest carries its own checksum
PRODUCT = "rag-zh-news index"  # what a manifest says to claim its folder as one of ours
# Every file a build writes. A build replaces its output folder whole, so it only ever
# replaces (or deletes) a folder that holds nothing but these.
INDEX_FILES = frozenset({"manifest.json", "documents.jsonl", "chunks.jsonl", "vectors.faiss", "bm25.npz",
                         "bm25_terms.json", "embed_cache.npy", "embed_cache_keys.json"})
CLEANER_VERSION = 3  # 3: outlets, datelines, title origin; bump when cleaning or splitting rules change what chunks contain
NORMALIZATION = {"width": "NFKC+lower", "script": "opencc t2s", "tokenizer": "jieba 0.42.1 (default dict)"}


def _cache_key(fingerprint: str, text: str) -> str:
    return hashlib.sha256(f"{fingerprint}\0{text}".encode("utf-8")).hexdigest()


@dataclass
class BuildReport:
    out: Path
    documents: int
    chunks: int
    skipped: list[Skipped]
    reused_vectors: int
    embedded_vectors: int
    seconds: dict[str, float] = field(default_factory=dict)
    up_to_date: bool = False


def _chunk_settings(settings: Settings) -> dict:
    return {"size": settings.chunk_size, "overlap_sentences": settings.chunk_overlap_sentences,
            "cleaner_version": CLEANER_VERSION}


def _normalization(settings: Settings) -> dict:
    return {**NORMALIZATION, "script": "opencc t2s" if settings.fold_target == "simplified" else "opencc s2t",
            "fold_target": settings.fold_target}


def _recover_swap(folder: Path) -> None:
    """Put back the previous index if a crash fell between the two renames of a
    fallback swap (on file systems without an atomic exchange)."""
    if folder.exists():
        return
    old = sorted(folder.resolve().parent.glob(f".{folder.name}.old-*"))
    if len(old) == 1 and (old[0] / "manifest.json").is_file():
        log.warning("restoring the previous index %s from %s (an index swap was interrupted)", folder, old[0])
        os.rename(old[0], folder)


def manifest_digest(manifest: dict) -> str:
    """The checksum a manifest carries of itself (over every other field)."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _parse_manifest(data: bytes, path: Path, folder: Path) -> dict:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexLoadError(f"{path} is damaged ({exc}); rebuild the index with: rag index --out {folder}") from exc
    if not isinstance(manifest, dict):
        raise IndexLoadError(f"{path} is damaged (not a JSON object); rebuild the index with: rag index --out {folder}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(f"index {folder} has format version {manifest.get('format_version')} but this "
                             f"program reads version {FORMAT_VERSION}; rebuild with: rag index --out {folder}")
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        raise IndexLoadError(f"{path} is damaged (it does not match its own checksum); "
                             f"rebuild the index with: rag index --out {folder}")
    return manifest


def _manifest_bytes(folder: Path) -> bytes:
    """The raw manifest of the index at ``folder`` (after undoing a half-done swap)."""
    _recover_swap(folder)
    path = folder / "manifest.json"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise IndexLoadError(f"no index at {folder} (manifest.json is missing); build one with: "
                             f"rag index --out {folder}") from None
    except OSError as exc:
        raise IndexLoadError(f"{path} cannot be read ({exc.strerror}); rebuild with: rag index --out {folder}") from exc


def read_manifest(folder: Path) -> dict:
    """The manifest of the index at ``folder``, checked against its own checksum."""
    return _parse_manifest(_manifest_bytes(folder), folder / "manifest.json", folder)


def _read_cache(folder: Path, manifest: dict | None) -> tuple[list[str], np.ndarray] | None:
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
class _Previous:
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
        return _parse_chunks(self.chunk_lines[row], {self.chunk_docs[row]: self.document(self.chunk_docs[row])})[0]


def _reusable(previous: dict | None, settings: Settings, embedder: Embedder) -> bool:
    """Whether the previous build's chunks and vectors are what this build would make."""
    return (previous is not None and previous.get("format_version") == FORMAT_VERSION
            and previous.get("model", {}).get("fingerprint") == embedder.fingerprint
            and vectors_compatible(previous.get("model", {}), embedder)
            and previous.get("chunking") == _chunk_settings(settings)
            and previous.get("normalization") == _normalization(settings))


# The files ``_previous_build`` reads (and checks against their checksums).
_RECORD_FILES = ("documents.jsonl", "chunks.jsonl", "bm25.npz", "bm25_terms.json")


def _previous_build(folder: Path, manifest: dict) -> _Previous | None:
    """The previous build's records, checked against its manifest; None if anything is
    missing or damaged (the build then starts from scratch, reusing only valid vectors)."""
    cache = _read_cache(folder, manifest)
    files = manifest.get("files", {})
    if cache is None or not set(_RECORD_FILES) <= set(files):
        return None
    try:
        blobs = {n: _checked_bytes(folder, n, files[n]) for n in _RECORD_FILES}
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
    return _Previous(manifest, keys, matrix, bm25, documents, chunk_lines, chunk_docs)


def _parse_documents(documents_jsonl: bytes) -> dict[str, Document]:
    docs = {}
    for line in io.StringIO(documents_jsonl.decode("utf-8")):
        d = document_from_json(json.loads(line))
        docs[d.doc_id] = d
    return docs


def _parse_chunks(chunks_jsonl: bytes, docs: dict[str, Document]) -> list[Chunk]:
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


def _store_info(manifest: dict | None) -> dict:
    """The manifest's store section; builds from before stores existed are FAISS builds."""
    return (manifest or {}).get("store") or {"kind": "faiss"}


def store_settings(manifest: dict | None, base: Path | None = None) -> dict:
    """The Settings fields that build into the store ``manifest`` names, for updates and
    rebuilds that must stay in it (``base``: the index's parent folder, against which a
    relative Milvus Lite path of an older manifest is read)."""
    info = _store_info(manifest)
    if info.get("kind") != "milvus":
        return {"store": "faiss"}
    return {"store": "milvus", "milvus_uri": absolute_store_uri(info.get("uri", ""), base), "milvus_collection": info.get("base", "rag_chunks"),
            "milvus_analyzer": info.get("analyzer", "tokens")}


def corpus_folder(index: Path, manifest: dict) -> Path:
    """The corpus folder ``index`` was built from: the recorded absolute path, else the
    path relative to the index; a manifest from before those were recorded names a
    relative path, read against the index's parent folder. Never the current folder."""
    info = manifest.get("corpus", {}) if isinstance(manifest.get("corpus"), dict) else {}
    index = Path(os.path.realpath(index))
    named = Path(str(info.get("path", "")))
    candidates = [Path(str(info["absolute"]))] if info.get("absolute") else []
    if info.get("from_index"):
        candidates.append(index / str(info["from_index"]))
    if str(named) not in ("", "."):
        candidates.append(named if named.is_absolute() else index.parent / named)
    for c in candidates:
        if c.is_dir():
            return c
    shown = candidates[0] if candidates else named
    raise InputError(f"index {index} was built from the corpus folder {text_path(shown)!r}, which is not there; "
                     f"rebuild it with: rag index --corpus FOLDER --out {index}")


def _owned_store(previous: dict | None, out: Path) -> dict:
    """The previous build's store section, if that build's collection belongs to this
    folder. A copy of an index folder (``cp -r index backup``) names the original's
    collection: an update of the copy gets a collection of its own and never changes or
    drops the original's."""
    info = _store_info(previous)
    folder = info.get("folder")
    if info.get("kind") == "milvus" and folder is not None and folder != text_path(out):
        log.warning("index %s is a copy of %s: this build gets its own Milvus collection and leaves %s to that "
                    "index", out, folder, info.get("collection"))
        return {"kind": "milvus-of-another-folder"}
    return info


def _same_store(previous: dict, info: dict, settings: Settings) -> bool:
    """Whether ``settings`` build into the store ``info`` (the previous build's own, see
    ``_owned_store``) as it stands, so an unchanged corpus is up to date."""
    if settings.store != info.get("kind"):
        return False
    if settings.store == "faiss":
        return True
    from .stores.milvus_store import collection_usable

    return (info.get("uri") == settings.milvus_uri and info.get("base") == settings.milvus_collection
            and info.get("analyzer") == settings.milvus_analyzer
            and collection_usable(info, settings.store_config(), previous.get("counts", {}).get("chunks")))


def build_index(corpus: Path, out: Path, settings: Settings, embedder: Embedder,
                progress: Callable[[int, int], None] | None = None, force: bool = False) -> BuildReport:
    """Build the index of ``corpus`` into ``out``, atomically.

    The new index is written to a temporary sibling folder and swapped in only
    when complete, so an interrupted build leaves the previous index intact.
    Vectors of unchanged chunk texts are reused from the previous index.
    """
    settings.validate()
    with locked(out, corpus) as target:
        report = build_locked(corpus, target, settings, embedder, progress, force)
    return dataclasses.replace(report, out=Path(out))


@contextmanager
def locked(out: Path, corpus: Path | None = None) -> Iterator[Path]:
    """Hold the build lock of ``out`` and yield it checked and resolved. An update that
    did not finish (its journal is still there) is first rolled back, so nothing it
    half did to the corpus is built. Everything that changes the corpus or the index
    happens inside this block (``rag.updates``, ``build_index``)."""
    target = check_output_folder(out, corpus)
    with _build_lock(target):
        check_output_folder(target, corpus)  # again under the lock: another build may have just finished
        recover_update(target)
        yield target


def _is_our_manifest(path: Path) -> bool:
    """False for a manifest.json that is readable JSON and not one of this program's
    (a damaged one, say with a flipped byte, still counts as ours: the folder holds
    nothing else than index files, which is checked separately)."""
    try:
        m = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return True
    if not isinstance(m, dict):
        return False
    if m.get("product") == PRODUCT:
        return True
    # Written before the product field existed (format 1 and early format 2).
    return isinstance(m.get("format_version"), int) and {"files", "model", "chunking"} <= set(m)


def replaceable(folder: Path) -> tuple[bool, str]:
    """Whether a build may replace ``folder``, and if not, why. Only an empty folder,
    or one holding nothing but the files of an index of this program, may be replaced."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        return False, f"it cannot be listed ({exc.strerror})"
    foreign = [e.name for e in entries if e.name not in INDEX_FILES or e.is_symlink() or not e.is_file()]
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        return False, f"it holds {shown}, which no index build writes"
    if entries and (folder / "manifest.json").exists() and not _is_our_manifest(folder / "manifest.json"):
        return False, "its manifest.json is not the manifest of an index of this program"
    return True, ""


def check_output_folder(out: Path, corpus: Path | None = None) -> Path:
    """The folder a build of ``corpus`` may write to, with symlinks resolved, or
    InputError naming the folder.

    A build replaces its output folder whole, so: a missing or empty folder, or an
    index of this program, may be the output; the corpus itself, a folder inside it
    or a parent of it may not (the corpus would be deleted), nor the current folder
    or one of its parents, nor a file, nor any folder holding anything else."""
    text = str(out)
    if not text.strip() or text != text.strip():
        raise InputError(f"the index folder {text!r} is not a usable name; name a folder, e.g. --out index")
    target = Path(os.path.realpath(out))
    here = Path.cwd().resolve()
    if target == here or here.is_relative_to(target):
        which = "the current folder" if target == here else "a parent of the current folder"
        raise InputError(f"refusing to build the index into {target} ({which}): a build replaces its whole "
                         "output folder; name a new subfolder, e.g. --out index")
    if target.exists() and not target.is_dir():
        raise InputError(f"{out} is a file, not a folder; name a folder for the index, e.g. --out index")
    if corpus is not None:
        source = Path(os.path.realpath(corpus))
        if target == source or target.is_relative_to(source) or source.is_relative_to(target):
            where = ("is the corpus folder" if target == source else
                     "is inside the corpus folder" if target.is_relative_to(source) else "contains the corpus folder")
            raise InputError(f"refusing to build the index into {target}: it {where} {source}, and a build "
                             "replaces its whole output folder; choose a folder outside the corpus, e.g. --out index")
    if target.is_dir():
        ok, why = replaceable(target)
        if not ok:
            raise InputError(f"refusing to replace {target}: {why}. A build replaces its whole output folder, so "
                             "it must be new, empty, or an index built by this program; choose another --out")
    return target


def build_locked(corpus: Path, out: Path, settings: Settings, embedder: Embedder,
                 progress: Callable[[int, int], None] | None = None, force: bool = False) -> BuildReport:
    """``build_index`` for a caller that holds ``locked(out)``."""
    t0 = time.perf_counter()
    settings = settings.with_(milvus_uri=absolute_store_uri(settings.milvus_uri)) if settings.store == "milvus" \
        else settings
    _recover_swap(out)
    _sweep_leftovers(out)
    previous: dict | None = None
    if (out / "manifest.json").is_file():
        try:
            previous = read_manifest(out)
        except IndexLoadError:
            previous = None
    old = _previous_build(out, previous) if _reusable(previous, settings, embedder) else None
    owned = _owned_store(previous, out)  # once: it says so when ``out`` is a copy
    docs, skipped = read_corpus(corpus, settings.max_document_bytes,
                                known=old.known if old is not None and not force else None)
    if not docs:
        reasons = "; ".join(s.reason for s in skipped)
        raise InputError(f"no readable document in {corpus}: {reasons}")
    corpus_sums = {d.doc_id: d.sha256 for d in docs}

    if (not force and old is not None and previous.get("corpus", {}).get("documents") == corpus_sums
            and previous.get("vector_index", {}).get("threshold") == settings.ann_threshold
            and _same_store(previous, owned, settings)):
        try:
            # The record files were checked when ``old`` was read; the rest is checked here.
            verify_files(out, {"files": {n: d for n, d in previous.get("files", {}).items() if n not in _RECORD_FILES}})
            return BuildReport(out, len(docs), previous["counts"]["chunks"], skipped, previous["counts"]["chunks"], 0,
                               {"total": time.perf_counter() - t0}, up_to_date=True)
        except IndexLoadError:
            pass  # damaged: rebuild below

    # Chunks: an unchanged document keeps its rows (chunks, vectors, keyword postings).
    fp = embedder.fingerprint
    reuse = old is not None and not force
    old_rows: dict[str, list[int]] = {}
    if reuse:
        for r, doc_id in enumerate(old.chunk_docs):
            old_rows.setdefault(doc_id, []).append(r)
    chunks: list[Chunk | None] = []  # None: row ``source[i]`` of the previous build, not parsed
    chunk_docs: list[str] = []
    keys: list[str] = []
    source: list[int] = []  # the row of the previous build a row is copied from, or -1
    fresh_text: dict[int, str] = {}  # new row -> folded text
    for d in docs:
        if isinstance(d, Unchanged):
            for r in old_rows.get(d.doc_id, []):
                chunks.append(None)
                chunk_docs.append(d.doc_id)
                keys.append(old.keys[r])
                source.append(r)
            continue
        for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap_sentences):
            folded = fold(match_text(d, c), settings.fold_target)
            fresh_text[len(chunks)] = folded
            chunks.append(c)
            chunk_docs.append(d.doc_id)
            keys.append(_cache_key(fp, folded))
            source.append(-1)
    t1 = time.perf_counter()

    # Vectors: copied for kept rows; looked up in the previous cache (a passage that
    # moved to another row, or an older build's) before embedding what is new.
    src = np.array(source, dtype=np.int64)
    cached = _read_cache(out, previous) if old is None and out.is_dir() else (
        (old.keys, old.matrix) if old is not None else None)
    cache_row = {k: i for i, k in enumerate(cached[0])} if cached else {}
    todo = [i for i in fresh_text if keys[i] not in cache_row]
    embedded = embedder.embed_passages([fresh_text[i] for i in todo], progress=progress) if todo else None
    if not todo and progress:
        progress(len(chunks), len(chunks))
    dim = (len(embedded[0]) if todo else cached[1].shape[1] if cached and len(cached[1]) else embedder.dimension)
    matrix = np.zeros((len(chunks), dim), dtype=np.float32)
    kept = src >= 0
    if kept.any():
        matrix[kept] = old.matrix[src[kept]]
    for i in fresh_text:
        if keys[i] in cache_row:
            matrix[i] = cached[1][cache_row[keys[i]]]
    for j, i in enumerate(todo):
        matrix[i] = embedded[j]
    t2 = time.perf_counter()

    tokens = {i: tokenize(f) for i, f in fresh_text.items()}
    if kept.any():
        row_map = np.full(old.bm25.n_docs, -1, dtype=np.int64)
        row_map[src[kept]] = np.flatnonzero(kept)
        bm25 = old.bm25.updated(row_map, len(chunks), tokens)
    else:
        bm25 = BM25Index.build([tokens[i] for i in range(len(chunks))])
    writer = None
    if settings.store == "faiss":
        index, kind = vec.build_vector_index(matrix, settings.ann_threshold, settings.hnsw_m, settings.hnsw_ef_search)
    else:
        kind = "milvus-" + vec.choose_kind(len(chunks), settings.ann_threshold)
        writer = _milvus_write(docs, chunks, keys, source, matrix, tokens, old, previous, owned, settings, dim)
    t3 = time.perf_counter()

    out_parent = out.resolve().parent
    out_parent.mkdir(parents=True, exist_ok=True)
    # The builder's pid is in the name, so a later build can tell a crashed build's
    # leftovers from a build that is still running.
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-{os.getpid()}-", dir=out_parent))
    try:
        with (tmp / "documents.jsonl").open("wb") as fh:
            fh.writelines(old.document_lines[d.doc_id] if isinstance(d, Unchanged) else _document_line(d)
                          for d in docs)
        with (tmp / "chunks.jsonl").open("wb") as fh:
            fh.writelines(old.chunk_lines[r] if r >= 0 else _chunk_line(c) for c, r in zip(chunks, source))
        files = ["documents.jsonl", "chunks.jsonl", *bm25.save(tmp)]
        if writer is None:
            vec.save(index, tmp / "vectors.faiss")
            files.append("vectors.faiss")
        np.save(tmp / "embed_cache.npy", matrix, allow_pickle=False)
        (tmp / "embed_cache_keys.json").write_text(json.dumps(keys))
        manifest = {
            "product": PRODUCT,
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model": {"id": embedder.model_id, "name": settings.model, "fingerprint": fp, "dimension": dim,
                      "backend": embedder.backend,
                      "compatible_backends": sorted(embedder.compatible_backends)},
            "normalization": _normalization(settings),
            "chunking": _chunk_settings(settings),
            "vector_index": {"kind": kind, "threshold": settings.ann_threshold, "hnsw_m": settings.hnsw_m,
                             "ef_search": settings.hnsw_ef_search, "metric": "inner_product (cosine)"},
            "store": {**writer.info, "folder": text_path(out)} if writer is not None else {"kind": "faiss"},
            "bm25": {"k1": bm25.k1, "b": bm25.b, "terms": len(bm25.vocab)},
            "counts": {"documents": len(docs), "chunks": len(chunks), "skipped": len(skipped)},
            # Where the corpus is, never relative to the current folder of a later update:
            # as named, absolute, and relative to the index (an index moved with its corpus).
            "corpus": {"path": text_path(corpus), "absolute": text_path(Path(os.path.abspath(corpus))),
                       "from_index": text_path(Path(os.path.relpath(os.path.realpath(corpus), out))),
                       "documents": corpus_sums,
                       "paths": {d.doc_id: d.path for d in docs}},
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
            "files": {name: sha256_file(tmp / name) for name in files},
            "cache_files": {name: sha256_file(tmp / name) for name in ("embed_cache.npy", "embed_cache_keys.json")},
        }
        manifest["manifest_sha256"] = manifest_digest(manifest)
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        _fsync_tree(tmp)
        _swap_in(tmp, out)
    except BaseException:
        _discard(tmp)
        if writer is not None:
            writer.abandon()
        raise
    if writer is not None:
        writer.commit()
    elif owned.get("kind") == "milvus":
        from .stores.milvus_store import drop_build

        drop_build(previous, settings.store_config())
    t4 = time.perf_counter()
    reused = len(chunks) - len(todo)
    return BuildReport(out, len(docs), len(chunks), skipped, reused, len(todo),
                       {"read_clean_chunk": t1 - t0, "embed": t2 - t1, "bm25_faiss": t3 - t2, "write": t4 - t3,
                        "total": t4 - t0})


def _document_line(d: Document) -> bytes:
    return (json.dumps(document_to_json(d), ensure_ascii=False) + "\n").encode("utf-8")


def _chunk_line(c: Chunk) -> bytes:
    return (json.dumps({"chunk_id": c.chunk_id, "doc_id": c.doc_id, "section": c.section, "start": c.start,
                        "end": c.end, "text": c.text, "sentences": [list(s) for s in c.sentences], "kind": c.kind,
                        "truncated": c.truncated}, ensure_ascii=False) + "\n").encode("utf-8")


def _milvus_write(docs: list, chunks: list[Chunk | None], keys: list[str], source: list[int], matrix: np.ndarray,
                  tokens: dict[int, list[str]], old: "_Previous | None", previous: dict | None, owned: dict,
                  settings: Settings, dim: int):
    """Write this build's rows to Milvus (invisible to readers until the folder swap names
    their generation); the writer's ``commit``/``abandon`` finish or undo it."""
    from . import provenance
    from .stores.milvus_store import CollectionWriter, MilvusRow, row_key

    writer = CollectionWriter(settings.store_config(), owned, dim, os.urandom(4).hex(),
                              settings.milvus_analyzer, vec.choose_kind(len(chunks), settings.ann_threshold) == "hnsw-ip",
                              settings.hnsw_m, (previous or {}).get("counts", {}).get("chunks"))
    by_id = {d.doc_id: d for d in docs}
    sha = {d.doc_id: d.sha256 for d in docs}
    # A new collection needs every row; an update only the rows that are new.
    rows = [i for i in range(len(chunks)) if not writer.incremental or source[i] < 0]
    added = []
    for i in rows:
        c = chunks[i] if chunks[i] is not None else old.chunk(source[i])
        d = by_id[c.doc_id]
        if isinstance(d, Unchanged):
            d = old.document(d.doc_id)
        toks = tokens.get(i)
        if toks is None:  # a kept row going into a new collection
            toks = tokenize(fold(match_text(d, c), settings.fold_target))
        added.append(MilvusRow(row_key(c.chunk_id, keys[i], sha[c.doc_id]), c.chunk_id, c.doc_id, c.section,
                               c.start, c.end, provenance.date(d), provenance.outlet(d), matrix[i], tuple(toks)))
    changed: set[str] = set()
    if writer.incremental and old is not None:
        kept = {r for r in source if r >= 0}
        changed = {doc_id for r, doc_id in enumerate(old.chunk_docs) if r not in kept}
    writer.write(added, sorted(changed))
    return writer


@contextmanager
def _build_lock(out: Path):
    """One build of ``out`` at a time (an advisory lock the kernel drops if the builder dies)."""
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f".{out.name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another build of {out} is running (lock {path}); wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def _discard(folder: Path) -> None:
    """Delete a folder of index files (a previous or unfinished build). Only the files
    a build writes are deleted: anything else found there is left, with the folder,
    and a warning, so that no file of the user's is ever lost."""
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("could not clean up %s (%s)", folder, exc.strerror)
        return
    for e in entries:
        if e.name in INDEX_FILES and not e.is_symlink() and e.is_file():
            e.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        log.warning("left %s in place: it holds files that no index build writes", folder)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_leftovers(out: Path) -> None:
    """Remove what crashed builds left next to ``out``: half-written ``.building-<pid>-*``
    folders of dead builders, and ``.old-*`` folders once ``out`` is in place.
    Called under the build lock, so no live build of ``out`` owns them."""
    parent = out.resolve().parent
    for d in parent.glob(f".{out.name}.building-*"):
        pid = d.name[len(f".{out.name}.building-"):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or not _pid_alive(int(pid)):
            log.info("removing %s, left by an interrupted build", d)
            _discard(d)
    if (out / "manifest.json").is_file():
        for d in parent.glob(f".{out.name}.old-*"):
            _discard(d)


def _fsync_tree(folder: Path) -> None:
    """Flush the new index to disk before it replaces the old one, so that a power
    cut cannot leave a swapped-in folder of empty files."""
    for path in [*folder.iterdir(), folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False
    where the system or file system does not offer it."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(new: Path, out: Path) -> None:
    """Replace ``out`` by ``new``. Readers see the old index or the new one, never a
    missing or mixed folder: one atomic exchange, then the old index is removed.
    Without the exchange, two renames (a crash between them is undone by ``_recover_swap``)."""
    if not out.exists():
        os.rename(new, out)
        return
    ok, why = replaceable(out)  # checked before the build too; files may have been added since
    if not ok:
        raise InputError(f"refusing to replace {out}: {why}; the new index was not put in place")
    if _exchange(new, out):
        _discard(new)  # ``new`` now holds the previous index
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.resolve().parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)  # put the previous index back
        raise
    _discard(old)


def _checked_bytes(folder: Path, name: str, digest: str) -> bytes:
    """The bytes of one index file, checked against its checksum in the manifest."""
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IndexLoadError(f"index file {path} cannot be read ({exc.strerror}); "
                             f"rebuild with: rag index --out {folder}") from exc
    if hashlib.sha256(data).hexdigest() != digest:
        raise IndexLoadError(f"index file {path} does not match its checksum in manifest.json (damaged or "
                             f"edited); rebuild with: rag index --out {folder}")
    return data


def read_documents(folder: Path, manifest: dict) -> dict[str, Document]:
    """The documents of an index (checked against the manifest), without its vectors."""
    digest = manifest.get("files", {}).get("documents.jsonl", "")
    try:
        return _parse_documents(_checked_bytes(folder, "documents.jsonl", digest))
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexLoadError(f"index file {folder}/documents.jsonl cannot be read ({exc}); "
                             f"rebuild with: rag index --out {folder}") from exc


def verify_files(folder: Path, manifest: dict) -> None:
    """Check every file of the index against its checksum in the manifest."""
    for name, digest in manifest.get("files", {}).items():
        _checked_bytes(folder, name, digest)


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


def check_matches(folder: Path, manifest: dict, settings: Settings, embedder: Embedder | None) -> None:
    """IndexLoadError naming both values when the index was built differently from
    what ``settings`` and ``embedder`` expect."""
    built_with = manifest.get("model", {})
    fix = f"rebuild with: rag index --out {folder}"
    if built_with.get("name") != settings.model:
        raise IndexLoadError(f"index {folder} was built with model {built_with.get('name')!r} but the model "
                             f"asked for is {settings.model!r}; pass --model {built_with.get('name')} or rebuild")
    if embedder is not None:
        if built_with.get("dimension") != embedder.dimension:
            raise IndexLoadError(f"index {folder} holds {built_with.get('dimension')}-dimensional vectors but the "
                                 f"model makes {embedder.dimension}-dimensional ones; {fix}")
        if built_with.get("fingerprint") != embedder.fingerprint:
            raise IndexLoadError(f"index {folder} was built with weights {str(built_with.get('fingerprint', ''))[:12]} "
                                 f"but the loaded model has weights {embedder.fingerprint[:12]}; {fix}")
        if not vectors_compatible(built_with, embedder):
            other = "torch" if built_with.get("backend") == "torch-fp32" else "onnx"
            raise IndexLoadError(f"index {folder} was embedded with backend {built_with.get('backend')!r}, whose "
                                 f"vectors this process (backend {embedder.backend!r}) may not mix with; "
                                 f"pass --backend {other} or {fix}")
    norm = manifest.get("normalization", {})
    if norm != _normalization(settings):
        raise IndexLoadError(f"index {folder} was built with normalization {_describe(norm)} but the settings use "
                             f"{_describe(_normalization(settings))}; {fix}")
    chunking = manifest.get("chunking", {})
    if chunking != _chunk_settings(settings):
        raise IndexLoadError(f"index {folder} was built with chunking {_describe(chunking)} but the settings ask for "
                             f"{_describe(_chunk_settings(settings))}; pass the same chunk size or {fix}")


def _describe(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items())) if isinstance(d, dict) else repr(d)


def _load_once(folder: Path, settings: Settings, embedder: Embedder | None) -> LoadedIndex:
    mpath = folder / "manifest.json"
    mbytes = _manifest_bytes(folder)

    def changed() -> bool:
        try:
            return mpath.read_bytes() != mbytes
        except OSError:
            return True

    try:
        manifest = _parse_manifest(mbytes, mpath, folder)
    except IndexLoadError:
        if changed():
            raise _Changed() from None
        raise
    check_matches(folder, manifest, settings, embedder)
    files = manifest.get("files", {})
    on_milvus = _store_info(manifest).get("kind") == "milvus"
    required = set(_RECORD_FILES) | (set() if on_milvus else {"vectors.faiss"})
    if not required <= set(files):
        raise IndexLoadError(f"{mpath} lists no checksum for {', '.join(sorted(required - set(files)))}; "
                             f"rebuild with: rag index --out {folder}")
    blobs: dict[str, bytes] = {}
    for name in sorted(required):
        try:
            blobs[name] = _checked_bytes(folder, name, files[name])
        except IndexLoadError:
            if changed():  # a new build was swapped in meanwhile: not damage
                raise _Changed() from None
            raise
    # From here on only checked bytes are parsed. A parse error means the manifest and
    # the files were edited together: refuse, naming the file.
    current = "documents.jsonl"
    index = None
    try:
        docs = _parse_documents(blobs["documents.jsonl"])
        current = "chunks.jsonl"
        chunks = _parse_chunks(blobs["chunks.jsonl"], docs)
        if not on_milvus:
            current = "vectors.faiss"
            index = vec.from_bytes(blobs["vectors.faiss"])
        current = "bm25.npz or bm25_terms.json"  # the keyword index is the pair
        bm25 = BM25Index.from_bytes(blobs["bm25.npz"], blobs["bm25_terms.json"])
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise IndexLoadError(f"index file {folder}/{current} cannot be read ({exc}); "
                             f"rebuild with: rag index --out {folder}") from exc
    dim = manifest.get("model", {}).get("dimension")
    n_vectors, vec_dim = (index.ntotal, index.d) if index is not None else (len(chunks), dim)
    if n_vectors != len(chunks) or bm25.n_docs != len(chunks) or vec_dim != dim:
        raise IndexLoadError(f"index {folder} is inconsistent: {len(chunks)} chunks, {n_vectors} vectors of "
                             f"dimension {vec_dim} (manifest: {dim}), {bm25.n_docs} keyword rows; rebuild it")
    row_of = {c.chunk_id: i for i, c in enumerate(chunks)}
    if index is not None:
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = settings.hnsw_ef_search
        store = FaissStore(index, bm25, [c.doc_id for c in chunks])
    else:
        from .stores.milvus_store import open_store

        store = open_store(manifest, folder, settings.store_config(), row_of, len(chunks), settings.hnsw_ef_search)
    return LoadedIndex(folder, manifest, docs, chunks, index, bm25, row_of, {c.chunk_id: c for c in chunks}, store)
