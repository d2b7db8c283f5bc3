"""Retention: audio of sessions already sent is deleted after a while; the words stay."""

from __future__ import annotations

from datetime import datetime, timedelta

from assistant.records.clips import ClipFolder
from assistant.records.db import Database, iso


class Retention:
    """Deletes old audio of sent sessions (never of a session not yet sent)."""

    def __init__(self, db: Database, folder: ClipFolder) -> None:
        self.db = db
        self.folder = folder

    def apply(self, now: datetime | None = None, keep_days: int = 90) -> int:
        now = now or self.db.now()
        cutoff = iso(now - timedelta(days=keep_days))
        with self.db.tx("retention_before_commit") as db:
            rows = db.execute(
                "SELECT c.answer_id, c.sha256 FROM clips c JOIN sessions s ON s.id = c.session_id "
                "WHERE c.deleted_at IS NULL AND s.state = 'sent' AND c.kept_at < ?",
                (cutoff,),
            ).fetchall()
            db.executemany(
                "UPDATE clips SET deleted_at = ?, deleted_why = 'retention' WHERE answer_id = ?",
                [(iso(now), answer_id) for answer_id, _ in rows],
            )
        self.folder.delete_unreferenced({sha for _, sha in rows})
        return len(rows)
