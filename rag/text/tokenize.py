"""jieba tokens of folded text, for the keyword leg."""
from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba

from .sanitize import sanitize

jieba.setLogLevel(logging.WARNING)
_KEEP = re.compile(r"[\w]", re.UNICODE)

# Question words and particles that carry no evidence (folded, Simplified).
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 都 就 而 被 把 对 于 为 以 从 到 由 将 其 之 这 那 这个 那个 "
    "什么 多少 几 哪 哪个 哪些 哪里 谁 如何 怎么 怎样 为什么 吗 呢 吧 啊 么 有 有没有 是否 "
    "请问 一个 一些 该 此 等 个 上 中 下 之后 之前 多 少 年 月 日 叫 称为 文章 报道 提到 说".split()
)


@lru_cache(maxsize=1)
def _tokenizer() -> jieba.Tokenizer:
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


def cut(folded: str) -> list[str]:
    """jieba's dictionary words of already folded text (no guessed words: its HMM joins
    unknown pairs such as "率约"), every character kept (their lengths add up to the
    text's: offsets can be counted along them)."""
    return _tokenizer().lcut(folded, HMM=False)


def tokenize(folded: str) -> list[str]:
    """Word tokens of already folded text: punctuation and spaces dropped. The text is
    sanitized again (cheap) so that no caller can hand jieba malformed input."""
    return [t for t in _tokenizer().lcut(sanitize(folded)) if _KEEP.search(t)]


_ASKING = re.compile(r"几|多少|多大|多长|多高|多久|哪|什么|啥|谁|怎|名字|情况|如何")


def content_terms(folded: str) -> list[str]:
    """Tokens minus stop words and asking words ("几层", "多大"): what a question is about."""
    return [t for t in tokenize(folded) if t not in STOPWORDS and not _ASKING.search(t)]
