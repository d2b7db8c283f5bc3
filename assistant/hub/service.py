"""The hub's work, apart from HTTP: enrolment, receiving bundles, importing sticks, staff.

Both the web app and the ``assistant hub`` commands call this, so a USB import and a network
push go through exactly the same checks and the same "exactly once" rules:

* a clip is stored once per sha256; its decrypted bytes must hash to its name;
* a session is stored once per UUID; the same content again is accepted and changes nothing,
  different content under the same UUID is refused (:class:`Conflict`);
* a session is accepted only when every clip it refers to is already here (:class:`MissingClips`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from assistant.errors import BundleError, SyncError
from assistant.faults import fault_point
from assistant.hub import db
from assistant.hub.keys import HubKeys, KeyLocked, public_key, unlock
from assistant.records.model import SessionRecord
from assistant.sync import bundle
from assistant.sync.device import b64, unb64, write_private

DEFAULT_MAX_UPLOAD = 64 * 1024 * 1024
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
SESSION_NAME_RE = re.compile(
    r"^sessions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.bundle$"
)
CLIP_NAME_RE = re.compile(r"^clips/[0-9a-f]{64}\.bundle$")

_hasher = PasswordHasher()


class Unauthorised(SyncError, PermissionError):
    """No token, or a token the hub does not know."""


class Forbidden(SyncError, PermissionError):
    """The device was revoked."""


class Conflict(SyncError):
    """A different record already has this id."""


class TooLarge(SyncError):
    """An upload is larger than the hub accepts."""


class MissingClips(SyncError):
    """A session arrived before some of its clips."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"The hub does not have {len(missing)} of this session's clips yet.")
        self.missing = missing


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class ImportReport:
    sessions_added: int = 0
    clips_added: int = 0
    already_here: int = 0
    refused: list[str] = field(default_factory=list)


