"""A terminal progress bar for the ``progress(done, total)`` callbacks of the library."""
from __future__ import annotations

import sys
from typing import Callable


def terminal_progress(desc: str, unit: str = "chunk") -> Callable[[int, int], None]:
    """A callback drawing a tqdm bar on stderr, created on the first call, closed when done."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update
