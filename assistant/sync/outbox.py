"""The device's outbox: sealed bundles waiting for the hub, in ``<data_dir>/sync/``.

Append-only: a finished session is sealed once into ``outbox/sessions/<id>.bundle`` and its
clips into ``outbox/clips/<sha256>.bundle``; a row is added only after the file is safely on
disk, and rows are never deleted (only stamped uploaded, sent or exported). The device never
reads a sealed bundle back except to send or copy its bytes. ``attempts`` logs every push.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import RecordError, SyncError
from assistant.faults import fault_point
from assistant.sync import bundle
from assistant.sync.device import Enrolment, sync_dir, write_atomic
from assistant.sync.source import SessionSource, finalised_sessions

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL UNIQUE,
    clips TEXT NOT NULL,
    size INTEGER NOT NULL,
    sealed_at TEXT NOT NULL,
    sent_at TEXT,
    exported_at TEXT,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    sealed_at TEXT NOT NULL,
    uploaded_at TEXT
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    result TEXT,
    sent INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Item:
    session_id: str
    clips: list[str]
    size: int
    sealed_at: str
    sent_at: str | None
    exported_at: str | None
    last_error: str | None


@dataclass
class Prepared:
    added: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Outbox:
    """Sealed bundles on the device, and the log of attempts to send them."""

    def __init__(self, data_dir: Path) -> None:
        self.root = sync_dir(data_dir)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder = self.root / "outbox"
        (self.folder / "sessions").mkdir(parents=True, exist_ok=True)
        (self.folder / "clips").mkdir(parents=True, exist_ok=True)
        self.path = self.root / "outbox.sqlite"
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise SyncError(f"Cannot open the outbox {self.path}: {exc}.") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- files ---------------------------------------------------------------------------------

    def session_file(self, session_id: str) -> Path:
        if not bundle.is_uuid(session_id):
            raise SyncError(f"Session id {session_id!r} is not a UUID.")
        return self.folder / "sessions" / f"{session_id}.bundle"

    def clip_file(self, sha256: str) -> Path:
        if not bundle.is_sha256(sha256):
            raise SyncError(f"Clip name {sha256!r} is not a sha256.")
        return self.folder / "clips" / f"{sha256}.bundle"

    # -- sealing -------------------------------------------------------------------------------

    def known(self, session_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM items WHERE session_id=?", (session_id,)).fetchone()
        return row is not None

    def has_blob(self, sha256: str) -> bool:
        row = self.db.execute("SELECT 1 FROM blobs WHERE sha256=?", (sha256,)).fetchone()
        return row is not None

    def prepare(self, source: SessionSource, enrolment: Enrolment) -> Prepared:
        """Seal every finalised session not yet in the outbox (with its clips)."""
        result = Prepared()
        for record in finalised_sessions(source):
            if self.known(record.id):
                continue
            try:
                self._seal_session(record, source, enrolment)
            except (SyncError, RecordError, OSError) as exc:
                result.problems.append(f"Session {record.id[:8]}: {exc}")
                continue
            result.added.append(record.id)
        return result

    def _seal_session(self, record: object, source: SessionSource, enrolment: Enrolment) -> None:
        from assistant.records.model import SessionRecord

        assert isinstance(record, SessionRecord)
        clips = bundle.clips_of(record)
        for sha in clips:
            if not self.has_blob(sha):
                self._seal_clip(sha, source, enrolment)
        sealed = bundle.seal(
            "session",
            record.id,
            bundle.record_payload(record),
            device_id=enrolment.device_id,
            hub_public_key=enrolment.hub_key,
            signing_key=enrolment.signing_seed,
        )
        write_atomic(self.session_file(record.id), sealed)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO items(session_id, clips, size, sealed_at) VALUES (?,?,?,?)",
                (record.id, json.dumps(clips), len(sealed), _now()),
            )
        fault_point("after_seal_session")

    def _seal_clip(self, sha: str, source: SessionSource, enrolment: Enrolment) -> None:
        try:
            data = source.clip_bytes(sha)
        except (OSError, RecordError) as exc:
            raise SyncError(
                f"its audio clip {sha[:12]} is missing on this device, so it waits."
            ) from exc
        if hashlib.sha256(data).hexdigest() != sha:
            raise SyncError(f"its audio clip {sha[:12]} is damaged on this device.")
        sealed = bundle.seal(
            "clip",
            sha,
            data,
            device_id=enrolment.device_id,
            hub_public_key=enrolment.hub_key,
            signing_key=enrolment.signing_seed,
        )
        write_atomic(self.clip_file(sha), sealed)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO blobs(sha256, size, sealed_at) VALUES (?,?,?)",
                (sha, len(sealed), _now()),
            )
        fault_point("after_seal_clip")

    def ensure_clip_file(self, sha: str, source: SessionSource, enrolment: Enrolment) -> Path:
        """The sealed clip's file, sealed again from the record store if it was swept away."""
        path = self.clip_file(sha)
        if not path.exists():
            self._seal_clip(sha, source, enrolment)
        return path

    def forget_clip(self, sha256: str) -> None:
        """Delete the sealed copy of a clip deleted on the device (consent withdrawn); it is
        never sent from here."""
        self.clip_file(sha256).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Delete sealed files nobody needs any more (sent sessions, uploaded clips no waiting
        session uses). Rows stay. Returns how many files went."""
        pending = self.pending()
        needed = {sha for item in pending for sha in item.clips}
        gone = 0
        for item in self._items("sent_at IS NOT NULL"):
            path = self.session_file(item.session_id)
            if path.exists():
                path.unlink()
                gone += 1
        for path in (self.folder / "clips").glob("*.bundle"):
            sha = path.stem
            if bundle.is_sha256(sha) and sha not in needed and self.blob_uploaded(sha):
                path.unlink()
                gone += 1
        return gone

    # -- state ---------------------------------------------------------------------------------

    def _items(self, where: str) -> list[Item]:
        rows = self.db.execute(
            "SELECT session_id, clips, size, sealed_at, sent_at, exported_at, last_error "
            f"FROM items WHERE {where} ORDER BY seq"
        ).fetchall()
        return [Item(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def pending(self) -> list[Item]:
        return self._items("sent_at IS NULL")

    def all_items(self) -> list[Item]:
        return self._items("1=1")

    def blob_uploaded(self, sha256: str) -> bool:
        row = self.db.execute("SELECT uploaded_at FROM blobs WHERE sha256=?", (sha256,)).fetchone()
        return bool(row and row[0])

    def mark_blob_uploaded(self, sha256: str, uploaded: bool = True) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE blobs SET uploaded_at=? WHERE sha256=?",
                (_now() if uploaded else None, sha256),
            )

    def mark_sent(self, session_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE items SET sent_at=?, last_error=NULL "
                "WHERE session_id=? AND sent_at IS NULL",
                (_now(), session_id),
            )

    def mark_exported(self, session_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE items SET exported_at=? WHERE session_id=?", (_now(), session_id))

    def set_error(self, session_id: str, error: str | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE items SET last_error=? WHERE session_id=?", (error, session_id))

    def start_attempt(self) -> int:
        with self._tx() as db:
            cur = db.execute("INSERT INTO attempts(started_at) VALUES (?)", (_now(),))
            return int(cur.lastrowid or 0)

    def finish_attempt(self, attempt: int, result: str, sent: int, error: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE attempts SET finished_at=?, result=?, sent=?, error=? WHERE id=?",
                (_now(), result, sent, error, attempt),
            )

    def last_attempt(self) -> dict[str, object] | None:
        row = self.db.execute(
            "SELECT started_at, finished_at, result, sent, error FROM attempts "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return {
            "started_at": row[0],
            "finished_at": row[1],
            "result": row[2] or "stopped part way (the device was switched off?)",
            "sent": row[3],
            "error": row[4],
        }

    def last_error(self) -> str | None:
        row = self.db.execute(
            "SELECT error, started_at FROM attempts WHERE error IS NOT NULL "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return f"{row[1]}: {row[0]}" if row else None
