"""The Milvus store: chunk vectors, BM25 on the server and metadata in one collection.

Milvus Lite (a local file path, embedded in this process) for development and tests; a
Milvus server or cluster (``http://host:19530``) for an archive past one machine.

The keyword leg is BM25 computed by Milvus over *our* tokens: each jieba token of the
folded text is written as a short ASCII code (``t`` + 16 hex digits of its hash), which
Milvus's ``standard`` analyzer keeps whole. Milvus then keeps the statistics (document
frequencies, lengths) current through inserts and deletes, and its scores equal ours
(measured: ``python -m eval bench --stores``). Milvus's own ``jieba`` analyzer on the folded text
is the other choice (``KEYWORD_ANALYZERS``); it tokenizes differently from our jieba.

Updates are versioned so that a reader sees the old or the new document, never half of
one: a row carries the generation that added it, and a reader of build generation ``g``
searches only rows with ``gen_added <= g``, minus the older rows of the documents that
generation ``g`` changed or removed (the manifest lists them). An update inserts the new
rows under ``g + 1`` (invisible to readers of ``g``), swaps the folder's manifest (which
names ``g + 1`` and its changed documents), and only then deletes the superseded rows. A
crash before the swap leaves rows of ``g + 1`` that the next update deletes first.
(Marking rows retired with an upsert instead was measured to skew Milvus's BM25
statistics by up to 2%: an upsert is a delete plus an insert.)
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from ..errors import IndexLoadError
from .base import BuildRows, Ranked, StoreConfig, absolute_store_uri

if TYPE_CHECKING:
    from ..records import Chunk
    from ..settings import Settings
from .base import chunk_of
from .milvus_client import StoreError, connect, error_reason, filter_expr, is_lite, keyword_text


class MilvusStore:
    """Search one generation of a collection; hits come back as rows of the loaded build."""

    kind = "milvus"

    def __init__(self, client, collection: str, generation: int, row_of: Mapping[str, int], analyzer: str,
                 ef_search: int = 128, hidden: Sequence[str] = ()) -> None:
        self.client = client
        self.collection = collection
        self.generation = generation
        self.hidden = tuple(hidden)
        self.analyzer = analyzer
        self._row_of = row_of
        self._ef = ef_search

    def count(self) -> int:
        """The rows this generation sees (its own, minus those of the documents it changed)."""
        try:
            res = self.client.query(self.collection, filter=filter_expr(self.generation, None, self.hidden),
                                    output_fields=["count(*)"])
        except Exception as exc:
            raise StoreError(f"Milvus count in collection {self.collection} failed ({error_reason(exc)}); "
                             "check the server") from None
        return int(res[0]["count(*)"])

    def _search(self, data, field: str, k: int, doc_ids, params: dict) -> list[dict]:
        if k <= 0 or (doc_ids is not None and not doc_ids):
            return []
        try:
            res = self.client.search(self.collection, data=data, anns_field=field, limit=min(k, 16384),
                                     filter=filter_expr(self.generation, doc_ids, self.hidden), output_fields=["doc_id"],
                                     search_params=params)
        except Exception as exc:
            raise StoreError(f"Milvus search in collection {self.collection} failed ({error_reason(exc)}); "
                             "check the server, or rebuild the index with rag index --store milvus") from None
        return list(res[0]) if res else []

    def _rows(self, hits: list[dict]) -> Ranked:
        out = []
        for h in hits:
            row = self._row_of.get(chunk_of(str(h["pk"])))
            if row is not None:  # always, unless the collection was edited behind the manifest
                out.append((row, float(h["distance"])))
        return out

    def dense(self, query: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        q = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        hits = self._search([q], "vector", k, doc_ids, {"metric_type": "IP", "params": {"ef": max(self._ef, k)}})
        return self._rows(hits)

    def keyword(self, tokens: Sequence[str], k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        # A repeated query token counts once, as in our BM25.
        text = keyword_text(dict.fromkeys(tokens), self.analyzer)
        if not text:
            return []
        hits = self._search([text], "sparse", k, doc_ids, {"params": {"drop_ratio_search": 0.0}})
        # Milvus returns BM25 as a negative distance (smaller is closer); the score is its size.
        ranked = self._rows(hits)
        ranked = [(r, abs(s)) for r, s in ranked if abs(s) > 0]
        return sorted(ranked, key=lambda x: (-x[1], x[0]))


def open_store(manifest: dict, folder, config: StoreConfig, row_of: Mapping[str, int], n_chunks: int,
               ef_search: int = 128) -> MilvusStore:
    """The store the manifest names, checked: the collection exists, is the one this build
    wrote (token), has the manifest's dimension and holds exactly its chunks."""
    info = manifest.get("store", {})
    uri, name = info.get("uri", ""), info.get("collection", "")
    corpus = manifest.get("corpus", {}).get("absolute") or manifest.get("corpus", {}).get("path") or "FOLDER"
    fix = f"rebuild with: rag index --corpus {corpus} --store milvus --milvus-uri {uri or 'URI'} --out {folder}"
    if not uri or not name:
        raise IndexLoadError(f"{folder}/manifest.json names no Milvus collection; {fix}")
    # A Milvus Lite path of an older manifest is relative to the index's parent folder.
    uri = absolute_store_uri(uri, os.path.dirname(os.path.realpath(folder)))
    withheld = (f"; RAG_MILVUS_TOKEN is sent only to the server you name, so if {uri} is yours, confirm it with "
                f"--milvus-uri {uri} (or RAG_MILVUS_URI)" if config.withheld_token(uri) else "")
    try:
        client = connect(uri, config.token_for(uri))
        exists = client.has_collection(name)
    except Exception as exc:
        what = (f"the Milvus Lite database {uri} cannot be read, it may be damaged" if is_lite(uri)
                else f"cannot reach Milvus at {uri}")
        raise IndexLoadError(f"{what} ({error_reason(exc)}){withheld}; check the server or {fix}") from None
    if not exists:
        raise IndexLoadError(f"the Milvus collection {name} that index {folder} names is missing at {uri} "
                             f"(dropped, or another database file); {fix}")
    try:
        desc = client.describe_collection(name)
        props = desc.get("properties", {}) or {}
        dims = [f.get("params", {}).get("dim") for f in desc.get("fields", []) if f.get("name") == "vector"]
        client.load_collection(name)
        generation = int(info.get("generation", 0))
        hidden = [str(d) for d in info.get("changed", [])]
        count = client.query(name, filter=filter_expr(generation, None, hidden), output_fields=["count(*)"])[0]["count(*)"]
    except Exception as exc:
        raise IndexLoadError(f"the Milvus collection {name} at {uri} cannot be read ({error_reason(exc)}); {fix}") from None
    if props.get("rag.token") != info.get("token"):
        raise IndexLoadError(f"the Milvus collection {name} at {uri} was written by another build than index "
                             f"{folder} (token {props.get('rag.token')!r}, manifest {info.get('token')!r}); {fix}")
    want_dim = manifest.get("model", {}).get("dimension")
    if not dims or int(dims[0]) != want_dim:
        raise IndexLoadError(f"the Milvus collection {name} holds {dims[0] if dims else '?'}-dimensional vectors "
                             f"but index {folder} was built with {want_dim}; {fix}")
    if count != n_chunks:
        raise IndexLoadError(f"the Milvus collection {name} holds {count} rows for build generation {generation} "
                             f"but index {folder} has {n_chunks} chunks (edited or half-written); {fix}")
    return MilvusStore(client, name, generation, row_of, info.get("analyzer", "tokens"), ef_search, hidden)


