"""Where the chunk vectors and the keyword index live, behind one lifecycle protocol
(``base.StoreBackend``: write a build, commit or abandon it, open it for search, drop it).

``faiss_store`` is the default: the vectors and the BM25 postings are files of the index
folder. ``milvus_store`` keeps them in a Milvus collection (Milvus Lite, embedded, for a
local file; a Milvus server or cluster for an ``http://`` URI). Either way the index
folder holds the manifest, documents and chunk records that citations and lookups read.
``registry`` finds a backend by kind; a new store is one module and one ``register``.
"""
from .base import BuildRows, Store, StoreBackend, StoreConfig, StoreRow, StoreWriter
from .registry import backend, kinds, register

__all__ = ["BuildRows", "Store", "StoreBackend", "StoreConfig", "StoreRow", "StoreWriter", "backend", "kinds",
           "register"]
