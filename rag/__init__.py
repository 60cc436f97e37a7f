"""Question answering over Chinese news with cited, verifiable passages.

    >>> import rag
    >>> idx = rag.open_index("index")
    >>> a = idx.ask("阿里巴巴在铜锣湾买下了几层写字楼？")
    >>> a.answer, a.citations[0].chunk_id
"""
from .api import RagIndex, Support, answer_to_json, open_index
from .errors import RagError
from .filters import DocFilter
from .records import Answer, Chunk, Citation, Document, Hit, Section
from .settings import Settings
from .updates import add_documents, remove_documents

__all__ = ["open_index", "RagIndex", "Support", "answer_to_json", "Settings", "RagError", "DocFilter",
           "Answer", "Chunk", "Citation", "Document", "Hit", "Section",
           "add_documents", "remove_documents"]
__version__ = "0.1.0"