class Hub:
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
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db_url = db_url or f"sqlite:///{home / 'hub.sqlite'}"
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

    def _private_key(self) -> bytes:
        if self._keys is None or self._keys.private_key is None:
            raise KeyLocked("The hub's key is locked: start the hub with its passphrase.")
        return self._keys.private_key

    # -- audit ---------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str, detail: str = "") -> None:
        with self.tx() as s:
            s.add(db.Audit(actor=actor, action=action, target=target, detail=detail))

    # -- enrolment -----------------------------------------------------------------------------

    def new_code(self, by: str, hours: float = 24.0) -> str:
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
        with self.tx() as s:
            s.add(
                db.EnrolCode(
                    code_hash=_hash(raw),
                    created_by=by,
                    expires_at=datetime.now(UTC) + timedelta(hours=hours),
                )
            )
            s.add(db.Audit(actor=by, action="made enrolment code", target="-", detail=""))
        return "-".join(raw[i : i + 4] for i in range(0, 12, 4))

    def enrol(self, code: str, device_id: str, name: str, verify_key: str) -> tuple[str, bytes]:
        """Use up a one-time code; return the new device token and the hub's public key."""
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
        with self.tx() as s:
            row = s.get(db.EnrolCode, _hash(normalise_code(code)), with_for_update=True)
            if row is None or row.used_at is not None or _aware(row.expires_at) < now:
                raise Unauthorised("That code is not valid: it may be used up or too old.")
            row.used_at = now
            row.used_by = device_id
            existing = s.get(db.Device, device_id)
            if existing is not None and existing.revoked_at is not None:
                raise Forbidden("This device was revoked; it cannot enrol again under that id.")
            if existing is None:
                s.add(
                    db.Device(id=device_id, name=name, token_hash=_hash(token), verify_key=b64(key))
                )
            else:  # re-enrolment (e.g. a new SD card image): new token and key
                existing.token_hash = _hash(token)
                existing.verify_key = b64(key)
                existing.name = name
            s.add(db.Audit(actor=f"device:{device_id}", action="enrolled", target=name))
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

    def has_blob(self, sha256: str) -> bool:
        if not bundle.is_sha256(sha256):
            raise BundleError("A clip name must be a sha256 (64 hex digits).")
        with self.tx() as s:
            return s.get(db.Blob, sha256) is not None

    def put_blob(self, sha256: str, data: bytes, *, device_id: str | None) -> bool:
        """Store a sealed clip. True if new, False if the hub had it already."""
        path = self.blob_path(sha256)
        opened = self._open(data, "clip", sha256, device_id)
        if self.has_blob(sha256):
            return False
        write_private(path, opened.payload)  # decrypted audio: owner only
        try:
            with self.tx() as s:
                s.add(
                    db.Blob(
                        sha256=sha256, size=len(opened.payload), device_id=opened.header.device_id
                    )
                )
        except IntegrityError:
            return False
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
                    if existing.content_sha256 == digest:
                        return False
                    raise Conflict(
                        f"The hub already has session {session_id[:8]} with different content."
                    )
            clips = bundle.clips_of(record)
            if clips:
                with self.tx() as s:
                    have = set(s.scalars(select(db.Blob.sha256).where(db.Blob.sha256.in_(clips))))
                missing = [c for c in clips if c not in have]
                if missing:
                    raise MissingClips(missing)
            try:
                self._insert_session(record, digest, opened.payload, opened.header.device_id, via)
            except IntegrityError:
                continue  # someone stored it (or a person) at the same moment: look again
            fault_point("hub_after_session_commit")
            return True
        raise SyncError(f"Session {session_id[:8]} could not be stored: the database is too busy.")

    def _insert_session(
        self, record: SessionRecord, digest: str, payload: bytes, device_id: str, via: str
    ) -> None:
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
            for person in record.people:
                row = s.get(db.Person, person.id)
                if row is None:
                    s.add(db.Person(id=person.id, name=person.name, last_seen_at=record.started_at))
                elif _aware(row.last_seen_at) <= _aware(record.started_at):
                    row.name = person.name
                    row.last_seen_at = record.started_at
                s.add(db.SessionPerson(session_id=record.id, person_id=person.id))
            for flag in record.flags:
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

    # -- USB import ----------------------------------------------------------------------------

    def import_folder(self, path: Path, by: str = "hub import") -> ImportReport:
        """Import every export found in *path* (the stick's folder, or one device's folder)."""
        report = ImportReport()
        if not path.is_dir():
            raise SyncError(f"{path} is not a folder.")
        manifests = [path / "manifest.json"] if (path / "manifest.json").exists() else []
        manifests += sorted(p for p in path.glob("assistant-*/manifest.json") if p.is_file())
        if not manifests:
            raise SyncError(f"No assistant export was found in {path}.")
        for manifest in manifests:
            self._import_one(manifest, report)
        self.audit(
            by,
            "imported",
            str(path)[:200],
            f"{report.sessions_added} sessions, {report.clips_added} clips, "
            f"{len(report.refused)} refused",
        )
        return report

    def _import_one(self, manifest: Path, report: ImportReport) -> None:
        folder = manifest.parent.resolve()
        try:
            doc = json.loads(manifest.read_text())
            files = list(doc["files"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.refused.append(f"{manifest}: the manifest is not readable.")
            del exc
            return
        entries = [e for e in files if isinstance(e, dict)]
        entries.sort(key=lambda e: 0 if str(e.get("name", "")).startswith("clips/") else 1)
        for entry in entries:
            name = str(entry.get("name", ""))
            if not (CLIP_NAME_RE.match(name) or SESSION_NAME_RE.match(name)):
                report.refused.append(f"{name!r}: not a bundle name this hub accepts.")
                continue
            file = (folder / name).resolve()
            if not file.is_relative_to(folder) or not file.is_file():
                report.refused.append(f"{name}: missing from the stick.")
                continue
            if file.stat().st_size > self.max_upload_bytes:
                report.refused.append(f"{name}: larger than this hub accepts.")
                continue
            data = file.read_bytes()
            if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                report.refused.append(
                    f"{name}: it was changed or damaged after export, so it was not imported."
                )
                continue
            ident = name.split("/", 1)[1].removesuffix(".bundle")
            try:
                if name.startswith("clips/"):
                    added = self.put_blob(ident, data, device_id=None)
                    report.clips_added += int(added)
                else:
                    added = self.put_session(ident, data, device_id=None, via="import")
                    report.sessions_added += int(added)
                if not added:
                    report.already_here += 1
            except MissingClips as exc:
                report.refused.append(f"{name}: {len(exc.missing)} of its clips are missing.")
            except (BundleError, SyncError) as exc:
                report.refused.append(f"{name}: {exc}")

    # -- staff ---------------------------------------------------------------------------------

    def add_staff(self, name: str, password: str, *, admin: bool = False, by: str = "hub") -> None:
        name = name.strip()
        if not name or len(name) > 200:
            raise SyncError("A staff name must be 1 to 200 characters.")
        if len(password) < 10:
            raise SyncError("A staff password must be at least 10 characters long.")
        try:
            with self.tx() as s:
                if s.scalar(select(db.Staff).where(db.Staff.name == name)) is not None:
                    raise SyncError(f"There is already a staff member called {name!r}.")
                s.add(db.Staff(name=name, password_hash=_hasher.hash(password), is_admin=admin))
                s.add(db.Audit(actor=by, action="added staff", target=name, detail=""))
        except IntegrityError as exc:
            raise SyncError(f"There is already a staff member called {name!r}.") from exc

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

    def counts(self) -> dict[str, int]:
        with self.tx() as s:
            return {
                "sessions": s.scalar(select(func.count()).select_from(db.Session)) or 0,
                "clips": s.scalar(select(func.count()).select_from(db.Blob)) or 0,
                "devices": s.scalar(select(func.count()).select_from(db.Device)) or 0,
            }


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not a real password, only for timing")
