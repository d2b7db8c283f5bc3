"""The hub's work, apart from HTTP: enrolment, receiving bundles, importing sticks, staff.

Both the web app and the ``assistant hub`` commands call this, so a USB import and a network
push go through exactly the same checks and the same "exactly once" rules:

* a clip is stored once per sha256; its decrypted bytes must hash to its name;
* a session is stored once per UUID; the same content again is accepted and changes nothing,
  different content under the same UUID is refused (:class:`Conflict`);
* a session is accepted only when every clip it refers to is already here (:class:`MissingClips`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from assistant.errors import BundleError, SyncError
from assistant.faults import fault_point
from assistant.hub import db, withdrawals
from assistant.hub.errors import (
    Conflict,
    Forbidden,
    MissingClips,
    TooLarge,
    TooManyTries,
    Unauthorised,
)
from assistant.hub.errors import full_or as _full_or
from assistant.hub.keys import HubKeys, KeyLocked, public_key, unlock
from assistant.hub.keys import verify_key as stored_verify_key
from assistant.hub.staff import (  # noqa: F401  (ROLES and ROLE_RIGHTS are read from here)
    ROLE_RIGHTS,
    ROLES,
    STAFF_SESSION_HOURS,
    StaffAccounts,
    _aware,
    _hash,
)
from assistant.hub.tries import FailedTries
from assistant.records.model import SessionRecord
from assistant.sync import bundle
from assistant.sync.device import b64, unb64, write_private
from assistant.sync.withdrawals import parse as parse_withdrawal

DEFAULT_MAX_UPLOAD = 64 * 1024 * 1024
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


class Hub(StaffAccounts, FailedTries):
    """One hub: its home folder (keys, clips), its database, and its unlocked key."""

    def __init__(
        self,
        home: Path,
        db_url: str | None = None,
        *,
        passphrase: str | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    ) -> None:
        self.home = home
        self.permissions_fixed = secure_home(home)
        self.db_url = db_url or f"sqlite:///{home / 'hub.sqlite'}"
        if db_url is None:  # made owner-only before SQLite opens it (its -wal and -shm follow)
            os.close(os.open(home / "hub.sqlite", os.O_RDWR | os.O_CREAT, 0o600))
        self.engine = db.make_engine(self.db_url)
        db.migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.blob_dir = home / "blobs"
        self.max_upload_bytes = max_upload_bytes
        self._keys: HubKeys | None = unlock(home, passphrase) if passphrase else None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def tx(self) -> Iterator[DBSession]:
        with self.sessions() as s, s.begin():
            yield s

    @property
    def public_key(self) -> bytes:
        return self._keys.public_key if self._keys else public_key(self.home)

    @property
    def verify_key(self) -> bytes | None:
        """The public half of the hub's signing key (devices check downstream blobs with it)."""
        if self._keys and self._keys.verify_key:
            return self._keys.verify_key
        return stored_verify_key(self.home)

    def signing_key(self) -> bytes:
        """The hub's Ed25519 signing seed (only while unlocked)."""
        if self._keys is None or self._keys.signing_key is None:
            raise KeyLocked("The hub's key is locked: start the hub with its passphrase.")
        return self._keys.signing_key

    def _private_key(self) -> bytes:
        if self._keys is None or self._keys.private_key is None:
            raise KeyLocked("The hub's key is locked: start the hub with its passphrase.")
        return self._keys.private_key

    # -- audit ---------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str, detail: str = "") -> None:
        with self.tx() as s:
            s.add(db.Audit(actor=actor, action=action, target=target, detail=detail))

    def audit_once(self, actor: str, action: str, target: str, within: timedelta) -> None:
        """Audit, unless the same actor and action were audited within *within* (so that a
        flood of refused tries cannot fill the log)."""
        since = datetime.now(UTC) - within
        with self.tx() as s:
            seen = s.scalar(
                select(db.Audit.id)
                .where(db.Audit.actor == actor, db.Audit.action == action, db.Audit.at >= since)
                .limit(1)
            )
            if seen is None:
                s.add(db.Audit(actor=actor, action=action, target=target, detail=""))

    # -- enrolment -----------------------------------------------------------------------------

    def new_code(self, by: str, hours: float = 24.0, *, replaces: str | None = None) -> str:
        """A one-time enrolment code. With *replaces* (a device id or name), the code lets the
        device that uses it take over that id: the old device's token stops working."""
        replaced = self.find_device(replaces).id if replaces else None
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
        with self.tx() as s:
            s.add(
                db.EnrolCode(
                    code_hash=_hash(raw),
                    created_by=by,
                    expires_at=datetime.now(UTC) + timedelta(hours=hours),
                    replaces=replaced,
                )
            )
            s.add(
                db.Audit(
                    actor=by,
                    action="made enrolment code",
                    target=replaced or "-",
                    detail=f"to replace device {replaced}" if replaced else "",
                )
            )
        return "-".join(raw[i : i + 4] for i in range(0, 12, 4))

    def enrol(
        self, code: str, device_id: str, name: str, verify_key: str, *, address: str = "-"
    ) -> tuple[str, bytes]:
        """Use up a one-time code; return the new device token and the hub's public key.

        An enrolled device id is never taken over, except with a code staff made to replace
        that device (``assistant hub code --replace``). Codes can be tried only a few times per
        address, and a bounded number of times overall, in each quarter of an hour.
        """
        if self.tries_blocked("enrol", "-", address):
            raise TooManyTries("Too many wrong enrolment codes: wait 15 minutes and try again.")
        if not bundle.is_uuid(device_id):
            raise SyncError("The device id must be a UUID.")
        try:
            key = unb64(verify_key)
        except ValueError as exc:
            raise SyncError("The device's key is not readable.") from exc
        if len(key) != 32:
            raise SyncError("The device's key is not readable.")
        name = (name or "device").strip()[:200] or "device"
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        code_hash = _hash(normalise_code(code)[:64])
        with self.tx() as s:
            row = s.get(db.EnrolCode, code_hash, with_for_update=True)
            valid = row is not None and row.used_at is None and _aware(row.expires_at) >= now
        if not valid:
            self.failed_try("enrol", "-", address)
            raise Unauthorised("That code is not valid: it may be used up or too old.")
        with self.tx() as s:
            row = s.get(db.EnrolCode, code_hash, with_for_update=True)
            if row is None or row.used_at is not None or _aware(row.expires_at) < now:
                raise Unauthorised("That code is not valid: it may be used up or too old.")
            existing = s.get(db.Device, device_id)
            if existing is not None and existing.revoked_at is not None:
                raise Forbidden("This device was revoked; it cannot enrol again under that id.")
            if existing is not None and row.replaces != device_id:
                raise Conflict(
                    f"A device with id {device_id[:8]} is already enrolled here. A reinstalled "
                    "device gets a new id; to replace a lost one, staff make a replacement code "
                    "(assistant hub code --replace DEVICE)."
                )
            row.used_at = now
            row.used_by = device_id
            if row.replaces and row.replaces != device_id:  # the replaced device stops here
                old = s.get(db.Device, row.replaces)
                if old is not None and old.revoked_at is None:
                    old.revoked_at = now
                    s.add(
                        db.Audit(
                            actor=f"device:{device_id}",
                            action="revoked device",
                            target=old.id,
                            detail=f"replaced by {device_id}",
                        )
                    )
            if existing is None:
                s.add(
                    db.Device(id=device_id, name=name, token_hash=_hash(token), verify_key=b64(key))
                )
                s.add(db.Audit(actor=f"device:{device_id}", action="enrolled", target=name))
            else:  # staff asked for this device to be replaced: new token and key
                existing.token_hash = _hash(token)
                existing.verify_key = b64(key)
                existing.name = name
                s.add(
                    db.Audit(
                        actor=f"device:{device_id}",
                        action="replaced device",
                        target=device_id,
                        detail=f"by code of {row.created_by}"[:200],
                    )
                )
        return token, self.public_key

    def authenticate(self, token: str | None) -> str:
        """The device id a bearer token belongs to."""
        if not token:
            raise Unauthorised("This request needs a device token.")
        with self.tx() as s:
            device = s.scalar(select(db.Device).where(db.Device.token_hash == _hash(token)))
            if device is None:
                raise Unauthorised("The hub does not know this token.")
            if device.revoked_at is not None:
                raise Forbidden("This device has been revoked.")
            now = datetime.now(UTC)
            if device.last_seen_at is None or now - _aware(device.last_seen_at) > timedelta(
                seconds=60
            ):
                device.last_seen_at = now
            return device.id

    def find_device(self, ident: str) -> db.Device:
        with self.tx() as s:
            rows = list(
                s.scalars(
                    select(db.Device).where(
                        (db.Device.id.startswith(ident)) | (db.Device.name == ident)
                    )
                )
            )
        if not rows:
            raise SyncError(f"No device matches {ident!r}.")
        if len(rows) > 1:
            raise SyncError(f"{len(rows)} devices match {ident!r}: give more of the id.")
        return rows[0]

    def revoke(self, ident: str, by: str) -> db.Device:
        device = self.find_device(ident)
        with self.tx() as s:
            row = s.get(db.Device, device.id)
            assert row is not None
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            s.add(db.Audit(actor=by, action="revoked device", target=row.id, detail=row.name))
            return row

    def devices(self) -> list[db.Device]:
        with self.tx() as s:
            return list(s.scalars(select(db.Device).order_by(db.Device.enrolled_at)))

    # -- receiving -----------------------------------------------------------------------------

    def _verify_key(self, device_id: str) -> bytes:
        with self.tx() as s:
            device = s.get(db.Device, device_id)
            if device is None:
                raise BundleError(
                    f"The bundle comes from device {device_id[:8]}, not enrolled here."
                )
            if device.revoked_at is not None:
                raise Forbidden(f"The bundle comes from device {device_id[:8]}, which was revoked.")
            return unb64(device.verify_key)

    def _open(self, data: bytes, kind: str, ident: str, device_id: str | None) -> bundle.Opened:
        if len(data) > self.max_upload_bytes:
            raise TooLarge(
                f"The bundle is larger than this hub accepts ({self.max_upload_bytes} bytes)."
            )
        header = bundle.read_header(data)
        if header.kind != kind or header.id != ident:
            raise BundleError(
                f"The bundle holds {header.kind} {header.id[:12]}, not {kind} {ident[:12]}."
            )
        if device_id is not None and header.device_id != device_id:
            raise BundleError("The bundle was made by a different device.")
        return bundle.open_bundle(
            data,
            hub_private_key=self._private_key(),
            device_verify_key=self._verify_key(header.device_id),
        )

    def blob_path(self, sha256: str) -> Path:
        if not bundle.is_sha256(sha256):
            raise BundleError("A clip name must be a sha256 (64 hex digits).")
        return self.blob_dir / sha256[:2] / f"{sha256}.wav"

    def has_blob(self, sha256: str, device_id: str | None = None) -> bool:
        """Whether the hub has this clip (with *device_id*: one that device sent itself)."""
        if not bundle.is_sha256(sha256):
            raise BundleError("A clip name must be a sha256 (64 hex digits).")
        with self.tx() as s:
            if s.get(db.Blob, sha256) is None:
                # deleted for a withdrawal of consent: "here", so nobody sends it again
                return s.get(db.DeletedBlob, sha256) is not None
            return device_id is None or s.get(db.BlobDevice, (sha256, device_id)) is not None

    def put_blob(self, sha256: str, data: bytes, *, device_id: str | None) -> bool:
        """Store a sealed clip. True if new (for its device), False if it had it already."""
        path = self.blob_path(sha256)
        opened = self._open(data, "clip", sha256, device_id)
        sender = opened.header.device_id
        if self.has_blob(sha256, sender):
            return False  # here already, or deleted for a withdrawal (its bytes are dropped)
        if not self.has_blob(sha256) or not path.is_file():
            try:
                write_private(path, opened.payload)  # decrypted audio: owner only
            except OSError as exc:
                raise _full_or(exc) from exc
        try:
            with self.tx() as s:
                if s.get(db.Blob, sha256) is None:
                    s.add(db.Blob(sha256=sha256, size=len(opened.payload), device_id=sender))
                    s.flush()
                if s.get(db.BlobDevice, (sha256, sender)) is None:
                    s.add(db.BlobDevice(sha256=sha256, device_id=sender))
        except IntegrityError:
            return False
        except OperationalError as exc:
            raise _full_or(exc) from exc
        return True

    def put_session(self, session_id: str, data: bytes, *, device_id: str | None, via: str) -> bool:
        """Store a sealed session. True if new, False if the same content was here already."""
        if not bundle.is_uuid(session_id):
            raise BundleError("A session name must be a UUID.")
        opened = self._open(data, "session", session_id, device_id)
        record = bundle.parse_record(opened.payload, session_id)
        digest = hashlib.sha256(opened.payload).hexdigest()
        for _ in range(5):
            with self.tx() as s:
                existing = s.get(db.Session, session_id)
                if existing is not None:
                    if existing.content_sha256 == digest or _same_own_jobs(
                        existing.record_json, record
                    ):
                        return False
                    raise Conflict(
                        f"The hub already has session {session_id[:8]} with different content."
                    )
            sender = opened.header.device_id
            with self.tx() as s:  # clips a withdrawal covers are not waited for
                covered = withdrawals.covered_by_withdrawals(s, record, sender)
                covered.update(
                    {
                        sha: ("", "")
                        for sha in s.scalars(
                            select(db.DeletedBlob.sha256).where(
                                db.DeletedBlob.sha256.in_(bundle.clips_of(record) or ["-"])
                            )
                        )
                    }
                )
            clips = [c for c in bundle.clips_of(record) if c not in covered]
            if clips:  # only clips this device sent itself (it proves it has their bytes)
                with self.tx() as s:
                    have = set(
                        s.scalars(
                            select(db.BlobDevice.sha256)
                            .join(db.Blob, db.Blob.sha256 == db.BlobDevice.sha256)
                            .where(
                                db.BlobDevice.sha256.in_(clips), db.BlobDevice.device_id == sender
                            )
                        )
                    )
                missing = [c for c in clips if c not in have]
                if missing:
                    raise MissingClips(missing)
            try:
                self._insert_session(record, digest, opened.payload, sender, via)
            except IntegrityError:
                continue  # someone stored it (or a person) at the same moment: look again
            except OperationalError as exc:
                raise _full_or(exc) from exc
            fault_point("hub_after_session_commit")
            return True
        raise SyncError(f"Session {session_id[:8]} could not be stored: the database is too busy.")

    def _insert_session(
        self, record: SessionRecord, digest: str, payload: bytes, device_id: str, via: str
    ) -> None:
        gone: list[str] = []
        with self.tx() as s:
            s.add(
                db.Session(
                    id=record.id,
                    device_id=device_id,
                    content_sha256=digest,
                    script=record.script[:200],
                    started_at=record.started_at,
                    via=via,
                    record_json=payload.decode(),
                )
            )
            s.flush()
            from assistant.hub.goals import store_goals
            from assistant.hub.people import store_jobs, store_people

            store_people(s, record, device_id)
            store_jobs(s, record, device_id)
            store_goals(s, record, device_id)
            for sha, (person, wid) in withdrawals.covered_by_withdrawals(
                s, record, device_id
            ).items():  # came before the device heard of the withdrawal: deleted on arrival
                gone += withdrawals.delete_blobs(s, {sha}, person, wid)
            for flag in record.flags:
                if s.get(db.Flag, flag.id) is not None:
                    raise Conflict(
                        f"Session {record.id[:8]} has flag {flag.id[:8]}, an id the hub has "
                        "already, so it was not stored."
                    )
                s.add(
                    db.Flag(
                        id=flag.id,
                        session_id=record.id,
                        person_id=flag.person_id,
                        kind=flag.kind,
                        reason=flag.reason,
                        at=flag.at,
                        resolved_at=flag.at if flag.resolved else None,
                        resolved_by="on the device" if flag.resolved else None,
                    )
                )
        withdrawals.unlink_files(self.blob_path, gone)

    def put_consent(self, ident: str, data: bytes, *, device_id: str | None) -> bool:
        """Store a sealed withdrawal of consent and delete the clips it covers on the hub.
        True if new, False if it was here already."""
        if not bundle.is_uuid(ident):
            raise BundleError("A withdrawal name must be a UUID.")
        opened = self._open(data, "consent", ident, device_id)
        w = parse_withdrawal(opened.payload, ident)
        sender = opened.header.device_id
        try:
            with self.tx() as s:
                person = withdrawals.hub_person(s, sender, w["person_id"])
                gone = withdrawals.record(
                    s,
                    withdrawal_id=ident,
                    person_id=person,
                    device_id=sender,
                    at=datetime.fromisoformat(w["at"]),
                    method=w["method"],
                    witnessed_by=w["witnessed_by"],
                )
                if gone is not None:
                    s.add(
                        db.Audit(
                            actor=f"device {sender[:8]}",
                            action="consent withdrawn",
                            target=person,
                            detail=f"{len(gone)} clip(s) deleted",
                        )
                    )
        except IntegrityError:
            return False  # the same withdrawal stored at the same moment
        except OperationalError as exc:
            raise _full_or(exc) from exc
        if gone is None:
            return False
        withdrawals.unlink_files(self.blob_path, gone)
        return True

    # -- USB import ----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.tx() as s:
            return {
                "sessions": s.scalar(select(func.count()).select_from(db.Session)) or 0,
                "clips": s.scalar(select(func.count()).select_from(db.Blob)) or 0,
                "devices": s.scalar(select(func.count()).select_from(db.Device)) or 0,
            }


