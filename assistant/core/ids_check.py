"""Identifier checks shared by the record model, the bundle and the hub: whole-string matches.

``re.match`` with ``$`` accepts a trailing newline (``"<uuid>\\n"``), so every check here is a
``fullmatch``: an id is exactly 36 characters of lower-case UUID, a clip name exactly 64 hex
digits, and nothing else gets through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "SHA256_PATTERN",
    "SHA256_RE",
    "UUID_PATTERN",
    "UUID_RE",
    "bad_ids",
    "is_sha256",
    "is_uuid",
]

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")

# the same shapes for pydantic ``Field(pattern=...)`` (its Rust engine: ``$`` is the very end)
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"


def is_uuid(text: object) -> bool:
    return isinstance(text, str) and UUID_RE.fullmatch(text) is not None


def is_sha256(text: object) -> bool:
    return isinstance(text, str) and SHA256_RE.fullmatch(text) is not None


def bad_ids(pairs: Iterable[tuple[str, object]], *, optional: bool = False) -> list[str]:
    """The names of the *pairs* (name, value) whose value is not a UUID (None allowed if
    *optional*)."""
    return [name for name, value in pairs if not (is_uuid(value) or (optional and value is None))]
