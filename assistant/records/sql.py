"""The SQLite driver the record store uses: SQLCipher's (``sqlcipher3``), for plain and locked
files alike.

``sqlcipher3`` is the standard ``sqlite3`` module built against SQLCipher: with no key it reads
and writes ordinary SQLite files; after ``PRAGMA key`` it reads and writes encrypted ones. Its
exception classes are its own, so the names below are tuples that catch the standard module's
errors too (the migration runner is also handed plain ``sqlite3`` connections by its tests).
"""

from __future__ import annotations

import sqlite3 as _std
from typing import Any

from sqlcipher3 import dbapi2 as _cipher

__all__ = [
    "Connection",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "OperationalError",
    "Row",
    "complete_statement",
    "connect",
]

Connection = Any
"""A connection of either driver (the SQLCipher one has no type stubs)."""

Error = (_std.Error, _cipher.Error)
DatabaseError = (_std.DatabaseError, _cipher.DatabaseError)
OperationalError = (_std.OperationalError, _cipher.OperationalError)
IntegrityError = (_std.IntegrityError, _cipher.IntegrityError)
Row = _cipher.Row
connect = _cipher.connect
complete_statement = _std.complete_statement

SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every plaintext SQLite file (an encrypted one starts with its salt)."""


def cipher_version() -> str:
    """SQLCipher's version, e.g. ``4.19.0 community``."""
    conn = _cipher.connect(":memory:")
    try:
        return str(conn.execute("PRAGMA cipher_version").fetchone()[0])
    finally:
        conn.close()
