"""Jobs and flags: what people said they would do (with every status change), and what staff
should look at."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from assistant.errors import RecordError
from assistant.records import sql
from assistant.records.db import Database, iso
from assistant.records.model import Flag, Job, JobEvent, SessionRecord


class JobRepository:
    """The ``jobs``, ``job_events`` and ``flags`` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _jobs(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        """Jobs made or answered on this device, then those received from the hub that it
        does not hold itself (``received_jobs``)."""
        jobs = self._own_jobs(where, args)
        held = {j.id for j in jobs}
        for r in self.db.read(f"SELECT id, data, history FROM received_jobs {where}", args):
            if r["id"] in held or self.db.read("SELECT 1 FROM jobs WHERE id = ?", (r["id"],)):
                continue
            job = Job.model_validate_json(r["data"])
            job.history = [JobEvent.model_validate(e) for e in json.loads(r["history"])]
            job.follow_history()
            jobs.append(job)
        return jobs

    def _own_jobs(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        jobs: list[Job] = []
        for r in self.db.read(f"SELECT id, data FROM jobs {where} ORDER BY rowid", args):
            job = Job.model_validate_json(r["data"])
            job.history = [
                JobEvent(
                    status=e["status"],
                    at=datetime.fromisoformat(e["at"]),
                    help_needed=e["help_needed"],
                    note_answer=e["note_answer"],
                    when=e["new_when"],
                    due=date.fromisoformat(e["new_due"]) if e["new_due"] else None,
                )
                for e in self.db.read(
                    "SELECT * FROM job_events WHERE job_id = ? ORDER BY at, seq", (r["id"],)
                )
            ]
            job.follow_history()  # a new date agreed at a later check-in, here or elsewhere
            jobs.append(job)
        return jobs

    def get_job(self, job_id: str) -> Job:
        found = self._jobs("WHERE id = ?", (job_id,))
        if not found:
            raise RecordError(f"There is no job with id {job_id}.")
        return found[0]

    def jobs_for(self, person_id: str) -> list[Job]:
        """The person's jobs: their own, and those they share with someone."""
        return [j for j in self._jobs("", ()) if j.belongs_to(person_id)]

    def open_jobs(self) -> list[Job]:
        return [j for j in self._jobs("", ()) if j.status != "done"]

    def flags(self, unresolved_only: bool = True) -> list[Flag]:
        where = "WHERE resolved_at IS NULL" if unresolved_only else ""
        out: list[Flag] = []
        for r in self.db.read(f"SELECT data, resolved_at FROM flags {where} ORDER BY at, rowid"):
            flag = Flag.model_validate_json(r["data"])
            flag.resolved = r["resolved_at"] is not None
            out.append(flag)
        return out

    def resolved_flags(self, session_id: str) -> set[str]:
        """Ids of the flags of one session that staff have dealt with."""
        rows = self.db.read(
            "SELECT id FROM flags WHERE session_id = ? AND resolved_at IS NOT NULL",
            (session_id,),
        )
        return {r["id"] for r in rows}

    def resolve_flag(self, flag_id: str, by: str) -> None:
        with self.db.tx() as db:
            cur = db.execute(
                "UPDATE flags SET resolved_at = ?, resolved_by = ? WHERE id = ? "
                "AND resolved_at IS NULL",
                (iso(self.db.now()), by, flag_id),
            )
            if (
                cur.rowcount == 0
                and not db.execute("SELECT 1 FROM flags WHERE id = ?", (flag_id,)).fetchone()
            ):
                raise RecordError(f"There is no flag with id {flag_id}.")

    def index(self, db: sql.Connection, rec: SessionRecord) -> None:
        """Refresh one session's jobs, check-ins and flags inside the caller's transaction."""
        for job in rec.jobs:
            self._merge_job(db, rec.id, job)
        held = {j.id for j in rec.jobs}
        for checkin in rec.checkins:
            for job_id, status in checkin.jobs.items():
                if job_id in held:
                    continue  # its history has this update, at the time it was given
                if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone():
                    db.execute(
                        "INSERT OR IGNORE INTO job_events (job_id, status, at, session_id) "
                        "VALUES (?, ?, ?, ?)",
                        (job_id, status, iso(checkin.at), rec.id),
                    )
        for flag in rec.flags:
            db.execute(
                "INSERT INTO flags (id, session_id, person_id, at, data) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET person_id = excluded.person_id, "
                "at = excluded.at, data = excluded.data",
                (flag.id, rec.id, flag.person_id, iso(flag.at), flag.model_dump_json()),
            )
        self._drop_undone(db, rec)

    def _drop_undone(self, db: sql.Connection, rec: SessionRecord) -> None:
        """Drop what this session saved earlier and its record no longer holds: a person went
        back one question, and the job, status update or flag that answer made was undone."""
        jobs = {j.id for j in rec.jobs}
        events = {(j.id, iso(e.at), e.status) for j in rec.jobs for e in j.history}
        for checkin in rec.checkins:
            events |= {
                (job_id, iso(checkin.at), st)
                for job_id, st in checkin.jobs.items()
                if job_id not in jobs
            }
        flags = {f.id for f in rec.flags}
        for seq, job_id, at, status in db.execute(
            "SELECT seq, job_id, at, status FROM job_events WHERE session_id = ?", (rec.id,)
        ).fetchall():
            if (job_id, at, status) not in events:
                db.execute("DELETE FROM job_events WHERE seq = ?", (seq,))
        for (job_id,) in db.execute(
            "SELECT id FROM jobs WHERE session_id = ?", (rec.id,)
        ).fetchall():
            if job_id not in jobs:
                db.execute("DELETE FROM job_events WHERE job_id = ?", (job_id,))
                db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        for (flag_id,) in db.execute(
            "SELECT id FROM flags WHERE session_id = ?", (rec.id,)
        ).fetchall():
            if flag_id not in flags:
                db.execute("DELETE FROM flags WHERE id = ?", (flag_id,))

    def _merge_job(self, db: sql.Connection, session_id: str, job: Job) -> None:
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
            insert_job_event(db, job.id, event, session_id)


def insert_job_event(db: sql.Connection, job_id: str, event: JobEvent, session_id: str) -> None:
    """Add one status update to a job's history (append-only: an update already there keeps
    its fields, except that a new date given after it was first saved is added to it)."""
    db.execute(
        "INSERT INTO job_events (job_id, status, at, help_needed, note_answer, session_id, "
        "new_when, new_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (job_id, at, status) DO UPDATE SET "
        "new_when = coalesce(job_events.new_when, excluded.new_when), "
        "new_due = coalesce(job_events.new_due, excluded.new_due)",
        (
            job_id,
            event.status,
            iso(event.at),
            event.help_needed,
            event.note_answer,
            session_id,
            event.when,
            event.due.isoformat() if event.due else None,
        ),
    )
