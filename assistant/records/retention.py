"""Retention: audio of sessions already sent is deleted after a while; their transcripts are
blanked once the hub has long had them."""

from __future__ import annotations

from datetime import datetime, timedelta

from assistant.records.clips import ClipFolder
from assistant.records.db import Database, iso
from assistant.records.model import SessionRecord


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

    def forget_transcripts(self, now: datetime | None = None, keep_days: int = 30) -> int:
        """Blank the transcripts of sessions the hub confirmed more than *keep_days* ago (the
        hub keeps them; the device does not need them). Returns how many sessions changed."""
        now = now or self.db.now()
        cutoff = iso(now - timedelta(days=keep_days))
        changed = 0
        with self.db.tx() as db:
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
