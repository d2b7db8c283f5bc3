"""Staff accounts and their log-ins: a part of :class:`assistant.hub.service.Hub`.

Log-ins are rows in ``staff_sessions`` (the cookie carries only a random id, of which only the
hash is kept), so logging out, disabling a member or changing their password or role ends
their log-ins at once. Roles: admin, staff, read-only (``ROLE_RIGHTS``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DBSession

from assistant.errors import SyncError
from assistant.hub import db

ROLES = ("admin", "staff", "read-only")
# what each role may do besides reading: change (correct transcripts, resolve flags), export
ROLE_RIGHTS = {
    "admin": {"change", "export", "manage"},
    "staff": {"change"},
    "read-only": set(),
}
STAFF_SESSION_HOURS = 8.0

_hasher = PasswordHasher()


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class StaffAccounts:
    """Adding, listing, disabling staff, their passwords and roles, and their log-ins."""

    def tx(self) -> AbstractContextManager[DBSession]:  # provided by Hub
        raise NotImplementedError

    def add_staff(
        self,
        name: str,
        password: str,
        *,
        admin: bool = False,
        role: str | None = None,
        by: str = "hub",
    ) -> None:
        name = name.strip()
        role = role or ("admin" if admin else "staff")
        if not name or len(name) > 200:
            raise SyncError("A staff name must be 1 to 200 characters.")
        _check_role(role)
        _check_password(password)
        try:
            with self.tx() as s:
                if s.scalar(select(db.Staff).where(db.Staff.name == name)) is not None:
                    raise SyncError(f"There is already a staff member called {name!r}.")
                s.add(
                    db.Staff(
                        name=name,
                        password_hash=_hasher.hash(password),
                        is_admin=role == "admin",
                        role=role,
                    )
                )
                s.add(db.Audit(actor=by, action="added staff", target=name, detail=role))
        except IntegrityError as exc:
            raise SyncError(f"There is already a staff member called {name!r}.") from exc

    def staff_list(self) -> list[db.Staff]:
        with self.tx() as s:
            return list(s.scalars(select(db.Staff).order_by(db.Staff.name)))

    def _staff_row(self, s: DBSession, name: str) -> db.Staff:
        row = s.scalar(select(db.Staff).where(db.Staff.name == name.strip()))
        if row is None:
            raise SyncError(f"There is no staff member called {name.strip()!r}.")
        return row

    @staticmethod
    def _end_sessions(s: DBSession, staff_id: int) -> None:
        s.execute(
            update(db.StaffSession)
            .where(db.StaffSession.staff_id == staff_id, db.StaffSession.ended_at.is_(None))
            .values(ended_at=datetime.now(UTC))
        )

    @staticmethod
    def _other_admins(s: DBSession, staff_id: int) -> int:
        return (
            s.scalar(
                select(func.count())
                .select_from(db.Staff)
                .where(db.Staff.role == "admin", ~db.Staff.disabled, db.Staff.id != staff_id)
            )
            or 0
        )

    def set_disabled(self, name: str, disabled: bool, *, by: str) -> db.Staff:
        """Disable (ending every log-in of theirs at once) or enable a staff member."""
        with self.tx() as s:
            row = self._staff_row(s, name)
            if disabled and row.role == "admin" and not self._other_admins(s, row.id):
                raise SyncError(f"{row.name} is the only admin left, so they cannot be disabled.")
            row.disabled = disabled
            if disabled:
                self._end_sessions(s, row.id)
            s.add(
                db.Audit(
                    actor=by,
                    action="disabled staff" if disabled else "enabled staff",
                    target=row.name,
                )
            )
            return row

    def set_password(self, name: str, password: str, *, by: str) -> None:
        """A new password; every log-in of theirs ends."""
        _check_password(password)
        with self.tx() as s:
            row = self._staff_row(s, name)
            row.password_hash = _hasher.hash(password)
            self._end_sessions(s, row.id)
            s.add(db.Audit(actor=by, action="changed password", target=row.name))

    def set_role(self, name: str, role: str, *, by: str) -> db.Staff:
        _check_role(role)
        with self.tx() as s:
            row = self._staff_row(s, name)
            if row.role == "admin" and role != "admin" and not self._other_admins(s, row.id):
                raise SyncError(f"{row.name} is the only admin left, so they stay an admin.")
            before = row.role
            row.role = role
            row.is_admin = role == "admin"
            self._end_sessions(s, row.id)  # their pages change: they log in again
            s.add(
                db.Audit(
                    actor=by, action="changed role", target=row.name, detail=f"{before} -> {role}"
                )
            )
            return row

    def start_session(self, staff: db.Staff, hours: float = STAFF_SESSION_HOURS) -> tuple[str, str]:
        """A new log-in: (the cookie's random id, its CSRF token). Only the id's hash is kept."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        with self.tx() as s:
            s.execute(
                delete(db.StaffSession).where(db.StaffSession.expires_at < now - timedelta(days=1))
            )
            s.add(
                db.StaffSession(
                    id_hash=_hash(token),
                    staff_id=staff.id,
                    expires_at=now + timedelta(hours=hours),
                    csrf=csrf,
                )
            )
        return token, csrf

    def session_of(self, token: str | None) -> tuple[db.Staff, str] | None:
        """The staff member and CSRF token of a live log-in, or None (ended, expired, disabled)."""
        if not token or len(token) > 100:
            return None
        now = datetime.now(UTC)
        with self.tx() as s:
            row = s.get(db.StaffSession, _hash(token))
            if row is None or row.ended_at is not None or _aware(row.expires_at) < now:
                return None
            staff = s.get(db.Staff, row.staff_id)
            if staff is None or staff.disabled:
                return None
            return staff, row.csrf

    def end_session(self, token: str | None) -> None:
        if not token:
            return
        with self.tx() as s:
            s.execute(
                update(db.StaffSession)
                .where(db.StaffSession.id_hash == _hash(token), db.StaffSession.ended_at.is_(None))
                .values(ended_at=datetime.now(UTC))
            )

    def check_login(self, name: str, password: str) -> db.Staff | None:
        with self.tx() as s:
            staff = s.scalar(select(db.Staff).where(db.Staff.name == name))
            if staff is None or staff.disabled:
                with contextlib.suppress(VerificationError, InvalidHashError):
                    _hasher.verify(_dummy_hash(), password)  # the same time as a real check
                return None
            try:
                _hasher.verify(staff.password_hash, password)
            except (VerificationError, InvalidHashError):
                return None
            if _hasher.check_needs_rehash(staff.password_hash):
                staff.password_hash = _hasher.hash(password)
            return staff


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise SyncError(f"A role must be one of {', '.join(ROLES)}, not {role!r}.")


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise SyncError("A staff password must be at least 10 characters long.")
    if len(password) > 1000:
        raise SyncError("A staff password must be at most 1000 characters long.")


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not a real password, only for timing")
