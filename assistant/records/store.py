"""The record store: people, consent, sessions, answers, audio clips, jobs and flags, on the device.

One SQLCipher file, ``<data_dir>/records.sqlite`` (WAL journal, ``synchronous=FULL``, foreign
keys on), and one folder of sealed audio clips, ``<data_dir>/clips/<sha256>.sealed``, both locked
with the device's key (:mod:`assistant.records.keys`; a plaintext store from before is locked on
first open, :mod:`assistant.records.encrypt`). Recipes::

    store = RecordStore.open(settings)
    sam = store.add_person("Sam", consent=Consent(audio=True, method="button"))
    store.save_session(record)                    # after every answer: the whole record
    store.keep_audio(record.id, answer.id, wav)   # keeps the clip only with consent
    store.finish_session(record.id)               # draft -> finalised, never back
    store.unfinished_session()                    # the interrupted draft, to carry on

:class:`RecordStore` is a front: each method hands over to one small repository, and they all
share one :class:`~assistant.records.db.Database` (one connection, one transaction helper):

=====================  ===========================================================
``store.people``       people and consent (:mod:`assistant.records.people`)
``store.session_repo`` sessions and answers (:mod:`assistant.records.sessions`)
``store.clips``        audio clips and the clip folder (:mod:`assistant.records.clips`)
``store.jobs``         jobs and flags (:mod:`assistant.records.jobs`)
``store.retention``    deleting old audio of sent sessions (:mod:`assistant.records.retention`)
``store.audit``        the access log (:mod:`assistant.records.audit`)
=====================  ===========================================================

Code that needs only part of the store asks for one of the narrow protocols in
:mod:`assistant.records.protocols`.

Rules the store keeps, whoever calls it:

* **Crash safety.** Every write is one transaction, committed with an fsync before the call
  returns. A clip is written to a temporary file, fsynced, renamed to its final name and the
  folder fsynced, before the database points at it; a half-written clip is never visible under
  its final name. On open, leftovers of an interrupted write are swept away. Each write
  boundary is a named fault point (:mod:`assistant.faults`), where the power-loss tests kill it.
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

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assistant.errors import RecordError
from assistant.records import sql
from assistant.records.audit import AccessLog
from assistant.records.clips import CLIPS_DIR, ORPHAN_GRACE_S, ClipFolder, ClipRepository
from assistant.records.db import DB_NAME, Clock, Database
from assistant.records.encrypt import seal_plain_clips
from assistant.records.jobs import JobRepository
from assistant.records.keys import RestKey, resolve
from assistant.records.model import (
    Answer,
    Consent,
    ConsentMethod,
    Flag,
    Goal,
    Job,
    Person,
    SessionRecord,
    SessionState,
)
from assistant.records.people import PeopleRepository
from assistant.records.retention import Retention
from assistant.records.sessions import RECORD_FLOOR_MB, SessionRepository
from assistant.records.words_repo import WordsRepo

if TYPE_CHECKING:
    from assistant.config import Settings

__all__ = ["CLIPS_DIR", "DB_NAME", "ORPHAN_GRACE_S", "RECORD_FLOOR_MB", "Clock", "RecordStore"]


class RecordStore:
    """Records on the device. Safe to share between threads; one store per process."""

    def __init__(
        self,
        data_dir: Path,
        *,
        min_free_mb: int = 100,
        clock: Clock | None = None,
        key: RestKey | Literal["plaintext"] | None = None,
        key_file: Path | None = None,
    ) -> None:
        """*key*: None finds the device's key (:func:`assistant.records.keys.resolve`, with
        *key_file* from the settings); ``"plaintext"`` opens an unlocked store (benchmarks)."""
        self.data_dir = Path(data_dir).expanduser()
        self.db_path = self.data_dir / DB_NAME
        self.clips_dir = self.data_dir / CLIPS_DIR
        self.min_free_mb = min_free_mb
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.clips_dir.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise RecordError(
                f"Cannot make the records folder {self.data_dir}: {exc.strerror or exc}."
            ) from exc
        rest_key = None if key == "plaintext" else key or resolve(self.data_dir, key_file)
        self.key = rest_key
        self.database = Database(self.data_dir, clock=clock, key=rest_key)
        self.folder = ClipFolder(self.database, self.clips_dir, rest_key)
        if rest_key is not None:
            seal_plain_clips(self.clips_dir, rest_key)  # clips kept before encryption
        self.people_repo = PeopleRepository(self.database, self.folder)
        self.jobs = JobRepository(self.database)
        self.session_repo = SessionRepository(
            self.database, self.folder, self.people_repo, self.jobs, min_free_mb=min_free_mb
        )
        self.clips = ClipRepository(
            self.database,
            self.folder,
            self.people_repo,
            self.session_repo,
            min_free_mb=min_free_mb,
        )
        self.retention = Retention(self.database, self.folder)
        self.audit = AccessLog(self.database)
        self.folder.sweep()
        self.words = WordsRepo(self)  # personal words: taught examples and their own consent

    @classmethod
    def open(cls, settings: Settings) -> RecordStore:
        """The store in the configured data folder."""
        return cls(
            settings.data_dir,
            min_free_mb=settings.records.min_free_mb,
            key_file=settings.records.key_file,
        )

    @property
    def _db(self) -> sql.Connection:
        """The one SQLite connection (for tests that look at the database itself)."""
        return self.database.connection

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the device

    def device_id(self) -> str:
        """A UUID made once for this device (stored in the database)."""
        return self.database.device_id()

    def schema_version(self) -> int:
        return self.database.schema_version()

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
        return self.people_repo.add_person(
            name,
            consent=consent,
            communication_needs=communication_needs,
            repeat_after_s=repeat_after_s,
            words_per_minute=words_per_minute,
            person_id=person_id,
        )

    def update_person_settings(self, person_id: str, **settings: Any) -> Person:
        """Change a person's own settings (rate, waits, buttons only, scale, supporter); None
        goes back to the device's own."""
        return self.people_repo.update_settings(person_id, **settings)

    def get_person(self, person_id: str) -> Person:
        """Anyone ever on the roster (removed people too), with the consent in force."""
        return self.people_repo.get_person(person_id)

    def people(self, *, include_removed: bool = False) -> list[Person]:
        """The roster, in the order people were added."""
        return self.people_repo.people(include_removed=include_removed)

    def find_person(self, name: str) -> Person | None:
        """The person on the roster with this name (any case, extra spaces ignored), or None."""
        return self.people_repo.find_person(name)

    def remove_person(self, person_id: str) -> None:
        """Take someone off the roster; their past answers (and any audio) are kept."""
        self.people_repo.remove_person(person_id)

    def set_consent(self, person_id: str, consent: Consent) -> Person:
        """Record a consent decision (it is then the one in force). Saying no keeps past clips;
        use :meth:`withdraw_consent` to delete them."""
        return self.people_repo.set_consent(person_id, consent)

    def withdraw_consent(
        self, person_id: str, by: str | None = None, method: ConsentMethod = "staff_recorded"
    ) -> int:
        """Withdraw consent to keep audio: delete every clip of theirs, record the withdrawal.

        Returns the number of clips deleted (their answers' and the recording of their name).
        The answers' words are kept.
        """
        return self.people_repo.withdraw_consent(person_id, by, method)

    def unsent_withdrawals(self) -> list[dict[str, Any]]:
        """Withdrawals made here that the hub has not acknowledged (id, person_id, at, method,
        witnessed_by), oldest first: sync sends them before any session."""
        return self.people_repo.unsent_withdrawals()

    def mark_withdrawal_sent(self, withdrawal_id: str) -> None:
        """The hub acknowledged this withdrawal: it is not sent again."""
        self.people_repo.mark_withdrawal_sent(withdrawal_id)

    def consent_history(self, person_id: str) -> list[dict[str, Any]]:
        """Every consent decision for a person, oldest first (withdrawals marked)."""
        return self.people_repo.consent_history(person_id)

    # ------------------------------------------------------------------ sessions

    def save_session(self, record: SessionRecord) -> None:
        """Save the whole record in one transaction (call after every answer; idempotent).

        The store owns ``state`` (see :meth:`finish_session`), ``device_id`` and every
        ``Answer.audio_clip`` (see :meth:`keep_audio`): what the record says about them is
        ignored, except that ``state="finalised"`` finishes the session in the same transaction.
        """
        self.session_repo.save_session(record)

    def get_session(self, session_id: str) -> SessionRecord:
        """The session as saved, with its state and the audio clips still kept."""
        return self.session_repo.get_session(session_id)

    def sessions(self, state: SessionState | None = None) -> list[SessionRecord]:
        """Every session (or those in *state*), oldest first."""
        return self.session_repo.sessions(state)

    def session_list(self, state: SessionState | None = None) -> list[dict[str, Any]]:
        """A line per session (id, state, script, started_at, answers, people) without loading
        whole records: for listing many sessions on a small device."""
        return self.session_repo.session_list(state)

    def session_ids(self, prefix: str = "") -> list[str]:
        """Ids of sessions (starting with *prefix*), oldest first."""
        return self.session_repo.session_ids(prefix)

    def session_state(self, session_id: str) -> SessionState:
        return self.session_repo.session_state(session_id)

    def unfinished_session(self) -> SessionRecord | None:
        """The most recently saved draft (an interrupted session to offer to carry on), or None."""
        return self.session_repo.unfinished_session()

    def finish_session(self, session_id: str) -> None:
        """Draft -> finalised. A finalised or sent session stays as it is (never back)."""
        self.session_repo.finish_session(session_id)

    def mark_sent(self, session_id: str) -> None:
        """Finalised -> sent (the hub has it). Sent again is a no-op; a draft is refused."""
        self.session_repo.mark_sent(session_id)

    def answer(self, session_id: str, answer_id: str) -> Answer:
        """One answer of a session, with its clip if kept."""
        return self.session_repo.answer(session_id, answer_id)

    # ------------------------------------------------------------------ audio clips

    def clip_path(self, sha256: str) -> Path:
        """Where the clip with this sha256 lives (it may have been deleted). Sealed: read it
        with :meth:`clip_bytes`."""
        return self.folder.clip_path(sha256)

    def clip_bytes(self, sha256: str) -> bytes:
        """The clip's WAV bytes (opened from its sealed file, checked against the sha256)."""
        return self.folder.read(sha256)

    def keep_audio(self, session_id: str, answer_id: str, wav_path: Path | str) -> str | None:
        """Keep an answer's WAV if its person consented; return its sha256, or None.

        The temporary WAV is deleted either way (kept or not). The answer must have been saved
        (:meth:`save_session`) first. On :class:`DiskFull` the WAV is left where it is.
        """
        return self.clips.keep_audio(session_id, answer_id, wav_path)

    def add_clip(self, session_id: str, answer_id: str, wav_path: Path | str) -> str:
        """Copy a WAV into the clips folder for an answer (the lower-level call).

        Raises :class:`ConsentError` when the answer's person has not consented to audio. The
        source file is left in place.
        """
        return self.clips.add_clip(session_id, answer_id, wav_path)

    def keep_name_clip(self, person_id: str, wav_path: Path | str) -> str | None:
        """Keep a recording of a person's name if they consented to keep their voice.

        Like :meth:`keep_audio`: returns the sha256 or None, and deletes the WAV either way.
        A new recording replaces the old one.
        """
        return self.clips.keep_name_clip(person_id, wav_path)

    def withdrawn_clips(self) -> list[dict[str, Any]]:
        """Clips deleted because consent was withdrawn (sha256, person_id, session_id or None for
        a name recording, deleted_at), oldest first: for sync to ask the hub to delete its
        copies of any that were already sent."""
        return self.clips.withdrawn_clips()

    def clips_for(self, person_id: str) -> list[str]:
        """The sha256 of every clip kept for a person."""
        return self.clips.clips_for(person_id)

    def apply_retention(self, now: datetime | None = None, keep_days: int = 90) -> int:
        """Delete audio older than *keep_days* from sessions already sent; return how many.

        Audio of a session not yet sent (draft or finalised) is never deleted here.
        """
        return self.retention.apply(now, keep_days)

    def forget_transcripts(self, now: datetime | None = None, keep_days: int = 30) -> int:
        """Blank the transcripts of sessions the hub confirmed more than *keep_days* ago (the
        hub keeps them; the device does not need them). Returns how many sessions changed."""
        return self.retention.forget_transcripts(now, keep_days)

    # ------------------------------------------------------------------ jobs and flags

    def get_job(self, job_id: str) -> Job:
        """One job from any session, with its whole status history."""
        return self.jobs.get_job(job_id)

    def jobs_for(self, person_id: str) -> list[Job]:
        """Every job of one person from every session, with its whole status history."""
        return self.jobs.jobs_for(person_id)

    def open_jobs(self) -> list[Job]:
        """Jobs not yet done, for the daily check-in and the review."""
        return self.jobs.open_jobs()

    def current_goals(self) -> list[Goal]:
        """The goals in force (agreed, not done, changed or replaced), oldest first, from the
        finished sessions here and those the hub sent (:mod:`assistant.records.goals`): what a
        review looks at."""
        from assistant.records.goals import current_goals, goal_copies

        return current_goals(goal_copies(self.database))

    def flags(self, unresolved_only: bool = True) -> list[Flag]:
        """Flags for staff, oldest first."""
        return self.jobs.flags(unresolved_only)

    def has_open_flags(self) -> bool:
        """Is there a flag staff have not cleared yet? (The idle status light blinks purple.)"""
        return bool(self.jobs.flags(unresolved_only=True))

    def resolve_flag(self, flag_id: str, by: str) -> None:
        """A member of staff has dealt with this flag."""
        self.jobs.resolve_flag(flag_id, by)

    # ------------------------------------------------------------------ audit

    def log_access(
        self,
        action: str,
        session_id: str | None = None,
        detail: str | None = None,
        who: str | None = None,
    ) -> None:
        """Note who looked at or exported records (the audit log)."""
        self.audit.log_access(action, session_id, detail, who)

    def access_log(self) -> list[dict[str, Any]]:
        return self.audit.access_log()
