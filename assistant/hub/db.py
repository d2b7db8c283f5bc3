"""The hub's database: SQLAlchemy 2 tables, migrated by Alembic at every start.

SQLite by default (one file in the hub's home); PostgreSQL by URL
(``postgresql+psycopg://user:password@host/dbname``) for a charity with many devices.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    verify_key: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EnrolCode(Base):
    __tablename__ = "enrol_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # a code made to replace a lost device: enrolling with it re-keys that device id
    replaces: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Blob(Base):
    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(36))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BlobDevice(Base):
    """Which devices have sent a clip's bytes: a session may name only clips its device sent."""

    __tablename__ = "blob_devices"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)


class Session(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    script: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    via: Mapped[str] = mapped_column(String(20))
    record_json: Mapped[str] = mapped_column(Text)


class Person(Base):
    __tablename__ = "people"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the device that first named this person: only it may write about them
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    consent_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # their own settings (JSON) and when they were last changed on a device (ISO 8601): the
    # latest change received is sent to every device holding them (hub migration 0009)
    settings_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    settings_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class PersonLink(Base):
    """Which hub person a device's local person id means, and the name that device uses."""

    __tablename__ = "person_links"
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    local_name: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PersonDevice(Base):
    """A person staff assigned to a device: the device receives them and their jobs."""

    __tablename__ = "person_devices"
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HubJob(Base):
    """A job received in a session, keyed by its id; only the device that made it changes its
    words (``data``); any device adds to its status history."""

    __tablename__ = "hub_jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), index=True)  # the hub person
    device_id: Mapped[str] = mapped_column(String(36))  # the device that made it
    session_id: Mapped[str] = mapped_column(String(36))
    data: Mapped[str] = mapped_column(Text)  # the Job as JSON, without history
    status: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HubJobSharer(Base):
    """A hub person a job is shared with (the job's ``shared_with``, in hub ids; hub migration
    0008): a device holding them receives the job too."""

    __tablename__ = "hub_job_sharers"
    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


class HubJobEvent(Base):
    __tablename__ = "hub_job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[str] = mapped_column(String(40))  # ISO 8601, as the device wrote it
    help_needed: Mapped[str | None] = mapped_column(String(40), nullable=True)
    note_answer: Mapped[str | None] = mapped_column(String(36), nullable=True)
    session_id: Mapped[str] = mapped_column(String(36))
    new_when: Mapped[str | None] = mapped_column(String(200), nullable=True)  # a new date's words
    new_due: Mapped[str | None] = mapped_column(String(10), nullable=True)  # and its ISO date


class SessionPerson(Base):
    __tablename__ = "session_people"
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


class Flag(Base):
    __tablename__ = "flags"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class TranscriptEdit(Base):
    """A staff correction of one answer's transcript; the original stays in the record."""

    __tablename__ = "transcript_edits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    answer_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    staff: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(400))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str] = mapped_column(String(20), default="staff")  # admin, staff, read-only


class StaffSession(Base):
    """One log-in: the cookie carries only its random id; log-out or disabling ends it."""

    __tablename__ = "staff_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    csrf: Mapped[str] = mapped_column(String(64))


class FailedTry(Base):
    """A failed log-in or enrolment try, kept for the limits (pruned after their window)."""

    __tablename__ = "failed_tries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # "login" or "enrol"
    account: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Audit(Base):
    """Who viewed or changed what, and when. Rows are only ever added."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")


class ScriptPublication(Base):
    """One version of a script published to devices, signed by the hub (never changed; a
    withdrawal is a date on it)."""

    __tablename__ = "script_publications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    yaml_text: Mapped[str] = mapped_column(Text)
    targets: Mapped[str] = mapped_column(Text)  # "all", or a JSON list of device ids
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_by: Mapped[str] = mapped_column(String(200))
    signature: Mapped[str] = mapped_column(String(128))  # hex, over the canonical document
    document: Mapped[str] = mapped_column(Text)  # the canonical JSON that was signed
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ConsentWithdrawal(Base):
    """A person withdrew consent to keep their voice: on a device (sent up in a ``consent``
    bundle) or recorded by staff on the hub. Rows are only ever added; every device that holds
    the person receives it and deletes the clips it covers (``assistant/hub/withdrawals.py``)."""

    __tablename__ = "consent_withdrawals"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the same on every device
    person_id: Mapped[str] = mapped_column(String(36), index=True)  # the hub person
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # None: on the hub
    at: Mapped[str] = mapped_column(String(40))  # ISO 8601, as the withdrawing side wrote it
    method: Mapped[str] = mapped_column(String(40))
    witnessed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    clips_deleted: Mapped[int] = mapped_column(Integer, default=0)


class HubGoal(Base):
    """A goal from a session (the latest copy by the session's start: a review's status wins),
    with its person ids in hub ids; sent to every device holding one of its people."""

    __tablename__ = "hub_goals"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # None: a group's
    at: Mapped[str] = mapped_column(String(40))  # the start of the session of this copy
    session_id: Mapped[str] = mapped_column(String(36))
    device_id: Mapped[str] = mapped_column(String(36))
    answer_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # its idea's answer
    data: Mapped[str] = mapped_column(Text)  # the Goal as JSON


class HubGoalPerson(Base):
    """Someone a goal concerns (its owner, or the people of the meeting that agreed or
    reviewed it): a device holding them receives the goal."""

    __tablename__ = "hub_goal_people"
    goal_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


class HubPersonChange(Base):
    """A change of a person's own settings or taught words a device sent (hub migration 0012):
    put in force, or lost to a later change made elsewhere and shown to staff as a conflict
    (the loser kept in ``detail``). A change seen before (the same time) is not noted again,
    so a device that simply has not heard of a later change yet is no conflict."""

    __tablename__ = "hub_person_changes"
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    what: Mapped[str] = mapped_column(String(20), primary_key=True)  # settings | words
    changed_at: Mapped[str] = mapped_column(String(40), primary_key=True)
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    in_force: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HubWordConsent(Base):
    """A person's decision about keeping examples of their taught words, from any device (each
    with one id, the same everywhere): they merge by union; the latest by time is in force."""

    __tablename__ = "hub_word_consent"
    uid: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), index=True)  # the hub person
    allowed: Mapped[bool] = mapped_column(Boolean)
    withdrawal: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[str] = mapped_column(String(40))  # ISO 8601, UTC, microseconds
    method: Mapped[str] = mapped_column(String(40))
    witnessed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HubWordSet(Base):
    """When a person's taught words last changed (on which device): the latest change wins."""

    __tablename__ = "hub_word_sets"
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    changed_at: Mapped[str] = mapped_column(String(40))
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HubWordExample(Base):
    """One example of a person's taught word; its audio is ``<home>/words/<sha[:2]>/<sha>.wav``."""

    __tablename__ = "hub_word_examples"
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    word: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(20))
    kept_at: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)


class DeletedBlob(Base):
    """A clip deleted because consent was withdrawn: its bytes are gone, and a device that
    offers it again is told "already here" (nothing is stored)."""

    __tablename__ = "deleted_blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36))
    withdrawal_id: Mapped[str] = mapped_column(String(36))
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


Index("ix_flags_open", Flag.resolved_at, Flag.at)
Index("ux_hub_job_events", HubJobEvent.job_id, HubJobEvent.at, HubJobEvent.status, unique=True)
Index("ux_script_publications", ScriptPublication.name, ScriptPublication.version, unique=True)
Index("ix_failed_tries_kind_account", FailedTry.kind, FailedTry.account, FailedTry.at)
Index("ix_failed_tries_kind_address", FailedTry.kind, FailedTry.address, FailedTry.at)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def migrate(engine: Engine) -> None:
    """Bring the database up to the newest schema (Alembic ``upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
