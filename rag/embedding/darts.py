"""Build a darts-clone double-array trie, the format SentencePiece's
``precompiled_charsmap`` (and so the ``tokenizers`` Precompiled normalizer) reads.

Each unit is a little-endian u32: bits 0-7 label, bit 8 "has leaf", bits 10-30
the XOR offset to the children's base; a leaf unit has bit 31 set and the value
in bits 0-30. Children of the node at ``pos`` live at ``pos ^ offset ^ label``.
"""
from __future__ import annotations

import numpy as np

_MAX_OFFSET = 1 << 21  # offsets past this need darts' extension bit; we never do


def build_double_array(entries: dict[bytes, int]) -> np.ndarray:
    """Return the unit array (uint32) of a trie mapping each byte key to its value."""
    if not entries:
        raise ValueError("a double-array trie needs at least one key")
    root: dict = {}
    for key, value in entries.items():
        if not key or 0 in key:
            raise ValueError(f"trie keys must be non-empty and free of NUL bytes: {key!r}")
        if not 0 <= value < (1 << 31):
            raise ValueError(f"trie values must fit in 31 bits: {value}")
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value  # None marks the leaf, placed at label 0

    units: list[int] = [0]
    used: list[bool] = [True]
    first_free = 1

    def ensure(size: int) -> None:
        if size > len(units):
            grow = size - len(units)
            units.extend([0] * grow)
            used.extend([False] * grow)

    queue: list[tuple[dict, int]] = [(root, 0)]
    while queue:
        node, pos = queue.pop()
        labels = sorted(0 if k is None else k for k in node)
        # Find a base whose slots base^label are all free.
        while first_free < len(used) and used[first_free]:
            first_free += 1
        candidate = first_free
        while True:
            base = candidate ^ labels[0]
            ensure((base | 0xFF) + 1)
            if base != 0 and all(not used[base ^ lab] for lab in labels) and (pos ^ base) < _MAX_OFFSET:
                break
            candidate += 1
            ensure(candidate + 1)
        offset = pos ^ base
        label_bits = units[pos] & 0xFF
        units[pos] = label_bits | (offset << 10) | ((1 << 8) if None in node else 0)
        for lab in labels:
            slot = base ^ lab
            used[slot] = True
            if lab == 0:
                units[slot] = (1 << 31) | node[None]
            else:
                units[slot] = lab
                queue.append((node[lab], slot))
    return np.asarray(units, dtype="<u4")


def common_prefix_search(units: np.ndarray, key: bytes) -> list[int]:
    """Values of every key that is a prefix of ``key`` (the reader's algorithm; for tests)."""
    def offset(unit: int) -> int:
        return (unit >> 10) << ((unit & (1 << 9)) >> 6)

    results: list[int] = []
    pos = offset(int(units[0]))
    for byte in key:
        pos ^= byte
        if pos >= len(units):
            return results
        unit = int(units[pos])
        if unit & ((1 << 31) | 0xFF) != byte:
            return results
        pos ^= offset(unit)
        if (unit >> 8) & 1:
            results.append(int(units[pos]) & ((1 << 31) - 1))
    return results


def precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """SentencePiece charsmap bytes: u32 trie size, the trie, then NUL-terminated outputs."""
    blob = bytearray()
    offsets: dict[str, int] = {}
    entries: dict[bytes, int] = {}
    for src, dst in sorted(mapping.items()):
        if dst not in offsets:
            offsets[dst] = len(blob)
            blob += dst.encode("utf-8") + b"\0"
        entries[src.encode("utf-8")] = offsets[dst]
    trie = build_double_array(entries).tobytes()
    return len(trie).to_bytes(4, "little") + trie + bytes(blob)
