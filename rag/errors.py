"""Errors the CLI and UI turn into clear messages (never tracebacks)."""


class RagError(Exception):
    """Base class: the message says what is wrong and how to fix it."""


class IndexLoadError(RagError):
    """The index is missing, damaged or does not match the settings."""


class InputError(RagError):
    """A question, file or argument that cannot be used as given."""


class ModelError(RagError):
    """The embedding model cannot be loaded."""
