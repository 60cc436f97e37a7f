"""Who may open the page: the login asked for with --auth, --auth-file or RAG_AUTH.

A malformed value is an error, never a page served without the login that was asked
for. Pure functions apart from reading the password file.
"""
from __future__ import annotations

from pathlib import Path

from rag.errors import InputError

MAX_AUTH_FILE_BYTES = 4096


def parse_auth(value: str, where: str = "--auth") -> tuple[str, str]:
    """``user:password`` -> (user, password); InputError naming ``where`` otherwise.
    The password may contain ':' (only the first one separates)."""
    value = value.strip("\r\n")
    user, sep, password = value.partition(":")
    if not sep:
        raise InputError(f"{where} must be user:password (no ':' found); the page was not started without "
                         "the login you asked for")
    if not user.strip() or not password:
        missing = "user name" if not user.strip() else "password"
        raise InputError(f"{where} has an empty {missing}; give user:password")
    if any(ord(ch) < 32 for ch in value):
        raise InputError(f"{where} holds a control character; give user:password on one line")
    return user, password


def read_auth_file(path: str) -> tuple[str, str]:
    """The login in a file holding one line ``user:password`` (keeps the password out of
    the process list and the shell history)."""
    p = Path(path)
    try:
        data = p.read_bytes()[: MAX_AUTH_FILE_BYTES + 1]
    except OSError as exc:
        raise InputError(f"the auth file {path} cannot be read ({exc.strerror}); the page was not started") from exc
    if len(data) > MAX_AUTH_FILE_BYTES:
        raise InputError(f"the auth file {path} is over {MAX_AUTH_FILE_BYTES} bytes; it should hold one line user:password")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the auth file {path} is not UTF-8 text") from exc
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise InputError(f"the auth file {path} must hold exactly one line user:password (it has {len(lines)})")
    return parse_auth(lines[0], f"the auth file {path}")


def resolve_auth(auth: str | None, auth_file: str | None) -> tuple[str, str] | None:
    """The login to require, from --auth/RAG_AUTH or --auth-file/RAG_AUTH_FILE (not
    both), or None when none was asked for. An empty value counts as asked for."""
    if auth is not None and auth_file is not None:
        raise InputError("give either --auth (RAG_AUTH) or --auth-file (RAG_AUTH_FILE), not both")
    if auth_file is not None:
        return read_auth_file(auth_file)
    if auth is not None:
        return parse_auth(auth)
    return None
