"""An index folder's manifest: what it holds, how it was built, its checksums; reading it and
checking that it matches the settings."""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from ..corpus import text_path
from ..embedding.base import Embedder, vectors_compatible
from ..errors import IndexLoadError, InputError
from ..settings import Settings

log = logging.getLogger(__name__)


FORMAT_VERSION = 2  # 2: the manifest carries its own checksum


PRODUCT = "rag-zh-news index"  # what a manifest says to claim its folder as one of ours


# Every file a build writes. A build replaces its output folder whole, so it only ever
# replaces (or deletes) a folder that holds nothing but these.
INDEX_FILES = frozenset({"manifest.json", "documents.jsonl", "chunks.jsonl", "vectors.faiss", "bm25.npz",
                         "bm25_terms.json", "embed_cache.npy", "embed_cache_keys.json"})


CLEANER_VERSION = 3  # 3: outlets, datelines, title origin; bump when cleaning or splitting rules change what chunks contain


NORMALIZATION = {"width": "NFKC+lower", "script": "opencc t2s", "tokenizer": "jieba 0.42.1 (default dict)"}


def chunk_settings(settings: Settings) -> dict:
    return {"size": settings.chunk_size, "overlap_sentences": settings.chunk_overlap_sentences,
            "cleaner_version": CLEANER_VERSION}


def normalization(settings: Settings) -> dict:
    return {**NORMALIZATION, "script": "opencc t2s" if settings.fold_target == "simplified" else "opencc s2t",
            "fold_target": settings.fold_target}


def manifest_digest(manifest: dict) -> str:
    """The checksum a manifest carries of itself (over every other field)."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def parse_manifest(data: bytes, path: Path, folder: Path) -> dict:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexLoadError(f"{path} is damaged ({exc}); rebuild the index with: rag index --out {folder}") from exc
    if not isinstance(manifest, dict):
        raise IndexLoadError(f"{path} is damaged (not a JSON object); rebuild the index with: rag index --out {folder}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(f"index {folder} has format version {manifest.get('format_version')} but this "
                             f"program reads version {FORMAT_VERSION}; rebuild with: rag index --out {folder}")
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        raise IndexLoadError(f"{path} is damaged (it does not match its own checksum); "
                             f"rebuild the index with: rag index --out {folder}")
    return manifest


def recover_swap(folder: Path) -> None:
    """Put back the previous index if a crash fell between the two renames of a
    fallback swap (on file systems without an atomic exchange)."""
    if folder.exists():
        return
    old = sorted(folder.resolve().parent.glob(f".{folder.name}.old-*"))
    if len(old) == 1 and (old[0] / "manifest.json").is_file():
        log.warning("restoring the previous index %s from %s (an index swap was interrupted)", folder, old[0])
        os.rename(old[0], folder)


def manifest_bytes(folder: Path) -> bytes:
    """The raw manifest of the index at ``folder`` (after undoing a half-done swap)."""
    recover_swap(folder)
    path = folder / "manifest.json"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise IndexLoadError(f"no index at {folder} (manifest.json is missing); build one with: "
                             f"rag index --out {folder}") from None
    except OSError as exc:
        raise IndexLoadError(f"{path} cannot be read ({exc.strerror}); rebuild with: rag index --out {folder}") from exc


def read_manifest(folder: Path) -> dict:
    """The manifest of the index at ``folder``, checked against its own checksum."""
    return parse_manifest(manifest_bytes(folder), folder / "manifest.json", folder)


def store_info(manifest: dict | None) -> dict:
    """The manifest's store section; builds from before stores existed are FAISS builds."""
    return (manifest or {}).get("store") or {"kind": "faiss"}


def store_settings(manifest: dict | None, base: Path | None = None) -> dict:
    """The Settings fields that build into the store ``manifest`` names, for updates and
    rebuilds that must stay in it (``base``: the index's parent folder, against which a
    relative path of an older manifest is read)."""
    from .. import stores

    info = store_info(manifest)
    kind = info.get("kind", "faiss")
    if kind not in stores.kinds():
        return {"store": "faiss"}
    return {"store": kind, **stores.backend(kind).settings_of(info, base)}


def as_built(settings: Settings, manifest: dict, base: Path | None = None) -> Settings:
    """``settings`` with what the index at hand was built with (its chunking, store and
    vector index threshold): how an index was built is its manifest's to say, not a
    reader's or an updater's flags."""
    changes = store_settings(manifest, base)
    chunking = manifest.get("chunking", {})
    if isinstance(chunking.get("size"), int):
        changes["chunk_size"] = chunking["size"]
    if isinstance(chunking.get("overlap_sentences"), int):
        changes["chunk_overlap_sentences"] = chunking["overlap_sentences"]
    threshold = manifest.get("vector_index", {}).get("threshold")
    if isinstance(threshold, int):
        changes["ann_threshold"] = threshold
    return settings.with_(**changes).validate()


