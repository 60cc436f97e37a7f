"""Pack whole sentences into chunks that never cross a section."""
from __future__ import annotations

from ..records import Chunk, Document
from .sentences import split_sentences


def pack_sentences(sentences: list[tuple[int, int]], size: int, overlap: int) -> list[list[tuple[int, int]]]:
    """Group consecutive sentences into runs of at most ``size`` characters
    (measured from the first sentence's start to the last one's end); a sentence
    longer than ``size`` is a run of its own. Each run after the first repeats the
    last ``overlap`` sentences of the previous run, unless that would make no progress."""
    groups: list[list[tuple[int, int]]] = []
    i = 0
    while i < len(sentences):
        j = i + 1
        while j < len(sentences) and sentences[j][1] - sentences[i][0] <= size:
            j += 1
        groups.append(sentences[i:j])
        if j >= len(sentences):
            break
        i = max(j - overlap, i + 1)
    return groups


def chunk_document(doc: Document, size: int, overlap: int) -> list[Chunk]:
    """Chunks ``<doc_id>#<n>`` for every section of ``doc``, in document order."""
    chunks: list[Chunk] = []
    for section in doc.sections:
        sentences: list[tuple[int, int]] = []
        for a, b in section.spans:
            sentences.extend(split_sentences(doc.text, a, b))
        for group in pack_sentences(sentences, size, overlap):
            start, end = group[0][0], group[-1][1]
            chunks.append(Chunk(
                chunk_id=f"{doc.doc_id}#{len(chunks)}",
                doc_id=doc.doc_id,
                section=section.title,
                start=start,
                end=end,
                text=doc.text[start:end],
                sentences=tuple(group),
                kind=section.kind,
                truncated=section.truncated,
            ))
    return chunks


def match_text(doc: Document, chunk: Chunk) -> str:
    """The text a chunk is matched on: its section title and its sentences
    (markup between sentences left out). Not folded yet."""
    body = "".join(doc.text[a:b] for a, b in chunk.sentences)
    return f"{chunk.section}\n{body}" if chunk.section and chunk.section != doc.title else f"{doc.title}\n{body}"
