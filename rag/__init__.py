"""Question answering over Chinese news with cited, verifiable passages.

    >>> import rag
    >>> idx = rag.open_index("index")
    >>> a = idx.ask("阿里巴巴在铜锣湾买下了几层写字楼？")
    >>> a.answer, a.citations[0].chunk_id
"""
import os as _os

# ONNX Runtime's Linux builds send usage telemetry (a device id, the OS, the executable
# path) to a Microsoft collector and queue it under ~/.cache/Microsoft unless this is set
# before the library is first loaded; disable_telemetry_events() does not stop it. The
# product promises no telemetry, so it is set here, before anything imports onnxruntime.
_os.environ["ORT_DISABLE_TELEMETRY"] = "1"

from .api import RagIndex, Support, open_index
from .presentation.shapes import answer_to_json
from .errors import RagError
from .filters import DocFilter
from .records import Answer, Chunk, Citation, Document, Hit, Section
from .settings import Settings
from .updates import add_documents, remove_documents

__all__ = ["open_index", "RagIndex", "Support", "answer_to_json", "Settings", "RagError", "DocFilter",
           "Answer", "Chunk", "Citation", "Document", "Hit", "Section",
           "add_documents", "remove_documents"]
__version__ = "0.1.0"
