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

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..errors import IndexLoadError, RagError
from .base import Ranked, StoreConfig, absolute_store_uri

log = logging.getLogger(__name__)

FIELDS_VERSION = 2  # bump when the collection's fields change
KEYWORD_ANALYZERS = {"tokens": {"tokenizer": "standard"}, "jieba": {"tokenizer": "jieba"}}
_BATCH = 512
_clients: dict[tuple[str, str], object] = {}
_clients_lock = threading.Lock()


class StoreError(RagError):
    """Milvus could not be reached or refused a request; the message says which and what to do."""


def term_code(token: str) -> str:
    """The ASCII word that stands for one of our tokens in the collection."""
    return "t" + hashlib.blake2b(token.encode("utf-8"), digest_size=8).hexdigest()


def keyword_text(tokens: Iterable[str], analyzer: str) -> str:
    """What the keyword field holds for ``tokens`` (repeats kept: they are term frequencies)."""
    if analyzer == "jieba":
        return " ".join(tokens)
    return " ".join(term_code(t) for t in tokens)


def row_key(chunk_id: str, content_key: str, doc_sha: str) -> str:
    """A row's primary key: the chunk id plus a digest of its vector's input and its
    document's text, so a changed document always gets new rows."""
    return f"{chunk_id}@{hashlib.sha256(f'{content_key}:{doc_sha}'.encode()).hexdigest()[:16]}"


def chunk_of(pk: str) -> str:
    return pk.rsplit("@", 1)[0]


class _QuietLite(logging.Filter):
    """Tracebacks Milvus Lite logs for conditions this module reports itself: its embedded
    gRPC server's for a timestamp call it does not implement (pymilvus asks for it when
    creating a collection, then carries on), and its server manager's when another
    process holds the database (``connect`` says so in one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "Method not implemented" not in message and "Failed to start MilvusLite server" not in message


def connect(uri: str, token: str = ""):
    """One client per (uri, token) in this process: Milvus Lite lets only one process
    open a database file, and one client serves every thread."""
    key = (uri, token)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            for name in ("grpc._server", "milvus_lite.server_manager"):
                logger = logging.getLogger(name)
                if not any(isinstance(f, _QuietLite) for f in logger.filters):
                    logger.addFilter(_QuietLite())
            try:
                from pymilvus import MilvusClient
            except ImportError:
                raise StoreError("the Milvus store needs pymilvus and milvus-lite; install them with: "
                                 "pip install -e '.[milvus]'") from None
            try:
                client = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
            except Exception as exc:  # pymilvus raises its own types, and grpc errors under them
                hint = ("Milvus Lite lets only one process open a database file: stop the other process "
                        "(the chat page, another rag command) or use a Milvus server"
                        if _is_lite(uri) else "check that the server is running and the URI and token are right")
                raise StoreError(f"cannot open Milvus at {uri} ({_reason(exc)}); {hint}") from None
            # pymilvus logs every refused call with a traceback at ERROR, and Milvus Lite's
            # embedded server every failure it answers (30 lines for a damaged database
            # file); the store turns each into one clear message instead.
            logging.getLogger("pymilvus.decorators").setLevel(logging.CRITICAL)
            logging.getLogger("milvus_lite.adapter").setLevel(logging.CRITICAL)
            _clients[key] = client
        return client


def disconnect(uri: str) -> None:
    """Close this process's clients of ``uri`` (Milvus Lite then lets another process open it)."""
    with _clients_lock:
        for key in [k for k in _clients if k[0] == uri]:
            try:
                _clients.pop(key).close()
            except Exception as exc:  # closing is best effort
                log.info("closing the Milvus client of %s: %s", uri, exc)
    if _is_lite(uri):
        try:  # the embedded server keeps the file open until it is released
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(uri)
        except ImportError:
            pass


