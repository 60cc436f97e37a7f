"""Writes to Milvus: a new collection for a full build, the next generation of the current one
for an update; commit after the index folder's swap, abandon when it did not happen; drop a
build's collection."""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from ..errors import RagError
from .base import StoreConfig
from .base import StoreRow
from .milvus_client import FIELDS_VERSION, KEYWORD_ANALYZERS, StoreError, BATCH, filter_expr, id_list, error_reason, connect, keyword_text

log = logging.getLogger(__name__)


def _create(client, name: str, dim: int, token: str, analyzer: str, hnsw: bool, m: int) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, description="rag-zh-news chunks")
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("chunk_id", DataType.VARCHAR, max_length=512)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
    schema.add_field("section", DataType.VARCHAR, max_length=1024)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("date", DataType.VARCHAR, max_length=32)
    schema.add_field("source", DataType.VARCHAR, max_length=256)
    schema.add_field("gen_added", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("keywords", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params=KEYWORD_ANALYZERS[analyzer])
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["keywords"],
                                 output_field_names=["sparse"]))
    params = client.prepare_index_params()
    if hnsw:
        params.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": m, "efConstruction": 80})
    else:
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    # Same k1 and b as our BM25; DAAT_MAXSCORE is exact (no pruning).
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"inverted_index_algo": "DAAT_MAXSCORE", "bm25_k1": 1.5, "bm25_b": 0.75})
    client.create_collection(name, schema=schema, index_params=params,
                             properties={"rag.token": token, "rag.fields": str(FIELDS_VERSION)})


def _as_dict(r: StoreRow, analyzer: str, gen_added: int) -> dict:
    return {"pk": r.key, "chunk_id": r.chunk_id, "doc_id": r.doc_id, "section": r.section[:300], "start": r.start,
            "end": r.end, "date": r.date[:32], "source": r.source[:80], "gen_added": gen_added, "vector": np.asarray(r.vector, dtype=np.float32).tolist(),
            "keywords": keyword_text(r.tokens, analyzer)}


class CollectionWriter:
    """Writes one build into Milvus: a new collection for a full build, or the next
    generation of the current one for an update. ``commit`` happens after the folder swap."""

    def __init__(self, config: StoreConfig, previous: dict | None, dim: int, token: str, analyzer: str,
                 hnsw: bool, hnsw_m: int, previous_rows: int | None = None) -> None:
        self.config = config
        self.client = connect(config.milvus_uri, config.token_for(config.milvus_uri))
        self.analyzer = analyzer
        self._dim, self._hnsw = dim, hnsw
        prev = previous or {}
        same = (prev.get("kind") == "milvus" and prev.get("uri") == config.milvus_uri
                and prev.get("base") == config.milvus_collection and prev.get("analyzer") == analyzer
                and prev.get("dimension") == dim and bool(prev.get("hnsw")) == hnsw)
        self.previous_collection = prev.get("collection") if prev.get("kind") == "milvus" else None
        self.incremental = same and collection_usable(prev, config, previous_rows)
        self.changed: list[str] = []
        if self.incremental:
            self.name, self.token = prev["collection"], prev["token"]
            self.base_generation = int(prev.get("generation", 0))
            self._call(self.client.load_collection, self.name)
            self._clean(self.base_generation, [str(d) for d in prev.get("changed", [])])
        else:
            self.name, self.token = f"{config.milvus_collection}_{token}", token
            self.base_generation = 0
            self._call(_create, self.client, self.name, dim, token, analyzer, hnsw, hnsw_m)
        self.generation = self.base_generation + 1

    @property
    def info(self) -> dict:
        """The manifest's store section for this build."""
        return {"kind": "milvus", "uri": self.config.milvus_uri, "base": self.config.milvus_collection,
                "collection": self.name, "token": self.token, "generation": self.generation,
                "changed": self.changed, "analyzer": self.analyzer,
                "dimension": self._dim, "hnsw": self._hnsw}

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RagError:
            raise
        except Exception as exc:
            raise StoreError(f"Milvus at {self.config.milvus_uri} refused to write collection "
                             f"{getattr(self, 'name', '?')} ({error_reason(exc)}); the index folder was not changed") from None

    def _clean(self, g: int, changed: Sequence[str]) -> None:
        """Delete what generation ``g`` does not see: rows a crashed update added after it,
        and superseded rows whose deletion did not happen (or did not finish)."""
        self._call(self.client.delete, self.name, filter=f"gen_added > {g}")
        for i in range(0, len(changed), BATCH):
            batch = changed[i:i + BATCH]
            self._call(self.client.delete, self.name, filter=f"doc_id in {id_list(batch)} and gen_added < {g}")

    def write(self, added: Sequence[StoreRow], changed_docs: Sequence[str]) -> None:
        """Insert the new rows under the next generation (invisible to the current one);
        ``changed_docs`` are the documents whose older rows that generation no longer sees."""
        self.changed = sorted(set(changed_docs)) if self.incremental else []
        g = self.generation
        rows = [_as_dict(r, self.analyzer, g) for r in added]
        for i in range(0, len(rows), BATCH):
            self._call(self.client.insert, self.name, rows[i:i + BATCH])
        self._call(self.client.flush, self.name)
        self._call(self.client.load_collection, self.name)

    def commit(self) -> None:
        """After the folder names the new generation: delete the rows it no longer sees,
        and drop the previous build's collection if this was a full build."""
        try:
            self._clean(self.generation, self.changed)
            if self.previous_collection and self.previous_collection != self.name \
                    and self.client.has_collection(self.previous_collection):
                self.client.drop_collection(self.previous_collection)
        except Exception as exc:  # the new build is in place and correct; only space is not yet reclaimed
            log.warning("Milvus clean-up of %s failed (%s); the next update retries it", self.name, error_reason(exc))

    def abandon(self) -> None:
        """The folder swap did not happen: remove what this build wrote."""
        try:
            if self.incremental:
                self.client.delete(self.name, filter=f"gen_added > {self.base_generation}")
            else:
                self.client.drop_collection(self.name)
        except Exception as exc:
            log.warning("could not undo the Milvus writes to %s (%s); the next build does", self.name, error_reason(exc))


def drop_build(manifest: dict, config: StoreConfig) -> None:
    """Drop the collection a manifest names (used when a FAISS build replaces a Milvus one)."""
    info = manifest.get("store", {})
    if info.get("kind") != "milvus":
        return
    try:
        client = connect(info["uri"], config.token_for(info["uri"]))
        if client.has_collection(info["collection"]):
            client.drop_collection(info["collection"])
    except Exception as exc:
        log.warning("could not drop the previous Milvus collection %s (%s)", info.get("collection"), exc)


def collection_usable(info: dict, config: StoreConfig, rows: int | None = None) -> bool:
    """Whether the collection a manifest names exists, was written by that build and (when
    ``rows`` is given) holds exactly that many rows for its generation: a damaged
    collection is not "up to date" and is not updated in place, so a rebuild repairs it."""
    try:
        client = connect(info["uri"], config.token_for(info["uri"]))
        if not client.has_collection(info["collection"]):
            return False
        props = client.describe_collection(info["collection"]).get("properties", {}) or {}
        if props.get("rag.token") != info.get("token"):
            return False
        if rows is None:
            return True
        client.load_collection(info["collection"])
        expr = filter_expr(int(info.get("generation", 0)), None, [str(d) for d in info.get("changed", [])])
        return client.query(info["collection"], filter=expr, output_fields=["count(*)"])[0]["count(*)"] == rows
    except Exception:  # unreachable, refused or damaged: not usable as it is
        return False