def _same_own_jobs(stored_json: str, record: SessionRecord) -> bool:
    """The same session as stored once each holds only its own jobs (records/belongs.py): a
    device that cleaned a record it had sent already (its migration 4) sends it again."""
    from assistant.records.belongs import keep_own_jobs

    stored = SessionRecord.model_validate_json(stored_json)
    again = record.model_copy(deep=True)
    keep_own_jobs(stored)
    keep_own_jobs(again)
    return stored.model_dump(exclude={"state"}) == again.model_dump(exclude={"state"})


def can(staff: db.Staff, right: str) -> bool:
    """Whether *staff*'s role allows *right* ("change", "export" or "manage")."""
    return right in ROLE_RIGHTS.get(staff.role or "staff", set())


def secure_home(home: Path) -> int:
    """Make the hub's home 0700 and everything in it owner-only (0600), whatever the umask.
    Returns how many modes had to be fixed."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    fixed = 0
    for folder, dirs, files in os.walk(home):
        for name, want in (
            [(folder, 0o700)]
            + [(os.path.join(folder, d), 0o700) for d in dirs]
            + [(os.path.join(folder, f), 0o600) for f in files]
        ):
            try:
                st = os.lstat(name)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            if stat.S_IMODE(st.st_mode) & 0o077:
                os.chmod(name, stat.S_IMODE(st.st_mode) & want)
                fixed += 1
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return fixed
