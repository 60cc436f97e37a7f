"""The CPU this runs on, from the text of /proc/cpuinfo: timings and the reader's training
recipe depend on its vector extensions (AVX-512, bfloat16)."""
from __future__ import annotations

from pathlib import Path


def read_cpuinfo() -> str:
    """The text of /proc/cpuinfo ("" where there is none: not Linux)."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_field(cpuinfo: str, *keys: str) -> str | None:
    """The value of the first line whose key is one of ``keys`` (None: no such line)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in keys:
            return value.strip()
    return None


def cpu_flags(cpuinfo: str) -> frozenset[str] | None:
    """The CPU's flags (x86 "flags", Arm "Features"; None: no such line)."""
    value = cpu_field(cpuinfo, "flags", "Features")
    return None if value is None else frozenset(value.split())
