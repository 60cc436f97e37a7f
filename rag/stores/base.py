"""The ``Store`` protocol: dense and keyword search over the rows of one index build."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

Ranked = list[tuple[int, float]]  # (row in the index's chunk list, score), best first
STORE_KINDS = ("faiss", "milvus")


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

    def dense(self, query: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        """The ``k`` rows closest to ``query`` (one L2-normalised vector) by cosine."""
        ...

    def keyword(self, tokens: Sequence[str], k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        """The ``k`` rows with the best positive BM25 score for ``tokens``; ties keep row order."""
        ...


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
        if self.kind not in STORE_KINDS:
            raise ValueError(f"store {self.kind!r} is not one of {', '.join(STORE_KINDS)}")
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
