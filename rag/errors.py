"""Errors the CLI and UI turn into clear messages (never tracebacks)."""


class RagError(Exception):
    """Base class: the message says what is wrong and how to fix it."""


class IndexLoadError(RagError):
    """The index is missing, damaged or does not match the settings."""


class InputError(RagError):
    """A question, file or argument that cannot be used as given.

    ``kind`` says which, so an interface can word it in its own language: "empty",
    "no_words" (only punctuation or symbols), "not_utf8", "too_long",
    "unknown_document" (``subject`` holds the id), or "invalid" (anything else: the
    message says what)."""

    KINDS = ("empty", "no_words", "not_utf8", "too_long", "unknown_document", "invalid")

    def __init__(self, message: str, kind: str = "invalid", subject: str = "") -> None:
        super().__init__(message)
        if kind not in self.KINDS:
            raise ValueError(f"InputError kind {kind!r} is not one of {', '.join(self.KINDS)}")
        self.kind = kind
        self.subject = subject


class ModelError(RagError):
    """The embedding model cannot be loaded."""


class StorageError(RagError):
    """A file could not be written (disk full, no permission); what was there before is kept."""
