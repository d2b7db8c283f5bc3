"""Back up and restore a hub: its key file, its database and its clips, in one folder.

``assistant hub backup DIR`` writes:

- ``hub.key``: the key file (the private key is locked by the passphrase, which is **not** in the
  backup: without it the backup cannot be read, and with it anyone holding the backup can);
- ``tables.json``: every table of the database, exported through SQLAlchemy (any database,
  restores into SQLite or PostgreSQL);
- ``hub.sqlite`` (SQLite hubs: a consistent copy made by SQLite's backup API, safe while the hub
  runs) or ``hub.pg.sql`` (PostgreSQL hubs, when ``pg_dump`` is installed: a plain SQL dump for
  the database's own tools);
- ``blobs/``: the recordings, as the hub keeps them;
- ``words/``: the examples of people's taught words (when any are kept);
- ``backup.json``: what is in it, when it was made, the schema revision and the counts.

``assistant hub restore DIR`` puts them into a hub folder that has no key yet (and a database
that has no sessions yet): the key file, the clips, then every table from ``tables.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, func, insert, select, text
from sqlalchemy.engine import Engine

from assistant.errors import SyncError
from assistant.hub import db
from assistant.hub.keys import KEY_FILE
from assistant.sync.device import write_private

BACKUP_FORMAT = 1
TABLES_FILE = "tables.json"
MANIFEST = "backup.json"

PASSPHRASE_REMINDER = (
    "The passphrase is not in the backup. Keep it written down, on paper, somewhere safe and "
    "apart from the backup (for example in the office safe, or with a trustee). Without the "
    "passphrase nobody can read the backup or the hub's records; with both, anyone can. Keep "
    "the backup folder as safe as the hub itself (an encrypted drive, locked away)."
)


@dataclass
class BackupReport:
    folder: Path
    sessions: int
    clips: int
    database_files: list[str]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _tables() -> list[Any]:
    return list(db.Base.metadata.sorted_tables)


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:  # noqa: BLE001 - no alembic table: a database never migrated
            return None


def backup(home: Path, engine: Engine, target: Path) -> BackupReport:
    """Write a backup of the hub in *home* (database *engine*) into the new folder *target*."""
    key = home / KEY_FILE
    if not key.is_file():
        raise SyncError(f"There is no hub key in {home} to back up: run 'assistant hub init'.")
    target = target.expanduser()
    if target.exists() and any(target.iterdir()):
        raise SyncError(f"The backup folder {target} is not empty: choose a new folder.")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(target, 0o700)
    write_private(target / KEY_FILE, key.read_bytes())

    files: list[str] = []
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        src = sqlite3.connect(url.database)
        dst = sqlite3.connect(target / "hub.sqlite")
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        os.chmod(target / "hub.sqlite", 0o600)
        files.append("hub.sqlite")
    elif url.get_backend_name() == "postgresql" and shutil.which("pg_dump"):
        plain_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
        out = target / "hub.pg.sql"
        with open(out, "wb") as fh:
            os.chmod(out, 0o600)
            done = subprocess.run(
                ["pg_dump", "--no-owner", "--dbname", plain_url],
                stdout=fh,
                stderr=subprocess.PIPE,
                timeout=3600,
                check=False,
            )
        if done.returncode != 0:
            out.unlink(missing_ok=True)  # tables.json below is the backup; say why this failed
            files.append(f"(pg_dump failed: {done.stderr.decode(errors='replace').strip()[:200]})")
        else:
            files.append("hub.pg.sql")

    tables: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in _tables():
            rows = conn.execute(select(table)).mappings().all()
            tables[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
    write_private(target / TABLES_FILE, json.dumps(tables, ensure_ascii=False).encode())
    files.append(TABLES_FILE)

    blobs = home / "blobs"
    clips = 0
    if blobs.is_dir():
        shutil.copytree(blobs, target / "blobs")
        clips = sum(1 for p in (target / "blobs").rglob("*.wav"))
    taught = home / "words"  # examples of people's taught words (assistant/hub/words.py)
    if taught.is_dir():
        shutil.copytree(taught, target / "words")
    manifest = {
        "format": BACKUP_FORMAT,
        "made_at": datetime.now(UTC).isoformat(),
        "database": url.get_backend_name(),
        "revision": _revision(engine),
        "files": [KEY_FILE, *files, "blobs/", *(["words/"] if taught.is_dir() else [])],
        "counts": {name: len(rows) for name, rows in tables.items()},
        "clips": clips,
        "passphrase": "not included: " + PASSPHRASE_REMINDER,
    }
    write_private(target / MANIFEST, json.dumps(manifest, indent=2).encode())
    return BackupReport(target, len(tables.get("sessions", [])), clips, files)


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        doc = json.loads((folder / MANIFEST).read_text())
        tables = folder / TABLES_FILE
        if not isinstance(doc, dict) or not tables.is_file() or not (folder / KEY_FILE).is_file():
            raise ValueError
    except (OSError, ValueError) as exc:
        raise SyncError(
            f"{folder} is not a hub backup (it needs {MANIFEST}, {TABLES_FILE} and {KEY_FILE})."
        ) from exc
    if doc.get("format") != BACKUP_FORMAT:
        raise SyncError(f"The backup in {folder} has a format this program does not know.")
    return doc


def restore_files(folder: Path, home: Path) -> None:
    """Put the key file and the clips of the backup into *home* (which must have no key)."""
    read_manifest(folder)
    if (home / KEY_FILE).exists():
        raise SyncError(
            f"The hub in {home} already has a key: restore into a new, empty hub folder."
        )
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(home / KEY_FILE, (folder / KEY_FILE).read_bytes())
    for sub in ("blobs", "words"):
        if (folder / sub).is_dir():
            shutil.copytree(folder / sub, home / sub, dirs_exist_ok=True)


def restore_tables(folder: Path, engine: Engine) -> dict[str, int]:
    """Load every table of the backup into *engine*'s database (already migrated, no sessions)."""
    tables = json.loads((folder / TABLES_FILE).read_text())
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(db.Session.__table__)).scalar():
            raise SyncError("The hub's database already has sessions: restore into an empty one.")
        counts: dict[str, int] = {}
        for table in reversed(_tables()):  # empty everything first (a new hub has its defaults)
            conn.execute(table.delete())
        for table in _tables():
            rows = tables.get(table.name, [])
            dates = [c.name for c in table.columns if isinstance(c.type, DateTime)]
            for row in rows:
                for col in dates:
                    if row.get(col):
                        row[col] = datetime.fromisoformat(row[col])
            if rows:
                conn.execute(insert(table), rows)
            counts[table.name] = len(rows)
        if engine.dialect.name == "postgresql":  # serial ids carry on after the restored rows
            for table in _tables():
                for col in table.columns:
                    if col.autoincrement is True and col.primary_key:
                        conn.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                                f"'{col.name}'), coalesce(max({col.name}), 0) + 1, false) "
                                f"FROM {table.name}"
                            )
                        )
    return counts
