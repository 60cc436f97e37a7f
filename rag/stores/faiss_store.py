"""The default store: a FAISS index and our BM25 postings, both files of the index folder."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .. import vectors as vec
from ..bm25 import BM25Index
from ..errors import IndexLoadError
from .base import BuildRows, Ranked, rows_of

if TYPE_CHECKING:
    from ..records import Chunk
    from ..settings import Settings


class FaissStore:
    """Exact (or HNSW) inner product over the chunk vectors; BM25 scored with numpy."""

    kind = "faiss"

    def __init__(self, vectors, bm25: BM25Index, chunk_doc_ids: Sequence[str]) -> None:
        self.vectors = vectors  # faiss.Index, row i = chunk i
        self.bm25 = bm25
        self._doc_of = list(chunk_doc_ids)
        self._last_mask: tuple[tuple[str, ...], np.ndarray | None] = ((), None)

    def _mask(self, doc_ids: Sequence[str] | None) -> np.ndarray | None:
        """The row mask of ``doc_ids``; a hybrid search asks twice (once per leg), so the
        last one is kept rather than built again over every row."""
        if doc_ids is None:
            return None
        key = tuple(doc_ids)
        last_key, last = self._last_mask  # one read: another thread may replace it
        if last is not None and last_key == key:
            return last
        mask = rows_of(self._doc_of, key)
        self._last_mask = (key, mask)
        return mask

    def dense(self, query: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        return vec.search(self.vectors, np.asarray(query, dtype=np.float32).reshape(1, -1), k, self._mask(doc_ids))[0]

    def keyword(self, tokens: Sequence[str], k: int, doc_ids: Sequence[str] | None = None) -> Ranked:
        return self.bm25.top_k(tokens, k, self._mask(doc_ids))

    def count(self) -> int:
        return int(self.vectors.ntotal)


class FaissWriter:
    """Writes the vectors as ``vectors.faiss`` into the new index folder: the folder's
    swap publishes them, and a folder that is not swapped in takes them with it."""

    info = {"kind": "faiss"}

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self._vector_kind = ""
        self.tuning: vec.Tuning | None = None

    @property
    def vector_kind(self) -> str:
        return self._vector_kind

    def write(self, build: BuildRows, folder: Path) -> list[str]:
        s = self.settings
        index, self._vector_kind, self.tuning = vec.build_vector_index(
            build.matrix, s.ann_threshold, s.hnsw_m, s.hnsw_ef_search, target_recall=s.ann_target_recall)
        vec.save(index, folder / "vectors.faiss")
        return ["vectors.faiss"]

    def commit(self) -> None:
        pass  # nothing outside the folder

    def abandon(self) -> None:
        pass  # the unswapped folder is discarded whole


class FaissBackend:
    """The FAISS folder store (``base.StoreBackend``)."""

    kind = "faiss"
    folder_files = frozenset({"vectors.faiss"})
    external = False

    def writer(self, settings: "Settings", previous: dict | None, owned: dict, dim: int, n_rows: int) -> FaissWriter:
        return FaissWriter(settings)

    def open(self, manifest: dict, folder: Path, settings: "Settings", blobs: dict[str, bytes],
             chunks: Sequence["Chunk"], bm25: BM25Index, row_of: dict[str, int]) -> FaissStore:
        try:
            index = vec.from_bytes(blobs["vectors.faiss"])
        except (ValueError, RuntimeError, OSError) as exc:
            raise IndexLoadError(f"index file {folder}/vectors.faiss cannot be read ({exc}); "
                                 f"rebuild with: rag index --out {folder}") from exc
        dim = manifest.get("model", {}).get("dimension")
        if index.ntotal != len(chunks) or index.d != dim:
            raise IndexLoadError(f"index {folder} is inconsistent: {len(chunks)} chunks, {index.ntotal} vectors of "
                                 f"dimension {index.d} (manifest: {dim}), {bm25.n_docs} keyword rows; rebuild it")
        if hasattr(index, "hnsw"):
            # The effort the build measured to reach its recall target, else the setting.
            tuned = manifest.get("vector_index", {}).get("measured", {}).get("ef_search")
            index.hnsw.efSearch = int(tuned) if isinstance(tuned, int) and tuned > 0 else settings.hnsw_ef_search
        return FaissStore(index, bm25, [c.doc_id for c in chunks])

    def same(self, previous: dict, info: dict, settings: "Settings") -> bool:
        return True  # the files were checked with the folder

    def settings_of(self, info: dict, base: Path | None = None) -> dict:
        return {}

    def drop(self, manifest: dict, settings: "Settings") -> None:
        pass  # the files go with the folder