class MilvusWriter:
    """A build written to Milvus (``base.StoreWriter`` over ``CollectionWriter``): a new
    collection for a full build, the next generation of the current one for an update."""

    def __init__(self, settings: "Settings", owned: dict, dim: int, n_rows: int, previous_rows: int | None) -> None:
        from .. import vectors as vec
        from .milvus_writer import CollectionWriter

        kind = vec.choose_kind(n_rows, settings.ann_threshold)
        self._vector_kind = "milvus-" + kind
        self._writer = CollectionWriter(settings.store_config(), owned, dim, os.urandom(4).hex(),
                                        settings.milvus.analyzer, kind == "hnsw-ip", settings.hnsw_m, previous_rows)

    @property
    def info(self) -> dict:
        return self._writer.info

    @property
    def vector_kind(self) -> str:
        return self._vector_kind

    def write(self, build: BuildRows, folder: Path) -> list[str]:
        # A new collection needs every row; an update only the rows that are new.
        incremental = self._writer.incremental
        self._writer.write(build.rows(incremental), sorted(build.changed_docs) if incremental else [])
        return []

    def commit(self) -> None:
        self._writer.commit()

    def abandon(self) -> None:
        self._writer.abandon()


class MilvusBackend:
    """The Milvus store (``base.StoreBackend``)."""

    kind = "milvus"
    folder_files: frozenset[str] = frozenset()
    external = True

    def writer(self, settings: "Settings", previous: dict | None, owned: dict, dim: int,
               n_rows: int) -> MilvusWriter:
        return MilvusWriter(settings, owned, dim, n_rows, (previous or {}).get("counts", {}).get("chunks"))

    def open(self, manifest: dict, folder: Path, settings: "Settings", blobs: dict[str, bytes],
             chunks: Sequence["Chunk"], bm25, row_of: dict[str, int]) -> MilvusStore:
        return open_store(manifest, folder, settings.store_config(), row_of, len(chunks), settings.hnsw_ef_search)

    def same(self, previous: dict, info: dict, settings: "Settings") -> bool:
        from .milvus_writer import collection_usable

        return (info.get("uri") == settings.milvus.uri and info.get("base") == settings.milvus.collection
                and info.get("analyzer") == settings.milvus.analyzer
                and collection_usable(info, settings.store_config(), previous.get("counts", {}).get("chunks")))

    def settings_of(self, info: dict, base: Path | None = None) -> dict:
        return {"milvus_uri": absolute_store_uri(info.get("uri", ""), base),
                "milvus_collection": info.get("base", "rag_chunks"), "milvus_analyzer": info.get("analyzer", "tokens")}

    def drop(self, manifest: dict, settings: "Settings") -> None:
        from .milvus_writer import drop_build

        drop_build(manifest, settings.store_config())
