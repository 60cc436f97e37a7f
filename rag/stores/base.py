"""The ``Store`` protocol: dense and keyword search over the rows of one index build."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..bm25 import BM25Index
    from ..records import Chunk
    from ..settings import Settings

Ranked = list[tuple[int, float]]  # (row in the index's chunk list, score), best first


def absolute_store_uri(uri: str, base=None) -> str:
    """A Milvus Lite database path made absolute (against ``base``, else the current
    folder), so that an index never opens another file from another folder; server URIs
    are returned as they are."""
    import os

    if not uri or "://" in uri or uri.startswith("unix:") or os.path.isabs(uri):
        return uri
    return os.path.abspath(os.path.join(base, uri) if base is not None else uri)


class Store(Protocol):
    """Search over the chunks of one build. Rows are positions in ``LoadedIndex.chunks``;
    ``doc_ids`` (None: all) restricts the search to those documents before ranking."""

    kind: str

    def count(self) -> int:
        """How many rows this build's searches see."""
        ...

    def dense(self, query: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        """The ``k`` rows closest to ``query`` (one L2-normalised vector) by cosine."""
        ...

    def keyword(self, tokens: Sequence[str], k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        """The ``k`` rows with the best positive BM25 score for ``tokens``; ties keep row order."""
        ...


@dataclass(frozen=True)
class StoreRow:
    """One chunk as a store holds it: a key unique to its text and document version, where
    it is, its document's date and outlet (for filters), its vector and keyword tokens."""

    key: str
    chunk_id: str
    doc_id: str
    section: str
    start: int
    end: int
    date: str
    source: str
    vector: np.ndarray
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class BuildRows:
    """What a build hands its store. ``rows(only_new)`` gives the rows in index order
    (only those not in the previous build when ``only_new``); ``changed_docs`` are the
    documents whose previous rows the new build no longer has; ``matrix`` and ``bm25``
    are the whole build's vectors and keyword index (row i = chunk i)."""

    rows: Callable[[bool], list[StoreRow]]
    changed_docs: frozenset[str]
    matrix: np.ndarray
    bm25: "BM25Index"
    chunk_doc_ids: tuple[str, ...]


class StoreWriter(Protocol):
    """Writes one build. Nothing written is seen by readers of the current build; the
    index folder's swap publishes it, then ``commit`` clears what the new build no
    longer sees. ``abandon`` undoes the writes of a build that was not swapped in."""

    def write(self, build: BuildRows, folder: Path) -> list[str]:
        """Write the build; return the files put into ``folder`` (the new index folder)."""
        ...

    @property
    def info(self) -> dict:
        """The manifest's ``store`` section for this build (``kind`` first)."""
        ...

    @property
    def vector_kind(self) -> str:
        """The manifest's ``vector_index.kind`` (exact or HNSW, and where)."""
        ...

    def commit(self) -> None: ...

    def abandon(self) -> None: ...


class StoreBackend(Protocol):
    """One kind of store over its whole lifecycle: write a build (``writer``), open it
    for search (``open``), tell whether a previous build is current (``same``), and drop
    a build's data (``drop``). ``folder_files`` are the index-folder files it reads;
    ``external``: its data lives outside the folder (the manifest then names the folder
    that owns it, so a copied folder never changes the original's data)."""

    kind: str
    folder_files: frozenset[str]
    external: bool

    def writer(self, settings: "Settings", previous: dict | None, owned: dict, dim: int,
               n_rows: int) -> StoreWriter: ...

    def open(self, manifest: dict, folder: Path, settings: "Settings", blobs: dict[str, bytes],
             chunks: Sequence["Chunk"], bm25: "BM25Index", row_of: dict[str, int]) -> Store: ...

    def same(self, previous: dict, info: dict, settings: "Settings") -> bool: ...

    def settings_of(self, info: dict, base: Path | None = None) -> dict:
        """The Settings fields that build into the store a manifest's ``info`` names."""
        ...

    def drop(self, manifest: dict, settings: "Settings") -> None: ...


@dataclass(frozen=True)
class StoreConfig:
    """Which store a build writes to. ``milvus_uri``: a local file path (Milvus Lite) or
    ``http(s)://host:19530`` (a server); ``milvus_collection`` is the base name of the
    collection (each full build gets its own, ``<base>_<build token>``)."""

    kind: str = "faiss"
    milvus_uri: str = ""
    milvus_token: str = field(default="", repr=False)  # a server's credentials; never written to the manifest
    milvus_collection: str = "rag_chunks"
    token_server: str = ""  # the only server ``milvus_token`` is sent to (the one the user named)

    def token_for(self, uri: str) -> str:
        """The token to send to ``uri``: only to the server the user named with it."""
        return self.milvus_token if self.milvus_token and uri and uri == self.token_server else ""

    def withheld_token(self, uri: str) -> bool:
        """A token was given but is not sent to ``uri`` (a server the user did not name)."""
        return bool(self.milvus_token) and not self.token_for(uri)

    def check(self) -> "StoreConfig":
        """``self``, or ValueError naming the bad value and the fix."""
        from .registry import kinds

        if self.kind not in kinds():
            raise ValueError(f"store {self.kind!r} is not one of {', '.join(kinds())}")
        if self.kind == "milvus":
            if not self.milvus_uri.strip():
                raise ValueError("--store milvus needs --milvus-uri: a file path (Milvus Lite, e.g. "
                                 "index.milvus.db) or http://host:19530 (a Milvus server)")
            name = self.milvus_collection
            if not name or len(name) > 200 or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")) \
                    or not all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in name):
                raise ValueError(f"--milvus-collection {name[:40]!r} must be ASCII letters, digits and _, "
                                 "starting with a letter or _ (e.g. rag_chunks)")
        return self


def rows_of(chunk_doc_ids: Sequence[str], doc_ids: Sequence[str] | None) -> np.ndarray | None:
    """A boolean mask of the rows whose document is in ``doc_ids`` (None: no restriction)."""
    if doc_ids is None:
        return None
    wanted = set(doc_ids)
    return np.fromiter((d in wanted for d in chunk_doc_ids), dtype=bool, count=len(chunk_doc_ids))


def row_key(chunk_id: str, content_key: str, doc_sha: str) -> str:
    """A row's primary key: the chunk id plus a digest of its vector's input and its
    document's text, so a changed document always gets new rows."""
    return f"{chunk_id}@{hashlib.sha256(f'{content_key}:{doc_sha}'.encode()).hexdigest()[:16]}"


def chunk_of(pk: str) -> str:
    return pk.rsplit("@", 1)[0]
