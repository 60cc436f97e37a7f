"""Embedded vectors kept as they come, so that a long build that is stopped (Ctrl-C, a
crash, a power cut) resumes where it stopped instead of embedding everything again.

The checkpoint is a folder beside the index, ``.<index>.embedding/``: one ``part-*.npz`` per
batch, each written whole and renamed into place (a batch cut off mid-write is not a part),
holding the batch's cache keys (which name the model's fingerprint and the folded text, as
the index's own embedding cache does) and its vectors. A build reads every part before it
embeds anything, embeds only what no part holds, and removes the folder once the new index
is swapped in. A part that cannot be read is ignored: its passages are embedded again."""
from __future__ import annotations

import logging
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
BATCH = 1024  # passages embedded between two checkpoints


def folder_of(out: Path) -> Path:
    out = Path(os.path.realpath(out))
    return out.parent / f".{out.name}.embedding"


def load(out: Path) -> dict[str, np.ndarray]:
    """Every vector the checkpoint holds, by cache key."""
    found: dict[str, np.ndarray] = {}
    folder = folder_of(out)
    if not folder.is_dir():
        return found
    for part in sorted(folder.glob("part-*.npz")):
        try:
            with np.load(part, allow_pickle=False) as z:
                keys, vectors = [str(k) for k in z["keys"]], z["vectors"]
            if len(keys) != len(vectors) or vectors.ndim != 2:
                raise ValueError("keys and vectors do not match")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("ignoring %s (%s); its passages are embedded again", part, exc)
            continue
        found.update(zip(keys, vectors))
    return found


def save(out: Path, keys: list[str], vectors: np.ndarray) -> None:
    """Add one batch to the checkpoint, whole or not at all."""
    folder = folder_of(out)
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("part-*.npz")))
    tmp = folder / f".part-{n:06d}-{os.getpid()}.tmp.npz"
    np.savez(tmp, keys=np.array(keys), vectors=np.asarray(vectors, dtype=np.float32))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, folder / f"part-{n:06d}-{os.getpid()}.npz")


def clear(out: Path) -> None:
    """Remove the checkpoint (the build it served is swapped in)."""
    shutil.rmtree(folder_of(out), ignore_errors=True)
