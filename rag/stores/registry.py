"""Store backends by kind: ``faiss`` and ``milvus`` built in; ``register`` adds another
(the tests' in-memory store is one). A new store is one module implementing
``base.StoreBackend`` and one ``register`` call."""
from __future__ import annotations

from .base import StoreBackend

_BACKENDS: dict[str, StoreBackend] = {}


def _builtin() -> None:
    if not _BACKENDS:
        from .faiss_store import FaissBackend
        from .milvus_store import MilvusBackend

        for b in (FaissBackend(), MilvusBackend()):
            _BACKENDS.setdefault(b.kind, b)


def register(backend: StoreBackend) -> None:
    """Make ``backend`` the store of kind ``backend.kind``."""
    _builtin()
    _BACKENDS[backend.kind] = backend


def kinds() -> tuple[str, ...]:
    """The kinds of store that can be named (``Settings.store``)."""
    _builtin()
    return tuple(_BACKENDS)


def backend(kind: str) -> StoreBackend:
    """The backend of ``kind``, or ValueError naming the kinds there are."""
    _builtin()
    try:
        return _BACKENDS[kind]
    except KeyError:
        raise ValueError(f"store {kind!r} is not one of {', '.join(_BACKENDS)}") from None
