"""What belongs in a session record: only the jobs of the people who took part.

A session starts with every open job of the device (the engine needs them before it knows who is
there: a check-in's roll call comes first). What is saved keeps only the jobs that belong to the
session: those of the people who took part, and any job the session itself changed (a group's
review can talk about a job of someone who is not there). So Priya's check-in holds Priya's jobs,
never Sam's.

The same rule cleans records saved before it existed: ``migrations/0004_records_hold_own_jobs.sql``
on the device and the hub's Alembic revision ``records_hold_own_jobs`` (a frozen copy of it).
"""

from __future__ import annotations

from assistant.records.model import Job, SessionRecord


def jobs_that_belong(record: SessionRecord) -> list[Job]:
    """The record's jobs that belong to it (see the module docstring).

    Before the roll call (nobody in the record yet) every job is kept: a draft saved then is
    carried on later and still needs them.
    """
    if not record.people:
        return list(record.jobs)
    people = {p.id for p in record.people}
    checked = {job_id for c in record.checkins for job_id in c.jobs}
    return [
        j
        for j in record.jobs
        if j.person_id in people
        or j.id in checked
        or any(e.at >= record.started_at for e in j.history)
    ]


def keep_own_jobs(record: SessionRecord) -> bool:
    """Drop the jobs that do not belong to *record*, in place; True if any were dropped."""
    kept = jobs_that_belong(record)
    if len(kept) == len(record.jobs):
        return False
    record.jobs = kept
    return True
