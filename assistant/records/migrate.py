"""Versioned schema migrations for the records database: a small ``PRAGMA user_version`` runner.

Each migration is a numbered SQL file in ``migrations/`` (``0001_first.sql``, ``0002_...``).
``PRAGMA user_version`` holds the number of the last one applied. Each migration runs in one
``BEGIN IMMEDIATE`` transaction together with the version bump, so a crash mid-migration leaves
the database at the previous version, never half-way. Two processes opening the database at the
same time are safe: the version is read again inside the write lock.

Released migration files are never edited; a change is a new file (``tests/test_records_migrate.py``
checks the released ones against their recorded checksums).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from assistant.errors import RecordError
from assistant.records import sql

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The SQL split into whole statements (``sqlite3.complete_statement`` decides)."""
        out: list[str] = []
        buf = ""
        for line in self.sql.splitlines(keepends=True):
            buf += line
            if sql.complete_statement(buf):
                stmt = buf.strip()
                if _has_code(stmt):
                    out.append(stmt)
                buf = ""
        if _has_code(buf):
            raise RecordError(f"Migration {self.version:04d}_{self.name} ends mid-statement.")
        return out


def _has_code(sql: str) -> bool:
    return any(ln.strip() and not ln.strip().startswith("--") for ln in sql.splitlines())


def migrations() -> list[Migration]:
    """Every migration shipped with this version, in order (numbered 1, 2, 3, ... without gaps)."""
    folder = resources.files("assistant.records") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    for expected, mig in enumerate(found, start=1):
        if mig.version != expected:
            raise RecordError(f"Migration {expected:04d} is missing from the package.")
    return found


def latest_version() -> int:
    return migrations()[-1].version


def schema_version(conn: sql.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sql.Connection, db_path: Path, target: int | None = None) -> list[int]:
    """Bring the database up to *target* (default: the latest); return the versions applied.

    *conn* must be in autocommit mode (``isolation_level=None``).
    """
    all_migrations = migrations()
    latest = all_migrations[-1].version
    target = latest if target is None else target
    current = schema_version(conn)
    if current > latest:
        raise RecordError(
            f"The records database {db_path} is at version {current}, newer than this program "
            f"knows ({latest}); update the program."
        )
    applied: list[int] = []
    for mig in all_migrations:
        if mig.version <= current or mig.version > target:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= mig.version:  # another process got there first
                conn.execute("COMMIT")
                continue
            for stmt in mig.statements():
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {mig.version:d}")
            conn.execute("COMMIT")
        except sql.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(mig.version)
    return applied
