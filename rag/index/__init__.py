"""The index folder: its manifest (``manifest``), the folder, lock and atomic swap
(``folder``), what a build reuses from the previous one (``previous``), the incremental
build (``build``) and loading (``load``).

Layout of an index folder (all readable; no pickle anywhere):
  manifest.json      format version, model, normalization, chunking, counts, checksums
  documents.jsonl    one Document per line, original text included
  chunks.jsonl       one Chunk per line
  vectors.faiss      the FAISS index of chunk vectors (row i = chunk i)
  bm25.npz, bm25_terms.json   the keyword index over jieba tokens of folded text
  embed_cache.npy, embed_cache_keys.json   vectors by hash of (model, passage text)
"""
from .build import BuildReport, build_index, build_locked
from .folder import check_output_folder, locked, replaceable
from .load import LoadedIndex, load_index, read_documents
from .manifest import FORMAT_VERSION, as_built, corpus_folder, manifest_digest, read_manifest, store_settings

__all__ = ["BuildReport", "FORMAT_VERSION", "LoadedIndex", "as_built", "build_index", "build_locked", "check_output_folder",
           "corpus_folder", "load_index", "locked", "manifest_digest", "read_documents", "read_manifest",
           "replaceable", "store_settings"]
