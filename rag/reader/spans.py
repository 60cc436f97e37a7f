"""Pure text work of the reader: fold a passage while keeping where each folded
character came from, and map a span of folded text back to exact original offsets."""
from __future__ import annotations

from dataclasses import dataclass

from ..text.fold import fold


@dataclass(frozen=True)
class FoldedText:
    """``text`` is the folded form of ``original[base:base+len]``; ``origin[i]`` is the
    offset in the original of folded character ``i`` (several folded characters may
    share one origin when folding expands a character)."""

    text: str
    origin: tuple[int, ...]
    base: int
    end: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original offsets ``[a, b)`` covering folded characters ``[start, end)``."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span {start}-{end} is outside the folded text (0-{len(self.text)})")
        a = self.origin[start]
        last = self.origin[end - 1]
        nxt = [o for o in self.origin[end:end + 1] if o > last]
        b = nxt[0] if nxt else _char_end(last, self.end)
        return a, b


def _char_end(origin: int, end: int) -> int:
    return min(origin + 1, end)


def fold_with_offsets(original: str, start: int = 0, end: int | None = None, target: str = "simplified") -> FoldedText:
    """Fold ``original[start:end]`` one character at a time (script, width, case;
    invisible characters dropped), keeping each folded character's origin. Folding a
    character alone is what keeps the map exact; OpenCC's phrase tables change
    nothing that matters for reading here."""
    end = len(original) if end is None else end
    out: list[str] = []
    origin: list[int] = []
    for i in range(start, end):
        f = fold(original[i], target)
        out.append(f)
        origin.extend([i] * len(f))
    return FoldedText("".join(out), tuple(origin), start, end)
