"""The index folder on disk: refusing a folder that is not ours, the build lock, and the atomic
swap of a finished build into place."""
from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import InputError
from ..journal import recover as recover_update
from .manifest import INDEX_FILES, is_our_manifest

log = logging.getLogger(__name__)


@contextmanager
def locked(out: Path, corpus: Path | None = None) -> Iterator[Path]:
    """Hold the build lock of ``out`` and yield it checked and resolved. An update that
    did not finish (its journal is still there) is first rolled back, so nothing it
    half did to the corpus is built. Everything that changes the corpus or the index
    happens inside this block (``rag.updates``, ``build_index``)."""
    target = check_output_folder(out, corpus)
    with build_lock(target):
        check_output_folder(target, corpus)  # again under the lock: another build may have just finished
        recover_update(target)
        yield target


def replaceable(folder: Path) -> tuple[bool, str]:
    """Whether a build may replace ``folder``, and if not, why. Only an empty folder,
    or one holding nothing but the files of an index of this program, may be replaced."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        return False, f"it cannot be listed ({exc.strerror})"
    foreign = [e.name for e in entries if e.name not in INDEX_FILES or e.is_symlink() or not e.is_file()]
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        return False, f"it holds {shown}, which no index build writes"
    if entries and (folder / "manifest.json").exists() and not is_our_manifest(folder / "manifest.json"):
        return False, "its manifest.json is not the manifest of an index of this program"
    return True, ""


def check_output_folder(out: Path, corpus: Path | None = None) -> Path:
    """The folder a build of ``corpus`` may write to, with symlinks resolved, or
    InputError naming the folder.

    A build replaces its output folder whole, so: a missing or empty folder, or an
    index of this program, may be the output; the corpus itself, a folder inside it
    or a parent of it may not (the corpus would be deleted), nor the current folder
    or one of its parents, nor a file, nor any folder holding anything else."""
    text = str(out)
    if not text.strip() or text != text.strip():
        raise InputError(f"the index folder {text!r} is not a usable name; name a folder, e.g. --out index")
    target = Path(os.path.realpath(out))
    here = Path.cwd().resolve()
    if target == here or here.is_relative_to(target):
        which = "the current folder" if target == here else "a parent of the current folder"
        raise InputError(f"refusing to build the index into {target} ({which}): a build replaces its whole "
                         "output folder; name a new subfolder, e.g. --out index")
    if target.exists() and not target.is_dir():
        raise InputError(f"{out} is a file, not a folder; name a folder for the index, e.g. --out index")
    if corpus is not None:
        source = Path(os.path.realpath(corpus))
        if target == source or target.is_relative_to(source) or source.is_relative_to(target):
            where = ("is the corpus folder" if target == source else
                     "is inside the corpus folder" if target.is_relative_to(source) else "contains the corpus folder")
            raise InputError(f"refusing to build the index into {target}: it {where} {source}, and a build "
                             "replaces its whole output folder; choose a folder outside the corpus, e.g. --out index")
    if target.is_dir():
        ok, why = replaceable(target)
        if not ok:
            raise InputError(f"refusing to replace {target}: {why}. A build replaces its whole output folder, so "
                             "it must be new, empty, or an index built by this program; choose another --out")
    return target


@contextmanager
def build_lock(out: Path):
    """One build of ``out`` at a time (an advisory lock the kernel drops if the builder dies)."""
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f".{out.name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another build of {out} is running (lock {path}); wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def discard(folder: Path) -> None:
    """Delete a folder of index files (a previous or unfinished build). Only the files
    a build writes are deleted: anything else found there is left, with the folder,
    and a warning, so that no file of the user's is ever lost."""
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("could not clean up %s (%s)", folder, exc.strerror)
        return
    for e in entries:
        if e.name in INDEX_FILES and not e.is_symlink() and e.is_file():
            e.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        log.warning("left %s in place: it holds files that no index build writes", folder)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(out: Path) -> None:
    """Remove what crashed builds left next to ``out``: half-written ``.building-<pid>-*``
    folders of dead builders, and ``.old-*`` folders once ``out`` is in place.
    Called under the build lock, so no live build of ``out`` owns them."""
    parent = out.resolve().parent
    for d in parent.glob(f".{out.name}.building-*"):
        pid = d.name[len(f".{out.name}.building-"):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or not _pid_alive(int(pid)):
            log.info("removing %s, left by an interrupted build", d)
            discard(d)
    if (out / "manifest.json").is_file():
        for d in parent.glob(f".{out.name}.old-*"):
            discard(d)


def fsync_tree(folder: Path) -> None:
    """Flush the new index to disk before it replaces the old one, so that a power
    cut cannot leave a swapped-in folder of empty files."""
    for path in [*folder.iterdir(), folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_RENAME_EXCHANGE = 2


_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False
    where the system or file system does not offer it."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_in(new: Path, out: Path) -> None:
    """Replace ``out`` by ``new``. Readers see the old index or the new one, never a
    missing or mixed folder: one atomic exchange, then the old index is removed.
    Without the exchange, two renames (a crash between them is undone by ``recover_swap``)."""
    if not out.exists():
        os.rename(new, out)
        return
    ok, why = replaceable(out)  # checked before the build too; files may have been added since
    if not ok:
        raise InputError(f"refusing to replace {out}: {why}; the new index was not put in place")
    if _exchange(new, out):
        discard(new)  # ``new`` now holds the previous index
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.resolve().parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)  # put the previous index back
        raise
    discard(old)
