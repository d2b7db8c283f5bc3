"""People of the charity with one identity, and the jobs that follow them.

* A device's local person id is **linked** to one hub person (``person_links``). The first
  session that names an unknown id creates the hub person (with that id) and links it to the
  sending device; a device gets a link to a hub person when the hub first sends it that person.
  A session naming an id that is neither linked for its device nor new is refused
  (:class:`~assistant.hub.errors.NotYours`), as before.
* A session renames the hub person only while nobody else knows them (no other device is
  linked to or assigned them); otherwise the new name is kept as that device's local name and
  shown to staff as a conflict (``assistant hub people list``).
* Jobs are kept by their id (``hub_jobs``). Only the device that made a job changes its words;
  every device adds to its status history, which merges by union (``hub_job_events``,
  unique per job, time and status); the status is the latest event's.
* :func:`updates_for` is what ``GET /v1/updates`` sends a device: the people assigned to it or
  first seen on it, with their consent in force, and their jobs, in that device's own ids.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DBSession

from assistant.errors import SyncError
from assistant.hub import changes, db, own_settings, withdrawals, words
from assistant.hub import goals as hub_goals
from assistant.hub.errors import NotYours
from assistant.records.model import JobEvent, SessionRecord

if TYPE_CHECKING:
    from assistant.hub.service import Hub

UPDATE_KIND = "people"
DONE_KEPT = timedelta(days=30)  # a done job is still sent this long, so every device hears


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _iso(at: datetime) -> str:
    return _aware(at).astimezone(UTC).isoformat()


def known_elsewhere(s: DBSession, person_id: str, device_id: str) -> bool:
    """Whether a device other than *device_id* is linked to or assigned this hub person."""
    link = s.scalar(
        select(db.PersonLink.device_id)
        .where(db.PersonLink.person_id == person_id, db.PersonLink.device_id != device_id)
        .limit(1)
    )
    if link is not None:
        return True
    assigned = s.scalar(
        select(db.PersonDevice.device_id)
        .where(db.PersonDevice.person_id == person_id, db.PersonDevice.device_id != device_id)
        .limit(1)
    )
    return assigned is not None


def store_people(s: DBSession, record: SessionRecord, device_id: str) -> dict[str, str]:
    """Map the session's people to hub people (inside the caller's transaction); returns
    local id -> hub person id. Raises NotYours for a person of another device."""
    mapping: dict[str, str] = {}
    for person in record.people:
        name = person.name[:200]
        link = s.get(db.PersonLink, (device_id, person.id))
        if link is None:
            if s.get(db.Person, person.id) is not None:
                raise NotYours(
                    f"Session {record.id[:8]} names person {person.id[:8]}, who belongs to "
                    "another device, so it was not stored."
                )
            s.add(
                db.Person(
                    id=person.id, name=name, last_seen_at=record.started_at, device_id=device_id
                )
            )
            s.add(
                db.PersonLink(
                    device_id=device_id, local_id=person.id, person_id=person.id, local_name=name
                )
            )
            s.flush()
            row = s.get(db.Person, person.id)
            assert row is not None
        else:
            row = s.get(db.Person, link.person_id)
            if row is None:  # a link to nobody: repair by making the person
                row = db.Person(
                    id=link.person_id,
                    name=name,
                    last_seen_at=record.started_at,
                    device_id=device_id,
                )
                s.add(row)
            newer = _aware(row.last_seen_at) <= _aware(record.started_at)
            if newer and link.local_name != name:
                link.local_name = name
            if newer:
                if name != row.name and not known_elsewhere(s, row.id, device_id):
                    row.name = name
                row.last_seen_at = record.started_at
        own_settings.merge(s, row, person, device_id)  # their own: the latest change wins
        if person.consent is not None:
            held = json.loads(row.consent_json) if row.consent_json else None
            if held is None or held["at"] <= _iso(person.consent.at):
                row.consent_json = person.consent.model_dump_json()
        mapping[person.id] = row.id
        s.add(db.SessionPerson(session_id=record.id, person_id=row.id))
    return mapping


def store_jobs(s: DBSession, record: SessionRecord, device_id: str) -> None:
    """Keep the session's jobs and status updates on the hub (caller's transaction)."""
    touched: set[str] = set()

    def hub_person(local: str) -> str | None:
        link = s.get(db.PersonLink, (device_id, local))
        return link.person_id if link else None

    def add_event(job_id: str, event: JobEvent) -> None:
        when = _iso(event.at)
        have = s.scalars(
            select(db.HubJobEvent).where(
                db.HubJobEvent.job_id == job_id,
                db.HubJobEvent.at == when,
                db.HubJobEvent.status == event.status,
            )
        ).first()
        due = event.due.isoformat() if event.due else None
        if have is None:
            s.add(
                db.HubJobEvent(
                    job_id=job_id,
                    status=event.status,
                    at=when,
                    help_needed=event.help_needed,
                    note_answer=event.note_answer,
                    session_id=record.id,
                    new_when=event.when,
                    new_due=due,
                )
            )
            s.flush()
        elif have.new_when is None and event.when:  # a new date given after it was first sent
            have.new_when, have.new_due = event.when, due
        touched.add(job_id)

    for job in record.jobs:
        person = hub_person(job.person_id)
        if person is None:
            if s.get(db.HubJob, job.id) is not None:
                # a job this device received for a co-owner it holds (its owner is not
                # linked here): the check-in's updates in its history still count
                for event in job.history:
                    add_event(job.id, event)
            continue  # otherwise a job of someone this device has no link for: not its to tell
        sharers = sorted({p for p in map(hub_person, job.shared_with) if p and p != person})
        plain = job.model_copy(update={"person_id": person, "history": [], "shared_with": sharers})
        corrected = corrected_words(s, job.from_answer)
        if corrected is not None:  # staff corrected the words it was made from: they stand
            plain.what = corrected
        row = s.get(db.HubJob, job.id)
        if row is None:
            s.add(
                db.HubJob(
                    id=job.id,
                    person_id=person,
                    device_id=device_id,
                    session_id=record.id,
                    data=plain.model_dump_json(exclude={"history"}),
                    status="planned",
                    updated_at=datetime.now(UTC),
                )
            )
            s.flush()
        elif row.device_id == device_id:
            row.data = plain.model_dump_json(exclude={"history"})
        if row is None or row.device_id == device_id:  # only the maker says who shares it
            held_sharers = set(
                s.scalars(select(db.HubJobSharer.person_id).where(db.HubJobSharer.job_id == job.id))
            )
            for gone in held_sharers - set(sharers):
                s.delete(s.get(db.HubJobSharer, (job.id, gone)))
            for new in set(sharers) - held_sharers:
                s.add(db.HubJobSharer(job_id=job.id, person_id=new))
            s.flush()
        for event in job.history:
            add_event(job.id, event)
    held = {j.id for j in record.jobs}
    for checkin in record.checkins:
        for job_id, status in checkin.jobs.items():
            # a job the record holds has this update in its history, at the time it was given
            if job_id not in held and s.get(db.HubJob, job_id) is not None:
                add_event(job_id, JobEvent(status=status, at=checkin.at))
    for job_id in touched:
        row = s.get(db.HubJob, job_id)
        if row is None:
            continue
        latest_first = list(
            s.scalars(
                select(db.HubJobEvent)
                .where(db.HubJobEvent.job_id == job_id)
                .order_by(db.HubJobEvent.at.desc(), db.HubJobEvent.id.desc())
            )
        )
        last = latest_first[0] if latest_first else None
        dated = next((e for e in latest_first if e.new_when), None)
        if dated is not None:  # the latest new date, from any device, is the job's when
            data = json.loads(row.data)
            data["when"], data["due"] = dated.new_when, dated.new_due
            row.data = json.dumps(data)
        if last is not None and last.status != row.status:
            row.status = last.status
            row.updated_at = datetime.now(UTC)


def corrected_words(s: DBSession, answer_id: str | None) -> str | None:
    """The latest staff correction of an answer's transcript, or None."""
    if answer_id is None:
        return None
    return s.scalars(
        select(db.TranscriptEdit.text)
        .where(db.TranscriptEdit.answer_id == answer_id)
        .order_by(db.TranscriptEdit.version.desc())
        .limit(1)
    ).first()


