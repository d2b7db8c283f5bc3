"""Withdrawals of consent on the hub: kept, applied to every clip they cover, sent to devices.

A withdrawal reaches the hub in a ``consent`` bundle from a device (``PUT /v1/consent/{id}``
or a stick) or is recorded by staff (``assistant hub people withdraw``). It is kept once, by
its id (``consent_withdrawals``); the person's consent in force becomes "withdrawn" unless the
hub holds a later decision; every clip it covers (the rule of
:func:`assistant.records.withdrawal_rule.covered_clips`, in every session of the person from any
device) is deleted, and remembered in ``deleted_blobs`` so that a device offering it again is
told "already here". A session that arrives later is checked the same way: a clip a
withdrawal covers is not waited for, and deleted if it came. :func:`for_person` is what each
device receives with the person (``GET /v1/updates``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session as DBSession

from assistant.hub import db
from assistant.hub.errors import NotYours
from assistant.records.model import Consent, ConsentMethod, SessionRecord, new_id
from assistant.records.withdrawal_rule import aware, covered_clips

log = logging.getLogger(__name__)

_METHODS = set(get_args(ConsentMethod))


def hub_person(
    s: DBSession, device_id: str, local_id: str, what: str = "The withdrawal names"
) -> str:
    """The hub person a device's local id means: its link, or (never seen) the id itself,
    as the device's first session about them will make it. Raises NotYours for a person of
    another device (*what* begins its sentence: "The taught words name")."""
    link = s.get(db.PersonLink, (device_id, local_id))
    if link is not None:
        return link.person_id
    if s.get(db.Person, local_id) is not None:
        raise NotYours(
            f"{what} person {local_id[:8]}, who belongs to another device, so it was not stored."
        )
    return local_id


def latest(s: DBSession, person_id: str) -> datetime | None:
    """When the person's latest withdrawal was made (None: never withdrawn)."""
    rows = s.scalars(
        select(db.ConsentWithdrawal.at).where(db.ConsentWithdrawal.person_id == person_id)
    )
    times = [aware(datetime.fromisoformat(at)) for at in rows]
    return max(times) if times else None


def record(
    s: DBSession,
    *,
    withdrawal_id: str,
    person_id: str,
    device_id: str | None,
    at: datetime,
    method: str,
    witnessed_by: str | None,
) -> list[str] | None:
    """Keep one withdrawal (inside the caller's transaction) and delete the clips it covers;
    returns the sha256 of clips whose files the caller removes after the commit, or None when
    it was here already."""
    if s.get(db.ConsentWithdrawal, withdrawal_id) is not None:
        return None
    row = db.ConsentWithdrawal(
        id=withdrawal_id,
        person_id=person_id,
        device_id=device_id,
        at=aware(at).isoformat(),
        method=method[:40],
        witnessed_by=witnessed_by[:200] if witnessed_by else None,
        received_at=datetime.now(UTC),
    )
    s.add(row)
    person = s.get(db.Person, person_id)
    if person is not None:
        held = json.loads(person.consent_json) if person.consent_json else None
        if held is None or aware(datetime.fromisoformat(held["at"])) <= aware(at):
            person.consent_json = Consent(
                audio=False,
                at=aware(at),
                method=cast(ConsentMethod, method if method in _METHODS else "staff_recorded"),
                witnessed_by=witnessed_by,
                withdrawn=True,
            ).model_dump_json()
    gone = apply_to_sessions(s, person_id, at, withdrawal_id)
    row.clips_deleted = len(gone)
    log.info("Consent withdrawn for %s; %d clip(s) deleted on the hub", person_id, len(gone))
    return gone


def apply_to_sessions(s: DBSession, person_id: str, at: datetime, withdrawal_id: str) -> list[str]:
    """Delete the clips a withdrawal made at *at* covers in every session of the person, from
    any device (rows now; the caller removes the files after the commit)."""
    shas: set[str] = set()
    for session in s.scalars(
        select(db.Session)
        .join(db.SessionPerson, db.SessionPerson.session_id == db.Session.id)
        .where(db.SessionPerson.person_id == person_id)
    ):
        rec = SessionRecord.model_validate_json(session.record_json)
        for local in _locals_of(s, rec, session.device_id, person_id):
            shas |= covered_clips(rec, local, at)
    return delete_blobs(s, shas, person_id, withdrawal_id)


def _locals_of(s: DBSession, rec: SessionRecord, device_id: str, person_id: str) -> list[str]:
    out = []
    for p in rec.people:
        link = s.get(db.PersonLink, (device_id, p.id))
        if (link.person_id if link else p.id) == person_id:
            out.append(p.id)
    return out


def covered_by_withdrawals(
    s: DBSession, rec: SessionRecord, device_id: str
) -> dict[str, tuple[str, str]]:
    """The session's clips that a withdrawal the hub holds covers: sha256 -> (hub person,
    withdrawal id). Read before the session is stored (its people mapped as they will be)."""
    out: dict[str, tuple[str, str]] = {}
    for p in rec.people:
        link = s.get(db.PersonLink, (device_id, p.id))
        person = link.person_id if link else p.id
        rows = list(
            s.scalars(select(db.ConsentWithdrawal).where(db.ConsentWithdrawal.person_id == person))
        )
        if not rows:
            continue
        last = max(rows, key=lambda r: aware(datetime.fromisoformat(r.at)))
        for sha in covered_clips(rec, p.id, datetime.fromisoformat(last.at)):
            out.setdefault(sha, (person, last.id))
    return out


def delete_blobs(s: DBSession, shas: set[str], person_id: str, withdrawal_id: str) -> list[str]:
    """Forget these clips (rows now, files by the caller after the commit) and remember why."""
    gone: list[str] = []
    for sha in sorted(shas):
        blob = s.get(db.Blob, sha)
        if blob is not None:
            s.delete(blob)
            gone.append(sha)
        for sent in s.scalars(select(db.BlobDevice).where(db.BlobDevice.sha256 == sha)):
            s.delete(sent)
        if s.get(db.DeletedBlob, sha) is None:
            s.add(db.DeletedBlob(sha256=sha, person_id=person_id, withdrawal_id=withdrawal_id))
    s.flush()
    return gone


def unlink_files(blob_path: Callable[[str], Path], shas: list[str]) -> None:
    """Remove the files of clips whose rows are gone (after the transaction committed)."""
    for sha in shas:
        blob_path(sha).unlink(missing_ok=True)


def for_person(s: DBSession, person_id: str) -> list[dict[str, Any]]:
    """The person's withdrawals, as a device receives them (oldest first)."""
    rows = s.scalars(
        select(db.ConsentWithdrawal)
        .where(db.ConsentWithdrawal.person_id == person_id)
        .order_by(db.ConsentWithdrawal.at, db.ConsentWithdrawal.id)
    )
    return [
        {"id": r.id, "at": r.at, "method": r.method, "witnessed_by": r.witnessed_by} for r in rows
    ]


def withdraw_on_hub(
    s: DBSession, person_id: str, by: str, at: datetime | None = None
) -> tuple[str, list[str]]:
    """Staff record a withdrawal on the hub (the person told them): a new id, applied here,
    and sent to every device that holds the person."""
    wid = new_id()
    gone = record(
        s,
        withdrawal_id=wid,
        person_id=person_id,
        device_id=None,
        at=at or datetime.now(UTC),
        method="staff_recorded",
        witnessed_by=by,
    )
    return wid, gone or []