def _is_lite(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "tcp://", "unix:"))


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "message", "") or exc).splitlines()[0][:200]


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _literal(value: str) -> str:
    """A string literal of Milvus's filter language. It knows only the escapes of \\, ",
    newline, return and tab; JSON's ``\\u001b`` is refused, so a file name with ESC made a
    collection unusable for good. Every other character stands as itself."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def _ids(values: Sequence[str]) -> str:
    return "[" + ", ".join(_literal(v) for v in values) + "]"


def _expr(generation: int, doc_ids: Sequence[str] | None, hidden: Sequence[str] = ()) -> str:
    """The rows generation ``generation`` sees (within ``doc_ids``): what it or an earlier
    generation added, without the older rows of the documents it changed (``hidden``)."""
    expr = f"gen_added <= {generation}"
    if hidden:
        expr += f" and not (doc_id in {_ids(hidden)} and gen_added < {generation})"
    if doc_ids is not None:
        expr += f" and doc_id in {_ids(doc_ids)}"
    return expr


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

    def _search(self, data, field: str, k: int, doc_ids, params: dict) -> list[dict]:
        if k <= 0 or (doc_ids is not None and not doc_ids):
            return []
        try:
            res = self.client.search(self.collection, data=data, anns_field=field, limit=min(k, 16384),
                                     filter=_expr(self.generation, doc_ids, self.hidden), output_fields=["doc_id"],
                                     search_params=params)
        except Exception as exc:
            raise StoreError(f"Milvus search in collection {self.collection} failed ({_reason(exc)}); "
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


# --- checks when an index is loaded -------------------------------------------------


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
        what = (f"the Milvus Lite database {uri} cannot be read, it may be damaged" if _is_lite(uri)
                else f"cannot reach Milvus at {uri}")
        raise IndexLoadError(f"{what} ({_reason(exc)}){withheld}; check the server or {fix}") from None
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
        count = client.query(name, filter=_expr(generation, None, hidden), output_fields=["count(*)"])[0]["count(*)"]
    except Exception as exc:
        raise IndexLoadError(f"the Milvus collection {name} at {uri} cannot be read ({_reason(exc)}); {fix}") from None
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


# --- writes (builds and updates) --------------------------------------------------------


@dataclass(frozen=True)
class MilvusRow:
    """One chunk as the collection holds it."""

    pk: str
    chunk_id: str
    doc_id: str
    section: str
    start: int
    end: int
    date: str
    source: str
    vector: np.ndarray
    tokens: tuple[str, ...]


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


def _as_dict(r: MilvusRow, analyzer: str, gen_added: int) -> dict:
    return {"pk": r.pk, "chunk_id": r.chunk_id, "doc_id": r.doc_id, "section": r.section[:300], "start": r.start,
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
                             f"{getattr(self, 'name', '?')} ({_reason(exc)}); the index folder was not changed") from None

    def _clean(self, g: int, changed: Sequence[str]) -> None:
        """Delete what generation ``g`` does not see: rows a crashed update added after it,
        and superseded rows whose deletion did not happen (or did not finish)."""
        self._call(self.client.delete, self.name, filter=f"gen_added > {g}")
        for i in range(0, len(changed), _BATCH):
            batch = changed[i:i + _BATCH]
            self._call(self.client.delete, self.name, filter=f"doc_id in {_ids(batch)} and gen_added < {g}")

    def write(self, added: Sequence[MilvusRow], changed_docs: Sequence[str]) -> None:
        """Insert the new rows under the next generation (invisible to the current one);
        ``changed_docs`` are the documents whose older rows that generation no longer sees."""
        self.changed = sorted(set(changed_docs)) if self.incremental else []
        g = self.generation
        rows = [_as_dict(r, self.analyzer, g) for r in added]
        for i in range(0, len(rows), _BATCH):
            self._call(self.client.insert, self.name, rows[i:i + _BATCH])
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
            log.warning("Milvus clean-up of %s failed (%s); the next update retries it", self.name, _reason(exc))

    def abandon(self) -> None:
        """The folder swap did not happen: remove what this build wrote."""
        try:
            if self.incremental:
                self.client.delete(self.name, filter=f"gen_added > {self.base_generation}")
            else:
                self.client.drop_collection(self.name)
        except Exception as exc:
            log.warning("could not undo the Milvus writes to %s (%s); the next build does", self.name, _reason(exc))


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
        expr = _expr(int(info.get("generation", 0)), None, [str(d) for d in info.get("changed", [])])
        return client.query(info["collection"], filter=expr, output_fields=["count(*)"])[0]["count(*)"] == rows
    except Exception:  # unreachable, refused or damaged: not usable as it is
        return False