def correct_jobs(s: DBSession, session_id: str, answer_id: str, before: str, text: str) -> int:
    """A staff correction of an answer changes the jobs made from it (caller's transaction):
    a job that names the answer (``from_answer``), or, for a job recorded before jobs named
    their answer, a job of the same session whose words were the answer's. The corrected job
    reaches every device that holds it at its next pull. Returns how many jobs changed."""

    def norm(words: str) -> str:
        return " ".join(words.lower().split())

    changed = 0
    for row in s.scalars(select(db.HubJob).where(db.HubJob.session_id == session_id)):
        data = json.loads(row.data)
        made_from = data.get("from_answer")
        ours = made_from == answer_id or (made_from is None and norm(data["what"]) == norm(before))
        if ours and data["what"] != text:
            data["what"] = text
            row.data = json.dumps(data)
            row.updated_at = datetime.now(UTC)
            changed += 1
    return changed


# -- staff -------------------------------------------------------------------------------------


def find_person(hub: Hub, ident: str) -> db.Person:
    with hub.tx() as s:
        rows = list(
            s.scalars(
                select(db.Person).where(
                    (db.Person.id.startswith(ident)) | (db.Person.name == ident)
                )
            )
        )
    if not rows:
        raise SyncError(f"No person on the hub matches {ident!r}.")
    if len(rows) > 1:
        raise SyncError(f"{len(rows)} people match {ident!r}: give more of the id.")
    return rows[0]


