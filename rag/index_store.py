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

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import vectors as vec
from .bm25 import BM25Index
from .corpus import Skipped, document_from_json, document_to_json, read_corpus
from .embedding.base import Embedder
from .checksums import sha256_file
from .errors import IndexLoadError, InputError
from .records import Chunk, Document
from .settings import Settings
from .text.chunking import chunk_document, match_text
from .text.fold import fold
from .text.tokenize import tokenize

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CLEANER_VERSION = 2  # bump when cleaning or splitting rules change what chunks contain
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
    """Put back the previous index if a crash fell between the two renames of a swap."""
    if folder.exists():
        return
    old = sorted(folder.resolve().parent.glob(f".{folder.name}.old-*"))
    if len(old) == 1 and (old[0] / "manifest.json").is_file():
        log.warning("restoring the previous index %s from %s (an index swap was interrupted)", folder, old[0])
        os.rename(old[0], folder)


def read_manifest(folder: Path) -> dict:
    _recover_swap(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise IndexLoadError(f"no index at {folder} (manifest.json is missing); build one with: rag index --out {folder}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexLoadError(f"{path} is damaged ({exc}); rebuild the index with: rag index --out {folder}") from exc


def _load_cache(folder: Path) -> dict[str, np.ndarray]:
    try:
        keys = json.loads((folder / "embed_cache_keys.json").read_text(encoding="utf-8"))
        arr = np.load(folder / "embed_cache.npy", allow_pickle=False)
        if len(keys) != len(arr):
            return {}
        return dict(zip(keys, arr))
    except (OSError, ValueError):
        return {}


def build_index(corpus: Path, out: Path, settings: Settings, embedder: Embedder,
                progress: Callable[[int, int], None] | None = None, force: bool = False) -> BuildReport:
    """Build the index of ``corpus`` into ``out``, atomically.

    The new index is written to a temporary sibling folder and swapped in only
    when complete, so an interrupted build leaves the previous index intact.
    Vectors of unchanged chunk texts are reused from the previous index.
    """
    settings.validate()
    t0 = time.perf_counter()
    _recover_swap(out)
    docs, skipped = read_corpus(corpus, settings.max_document_bytes)
    if not docs:
        reasons = "; ".join(s.reason for s in skipped)
        raise InputError(f"no readable document in {corpus}: {reasons}")
    corpus_sums = {d.doc_id: d.sha256 for d in docs}

    previous: dict | None = None
    if (out / "manifest.json").is_file():
        try:
            previous = read_manifest(out)
        except IndexLoadError:
            previous = None
    if (not force and previous is not None and previous.get("format_version") == FORMAT_VERSION
            and previous.get("corpus", {}).get("documents") == corpus_sums
            and previous.get("model", {}).get("fingerprint") == embedder.fingerprint
            and previous.get("chunking") == _chunk_settings(settings)
            and previous.get("normalization") == _normalization(settings)
            and previous.get("vector_index", {}).get("threshold") == settings.ann_threshold):
        try:
            verify_files(out, previous)
            return BuildReport(out, len(docs), previous["counts"]["chunks"], skipped, previous["counts"]["chunks"], 0,
                               {"total": time.perf_counter() - t0}, up_to_date=True)
        except IndexLoadError:
            pass  # damaged: rebuild below

    chunks: list[Chunk] = []
    texts: list[str] = []
    by_id = {d.doc_id: d for d in docs}
    for d in docs:
        for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap_sentences):
            chunks.append(c)
            texts.append(match_text(by_id[c.doc_id], c))
    folded = [fold(t, settings.fold_target) for t in texts]
    t1 = time.perf_counter()

    # Vectors: reuse what the previous index already embedded.
    cache = _load_cache(out) if out.is_dir() else {}
    fp = embedder.fingerprint
    keys = [_cache_key(fp, t) for t in folded]
    missing = [i for i, k in enumerate(keys) if k not in cache]
    if missing:
        fresh = embedder.embed_passages([folded[i] for i in missing], progress=progress)
        for i, row in zip(missing, fresh):
            cache[keys[i]] = row
    elif progress:
        progress(len(folded), len(folded))
    dim = embedder.dimension if not chunks else len(cache[keys[0]])
    matrix = np.stack([cache[k] for k in keys]).astype(np.float32) if chunks else np.zeros((0, dim), np.float32)
    t2 = time.perf_counter()

    bm25 = BM25Index.build([tokenize(f) for f in folded])
    index, kind = vec.build_vector_index(matrix, settings.ann_threshold, settings.hnsw_m, settings.hnsw_ef_search)
    t3 = time.perf_counter()

    out_parent = out.resolve().parent
    out_parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out_parent))
    try:
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as fh:
            for d in docs:
                fh.write(json.dumps(document_to_json(d), ensure_ascii=False) + "\n")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for c in chunks:
                fh.write(json.dumps({"chunk_id": c.chunk_id, "doc_id": c.doc_id, "section": c.section,
                                     "start": c.start, "end": c.end, "text": c.text,
                                     "sentences": [list(s) for s in c.sentences], "kind": c.kind,
                                     "truncated": c.truncated}, ensure_ascii=False) + "\n")
        vec.save(index, tmp / "vectors.faiss")
        files = ["documents.jsonl", "chunks.jsonl", "vectors.faiss", *bm25.save(tmp)]
        np.save(tmp / "embed_cache.npy", matrix, allow_pickle=False)
        (tmp / "embed_cache_keys.json").write_text(json.dumps(keys))
        manifest = {
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model": {"id": embedder.model_id, "name": settings.model, "fingerprint": fp, "dimension": dim},
            "normalization": _normalization(settings),
            "chunking": _chunk_settings(settings),
            "vector_index": {"kind": kind, "threshold": settings.ann_threshold, "hnsw_m": settings.hnsw_m,
                             "ef_search": settings.hnsw_ef_search, "metric": "inner_product (cosine)"},
            "bm25": {"k1": bm25.k1, "b": bm25.b, "terms": len(bm25.vocab)},
            "counts": {"documents": len(docs), "chunks": len(chunks), "skipped": len(skipped)},
            "corpus": {"path": str(corpus), "documents": corpus_sums},
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
            "files": {name: sha256_file(tmp / name) for name in files},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    t4 = time.perf_counter()
    return BuildReport(out, len(docs), len(chunks), skipped, len(chunks) - len(missing), len(missing),
                       {"read_clean_chunk": t1 - t0, "embed": t2 - t1, "bm25_faiss": t3 - t2, "write": t4 - t3,
                        "total": t4 - t0})


def _swap_in(new: Path, out: Path) -> None:
    """Replace ``out`` by ``new`` with two renames; the old index is removed last."""
    if not out.exists():
        os.rename(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.resolve().parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)  # put the previous index back
        raise
    shutil.rmtree(old, ignore_errors=True)


def verify_files(folder: Path, manifest: dict) -> None:
    for name, digest in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise IndexLoadError(f"index file {path} is missing; rebuild with: rag index --out {folder}")
        if sha256_file(path) != digest:
            raise IndexLoadError(f"index file {path} does not match its checksum in manifest.json (damaged or "
                                 f"edited); rebuild with: rag index --out {folder}")


@dataclass
class LoadedIndex:
    path: Path
    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: object  # faiss.Index
    bm25: BM25Index
    row_of: dict[str, int]


def load_index(folder: Path, settings: Settings, embedder: Embedder | None = None) -> LoadedIndex:
    """Open an index, checking format, checksums and that it matches the settings/embedder."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(f"index {folder} has format version {manifest.get('format_version')} but this "
                             f"program reads version {FORMAT_VERSION}; rebuild with: rag index --out {folder}")
    built_with = manifest.get("model", {})
    if built_with.get("name") != settings.model:
        raise IndexLoadError(f"index {folder} was built with model {built_with.get('name')!r} but the model "
                             f"asked for is {settings.model!r}; pass --model {built_with.get('name')} or rebuild")
    if embedder is not None and built_with.get("fingerprint") != embedder.fingerprint:
        raise IndexLoadError(f"index {folder} was built with weights {built_with.get('fingerprint', '')[:12]} but "
                             f"the loaded model has weights {embedder.fingerprint[:12]}; rebuild with: rag index --out {folder}")
    if manifest.get("normalization", {}).get("fold_target") != settings.fold_target:
        raise IndexLoadError(f"index {folder} folds text to {manifest['normalization'].get('fold_target')!r} but the "
                             f"settings fold to {settings.fold_target!r}; rebuild the index")
    verify_files(folder, manifest)
    try:
        docs = {}
        with (folder / "documents.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                d = document_from_json(json.loads(line))
                docs[d.doc_id] = d
        chunks = []
        with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                o = json.loads(line)
                chunks.append(Chunk(o["chunk_id"], o["doc_id"], o["section"], o["start"], o["end"], o["text"],
                                    tuple(tuple(s) for s in o["sentences"]), o["kind"], o["truncated"]))
        index = vec.load(folder / "vectors.faiss")
        bm25 = BM25Index.load(folder)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexLoadError(f"index {folder} cannot be read ({exc}); rebuild with: rag index --out {folder}") from exc
    if index.ntotal != len(chunks) or bm25.n_docs != len(chunks):
        raise IndexLoadError(f"index {folder} is inconsistent: {len(chunks)} chunks, {index.ntotal} vectors, "
                             f"{bm25.n_docs} keyword rows; rebuild it")
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = settings.hnsw_ef_search
    return LoadedIndex(folder, manifest, docs, chunks, index, bm25, {c.chunk_id: i for i, c in enumerate(chunks)})
