"""Staff keep the charity's people on the hub: add, rename, and merge two records of one person.

* :func:`add_person` makes a hub person that no device has named yet (``first seen on: staff``),
  optionally assigned to devices, which receive them at their next sync.
* :func:`rename` sets the hub's name for a person and clears the names devices kept for them
  (a device's own name is a conflict until staff decide; renaming is deciding), so every device
  takes the new name at its next sync.
* :func:`merge` makes two hub people one: the same person added by hand on a device and on the
  hub, or on two devices. Everything that named the one merged away follows the one kept: the
  devices' links (so their old and unsent sessions still map to the kept person), assignments,
  sessions, jobs, flags and withdrawals of consent. The later consent decision of the two is in
  force, and a withdrawal of either now covers every session of the kept person, on the hub at
  once and on devices at their next sync. A device that holds both receives the kept person once,
  with the other as an alias, and merges its own copies (:mod:`assistant.records.merge`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DBSession

from assistant.errors import SyncError
from assistant.hub import changes, db, withdrawals, words
from assistant.hub import goals as hub_goals
from assistant.hub.people import assign, find_person
from assistant.records.model import new_id
from assistant.records.withdrawal_rule import aware

if TYPE_CHECKING:
    from assistant.hub.service import Hub

NAME_MAX = 200


def _name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise SyncError("A person needs a name: it is what the device says to them.")
    if len(clean) > NAME_MAX:
        raise SyncError(f"A name can be at most {NAME_MAX} characters.")
    return clean


def _named(s: DBSession, name: str, but: str | None = None) -> db.Person | None:
    """Another hub person with this name, in any case (devices tell names apart so too)."""
    query = select(db.Person).where(func.lower(db.Person.name) == name.lower())
    if but is not None:
        query = query.where(db.Person.id != but)
    return s.scalars(query).first()


def add_person(hub: Hub, name: str, by: str, to: list[str] | None = None) -> db.Person:
    """A new person on the hub (no device has named them), assigned to the devices *to*."""
    clean = _name(name)
    with hub.tx() as s:
        same = _named(s, clean)
        if same is not None:
            raise SyncError(
                f"The hub already has someone called {clean} ({same.id[:8]}). If this is "
                "another person, add them with a fuller name; if it is the same person, "
                "assign them instead."
            )
        person = db.Person(id=new_id(), name=clean, last_seen_at=datetime.now(UTC), device_id=None)
        s.add(person)
        s.add(db.Audit(actor=by, action="added person", target=person.id, detail=clean))
    for device in to or []:
        assign(hub, person.id, device, by)
    return person


def rename(hub: Hub, person: str, name: str, by: str) -> tuple[str, db.Person]:
    """Staff give a person the name every device uses; returns the old name and the person."""
    who = find_person(hub, person)
    clean = _name(name)
    with hub.tx() as s:
        row = s.get(db.Person, who.id)
        assert row is not None
        same = _named(s, clean, but=row.id)
        if same is not None:  # one name, two people: every device would refuse it
            raise SyncError(
                f"The hub already has someone else called {same.name} ({same.id[:8]}). If "
                "they are the same person, merge them; if not, use a fuller name."
            )
        before = row.name
        row.name = clean
        for link in s.scalars(select(db.PersonLink).where(db.PersonLink.person_id == row.id)):
            link.local_name = None  # the conflict is decided: every device takes this name
        s.add(
            db.Audit(
                actor=by, action="renamed person", target=row.id, detail=f"{before} -> {clean}"
            )
        )
    return before, find_person(hub, who.id)


def _later_consent(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    at_a = aware(datetime.fromisoformat(json.loads(a)["at"]))
    at_b = aware(datetime.fromisoformat(json.loads(b)["at"]))
    return b if at_b > at_a else a


def merge(hub: Hub, keep: str, other: str, by: str) -> tuple[db.Person, str, dict[str, int]]:
    """Merge the hub person *other* into *keep* (one transaction). Returns the kept person, the
    merged one's name, and counts of what moved (``sessions``, ``jobs``, ``links``,
    ``clips_deleted``)."""
    kept, gone = find_person(hub, keep), find_person(hub, other)
    if kept.id == gone.id:
        raise SyncError(f"{kept.name} and {gone.name} are the same record: nothing to merge.")
    moved = {"sessions": 0, "jobs": 0, "links": 0, "clips_deleted": 0}
    deleted: list[str] = []
    with hub.tx() as s:
        into = s.get(db.Person, kept.id)
        away = s.get(db.Person, gone.id)
        assert into is not None and away is not None
        for link in s.scalars(select(db.PersonLink).where(db.PersonLink.person_id == away.id)):
            link.person_id = into.id
            moved["links"] += 1
        for pd in list(
            s.scalars(select(db.PersonDevice).where(db.PersonDevice.person_id == away.id))
        ):
            if s.get(db.PersonDevice, (into.id, pd.device_id)) is None:
                s.add(
                    db.PersonDevice(
                        person_id=into.id,
                        device_id=pd.device_id,
                        assigned_by=pd.assigned_by,
                        assigned_at=pd.assigned_at,
                    )
                )
            s.delete(pd)
        for sp in list(
            s.scalars(select(db.SessionPerson).where(db.SessionPerson.person_id == away.id))
        ):
            if s.get(db.SessionPerson, (sp.session_id, into.id)) is None:
                s.add(db.SessionPerson(session_id=sp.session_id, person_id=into.id))
            s.delete(sp)
            moved["sessions"] += 1
        for job in s.scalars(select(db.HubJob).where(db.HubJob.person_id == away.id)):
            job.person_id = into.id
            moved["jobs"] += 1
        for share in list(
            s.scalars(select(db.HubJobSharer).where(db.HubJobSharer.person_id == away.id))
        ):
            shared = s.get(db.HubJob, share.job_id)
            if s.get(db.HubJobSharer, (share.job_id, into.id)) is None and (
                shared is None or shared.person_id != into.id  # nobody shares with themself
            ):
                s.add(db.HubJobSharer(job_id=share.job_id, person_id=into.id))
            s.delete(share)
        for own in list(  # a job of the other record shared with the kept one: now just theirs
            s.scalars(
                select(db.HubJobSharer)
                .join(db.HubJob, db.HubJob.id == db.HubJobSharer.job_id)
                .where(db.HubJobSharer.person_id == into.id, db.HubJob.person_id == into.id)
            )
        ):
            s.delete(own)
        s.flush()
        for flag in s.scalars(select(db.Flag).where(db.Flag.person_id == away.id)):
            flag.person_id = into.id
        for w in s.scalars(
            select(db.ConsentWithdrawal).where(db.ConsentWithdrawal.person_id == away.id)
        ):
            w.person_id = into.id
        for blob in s.scalars(select(db.DeletedBlob).where(db.DeletedBlob.person_id == away.id)):
            blob.person_id = into.id
        word_files = words.merge_into(s, into.id, away.id)
        hub_goals.merge_into(s, into.id, away.id)
        changes.merge_into(s, into.id, away.id)
        into.consent_json = _later_consent(into.consent_json, away.consent_json)
        if aware(away.last_seen_at) > aware(into.last_seen_at):
            into.last_seen_at = away.last_seen_at
        if into.device_id is None:
            into.device_id = away.device_id
        name = away.name
        s.delete(away)
        s.flush()
        # a withdrawal of either now covers every session of the one person
        last = max(
            s.scalars(
                select(db.ConsentWithdrawal).where(db.ConsentWithdrawal.person_id == into.id)
            ),
            key=lambda r: aware(datetime.fromisoformat(r.at)),
            default=None,
        )
        if last is not None:
            deleted = withdrawals.apply_to_sessions(
                s, into.id, datetime.fromisoformat(last.at), last.id
            )
            moved["clips_deleted"] = len(deleted)
        s.add(
            db.Audit(
                actor=by,
                action="merged people",
                target=into.id,
                detail=f"{name} ({gone.id[:8]}) into {into.name}: "
                + ", ".join(f"{n} {k}" for k, n in moved.items()),
            )
        )
    withdrawals.unlink_files(hub.blob_path, deleted)
    words.unlink_unreferenced(hub, set(word_files))
    return find_person(hub, kept.id), name, moved