def assign(hub: Hub, person: str, device: str, by: str) -> tuple[db.Person, db.Device]:
    """Staff assign a person to a device: it receives them (and their jobs) at its next sync."""
    who = find_person(hub, person)
    where = hub.find_device(device)
    with hub.tx() as s:
        if s.get(db.PersonDevice, (who.id, where.id)) is None:
            s.add(
                db.PersonDevice(
                    person_id=who.id,
                    device_id=where.id,
                    assigned_by=by,
                    assigned_at=datetime.now(UTC),
                )
            )
        s.add(db.Audit(actor=by, action="assigned person", target=who.id, detail=where.id))
    return who, where


def unassign(hub: Hub, person: str, device: str, by: str) -> tuple[db.Person, db.Device]:
    who = find_person(hub, person)
    where = hub.find_device(device)
    with hub.tx() as s:
        row = s.get(db.PersonDevice, (who.id, where.id))
        if row is None:
            raise SyncError(f"{who.name} is not assigned to {where.name}.")
        s.delete(row)
        s.add(db.Audit(actor=by, action="unassigned person", target=who.id, detail=where.id))
    return who, where


def local_ids(s: DBSession, person_id: str) -> set[str]:
    """Every id devices use for this hub person (more than one after staff merged two)."""
    return {person_id} | set(
        s.scalars(select(db.PersonLink.local_id).where(db.PersonLink.person_id == person_id))
    )


def people_rows(hub: Hub) -> list[dict[str, Any]]:
    """Every hub person: name, first device, assigned devices, and names devices use that
    differ from the hub's (conflicts for staff)."""
    out: list[dict[str, Any]] = []
    with hub.tx() as s:
        names = {d.id: d.name for d in s.scalars(select(db.Device))}
        for person in s.scalars(select(db.Person).order_by(db.Person.name)):
            assigned = [
                names.get(r, r[:8])
                for r in s.scalars(
                    select(db.PersonDevice.device_id).where(db.PersonDevice.person_id == person.id)
                )
            ]
            others = [
                (names.get(link.device_id, link.device_id[:8]), link.local_name)
                for link in s.scalars(
                    select(db.PersonLink).where(db.PersonLink.person_id == person.id)
                )
                if link.local_name and link.local_name != person.name
            ]
            out.append(
                {
                    "id": person.id,
                    "name": person.name,
                    "first_seen": names.get(person.device_id or "", "staff (on the hub)"),
                    "assigned": assigned,
                    "conflicts": others,
                    "lost_changes": changes.conflicts(s, person.id),
                }
            )
    return out


# -- downstream --------------------------------------------------------------------------------


