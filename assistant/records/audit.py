"""The audit log: who looked at or exported records, and when."""

from __future__ import annotations

import getpass
import os
from typing import Any

from assistant.records.db import Database, iso


class AccessLog:
    """The ``access_log`` table (append only)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def log_access(
        self,
        action: str,
        session_id: str | None = None,
        detail: str | None = None,
        who: str | None = None,
    ) -> None:
        if who is None:
            try:
                who = getpass.getuser()
            except (KeyError, OSError):
                who = f"uid {os.getuid()}"
        with self.db.tx() as db:
            db.execute(
                "INSERT INTO access_log (at, who, action, session_id, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                (iso(self.db.now()), who, action, session_id, detail),
            )

    def access_log(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.read("SELECT * FROM access_log ORDER BY seq")]
