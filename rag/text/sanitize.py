"""Make untrusted text safe to hand to OpenCC, jieba and the tokenizer.

OpenCC is C++: text it cannot encode as UTF-8 (lone surrogates) makes the Python
binding raise, and its native converter has aborted the process on malformed
UTF-8 before (OpenCC #844). jieba is pure Python but slow on pathological input
(jieba #782), so its input is bounded by the question limit and by the sentence
cap in ``sentences.py``. Everything here is pure and keeps no state.
"""
from __future__ import annotations

import re
import unicodedata

# Characters a reader cannot see, by Unicode property rather than a hand list:
# every format character (general category Cf: zero-width spaces and joiners, bidi
# controls such as U+061C and U+202E, soft hyphen, BOM, the tag characters
# U+E0000-E007F that can spell hidden text) and every Default_Ignorable_Code_Point
# (Hangul fillers U+115F/U+1160/U+3164/U+FFA0, the combining grapheme joiner U+034F,
# variation selectors...). Python's unicodedata has no Default_Ignorable property, so
# its ranges are written out from DerivedCoreProperties.txt (stable since Unicode 6).
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)


def invisible_ranges() -> list[tuple[int, int]]:
    """Every Cf code point of this Python's Unicode database, with DEFAULT_IGNORABLE,
    as merged (first, last) ranges. Scans all 1.1 million code points (0.27 s)."""
    points = {cp for a, b in DEFAULT_IGNORABLE for cp in range(a, b + 1)}
    points |= {cp for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf"}
    ranges: list[tuple[int, int]] = []
    for cp in sorted(points):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return ranges


# invisible_ranges() for Unicode 14.0.0 (Python 3.11), written out because the scan cost a
# quarter of a second at every start (CLI, page, MCP server); another Unicode version is
# scanned. tests/test_sanitize.py checks this table against the scan.
UNICODE_VERSION_OF_TABLE = "14.0.0"
INVISIBLE_TABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F),
    (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)


def _invisible_class() -> str:
    ranges = (INVISIBLE_TABLE if unicodedata.unidata_version == UNICODE_VERSION_OF_TABLE
              else invisible_ranges())
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


INVISIBLE = _invisible_class()
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
# C0/C1 control characters other than tab and line breaks.
CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL}]")
# Line and paragraph separators (Zl, Zp): shown as the line breaks they mean.
_SEPARATOR = re.compile("[\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate_at(text: str) -> int | None:
    """Position of the first lone surrogate (a byte that was not UTF-8), if any."""
    m = _SURROGATE.search(text)
    return m.start() if m else None


def has_surrogates(text: str) -> bool:
    """True when ``text`` holds lone surrogates (bytes that were not UTF-8)."""
    return surrogate_at(text) is not None


def sanitize(text: str) -> str:
    """``text`` without invisible characters, with control characters as spaces, line
    and paragraph separators as newlines and lone surrogates as U+FFFD: always
    encodable as UTF-8, never longer."""
    text = _SURROGATE.sub("\ufffd", text)
    text = _INVISIBLE.sub("", text)
    text = _SEPARATOR.sub("\n", text)
    return _CONTROL.sub(" ", text)


# Terminal escape sequences: CSI (ESC [ ... final byte, or the C1 CSI), OSC (ESC ] ...
# ended by BEL or ST: window titles, OSC 8 hyperlinks, OSC 52 clipboard writes), the
# string commands DCS/SOS/PM/APC, and two-byte escapes. Removed whole, payload included.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_LINE_BREAKS = re.compile(r"[\r\n\t]+")


def terminal_text(text: str, keep_newlines: bool = False) -> str:
    """``text`` safe to print to a terminal: escape sequences removed (with what they
    carry), other control and invisible characters dropped or made spaces. Line breaks
    become spaces unless ``keep_newlines`` (a field such as a title or a file name must
    stay on its line)."""
    text = sanitize(_ESCAPE_SEQUENCE.sub("", text))
    if keep_newlines:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return _LINE_BREAKS.sub(" ", text)


def has_words(text: str) -> bool:
    """True when ``text`` has a letter, digit or CJK character to search for."""
    return any(ch.isalnum() for ch in text)
