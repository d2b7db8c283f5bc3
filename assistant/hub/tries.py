"""Failed tries (log-in and enrolment limits), kept in the hub's database so that a restart
does not forget them: per account (a name or a code), per address, and overall."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session as DBSession

from assistant.hub import db

# failed tries allowed in TRY_WINDOW: per account (name or code), per address, and overall
TRY_WINDOW = timedelta(minutes=15)
TRY_LIMITS = {
    "login": {"account": 5, "address": 20, "overall": 500},
    "enrol": {"account": 1_000_000, "address": 10, "overall": 100},
}


class FailedTries:
    """The hub's failed-try counts (a mixin of :class:`~assistant.hub.service.Hub`)."""

    def tx(self) -> AbstractContextManager[DBSession]:  # provided by Hub
        raise NotImplementedError

    def tries_blocked(self, kind: str, account: str, address: str) -> bool:
        """True when *account* or *address* (or everyone) has too many recent failed tries."""
        limits = TRY_LIMITS[kind]
        since = datetime.now(UTC) - TRY_WINDOW
        base = select(func.count()).select_from(db.FailedTry)
        base = base.where(db.FailedTry.kind == kind, db.FailedTry.at >= since)
        with self.tx() as s:
            if (s.scalar(base) or 0) >= limits["overall"]:
                return True
            if (s.scalar(base.where(db.FailedTry.address == address[:64])) or 0) >= limits[
                "address"
            ]:
                return True
            by_account = s.scalar(base.where(db.FailedTry.account == account[:200])) or 0
            return by_account >= limits["account"]

    def failed_try(self, kind: str, account: str, address: str) -> None:
        now = datetime.now(UTC)
        with self.tx() as s:
            s.execute(delete(db.FailedTry).where(db.FailedTry.at < now - TRY_WINDOW))
            s.add(db.FailedTry(kind=kind, account=account[:200], address=address[:64], at=now))

    def clear_tries(self, kind: str, account: str) -> None:
        with self.tx() as s:
            s.execute(
                delete(db.FailedTry).where(
                    db.FailedTry.kind == kind, db.FailedTry.account == account[:200]
                )
            )
