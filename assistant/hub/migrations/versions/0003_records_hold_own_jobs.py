"""records hold only their own jobs

Revision ID: records_hold_own_jobs
Revises: 0002_security
Create Date: 2026-12-03 12:00:00

A session record received before devices kept only their own jobs may hold every open job of
its device (a person's check-in listing other people's jobs, shown with a blank "Who"). Keep a
job when its person took part, the session's check-in answered it, or it changed during the
session; a record with nobody in it keeps them all. This is a frozen copy of
``assistant/records/belongs.py`` (and of the device's migration 4), on the JSON as stored.
``content_sha256`` stays the digest of what the device sent, so a device sending the same
bundle again is still recognised (see ``Hub.put_session``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "records_hold_own_jobs"
down_revision = "0002_security"
branch_labels = None
depends_on = None


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _own_jobs(record: dict[str, Any]) -> list[Any] | None:
    """The jobs to keep, or None when nothing changes."""
    jobs = record.get("jobs") or []
    people = {p.get("id") for p in record.get("people") or []}
    if not people or not jobs:
        return None
    checked = {jid for c in record.get("checkins") or [] for jid in c.get("jobs") or {}}
    start = _when(record["started_at"])
    kept = [
        j
        for j in jobs
        if j.get("person_id") in people
        or j.get("id") in checked
        or any(_when(e["at"]) >= start for e in j.get("history") or [])
    ]
    return kept if len(kept) != len(jobs) else None


def upgrade() -> None:
    bind = op.get_bind()
    sessions = sa.table("sessions", sa.column("id", sa.String), sa.column("record_json", sa.Text))
    rows = bind.execute(sa.select(sessions.c.id, sessions.c.record_json)).all()
    for session_id, text in rows:
        record = json.loads(text)
        kept = _own_jobs(record)
        if kept is None:
            continue
        record["jobs"] = kept
        bind.execute(
            sessions.update()
            .where(sessions.c.id == session_id)
            .values(record_json=json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        )


def downgrade() -> None:
    pass  # the jobs that did not belong are not put back
