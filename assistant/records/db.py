"""The records database that every repository shares: one connection, one transaction helper.

:class:`Database` opens ``<data_dir>/records.sqlite`` (WAL journal, ``synchronous=FULL``,
foreign keys on, upgraded to the current schema), and gives the repositories three things:

* :meth:`Database.tx`: one write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), with an
  optional named fault point (:mod:`assistant.faults`) just before the commit;
* :meth:`Database.read`: a read, rows by column name;
* :meth:`Database.check_space`: the free-space rule, before anything is written.

SQLite errors come out as one plain :class:`~assistant.errors.RecordError` sentence (a full disk
as :class:`~assistant.errors.DiskFull`). A damaged database is reported, never recreated.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.errors import DiskFull, KeyProblem, RecordError
from assistant.faults import fault_point
from assistant.records import sql
from assistant.records.encrypt import encrypt_store, finish_leftovers, is_plaintext
from assistant.records.keys import RestKey
from assistant.records.migrate import migrate, schema_version

Clock = Callable[[], datetime]
"""What the store stamps records with: a callable giving an aware ``datetime``."""

DB_NAME = "records.sqlite"


def iso(dt: datetime) -> str:
    """*dt* as the store writes it: UTC, ISO 8601 with microseconds (naive means UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_full(exc: BaseException) -> bool:
    """True when *exc* says the disk (or the quota) is full."""
    if isinstance(exc, OSError) and exc.errno in (28, 122):  # ENOSPC, EDQUOT
        return True
    if isinstance(exc, sql.Error):
        name = getattr(exc, "sqlite_errorname", "")  # only Python 3.11+ sets it
        return name == "SQLITE_FULL" or "database or disk is full" in str(exc)
    return False


class Database:
    """The open records database. Safe to share between threads (one lock serialises calls)."""

    def __init__(
        self, data_dir: Path, *, clock: Clock | None = None, key: RestKey | None = None
    ) -> None:
        self.data_dir = data_dir
        self.path = data_dir / DB_NAME
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.key = key
        """The key that locks the file (SQLCipher); None: a plaintext SQLite file."""
        with self._opening():
            if key is not None and self.path.exists():
                if is_plaintext(self.path):
                    encrypt_store(self.path, key)  # the first start with encryption
                else:
                    finish_leftovers(self.path, key)
            self.connection = self._connect()

    # ------------------------------------------------------------------ opening and closing

    @contextlib.contextmanager
    def _opening(self) -> Iterator[None]:
        """One process at a time opens (and, the first time, locks) the records file."""
        fd = os.open(self.data_dir / ".records-open.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _unlock(self, db: sql.Connection) -> None:
        """Give SQLCipher the key and make sure it opens the file (else one plain sentence)."""
        if self.key is None:
            if self.path.stat().st_size and not is_plaintext(self.path):
                raise KeyProblem(
                    f"The records database {self.path} is locked (encrypted) and no key was "
                    "given; nothing was changed."
                )
            return
        db.execute(f'PRAGMA key = "{self.key.sqlcipher_key()}"')
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sql.DatabaseError as exc:
            if self.key.verified:
                raise self._damaged(exc) from exc
            raise KeyProblem(
                f"The records database {self.path} cannot be opened with the key in "
                f"{self.key.where}: it was locked with another key, or it is damaged; "
                "nothing was changed."
            ) from exc

    def _connect(self) -> sql.Connection:
        existed = self.path.exists()
        try:
            db = sql.connect(self.path, isolation_level=None, timeout=10.0, check_same_thread=False)
        except sql.Error as exc:
            raise RecordError(f"Cannot open the records database {self.path}: {exc}.") from exc
        try:
            if not existed:
                os.chmod(self.path, 0o600)
            self._unlock(db)
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RecordError(f"The records database {self.path} cannot use a WAL journal.")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=10000")
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sql.DatabaseError[1]("; ".join(str(p) for p in problems[:3]))
            before = schema_version(db)
            try:
                migrate(db, self.path)
            except sql.Error as exc:
                if is_full(exc):
                    raise
                raise RecordError(
                    f"Could not upgrade the records database {self.path} from version "
                    f"{before}: {exc}; it was left as it was."
                ) from exc
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('device_id', ?), "
                "('created_at', ?)",
                (str(uuid.uuid4()), repr(time.time())),
            )
        except sql.OperationalError as exc:
            db.close()
            if is_full(exc):
                raise DiskFull(
                    f"The disk is full, so the records database {self.path} cannot be opened."
                ) from exc
            if "locked" in str(exc):
                raise RecordError(
                    f"The records database {self.path} is busy in another program."
                ) from exc
            raise self._damaged(exc) from exc
        except sql.DatabaseError as exc:
            db.close()
            raise self._damaged(exc) from exc
        except BaseException:
            db.close()
            raise
        return db

    def _damaged(self, exc: BaseException) -> RecordError:
        return RecordError(
            f"The records database {self.path} is damaged ({exc}); it was left untouched: "
            "restore it from a backup or move it aside to start a new one."
        )

    def close(self) -> None:
        with self.lock:
            self.connection.close()

    def now(self) -> datetime:
        return self.clock()

    # ------------------------------------------------------------------ reading and writing

    @contextlib.contextmanager
    def tx(self, fault: str | None = None) -> Iterator[sql.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), errors made plain.

        *fault* names the fault point reached just before the commit.
        """
        with self.lock:
            db = self.connection
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                if fault:
                    fault_point(fault)
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    with contextlib.suppress(*sql.Error):
                        db.execute("ROLLBACK")
                if isinstance(exc, sql.Error):
                    raise self.plain(exc) from exc
                raise

    def plain(self, exc: BaseException) -> RecordError:
        """A SQLite error as one plain sentence."""
        if is_full(exc):
            return DiskFull(
                f"The disk is full, so nothing more could be saved in {self.path}; "
                "everything saved before is kept."
            )
        if isinstance(exc, sql.IntegrityError):
            return RecordError(f"The record does not fit the records database: {exc}.")
        if "locked" in str(exc) or "busy" in str(exc):
            return RecordError(f"The records database {self.path} is busy in another program.")
        return RecordError(f"The records database {self.path} failed: {exc}.")

    def read(self, query: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self.lock:
            try:
                cur = self.connection.execute(query, args)
                cur.row_factory = sql.Row
                return list(cur.fetchall())
            except sql.Error as exc:
                raise self.plain(exc) from exc

    # ------------------------------------------------------------------ free space

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.data_dir).free

    def check_space(self, need_bytes: int, floor_mb: int, what: str) -> None:
        """Refuse (:class:`DiskFull`) when writing *need_bytes* would leave under *floor_mb*."""
        if floor_mb <= 0:
            return
        free = self.free_bytes()
        if free - need_bytes < floor_mb * 1024 * 1024:
            raise DiskFull(
                f"The disk is nearly full ({free // (1024 * 1024)} MB free, {floor_mb} MB must "
                f"stay free), so {what}; everything saved before is kept."
            )

    # ------------------------------------------------------------------ the device

    def device_id(self) -> str:
        """A UUID made once for this device (stored in the database)."""
        return str(self.read("SELECT value FROM meta WHERE key = 'device_id'")[0]["value"])

    def schema_version(self) -> int:
        return int(self.read("PRAGMA user_version")[0][0])

    def created_at(self) -> float:
        """When this database was made (seconds since the epoch)."""
        return float(self.read("SELECT value FROM meta WHERE key = 'created_at'")[0][0])