def payload_for(hub: Hub, device_id: str) -> dict[str, Any]:
    """What the device should hold: its people and their jobs, in the device's own ids. A
    person sent to a device for the first time is linked to it under the hub's id."""
    with hub.tx() as s:
        ids = words.people_of_device(s, device_id)
        people: list[dict[str, Any]] = []
        local_of: dict[str, str] = {}
        for person in s.scalars(select(db.Person).where(db.Person.id.in_(ids))):
            links = sorted(
                s.scalars(
                    select(db.PersonLink).where(
                        db.PersonLink.device_id == device_id, db.PersonLink.person_id == person.id
                    )
                ),
                # two local ids for one person (staff merged them): the hub's id if the device
                # has it, else the first; the device merges the others into it
                key=lambda k: (k.local_id != person.id, k.local_id),
            )
            link = links[0] if links else None
            for alias in links[1:]:
                alias.local_name = None  # the device merges it and takes the kept one's name
            if link is None:
                clash = s.get(db.PersonLink, (device_id, person.id))
                if clash is not None:  # that id means someone else on this device: never
                    continue
                link = db.PersonLink(
                    device_id=device_id, local_id=person.id, person_id=person.id, local_name=None
                )
                s.add(link)
                s.flush()
            local_of[person.id] = link.local_id
            people.append(
                {
                    "id": link.local_id,
                    "hub_id": person.id,
                    "name": link.local_name or person.name,
                    "consent": json.loads(person.consent_json) if person.consent_json else None,
                    "withdrawals": withdrawals.for_person(s, person.id),
                }
                | (
                    {
                        "settings": json.loads(person.settings_json),
                        "settings_at": person.settings_at,
                    }
                    if person.settings_json and person.settings_at
                    else {}
                )
                | ({"aliases": [k.local_id for k in links[1:]]} if len(links) > 1 else {})
                | ({"words": taught} if (taught := words.for_person(s, person.id)) else {})
            )
        since = datetime.now(UTC) - DONE_KEPT
        jobs: list[dict[str, Any]] = []
        shared = select(db.HubJobSharer.job_id).where(db.HubJobSharer.person_id.in_(list(local_of)))
        for job in s.scalars(
            select(db.HubJob)
            .where(db.HubJob.person_id.in_(list(local_of)) | db.HubJob.id.in_(shared))
            .order_by(db.HubJob.id)
        ):
            if job.status == "done" and _aware(job.updated_at) < since:
                continue
            data = json.loads(job.data)
            # in this device's ids; a person it does not hold keeps the hub's id (a job shared
            # with someone here, whose owner lives elsewhere: "Sam and Priya" is said as far as
            # the device knows the names)
            data["person_id"] = local_of.get(job.person_id, job.person_id)
            data["shared_with"] = [
                local_of.get(p, p)
                for p in s.scalars(
                    select(db.HubJobSharer.person_id)
                    .where(db.HubJobSharer.job_id == job.id)
                    .order_by(db.HubJobSharer.person_id)
                )
            ]
            data["history"] = [
                {
                    "status": e.status,
                    "at": e.at,
                    "help_needed": e.help_needed,
                    "note_answer": e.note_answer,
                }
                # a new date only where there is one: a device of an earlier version, which
                # refuses fields it does not know, still takes the other updates
                | ({"when": e.new_when, "due": e.new_due} if e.new_when else {})
                for e in s.scalars(
                    select(db.HubJobEvent)
                    .where(db.HubJobEvent.job_id == job.id)
                    .order_by(db.HubJobEvent.at, db.HubJobEvent.id)
                )
            ]
            jobs.append(data)
        goals = hub_goals.for_device(s, local_of, lambda a: corrected_words(s, a))
    people.sort(key=lambda p: p["id"])
    return {"format": 1, "people": people, "jobs": jobs, "goals": goals}


def updates_for(hub: Hub, device_id: str) -> bytes:
    """The sealed answer to ``GET /v1/updates``; the cursor is the digest of the payload, so a
    device that holds it already changes nothing."""
    from assistant.sync.downstream import seal_for_device

    payload = json.dumps(payload_for(hub, device_id), sort_keys=True, separators=(",", ":"))
    cursor = hashlib.sha256(payload.encode()).hexdigest()[:32]
    return seal_for_device(
        hub.signing_key(),
        hub._verify_key(device_id),
        UPDATE_KIND,
        payload.encode(),
        device_id=device_id,
        cursor=cursor,
    )


def withdraw_for_staff(hub: Hub, person: str, by: str) -> tuple[db.Person, int]:
    """``assistant hub people withdraw``: find the person, record the withdrawal, delete what
    it covers on the hub (devices follow at their next sync). Returns the person and how many
    clips the hub deleted."""
    who = find_person(hub, person)
    with hub.tx() as s:
        wid, gone = withdrawals.withdraw_on_hub(s, who.id, by)
        s.add(
            db.Audit(
                actor=by,
                action="consent withdrawn",
                target=who.id,
                detail=f"{len(gone)} clip(s) deleted; withdrawal {wid[:8]}",
            )
        )
    withdrawals.unlink_files(hub.blob_path, gone)
    return who, len(gone)
