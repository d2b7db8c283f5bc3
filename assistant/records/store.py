"""The record store: people, consent, sessions, answers, audio clips, jobs and flags, on the device.

One SQLite file, ``<data_dir>/records.sqlite`` (WAL journal, ``synchronous=FULL``, foreign keys
on), and one folder of audio clips, ``<data_dir>/clips/<sha256>.wav``. Recipes::

    store = RecordStore.open(settings)
    sam = store.add_person("Sam", consent=Consent(audio=True, method="button"))
    store.save_session(record)                    # after every answer: the whole record
    store.keep_audio(record.id, answer.id, wav)   # keeps the clip only with consent
    store.finish_session(record.id)               # draft -> finalised, never back
    store.unfinished_session()                    # the interrupted draft, to carry on

Rules the store keeps, whoever calls it:

* **Crash safety.** Every write is one transaction, committed with an fsync before the call
  returns. A clip is written to a temporary file, fsynced, renamed to its final name and the
  folder fsynced, before the database points at it; a half-written clip is never visible under
  its final name. On open, leftovers of an interrupted write are swept away.
* **Consent gates audio.** A clip is kept only when the latest consent decision of the answer's
  person allows audio (for a whole-group answer: of every person in the session). Withdrawal
  deletes the person's clips and is recorded.
* **State only moves forward:** draft -> finalised -> sent. A finalised session cannot be
  changed (saving the same content again is accepted and does nothing).
* **Nothing is lost on a full disk.** Free space is checked before writing; a full disk is a
  :class:`DiskFull` and what was saved before stays as it was.
* **A damaged database is reported, never recreated.**
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import BadAudioFile, ConsentError, DiskFull, RecordError
from assistant.records.migrate import migrate, schema_version
from assistant.records.model import (
    Answer,
    Consent,
    ConsentMethod,
    Flag,
    Job,
    JobEvent,
    Person,
    SessionRecord,
    SessionState,
)

if TYPE_CHECKING:
    from assistant.config import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

DB_NAME = "records.sqlite"
CLIPS_DIR = "clips"
RECORD_FLOOR_MB = 10
"""Below this much free space (or ``min_free_mb`` if smaller) even the words are not saved."""
ORPHAN_GRACE_S = 600.0
"""A clip file no record points at is swept only when older than this (another process may be
between renaming it and committing)."""
_CHUNK = 1 << 16


def _boundary(name: str) -> None:
    """A named write boundary; the power-loss tests replace this to kill the process here."""


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (28, 122):  # ENOSPC, EDQUOT
        return True
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "")
        return name == "SQLITE_FULL" or "database or disk is full" in str(exc)
    return False


class RecordStore:
    """Records on the device. Safe to share between threads; one store per process."""

    def __init__(
        self, data_dir: Path, *, min_free_mb: int = 100, clock: Clock | None = None
    ) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.db_path = self.data_dir / DB_NAME
        self.clips_dir = self.data_dir / CLIPS_DIR
        self.min_free_mb = min_free_mb
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.clips_dir.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise RecordError(
                f"Cannot make the records folder {self.data_dir}: {exc.strerror or exc}."
            ) from exc
        self._db = self._connect()
        self._sweep()

    @classmethod
    def open(cls, settings: Settings) -> RecordStore:
        """The store in the configured data folder."""
        return cls(settings.data_dir, min_free_mb=settings.records.min_free_mb)

    # ------------------------------------------------------------------ opening and closing

    def _connect(self) -> sqlite3.Connection:
        existed = self.db_path.exists()
        try:
            db = sqlite3.connect(
                self.db_path, isolation_level=None, timeout=10.0, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise RecordError(f"Cannot open the records database {self.db_path}: {exc}.") from exc
        try:
            if not existed:
                os.chmod(self.db_path, 0o600)
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RecordError(f"The records database {self.db_path} cannot use a WAL journal.")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=10000")
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(str(p) for p in problems[:3]))
            before = schema_version(db)
            try:
                migrate(db, self.db_path)
            except sqlite3.Error as exc:
                if _is_full(exc):
                    raise
                raise RecordError(
                    f"Could not upgrade the records database {self.db_path} from version "
                    f"{before}: {exc}; it was left as it was."
                ) from exc
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('device_id', ?), "
                "('created_at', ?)",
                (str(uuid.uuid4()), repr(time.time())),
            )
        except sqlite3.OperationalError as exc:
            db.close()
            if _is_full(exc):
                raise DiskFull(
                    f"The disk is full, so the records database {self.db_path} cannot be opened."
                ) from exc
            if "locked" in str(exc):
                raise RecordError(
                    f"The records database {self.db_path} is busy in another program."
                ) from exc
            raise self._damaged(exc) from exc
        except sqlite3.DatabaseError as exc:
            db.close()
            raise self._damaged(exc) from exc
        except BaseException:
            db.close()
            raise
        return db

    def _damaged(self, exc: BaseException) -> RecordError:
        return RecordError(
            f"The records database {self.db_path} is damaged ({exc}); it was left untouched: "
            "restore it from a backup or move it aside to start a new one."
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> datetime:
        return self._clock()

    @contextlib.contextmanager
    def _tx(self, boundary: str | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), errors made plain."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                if boundary:
                    _boundary(boundary)
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._plain(exc) from exc
                raise

    def _plain(self, exc: sqlite3.Error) -> RecordError:
        if _is_full(exc):
            return DiskFull(
                f"The disk is full, so nothing more could be saved in {self.db_path}; "
                "everything saved before is kept."
            )
        if isinstance(exc, sqlite3.IntegrityError):
            return RecordError(f"The record does not fit the records database: {exc}.")
        if "locked" in str(exc) or "busy" in str(exc):
            return RecordError(f"The records database {self.db_path} is busy in another program.")
        return RecordError(f"The records database {self.db_path} failed: {exc}.")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                cur = self._db.execute(sql, args)
                cur.row_factory = sqlite3.Row
                return cur.fetchall()
            except sqlite3.Error as exc:
                raise self._plain(exc) from exc

    # ------------------------------------------------------------------ free space

    def _free_bytes(self) -> int:
        return shutil.disk_usage(self.data_dir).free

    def _check_space(self, need_bytes: int, floor_mb: int, what: str) -> None:
        if floor_mb <= 0:
            return
        free = self._free_bytes()
        if free - need_bytes < floor_mb * 1024 * 1024:
            raise DiskFull(
                f"The disk is nearly full ({free // (1024 * 1024)} MB free, {floor_mb} MB must "
                f"stay free), so {what}; everything saved before is kept."
            )

    # ------------------------------------------------------------------ the device

    def device_id(self) -> str:
        """A UUID made once for this device (stored in the database)."""
        return str(self._read("SELECT value FROM meta WHERE key = 'device_id'")[0]["value"])

    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    # ------------------------------------------------------------------ people and consent

    def add_person(
        self,
        name: str,
        *,
        consent: Consent | None = None,
        communication_needs: str | None = None,
        repeat_after_s: float | None = None,
        words_per_minute: float | None = None,
        person_id: str | None = None,
    ) -> Person:
        """Add someone to the roster. Names must be told apart when spoken, so no two alike."""
        name = " ".join(name.split())
        if not name:
            raise RecordError("A person needs a name.")
        fields: dict[str, Any] = {"name": name}
        if person_id:
            fields["id"] = person_id
        person = Person(
            communication_needs=communication_needs,
            repeat_after_s=repeat_after_s,
            words_per_minute=words_per_minute,
            **fields,
        )
        now = _iso(self._now())
        with self._tx() as db:
            clash = db.execute(
                "SELECT id, name FROM people WHERE name = ? COLLATE NOCASE AND removed_at IS NULL",
                (name,),
            ).fetchone()
            if clash:
                raise RecordError(
                    f"There is already someone called {clash[1]}; add a surname or an initial."
                )
            db.execute(
                "INSERT INTO people (id, name, data, added_at) VALUES (?, ?, ?, ?)",
                (person.id, name, person.model_dump_json(exclude={"consent"}), now),
            )
            if consent is not None:
                self._add_consent(db, person.id, consent)
        return self.get_person(person.id)

    def get_person(self, person_id: str) -> Person:
        """Anyone ever on the roster (removed people too), with the consent in force."""
        rows = self._read("SELECT data FROM people WHERE id = ?", (person_id,))
        if not rows:
            raise RecordError(f"There is no person with id {person_id}.")
        person = Person.model_validate_json(rows[0]["data"])
        person.consent = self._consent_in_force(person_id)
        person.name_clip = self._name_clip(person_id)
        return person

    def _name_clip(self, person_id: str) -> str | None:
        rows = self._read(
            "SELECT sha256 FROM name_clips WHERE person_id = ? AND deleted_at IS NULL",
            (person_id,),
        )
        return str(rows[0]["sha256"]) if rows else None

    def people(self, *, include_removed: bool = False) -> list[Person]:
        """The roster, in the order people were added."""
        where = "" if include_removed else "WHERE removed_at IS NULL"
        rows = self._read(f"SELECT id FROM people {where} ORDER BY added_at, rowid")
        return [self.get_person(r["id"]) for r in rows]

    def find_person(self, name: str) -> Person | None:
        """The person on the roster with this name (any case, extra spaces ignored), or None."""
        name = " ".join(name.split())
        rows = self._read(
            "SELECT id FROM people WHERE name = ? COLLATE NOCASE AND removed_at IS NULL", (name,)
        )
        return self.get_person(rows[0]["id"]) if rows else None

    def remove_person(self, person_id: str) -> None:
        """Take someone off the roster; their past answers (and any audio) are kept."""
        self.get_person(person_id)
        with self._tx() as db:
            db.execute(
                "UPDATE people SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                (_iso(self._now()), person_id),
            )

    def set_consent(self, person_id: str, consent: Consent) -> Person:
        """Record a consent decision (it is then the one in force). Saying no keeps past clips;
        use :meth:`withdraw_consent` to delete them."""
        self.get_person(person_id)
        with self._tx() as db:
            self._add_consent(db, person_id, consent)
        return self.get_person(person_id)

    def withdraw_consent(
        self, person_id: str, by: str | None = None, method: ConsentMethod = "staff_recorded"
    ) -> int:
        """Withdraw consent to keep audio: delete every clip of theirs, record the withdrawal.

        Returns the number of clips deleted (their answers' and the recording of their name).
        The answers' words are kept.
        """
        self.get_person(person_id)
        now = self._now()
        with self._tx("withdraw_before_commit") as db:
            rows = db.execute(
                "SELECT answer_id, sha256 FROM clips WHERE person_id = ? AND deleted_at IS NULL",
                (person_id,),
            ).fetchall()
            db.execute(
                "UPDATE clips SET deleted_at = ?, deleted_why = 'consent withdrawn' "
                "WHERE person_id = ? AND deleted_at IS NULL",
                (_iso(now), person_id),
            )
            name = db.execute(
                "SELECT person_id, sha256 FROM name_clips WHERE person_id = ? "
                "AND deleted_at IS NULL",
                (person_id,),
            ).fetchall()
            db.execute(
                "UPDATE name_clips SET deleted_at = ?, deleted_why = 'consent withdrawn' "
                "WHERE person_id = ? AND deleted_at IS NULL",
                (_iso(now), person_id),
            )
            rows = rows + name
            db.execute(
                "INSERT INTO consent_events (person_id, audio, at, method, witnessed_by, "
                "withdrawal, clips_deleted, recorded_at) VALUES (?, 0, ?, ?, ?, 1, ?, ?)",
                (person_id, _iso(now), method, by, len(rows), _iso(now)),
            )
        self._delete_unreferenced({sha for _, sha in rows})
        log.info("Consent withdrawn for %s; %d clip(s) deleted", person_id, len(rows))
        return len(rows)

    def consent_history(self, person_id: str) -> list[dict[str, Any]]:
        """Every consent decision for a person, oldest first (withdrawals marked)."""
        rows = self._read(
            "SELECT * FROM consent_events WHERE person_id = ? ORDER BY seq", (person_id,)
        )
        return [dict(r) for r in rows]

    def _add_consent(self, db: sqlite3.Connection, person_id: str, consent: Consent) -> None:
        db.execute(
            "INSERT INTO consent_events (person_id, audio, at, method, witnessed_by, session_id, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                person_id,
                int(consent.audio),
                _iso(consent.at),
                consent.method,
                consent.witnessed_by,
                consent.session_id,
                _iso(self._now()),
            ),
        )

    def _consent_in_force(self, person_id: str) -> Consent | None:
        rows = self._read(
            "SELECT * FROM consent_events WHERE person_id = ? ORDER BY seq DESC LIMIT 1",
            (person_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return Consent(
            audio=bool(r["audio"]),
            at=datetime.fromisoformat(r["at"]),
            method=r["method"],
            witnessed_by=r["witnessed_by"],
            session_id=r["session_id"],
            withdrawn=bool(r["withdrawal"]),
        )

    @staticmethod
    def _audio_allowed(db: sqlite3.Connection, session_id: str, person_id: str | None) -> bool:
        def allowed(pid: str) -> bool:
            row = db.execute(
                "SELECT audio FROM consent_events WHERE person_id = ? ORDER BY seq DESC LIMIT 1",
                (pid,),
            ).fetchone()
            return bool(row and row[0])

        if person_id is not None:
            return allowed(person_id)
        everyone = [
            r[0]
            for r in db.execute(
                "SELECT person_id FROM session_people WHERE session_id = ?", (session_id,)
            )
        ]
        return bool(everyone) and all(allowed(pid) for pid in everyone)

    # ------------------------------------------------------------------ sessions

    def save_session(self, record: SessionRecord) -> None:
        """Save the whole record in one transaction (call after every answer; idempotent).

        The store owns ``state`` (see :meth:`finish_session`), ``device_id`` and every
        ``Answer.audio_clip`` (see :meth:`keep_audio`): what the record says about them is
        ignored, except that ``state="finalised"`` finishes the session in the same transaction.
        """
        if record.state == "sent":
            raise RecordError(f"Session {record.id} cannot be saved as sent; use mark_sent.")
        self._check_space(0, min(self.min_free_mb, RECORD_FLOOR_MB), "this answer was not saved")
        now = _iso(self._now())
        stored = self._normalised(record)
        data = stored.model_dump_json()
        dropped: set[str] = set()
        with self._tx("save_before_commit") as db:
            row = db.execute(
                "SELECT state, data FROM sessions WHERE id = ?", (record.id,)
            ).fetchone()
            if row is not None and row[0] != "draft":
                if self._same_content(row[1], data):
                    return
                raise RecordError(
                    f"Session {record.id} is {row[0]} and cannot be changed; "
                    "save the change as a new session."
                )
            if row is None:
                db.execute(
                    "INSERT INTO sessions (id, state, script, started_at, saved_at, data) "
                    "VALUES (?, 'draft', ?, ?, ?, ?)",
                    (record.id, record.script, _iso(record.started_at), now, data),
                )
            elif row[1] == data and record.state == "draft":
                return  # the same record again: nothing to do
            else:
                db.execute(
                    "UPDATE sessions SET script = ?, started_at = ?, saved_at = ?, data = ?, "
                    "saves = saves + 1 WHERE id = ?",
                    (record.script, _iso(record.started_at), now, data, record.id),
                )
            dropped = self._index(db, stored)
            if record.state == "finalised":
                db.execute(
                    "UPDATE sessions SET state = 'finalised', finalised_at = ? WHERE id = ?",
                    (now, record.id),
                )
        if dropped:
            self._delete_unreferenced(dropped)

    def _normalised(self, record: SessionRecord) -> SessionRecord:
        """The record as stored: store-owned fields cleared, the device id filled in."""
        stored = record.model_copy(deep=True)
        stored.state = "draft"
        stored.device_id = self.device_id()
        for answer in stored.answers:
            answer.audio_clip = None
        for person in stored.people:
            person.name_clip = None
        for flag in stored.flags:
            flag.resolved = False
        return stored

    @staticmethod
    def _same_content(stored_json: str, new_json: str) -> bool:
        return bool(json.loads(stored_json) == json.loads(new_json))

    def _index(self, db: sqlite3.Connection, rec: SessionRecord) -> set[str]:
        """Refresh the index tables for one session from its record; return the sha256 of
        clips whose answers the record no longer has (to delete once committed)."""
        now = _iso(self._now())
        for person in rec.people:
            exists = db.execute("SELECT 1 FROM people WHERE id = ?", (person.id,)).fetchone()
            if not exists:
                db.execute(
                    "INSERT INTO people (id, name, data, added_at) VALUES (?, ?, ?, ?)",
                    (person.id, person.name, person.model_dump_json(exclude={"consent"}), now),
                )
            if person.consent is not None:
                self._merge_consent(db, person.id, person.consent)
        db.execute("DELETE FROM session_people WHERE session_id = ?", (rec.id,))
        db.executemany(
            "INSERT OR IGNORE INTO session_people (session_id, person_id) VALUES (?, ?)",
            [(rec.id, p.id) for p in rec.people],
        )

        ids = [a.id for a in rec.answers]
        if len(set(ids)) != len(ids):
            raise RecordError(f"Session {rec.id} has two answers with the same id.")
        for seq, a in enumerate(rec.answers):
            other = db.execute("SELECT session_id FROM answers WHERE id = ?", (a.id,)).fetchone()
            if other is not None and other[0] != rec.id:
                raise RecordError(f"Answer {a.id} already belongs to session {other[0]}.")
            db.execute(
                "INSERT INTO answers (id, session_id, seq, person_id, step_id, at, transcript) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, "
                "person_id = excluded.person_id, step_id = excluded.step_id, at = excluded.at, "
                "transcript = excluded.transcript",
                (a.id, rec.id, seq, a.person_id, a.step_id, _iso(a.at), a.transcript),
            )
        wanted = set(ids)
        gone = [
            r[0]
            for r in db.execute("SELECT id FROM answers WHERE session_id = ?", (rec.id,))
            if r[0] not in wanted
        ]
        dropped: set[str] = set()
        for answer_id in gone:  # a draft dropped an answer: drop its index row and its clip
            clip = db.execute(
                "SELECT sha256 FROM clips WHERE answer_id = ? AND deleted_at IS NULL", (answer_id,)
            ).fetchone()
            if clip:
                dropped.add(clip[0])
            db.execute(
                "UPDATE clips SET deleted_at = ?, deleted_why = 'answer removed' "
                "WHERE answer_id = ? AND deleted_at IS NULL",
                (now, answer_id),
            )
            db.execute("DELETE FROM answers WHERE id = ?", (answer_id,))

        for job in rec.jobs:
            self._merge_job(db, rec.id, job)
        for checkin in rec.checkins:
            for job_id, status in checkin.jobs.items():
                if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone():
                    db.execute(
                        "INSERT OR IGNORE INTO job_events (job_id, status, at, session_id) "
                        "VALUES (?, ?, ?, ?)",
                        (job_id, status, _iso(checkin.at), rec.id),
                    )
        for flag in rec.flags:
            db.execute(
                "INSERT INTO flags (id, session_id, person_id, at, data) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET person_id = excluded.person_id, "
                "at = excluded.at, data = excluded.data",
                (flag.id, rec.id, flag.person_id, _iso(flag.at), flag.model_dump_json()),
            )
        return dropped

    def _merge_consent(self, db: sqlite3.Connection, person_id: str, consent: Consent) -> None:
        """Record a consent decision carried in a session record, once.

        A decision already recorded is not recorded again; a grant dated before a later
        withdrawal is stale (the record was built before the withdrawal) and is ignored.
        """
        at = _iso(consent.at)
        same = db.execute(
            "SELECT 1 FROM consent_events WHERE person_id = ? AND audio = ? AND at = ? "
            "AND method = ? AND coalesce(session_id, '') = coalesce(?, '')",
            (person_id, int(consent.audio), at, consent.method, consent.session_id),
        ).fetchone()
        if same:
            return
        if consent.audio:
            later_withdrawal = db.execute(
                "SELECT 1 FROM consent_events WHERE person_id = ? AND withdrawal = 1 AND at >= ?",
                (person_id, at),
            ).fetchone()
            if later_withdrawal:
                return
        self._add_consent(db, person_id, consent)

    def _merge_job(self, db: sqlite3.Connection, session_id: str, job: Job) -> None:
        row = db.execute("SELECT session_id FROM jobs WHERE id = ?", (job.id,)).fetchone()
        plain = job.model_dump_json(exclude={"history"})
        if row is None:
            db.execute(
                "INSERT INTO jobs (id, session_id, person_id, data) VALUES (?, ?, ?, ?)",
                (job.id, session_id, job.person_id, plain),
            )
        elif row[0] == session_id:
            db.execute(
                "UPDATE jobs SET person_id = ?, data = ? WHERE id = ?",
                (job.person_id, plain, job.id),
            )
        for event in job.history:
            db.execute(
                "INSERT OR IGNORE INTO job_events (job_id, status, at, help_needed, note_answer, "
                "session_id) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    event.status,
                    _iso(event.at),
                    event.help_needed,
                    event.note_answer,
                    session_id,
                ),
            )

    def get_session(self, session_id: str) -> SessionRecord:
        """The session as saved, with its state and the audio clips still kept."""
        rows = self._read("SELECT state, data FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise RecordError(f"There is no session with id {session_id}.")
        return self._load(session_id, rows[0]["state"], rows[0]["data"])

    def _load(self, session_id: str, state: str, data: str) -> SessionRecord:
        try:
            record = SessionRecord.model_validate_json(data)
        except ValueError as exc:
            raise RecordError(
                f"Session {session_id} in {self.db_path} is unreadable: {exc}."
            ) from exc
        record.state = state  # type: ignore[assignment]
        clips = {
            r["answer_id"]: r["sha256"]
            for r in self._read(
                "SELECT answer_id, sha256 FROM clips WHERE session_id = ? AND deleted_at IS NULL",
                (session_id,),
            )
        }
        for answer in record.answers:
            answer.audio_clip = clips.get(answer.id)
        for person in record.people:
            person.name_clip = self._name_clip(person.id)
        resolved = {
            r["id"]
            for r in self._read(
                "SELECT id FROM flags WHERE session_id = ? AND resolved_at IS NOT NULL",
                (session_id,),
            )
        }
        for flag in record.flags:
            flag.resolved = flag.id in resolved
        return record

    def sessions(self, state: SessionState | None = None) -> list[SessionRecord]:
        """Every session (or those in *state*), oldest first."""
        if state is None:
            rows = self._read("SELECT id, state, data FROM sessions ORDER BY started_at, rowid")
        else:
            rows = self._read(
                "SELECT id, state, data FROM sessions WHERE state = ? ORDER BY started_at, rowid",
                (state,),
            )
        return [self._load(r["id"], r["state"], r["data"]) for r in rows]

    def session_list(self, state: SessionState | None = None) -> list[dict[str, Any]]:
        """A line per session (id, state, script, started_at, answers, people) without loading
        whole records: for listing many sessions on a small device."""
        where, args = ("WHERE s.state = ?", (state,)) if state else ("", ())
        rows = self._read(
            "SELECT s.id, s.state, s.script, s.started_at, "
            "(SELECT count(*) FROM answers a WHERE a.session_id = s.id) AS answers, "
            "(SELECT group_concat(p.name, ', ') FROM session_people sp "
            " JOIN people p ON p.id = sp.person_id WHERE sp.session_id = s.id) AS people "
            f"FROM sessions s {where} ORDER BY s.started_at, s.rowid",
            args,
        )
        return [{**dict(r), "started_at": datetime.fromisoformat(r["started_at"])} for r in rows]

    def session_ids(self, prefix: str = "") -> list[str]:
        """Ids of sessions (starting with *prefix*), oldest first."""
        like = prefix.replace("\\", "").replace("%", "").replace("_", "") + "%"
        rows = self._read(
            "SELECT id FROM sessions WHERE id LIKE ? ORDER BY started_at, rowid", (like,)
        )
        return [r["id"] for r in rows]

    def session_state(self, session_id: str) -> SessionState:
        rows = self._read("SELECT state FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise RecordError(f"There is no session with id {session_id}.")
        return rows[0]["state"]

    def unfinished_session(self) -> SessionRecord | None:
        """The most recently saved draft (an interrupted session to offer to carry on), or None."""
        rows = self._read(
            "SELECT id, state, data FROM sessions WHERE state = 'draft' "
            "ORDER BY saved_at DESC, rowid DESC LIMIT 1"
        )
        return self._load(rows[0]["id"], rows[0]["state"], rows[0]["data"]) if rows else None

    def finish_session(self, session_id: str) -> None:
        """Draft -> finalised. A finalised or sent session stays as it is (never back)."""
        self.session_state(session_id)
        with self._tx("finish_before_commit") as db:
            db.execute(
                "UPDATE sessions SET state = 'finalised', finalised_at = ? "
                "WHERE id = ? AND state = 'draft'",
                (_iso(self._now()), session_id),
            )

    def mark_sent(self, session_id: str) -> None:
        """Finalised -> sent (the hub has it). Sent again is a no-op; a draft is refused."""
        state = self.session_state(session_id)
        if state == "draft":
            raise RecordError(f"Session {session_id} is not finished, so it cannot be sent.")
        with self._tx("sent_before_commit") as db:
            db.execute(
                "UPDATE sessions SET state = 'sent', sent_at = ? "
                "WHERE id = ? AND state = 'finalised'",
                (_iso(self._now()), session_id),
            )

    # ------------------------------------------------------------------ audio clips

    def clip_path(self, sha256: str) -> Path:
        """Where the clip with this sha256 lives (it may have been deleted)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise RecordError(f"{sha256!r} is not a clip name (a sha256 in hex).")
        return self.clips_dir / f"{sha256}.wav"

    def keep_audio(self, session_id: str, answer_id: str, wav_path: Path | str) -> str | None:
        """Keep an answer's WAV if its person consented; return its sha256, or None.

        The temporary WAV is deleted either way (kept or not). The answer must have been saved
        (:meth:`save_session`) first. On :class:`DiskFull` the WAV is left where it is.
        """
        wav = Path(wav_path)
        person_id = self._answer_person(session_id, answer_id)
        with self._lock:
            allowed = self._audio_allowed(self._db, session_id, person_id)
        if not allowed:
            wav.unlink(missing_ok=True)
            return None
        sha = self.add_clip(session_id, answer_id, wav)
        wav.unlink(missing_ok=True)
        return sha

    def _answer_person(self, session_id: str, answer_id: str) -> str | None:
        rows = self._read(
            "SELECT person_id FROM answers WHERE id = ? AND session_id = ?", (answer_id, session_id)
        )
        if not rows:
            raise RecordError(
                f"Answer {answer_id} is not saved in session {session_id}; save the session first."
            )
        return rows[0]["person_id"]

    def add_clip(self, session_id: str, answer_id: str, wav_path: Path | str) -> str:
        """Copy a WAV into the clips folder for an answer (the lower-level call).

        Raises :class:`ConsentError` when the answer's person has not consented to audio. The
        source file is left in place.
        """
        wav = Path(wav_path)
        person_id = self._answer_person(session_id, answer_id)
        with self._lock:
            if not self._audio_allowed(self._db, session_id, person_id):
                raise ConsentError(
                    f"Answer {answer_id} is from someone who has not agreed to keep their voice, "
                    "so its audio cannot be kept."
                )
        size = self._check_wav(wav)
        self._check_space(size, self.min_free_mb, "this audio was not kept")
        sha, final = self._write_clip(wav)
        _boundary("clip_after_rename")
        try:
            with self._tx("clip_before_commit") as db:
                if not self._audio_allowed(db, session_id, person_id):  # withdrawn meanwhile
                    raise ConsentError(
                        f"Consent was withdrawn while answer {answer_id}'s audio was being kept."
                    )
                old = db.execute(
                    "SELECT sha256 FROM clips WHERE answer_id = ?", (answer_id,)
                ).fetchone()
                db.execute(
                    "INSERT INTO clips (answer_id, sha256, session_id, person_id, bytes, kept_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (answer_id) DO UPDATE SET "
                    "sha256 = excluded.sha256, bytes = excluded.bytes, kept_at = excluded.kept_at, "
                    "deleted_at = NULL, deleted_why = NULL",
                    (answer_id, sha, session_id, person_id, size, _iso(self._now())),
                )
        except BaseException:
            self._delete_unreferenced({sha})
            raise
        if old is not None and old[0] != sha:
            self._delete_unreferenced({old[0]})
        return sha

    def keep_name_clip(self, person_id: str, wav_path: Path | str) -> str | None:
        """Keep a recording of a person's name if they consented to keep their voice.

        Like :meth:`keep_audio`: returns the sha256 or None, and deletes the WAV either way.
        A new recording replaces the old one.
        """
        wav = Path(wav_path)
        self.get_person(person_id)
        with self._lock:
            allowed = self._audio_allowed(self._db, "", person_id)
        if not allowed:
            wav.unlink(missing_ok=True)
            return None
        size = self._check_wav(wav)
        self._check_space(size, self.min_free_mb, "the recording of the name was not kept")
        sha, _ = self._write_clip(wav)
        try:
            with self._tx("name_clip_before_commit") as db:
                if not self._audio_allowed(db, "", person_id):
                    raise ConsentError("Consent was withdrawn while the name was being kept.")
                old = db.execute(
                    "SELECT sha256 FROM name_clips WHERE person_id = ? AND deleted_at IS NULL",
                    (person_id,),
                ).fetchone()
                db.execute(
                    "INSERT INTO name_clips (person_id, sha256, bytes, kept_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (person_id) DO UPDATE SET "
                    "sha256 = excluded.sha256, bytes = excluded.bytes, "
                    "kept_at = excluded.kept_at, deleted_at = NULL, deleted_why = NULL",
                    (person_id, sha, size, _iso(self._now())),
                )
        except BaseException:
            self._delete_unreferenced({sha})
            raise
        if old is not None and old[0] != sha:
            self._delete_unreferenced({old[0]})
        wav.unlink(missing_ok=True)
        return sha

    def _check_wav(self, wav: Path) -> int:
        try:
            with wave.open(str(wav), "rb") as w:
                frames = w.getnframes()
            size = wav.stat().st_size
        except FileNotFoundError as exc:
            raise BadAudioFile(f"The audio file {wav} is not there.") from exc
        except (wave.Error, EOFError, OSError) as exc:
            raise BadAudioFile(f"The audio file {wav} is not a readable WAV: {exc}.") from exc
        if frames == 0:
            raise BadAudioFile(f"The audio file {wav} has no sound in it.")
        return size

    def _write_clip(self, src: Path) -> tuple[str, Path]:
        """Copy *src* into the clips folder atomically; return (sha256, final path)."""
        tmp = self.clips_dir / f".incoming-{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        try:
            with src.open("rb") as fin, open(tmp, "xb") as fout:
                os.fchmod(fout.fileno(), 0o600)
                first = True
                while chunk := fin.read(_CHUNK):
                    digest.update(chunk)
                    fout.write(chunk)
                    if first:
                        fout.flush()
                        _boundary("clip_mid_write")
                        first = False
                fout.flush()
                os.fsync(fout.fileno())
            sha = digest.hexdigest()
            final = self.clip_path(sha)
            if final.exists():  # the same sound already kept: one file serves both
                tmp.unlink()
            else:
                os.replace(tmp, final)
            _fsync_dir(self.clips_dir)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if _is_full(exc):
                raise DiskFull(
                    "The disk filled up while keeping the audio, so it was not kept; "
                    "everything saved before is kept."
                ) from exc
            raise RecordError(f"Cannot write an audio clip in {self.clips_dir}: {exc}.") from exc
        return sha, final

    def _delete_unreferenced(self, shas: set[str]) -> int:
        """Delete clip files that no kept clip points at; return how many were deleted."""
        deleted = 0
        for sha in shas:
            live = self._read(
                "SELECT 1 FROM clips WHERE sha256 = ? AND deleted_at IS NULL UNION ALL "
                "SELECT 1 FROM name_clips WHERE sha256 = ? AND deleted_at IS NULL LIMIT 1",
                (sha, sha),
            )
            if live:
                continue
            path = self.clip_path(sha)
            try:
                path.unlink()
                deleted += 1
            except FileNotFoundError:
                pass
        if deleted:
            _fsync_dir(self.clips_dir)
        return deleted

    def _sweep(self) -> None:
        """Tidy what an interrupted write left: temporary files, and clip files nobody keeps."""
        cutoff = time.time() - ORPHAN_GRACE_S
        created = float(self._read("SELECT value FROM meta WHERE key = 'created_at'")[0][0])
        strangers = 0
        known: dict[str, bool] = {}
        for r in self._read(
            "SELECT sha256, max(deleted_at IS NULL) AS live FROM (SELECT sha256, deleted_at "
            "FROM clips UNION ALL SELECT sha256, deleted_at FROM name_clips) GROUP BY sha256"
        ):
            known[r["sha256"]] = bool(r["live"])
        for path in self.clips_dir.iterdir():
            try:
                if path.name.startswith(".incoming-"):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                    continue
                if path.suffix != ".wav":
                    continue
                sha = path.stem
                if sha in known:
                    if not known[sha]:
                        path.unlink()  # deleted (withdrawn, retention) but the unlink was cut off
                else:
                    mtime = path.stat().st_mtime
                    if mtime < created:
                        strangers += 1  # older than this database: not ours to delete
                    elif mtime < cutoff:
                        path.unlink()  # renamed, but the record was never committed
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("Cannot tidy %s: %s", path, exc)
        if strangers:
            log.warning(
                "%d audio clip(s) in %s are older than the records database and not in it "
                "(was the database replaced?); they are left alone.",
                strangers,
                self.clips_dir,
            )

    def withdrawn_clips(self) -> list[dict[str, Any]]:
        """Clips deleted because consent was withdrawn (sha256, person_id, session_id or None for
        a name recording, deleted_at), oldest first: for sync to ask the hub to delete its
        copies of any that were already sent."""
        rows = self._read(
            "SELECT sha256, person_id, session_id, deleted_at FROM clips "
            "WHERE deleted_why = 'consent withdrawn' UNION ALL "
            "SELECT sha256, person_id, NULL, deleted_at FROM name_clips "
            "WHERE deleted_why = 'consent withdrawn' ORDER BY deleted_at"
        )
        return [dict(r) for r in rows]

    def clips_for(self, person_id: str) -> list[str]:
        """The sha256 of every clip kept for a person."""
        rows = self._read(
            "SELECT sha256 FROM clips WHERE person_id = ? AND deleted_at IS NULL ORDER BY kept_at",
            (person_id,),
        )
        return [r["sha256"] for r in rows]

    def apply_retention(self, now: datetime | None = None, keep_days: int = 90) -> int:
        """Delete audio older than *keep_days* from sessions already sent; return how many.

        Audio of a session not yet sent (draft or finalised) is never deleted here.
        """
        now = now or self._now()
        cutoff = _iso(now - timedelta(days=keep_days))
        with self._tx("retention_before_commit") as db:
            rows = db.execute(
                "SELECT c.answer_id, c.sha256 FROM clips c JOIN sessions s ON s.id = c.session_id "
                "WHERE c.deleted_at IS NULL AND s.state = 'sent' AND c.kept_at < ?",
                (cutoff,),
            ).fetchall()
            db.executemany(
                "UPDATE clips SET deleted_at = ?, deleted_why = 'retention' WHERE answer_id = ?",
                [(_iso(now), answer_id) for answer_id, _ in rows],
            )
        self._delete_unreferenced({sha for _, sha in rows})
        return len(rows)

    def forget_transcripts(self, now: datetime | None = None, keep_days: int = 30) -> int:
        """Blank the transcripts of sessions the hub confirmed more than *keep_days* ago (the
        hub keeps them; the device does not need them). Returns how many sessions changed."""
        now = now or self._now()
        cutoff = _iso(now - timedelta(days=keep_days))
        changed = 0
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, data FROM sessions WHERE state = 'sent' AND sent_at <= ?", (cutoff,)
            ).fetchall()
            for session_id, data in rows:
                record = SessionRecord.model_validate_json(data)
                if not any(a.transcript for a in record.answers):
                    continue
                for answer in record.answers:
                    answer.transcript = ""
                db.execute(
                    "UPDATE sessions SET data = ? WHERE id = ?",
                    (record.model_dump_json(), session_id),
                )
                db.execute("UPDATE answers SET transcript = '' WHERE session_id = ?", (session_id,))
                changed += 1
        return changed

    # ------------------------------------------------------------------ jobs and flags

    def _jobs(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        jobs: list[Job] = []
        for r in self._read(f"SELECT id, data FROM jobs {where} ORDER BY rowid", args):
            job = Job.model_validate_json(r["data"])
            job.history = [
                JobEvent(
                    status=e["status"],
                    at=datetime.fromisoformat(e["at"]),
                    help_needed=e["help_needed"],
                    note_answer=e["note_answer"],
                )
                for e in self._read(
                    "SELECT * FROM job_events WHERE job_id = ? ORDER BY at, seq", (r["id"],)
                )
            ]
            jobs.append(job)
        return jobs

    def get_job(self, job_id: str) -> Job:
        """One job from any session, with its whole status history."""
        found = self._jobs("WHERE id = ?", (job_id,))
        if not found:
            raise RecordError(f"There is no job with id {job_id}.")
        return found[0]

    def jobs_for(self, person_id: str) -> list[Job]:
        """Every job of one person from every session, with its whole status history."""
        return self._jobs("WHERE person_id = ?", (person_id,))

    def open_jobs(self) -> list[Job]:
        """Jobs not yet done, for the daily check-in and the review."""
        return [j for j in self._jobs("", ()) if j.status != "done"]

    def flags(self, unresolved_only: bool = True) -> list[Flag]:
        """Flags for staff, oldest first."""
        where = "WHERE resolved_at IS NULL" if unresolved_only else ""
        out: list[Flag] = []
        for r in self._read(f"SELECT data, resolved_at FROM flags {where} ORDER BY at, rowid"):
            flag = Flag.model_validate_json(r["data"])
            flag.resolved = r["resolved_at"] is not None
            out.append(flag)
        return out

    def resolve_flag(self, flag_id: str, by: str) -> None:
        """A member of staff has dealt with this flag."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE flags SET resolved_at = ?, resolved_by = ? WHERE id = ? "
                "AND resolved_at IS NULL",
                (_iso(self._now()), by, flag_id),
            )
            if (
                cur.rowcount == 0
                and not db.execute("SELECT 1 FROM flags WHERE id = ?", (flag_id,)).fetchone()
            ):
                raise RecordError(f"There is no flag with id {flag_id}.")

    # ------------------------------------------------------------------ audit

    def log_access(
        self,
        action: str,
        session_id: str | None = None,
        detail: str | None = None,
        who: str | None = None,
    ) -> None:
        """Note who looked at or exported records (the audit log)."""
        if who is None:
            try:
                who = getpass.getuser()
            except (KeyError, OSError):
                who = f"uid {os.getuid()}"
        with self._tx() as db:
            db.execute(
                "INSERT INTO access_log (at, who, action, session_id, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                (_iso(self._now()), who, action, session_id, detail),
            )

    def access_log(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._read("SELECT * FROM access_log ORDER BY seq")]

    def answer(self, session_id: str, answer_id: str) -> Answer:
        """One answer of a session, with its clip if kept."""
        for a in self.get_session(session_id).answers:
            if a.id == answer_id:
                return a
        raise RecordError(f"There is no answer {answer_id} in session {session_id}.")