def corpus_folder(index: Path, manifest: dict) -> Path:
    """The corpus folder ``index`` was built from: the recorded absolute path, else the
    path relative to the index; a manifest from before those were recorded names a
    relative path, read against the index's parent folder. Never the current folder."""
    info = manifest.get("corpus", {}) if isinstance(manifest.get("corpus"), dict) else {}
    index = Path(os.path.realpath(index))
    named = Path(str(info.get("path", "")))
    candidates = [Path(str(info["absolute"]))] if info.get("absolute") else []
    if info.get("from_index"):
        candidates.append(index / str(info["from_index"]))
    if str(named) not in ("", "."):
        candidates.append(named if named.is_absolute() else index.parent / named)
    for c in candidates:
        if c.is_dir():
            return c
    shown = candidates[0] if candidates else named
    raise InputError(f"index {index} was built from the corpus folder {text_path(shown)!r}, which is not there; "
                     f"rebuild it with: rag index --corpus FOLDER --out {index}")


def is_our_manifest(path: Path) -> bool:
    """False for a manifest.json that is readable JSON and not one of this program's
    (a damaged one, say with a flipped byte, still counts as ours: the folder holds
    nothing else than index files, which is checked separately)."""
    try:
        m = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return True
    if not isinstance(m, dict):
        return False
    if m.get("product") == PRODUCT:
        return True
    # Written before the product field existed (format 1 and early format 2).
    return isinstance(m.get("format_version"), int) and {"files", "model", "chunking"} <= set(m)


def checked_bytes(folder: Path, name: str, digest: str) -> bytes:
    """The bytes of one index file, checked against its checksum in the manifest."""
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IndexLoadError(f"index file {path} cannot be read ({exc.strerror}); "
                             f"rebuild with: rag index --out {folder}") from exc
    if hashlib.sha256(data).hexdigest() != digest:
        raise IndexLoadError(f"index file {path} does not match its checksum in manifest.json (damaged or "
                             f"edited); rebuild with: rag index --out {folder}")
    return data


def verify_files(folder: Path, manifest: dict) -> None:
    """Check every file of the index against its checksum in the manifest."""
    for name, digest in manifest.get("files", {}).items():
        checked_bytes(folder, name, digest)


def check_matches(folder: Path, manifest: dict, settings: Settings, embedder: Embedder | None) -> None:
    """IndexLoadError naming both values when the index was built differently from
    what ``settings`` and ``embedder`` expect."""
    built_with = manifest.get("model", {})
    fix = f"rebuild with: rag index --out {folder}"
    if built_with.get("name") != settings.model:
        raise IndexLoadError(f"index {folder} was built with model {built_with.get('name')!r} but the model "
                             f"asked for is {settings.model!r}; pass --model {built_with.get('name')} or rebuild")
    if embedder is not None:
        if built_with.get("dimension") != embedder.dimension:
            raise IndexLoadError(f"index {folder} holds {built_with.get('dimension')}-dimensional vectors but the "
                                 f"model makes {embedder.dimension}-dimensional ones; {fix}")
        if built_with.get("fingerprint") != embedder.fingerprint:
            raise IndexLoadError(f"index {folder} was built with weights {str(built_with.get('fingerprint', ''))[:12]} "
                                 f"but the loaded model has weights {embedder.fingerprint[:12]}; {fix}")
        if not vectors_compatible(built_with, embedder):
            other = "torch" if built_with.get("backend") == "torch-fp32" else "onnx"
            raise IndexLoadError(f"index {folder} was embedded with backend {built_with.get('backend')!r}, whose "
                                 f"vectors this process (backend {embedder.backend!r}) may not mix with; "
                                 f"pass --backend {other} or {fix}")
    norm = manifest.get("normalization", {})
    if norm != normalization(settings):
        raise IndexLoadError(f"index {folder} was built with normalization {_describe(norm)} but the settings use "
                             f"{_describe(normalization(settings))}; {fix}")
    chunking = manifest.get("chunking", {})
    if chunking != chunk_settings(settings):
        raise IndexLoadError(f"index {folder} was built with chunking {_describe(chunking)} but the settings ask for "
                             f"{_describe(chunk_settings(settings))}; pass the same chunk size or {fix}")


def _describe(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items())) if isinstance(d, dict) else repr(d)
