"""The update journal: what an add or remove did to the corpus folder, written before it
is done, so that an update that never finished (killed, power cut) is rolled back by the
next build of the same index instead of being published by it.

The journal sits beside the index (``.<index>.update.json``, like the build lock) and is
only read or written under the build lock. Each step is recorded before it is taken:
- ``put``: a file written into the corpus (with the checksum of what was written, so
  that rolling back deletes only that file, never one a user put there since);
- ``move``: a corpus file moved aside (to the removed-files folder).

When the previous update's index was swapped in, the update had happened: the journal is
only dropped. Otherwise each step is undone, last first.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def journal_path(index: Path) -> Path:
    """Where the journal of updates of ``index`` (a resolved folder) lives."""
    return index.parent / f".{index.name}.update.json"


def removed_folder(index: Path) -> Path:
    """Where the files of removed or replaced documents of ``index`` are kept: beside the
    index, never inside the corpus folder (which then holds only articles; in a git
    checkout the folder is hidden like the build lock)."""
    return index.parent / f".{index.name}.removed"


def _manifest_sha(index: Path) -> str | None:
    try:
        return hashlib.sha256((index / "manifest.json").read_bytes()).hexdigest()
    except OSError:
        return None


def _write_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)  # ASCII: a file name that is not UTF-8 survives as escapes
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The steps of one update, each recorded on disk before it is taken."""

    def __init__(self, index: Path) -> None:
        self.path = journal_path(index)
        self.state = {"pid": os.getpid(), "before": _manifest_sha(index), "steps": []}
        _write_atomic(self.path, self.state)

    def put(self, target: Path, data: bytes, tmp: Path) -> None:
        """Write ``data`` to ``target`` (through ``tmp``), recorded first."""
        self._record({"op": "put", "path": os.fsdecode(target), "tmp": os.fsdecode(tmp),
                      "sha256": hashlib.sha256(data).hexdigest()})
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def move(self, source: Path, target: Path) -> None:
        """Move ``source`` to ``target``, recorded first."""
        target.parent.mkdir(parents=True, exist_ok=True)
        self._record({"op": "move", "from": os.fsdecode(source), "to": os.fsdecode(target)})
        os.rename(source, target)

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """The block is the whole update: if anything in it failed (an interrupt too), its
        steps are undone; else it is done. Either way the journal goes."""
        if exc_type is None:
            self.close()
        else:
            self.roll_back()

    def roll_back(self) -> None:
        """Undo every recorded step (the update failed) and drop the journal."""
        _undo(self.state["steps"])
        self.close()

    def close(self) -> None:
        """The update is done (or undone): drop the journal."""
        self.path.unlink(missing_ok=True)

    def _record(self, step: dict) -> None:
        self.state["steps"].append(step)
        _write_atomic(self.path, self.state)


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _undo(steps: list[dict]) -> None:
    for step in reversed(steps):
        if step.get("op") == "put":
            target, tmp = Path(step["path"]), Path(step["tmp"])
            tmp.unlink(missing_ok=True)
            if _sha(target) == step.get("sha256"):  # only what this update wrote
                target.unlink()
        elif step.get("op") == "move":
            source, target = Path(step["from"]), Path(step["to"])
            if target.exists() and not source.exists():
                os.rename(target, source)


def recover(index: Path) -> str | None:
    """Finish the journal an interrupted update of ``index`` left (call under the build
    lock): roll its corpus changes back, or keep them when its index was swapped in.
    Returns what was done, for the log, or None when there was nothing to do."""
    path = journal_path(index)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        steps = list(state["steps"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Written whole by a rename, so a damaged journal was edited by hand: keep it for
        # the user and leave the corpus alone rather than guess.
        bad = path.with_name(path.name + ".damaged")
        os.replace(path, bad)
        log.warning("the update journal %s could not be read (%s); kept as %s, corpus left as it is", path, exc, bad)
        return f"kept a damaged update journal as {bad}"
    if state.get("before") != _manifest_sha(index):
        path.unlink(missing_ok=True)
        return "an interrupted update had already been published; kept it"
    _undo(steps)
    path.unlink(missing_ok=True)
    log.warning("rolled back an update of %s that did not finish (%d corpus changes undone)", index, len(steps))
    return f"rolled back an update that did not finish ({len(steps)} corpus changes undone)"
