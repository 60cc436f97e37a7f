"""Where the chunk vectors and the keyword index live, behind one small protocol.

``faiss_store`` is the default: the vectors and the BM25 postings are files of the
index folder. ``milvus_store`` keeps them in a Milvus collection (Milvus Lite, embedded,
for a local file; a Milvus server or cluster for an ``http://`` URI) and runs dense,
keyword (BM25 on the server) and filtered search there. Either way the index folder
holds the manifest, documents and chunk records that citations and lookups read.
"""
from .base import STORE_KINDS, Store, StoreConfig

__all__ = ["STORE_KINDS", "Store", "StoreConfig"]
