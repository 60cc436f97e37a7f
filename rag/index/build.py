"""Build an index folder from a corpus folder, incrementally: clean, chunk, embed and tokenize
only what changed, write beside the old build and swap it in."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..bm25 import BM25Index
from ..corpus import Skipped, Unchanged, document_to_json, read_corpus, text_path
from ..embedding.base import Embedder
from ..checksums import sha256_file
from ..errors import IndexLoadError, InputError
from ..records import Chunk, Document
from ..settings import Settings
from .. import stores
from ..stores.base import BuildRows, StoreRow, absolute_store_uri, row_key
from ..text.chunking import chunk_document, match_text
from ..text.fold import fold
from ..text.tokenize import tokenize
from . import checkpoint
from .folder import discard, fsync_tree, locked, swap_in, sweep_leftovers
from .manifest import (FORMAT_VERSION, PRODUCT, recover_swap, chunk_settings, normalization, manifest_digest,
                       read_manifest, verify_files)
from .previous import Previous, RECORD_FILES, cache_key, owned_store, previous_build, read_cache, reusable, same_store

log = logging.getLogger(__name__)


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
    vector_index: dict = field(default_factory=dict)  # the manifest's: kind, and for HNSW its measured recall


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


def build_locked(corpus: Path, out: Path, settings: Settings, embedder: Embedder,
                 progress: Callable[[int, int], None] | None = None, force: bool = False) -> BuildReport:
    """``build_index`` for a caller that holds ``locked(out)``."""
    t0 = time.perf_counter()
    settings = settings.with_(milvus_uri=absolute_store_uri(settings.milvus.uri)) if settings.store == "milvus" \
        else settings
    recover_swap(out)
    sweep_leftovers(out)
    previous: dict | None = None
    if (out / "manifest.json").is_file():
        try:
            previous = read_manifest(out)
        except IndexLoadError:
            previous = None
    old = previous_build(out, previous) if reusable(previous, settings, embedder) else None
    owned = owned_store(previous, out)  # once: it says so when ``out`` is a copy
    docs, skipped = read_corpus(corpus, settings.max_document_bytes,
                                known=old.known if old is not None and not force else None,
                                max_source_bytes=settings.max_source_bytes)
    if not docs:
        reasons = "; ".join(s.reason for s in skipped)
        raise InputError(f"no readable document in {corpus}: {reasons}")
    corpus_sums = {d.doc_id: d.sha256 for d in docs}

    if (not force and old is not None and previous.get("corpus", {}).get("documents") == corpus_sums
            and previous.get("vector_index", {}).get("threshold") == settings.ann_threshold
            and same_store(previous, owned, settings)):
        try:
            # The record files were checked when ``old`` was read; the rest is checked here.
            verify_files(out, {"files": {n: d for n, d in previous.get("files", {}).items() if n not in RECORD_FILES}})
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
            keys.append(cache_key(fp, folded))
            source.append(-1)
    t1 = time.perf_counter()

    # Vectors: copied for kept rows; looked up in the previous cache (a passage that
    # moved to another row, or an older build's) before embedding what is new.
    src = np.array(source, dtype=np.int64)
    cached = read_cache(out, previous) if old is None and out.is_dir() else (
        (old.keys, old.matrix) if old is not None else None)
    cache_row = {k: i for i, k in enumerate(cached[0])} if cached else {}
    # What an interrupted build of this index embedded already (rag.index.checkpoint).
    resumed = checkpoint.load(out) if any(keys[i] not in cache_row for i in fresh_text) else {}
    todo = [i for i in fresh_text if keys[i] not in cache_row and keys[i] not in resumed]
    if resumed:
        log.info("resuming: %d passages embedded by an interrupted build are reused", len(resumed))
    embedded = _embed_checkpointed(embedder, out, [fresh_text[i] for i in todo], [keys[i] for i in todo],
                                   progress, len(fresh_text) - len(todo)) if todo else None
    if not todo and progress:
        progress(len(chunks), len(chunks))
    dim = (len(embedded[0]) if todo else cached[1].shape[1] if cached and len(cached[1])
           else len(next(iter(resumed.values()))) if resumed else embedder.dimension)
    matrix = np.zeros((len(chunks), dim), dtype=np.float32)
    kept = src >= 0
    if kept.any():
        matrix[kept] = old.matrix[src[kept]]
    for i in fresh_text:
        if keys[i] in cache_row:
            matrix[i] = cached[1][cache_row[keys[i]]]
        elif keys[i] in resumed:
            matrix[i] = resumed[keys[i]]
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
    store = stores.backend(settings.store)
    writer = store.writer(settings, previous, owned, dim, len(chunks))
    changed: frozenset[str] = frozenset()
    if old is not None:
        kept_rows = {r for r in source if r >= 0}
        changed = frozenset(doc_id for r, doc_id in enumerate(old.chunk_docs) if r not in kept_rows)
    build_rows = BuildRows(_rows_of_build(docs, chunks, keys, source, matrix, tokens, old, settings), changed, matrix,
                           bm25, tuple(chunk_docs))
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
        files += writer.write(build_rows, tmp)
        np.save(tmp / "embed_cache.npy", matrix, allow_pickle=False)
        (tmp / "embed_cache_keys.json").write_text(json.dumps(keys))
        manifest = {
            "product": PRODUCT,
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model": {"id": embedder.model_id, "name": settings.model, "fingerprint": fp, "dimension": dim,
                      "backend": embedder.backend,
                      "compatible_backends": sorted(embedder.compatible_backends)},
            "normalization": normalization(settings),
            "chunking": chunk_settings(settings),
            "vector_index": {"kind": writer.vector_kind, "threshold": settings.ann_threshold, "hnsw_m": settings.hnsw_m,
                             "ef_search": settings.hnsw_ef_search, "metric": "inner_product (cosine)",
                             **({"measured": writer.tuning.to_json()} if getattr(writer, "tuning", None) else {})},
            # A store whose data lives outside the folder records which folder owns it.
            "store": {**writer.info, "folder": text_path(out)} if store.external else dict(writer.info),
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
        fsync_tree(tmp)
        swap_in(tmp, out)
    except BaseException:
        discard(tmp)
        writer.abandon()
        raise
    writer.commit()
    checkpoint.clear(out)  # the new index holds every vector now
    if owned.get("kind") != settings.store and owned.get("kind") in stores.kinds():
        stores.backend(owned["kind"]).drop(previous, settings)  # the build moved to another store
    t4 = time.perf_counter()
    reused = len(chunks) - len(todo)
    return BuildReport(out, len(docs), len(chunks), skipped, reused, len(todo),
                       {"read_clean_chunk": t1 - t0, "embed": t2 - t1, "bm25_faiss": t3 - t2, "write": t4 - t3,
                        "total": t4 - t0}, vector_index=manifest["vector_index"])


def _embed_checkpointed(embedder: Embedder, out: Path, texts: list[str], keys: list[str],
                        progress: Callable[[int, int], None] | None, done_before: int) -> np.ndarray:
    """``texts`` embedded in batches, each batch kept in the checkpoint as it comes; the
    progress counts what was reused or resumed as done."""
    total = done_before + len(texts)
    parts = []
    for a in range(0, len(texts), checkpoint.BATCH):
        batch = texts[a:a + checkpoint.BATCH]
        step = (lambda d, _t, a=a: progress(done_before + a + d, total)) if progress else None
        vectors = np.asarray(embedder.embed_passages(batch, progress=step), dtype=np.float32)
        checkpoint.save(out, keys[a:a + checkpoint.BATCH], vectors)
        parts.append(vectors)
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)


def _document_line(d: Document) -> bytes:
    return (json.dumps(document_to_json(d), ensure_ascii=False) + "\n").encode("utf-8")


def _chunk_line(c: Chunk) -> bytes:
    return (json.dumps({"chunk_id": c.chunk_id, "doc_id": c.doc_id, "section": c.section, "start": c.start,
                        "end": c.end, "text": c.text, "sentences": [list(s) for s in c.sentences], "kind": c.kind,
                        "truncated": c.truncated}, ensure_ascii=False) + "\n").encode("utf-8")


def _rows_of_build(docs: list, chunks: list[Chunk | None], keys: list[str], source: list[int], matrix: np.ndarray,
                   tokens: dict[int, list[str]], old: "Previous | None", settings: Settings):
    """The build's rows as a store holds them, made only when a store asks: ``rows(only_new)``
    (rows kept from the previous build are left out when ``only_new``)."""
    def rows(only_new: bool) -> list[StoreRow]:
        from .. import provenance

        by_id = {d.doc_id: d for d in docs}
        sha = {d.doc_id: d.sha256 for d in docs}
        out = []
        for i in range(len(chunks)):
            if only_new and source[i] >= 0:
                continue
            c = chunks[i] if chunks[i] is not None else old.chunk(source[i])
            d = by_id[c.doc_id]
            if isinstance(d, Unchanged):
                d = old.document(d.doc_id)
            toks = tokens.get(i)
            if toks is None:  # a kept row going into a new collection
                toks = tokenize(fold(match_text(d, c), settings.fold_target))
            out.append(StoreRow(row_key(c.chunk_id, keys[i], sha[c.doc_id]), c.chunk_id, c.doc_id, c.section,
                                c.start, c.end, provenance.date(d), provenance.outlet(d), matrix[i], tuple(toks)))
        return out

    return rows

