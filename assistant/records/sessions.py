"""Sessions: the whole record saved after every answer, and its index of answers.

State only moves forward: draft -> finalised -> sent. A finalised session cannot be changed
(saving the same content again is accepted and does nothing). Each save refreshes the index
tables (people in the session, answers, and through the other repositories consent, jobs and
flags) in the same transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from assistant.errors import RecordError
from assistant.records import sql
from assistant.records.belongs import keep_own_jobs
from assistant.records.clips import ClipFolder
from assistant.records.db import Database, iso
from assistant.records.jobs import JobRepository
from assistant.records.model import Answer, SessionRecord, SessionState
from assistant.records.people import PeopleRepository

RECORD_FLOOR_MB = 10
"""Below this much free space (or ``min_free_mb`` if smaller) even the words are not saved."""


class SessionRepository:
    """The ``sessions``, ``session_people`` and ``answers`` tables."""

    def __init__(
        self,
        db: Database,
        folder: ClipFolder,
        people: PeopleRepository,
        jobs: JobRepository,
        *,
        min_free_mb: int,
    ) -> None:
        self.db = db
        self.folder = folder
        self.people = people
        self.jobs = jobs
        self.min_free_mb = min_free_mb

    # ------------------------------------------------------------------ saving

    def save_session(self, record: SessionRecord) -> None:
        if record.state == "sent":
            raise RecordError(f"Session {record.id} cannot be saved as sent; use mark_sent.")
        self.db.check_space(0, min(self.min_free_mb, RECORD_FLOOR_MB), "this answer was not saved")
        now = iso(self.db.now())
        stored = self._normalised(record)
        data = stored.model_dump_json()
        dropped: set[str] = set()
        with self.db.tx("save_before_commit") as db:
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
                    (record.id, record.script, iso(record.started_at), now, data),
                )
            elif row[1] == data and record.state == "draft":
                return  # the same record again: nothing to do
            else:
                db.execute(
                    "UPDATE sessions SET script = ?, started_at = ?, saved_at = ?, data = ?, "
                    "saves = saves + 1 WHERE id = ?",
                    (record.script, iso(record.started_at), now, data, record.id),
                )
            dropped = self._index(db, stored)
            if record.state == "finalised":
                db.execute(
                    "UPDATE sessions SET state = 'finalised', finalised_at = ? WHERE id = ?",
                    (now, record.id),
                )
        if dropped:
            self.folder.delete_unreferenced(dropped)

    def _normalised(self, record: SessionRecord) -> SessionRecord:
        """The record as stored: store-owned fields cleared, the device id filled in."""
        stored = record.model_copy(deep=True)
        stored.state = "draft"
        stored.device_id = self.db.device_id()
        for answer in stored.answers:
            answer.audio_clip = None
        for person in stored.people:
            person.name_clip = None
        for flag in stored.flags:
            flag.resolved = False
        keep_own_jobs(stored)  # never another person's jobs (records/belongs.py)
        return stored

    @staticmethod
    def _same_content(stored_json: str, new_json: str) -> bool:
        return bool(json.loads(stored_json) == json.loads(new_json))

    def _index(self, db: sql.Connection, rec: SessionRecord) -> set[str]:
        """Refresh the index tables for one session from its record; return the sha256 of
        clips whose answers the record no longer has (to delete once committed)."""
        now = iso(self.db.now())
        for person in rec.people:
            exists = db.execute("SELECT 1 FROM people WHERE id = ?", (person.id,)).fetchone()
            if not exists:
                db.execute(
                    "INSERT INTO people (id, name, data, added_at) VALUES (?, ?, ?, ?)",
                    (person.id, person.name, person.model_dump_json(exclude={"consent"}), now),
                )
            if person.consent is not None:
                self.people.merge_consent(db, person.id, person.consent)
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
                (a.id, rec.id, seq, a.person_id, a.step_id, iso(a.at), a.transcript),
            )
        wanted = set(ids)
        gone = [
            r[0]
            for r in db.execute("SELECT id FROM answers WHERE session_id = ?", (rec.id,))
            if r[0] not in wanted
        ]
        dropped: set[str] = set()
        # A draft dropped an answer: drop its index row and its clip. An answer taken back
        # (the person went back one question) keeps its row and transcript, not their voice:
        # it is not their answer, and going back may have undone the consent it was kept under.
        taken_back = [(a.id, "taken back") for a in rec.answers if a.withdrawn]
        # A no to keeping the voice, said in this session, holds for the whole session: a clip
        # kept earlier in it (under an earlier yes) goes; in a group, everyone's (one
        # microphone hears the room, so their voice is in the others' clips).
        refused = {
            p.id
            for p in rec.people
            if p.consent is not None and p.consent.session_id == rec.id and not p.consent.audio
        }
        group = len(rec.people) > 1
        said_no = [
            (a.id, "consent refused")
            for a in rec.answers
            if refused and not a.withdrawn and (group or a.person_id in refused)
        ]
        for answer_id, why in [*((g, "answer removed") for g in gone), *taken_back, *said_no]:
            clip = db.execute(
                "SELECT sha256 FROM clips WHERE answer_id = ? AND deleted_at IS NULL", (answer_id,)
            ).fetchone()
            if clip:
                dropped.add(clip[0])
            db.execute(
                "UPDATE clips SET deleted_at = ?, deleted_why = ? "
                "WHERE answer_id = ? AND deleted_at IS NULL",
                (now, why, answer_id),
            )
            if why == "answer removed":
                db.execute("DELETE FROM answers WHERE id = ?", (answer_id,))
        self.jobs.index(db, rec)
        return dropped

    # ------------------------------------------------------------------ reading

    def get_session(self, session_id: str) -> SessionRecord:
        rows = self.db.read("SELECT state, data FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise RecordError(f"There is no session with id {session_id}.")
        return self._load(session_id, rows[0]["state"], rows[0]["data"])

    def _load(self, session_id: str, state: str, data: str) -> SessionRecord:
        try:
            record = SessionRecord.model_validate_json(data)
        except ValueError as exc:
            raise RecordError(
                f"Session {session_id} in {self.db.path} is unreadable: {exc}."
            ) from exc
        record.state = state  # type: ignore[assignment]
        clips = {
            r["answer_id"]: r["sha256"]
            for r in self.db.read(
                "SELECT answer_id, sha256 FROM clips WHERE session_id = ? AND deleted_at IS NULL",
                (session_id,),
            )
        }
        for answer in record.answers:
            answer.audio_clip = clips.get(answer.id)
        for person in record.people:
            person.name_clip = self.people.name_clip(person.id)
        resolved = self.jobs.resolved_flags(session_id)
        for flag in record.flags:
            flag.resolved = flag.id in resolved
        return record

    def sessions(self, state: SessionState | None = None) -> list[SessionRecord]:
        if state is None:
            rows = self.db.read("SELECT id, state, data FROM sessions ORDER BY started_at, rowid")
        else:
            rows = self.db.read(
                "SELECT id, state, data FROM sessions WHERE state = ? ORDER BY started_at, rowid",
                (state,),
            )
        return [self._load(r["id"], r["state"], r["data"]) for r in rows]

    def session_list(self, state: SessionState | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE s.state = ?", (state,)) if state else ("", ())
        rows = self.db.read(
            "SELECT s.id, s.state, s.script, s.started_at, "
            "(SELECT count(*) FROM answers a WHERE a.session_id = s.id) AS answers, "
            "(SELECT group_concat(p.name, ', ') FROM session_people sp "
            " JOIN people p ON p.id = sp.person_id WHERE sp.session_id = s.id) AS people "
            f"FROM sessions s {where} ORDER BY s.started_at, s.rowid",
            args,
        )
        return [{**dict(r), "started_at": datetime.fromisoformat(r["started_at"])} for r in rows]

    def session_ids(self, prefix: str = "") -> list[str]:
        like = prefix.replace("\\", "").replace("%", "").replace("_", "") + "%"
        rows = self.db.read(
            "SELECT id FROM sessions WHERE id LIKE ? ORDER BY started_at, rowid", (like,)
        )
        return [r["id"] for r in rows]

    def session_state(self, session_id: str) -> SessionState:
        rows = self.db.read("SELECT state FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise RecordError(f"There is no session with id {session_id}.")
        state: SessionState = rows[0]["state"]
        return state

    def unfinished_session(self) -> SessionRecord | None:
        rows = self.db.read(
            "SELECT id, state, data FROM sessions WHERE state = 'draft' "
            "ORDER BY saved_at DESC, rowid DESC LIMIT 1"
        )
        return self._load(rows[0]["id"], rows[0]["state"], rows[0]["data"]) if rows else None

    def answer_person(self, session_id: str, answer_id: str) -> str | None:
        """Whose answer this is (None: the whole group); the answer must be saved."""
        rows = self.db.read(
            "SELECT person_id FROM answers WHERE id = ? AND session_id = ?", (answer_id, session_id)
        )
        if not rows:
            raise RecordError(
                f"Answer {answer_id} is not saved in session {session_id}; save the session first."
            )
        person: str | None = rows[0]["person_id"]
        return person

    def answer(self, session_id: str, answer_id: str) -> Answer:
        for a in self.get_session(session_id).answers:
            if a.id == answer_id:
                return a
        raise RecordError(f"There is no answer {answer_id} in session {session_id}.")

    # ------------------------------------------------------------------ moving on

    def finish_session(self, session_id: str) -> None:
        self.session_state(session_id)
        with self.db.tx("finish_before_commit") as db:
            db.execute(
                "UPDATE sessions SET state = 'finalised', finalised_at = ? "
                "WHERE id = ? AND state = 'draft'",
                (iso(self.db.now()), session_id),
            )

    def mark_sent(self, session_id: str) -> None:
        state = self.session_state(session_id)
        if state == "draft":
            raise RecordError(f"Session {session_id} is not finished, so it cannot be sent.")
        with self.db.tx("sent_before_commit") as db:
            db.execute(
                "UPDATE sessions SET state = 'sent', sent_at = ? "
                "WHERE id = ? AND state = 'finalised'",
                (iso(self.db.now()), session_id),
            )
