"""Receiving this device's people and jobs from the hub: :func:`pull_updates`.

``GET /v1/updates`` answers with an update sealed to this device and signed by the hub
(:func:`assistant.sync.downstream.open_from_hub`): the people assigned to this device or first
seen on it (in this device's own ids), their consent in force, and their jobs with their status
history. It is applied to the record store in **one transaction**, with the cursor (the digest
of what was applied) saved in the same transaction, so a crash leaves either all of it or none.

The merge rules (docs/sync.md):

* a person is matched by id; a new one is added (and remembered as sent by the hub); a known
  one takes the hub's name, unless another person on this device already has that name (then
  it is left as it is and reported);
* the hub's consent decision is recorded once, unless it is older than what the device holds
  (:meth:`PeopleRepository.merge_consent`); each withdrawal of consent the hub sends (made on
  another device or on the hub) is recorded once and deletes the clips it covers
  (:mod:`assistant.sync.withdrawals`);
* a job the device holds itself is never copied: the hub's status events are added to its
  history (which only grows); any other job is kept in ``received_jobs``, replaced by the
  hub's newer copy each time.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from assistant.errors import BundleError, RecordError, SyncError
from assistant.records.db import iso
from assistant.records.jobs import insert_job_event
from assistant.records.merge import merge_alias
from assistant.records.model import Consent, Goal, Job, JobEvent, Person
from assistant.sync import own_settings
from assistant.sync.device import Enrolment
from assistant.sync.words import apply_words

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.records.store import RecordStore
    from assistant.sync.client import HubClient

log = logging.getLogger(__name__)

UPDATE_KIND = "people"


@dataclass
class UpdatesReport:
    people_added: int = 0
    people_updated: int = 0
    people_merged: int = 0  # local people merged into another, as staff merged them on the hub
    people_dropped: int = 0  # no longer sent by the hub (staff stopped sending them here)
    settings_updated: int = 0  # people whose own settings were changed on another device
    jobs_received: int = 0
    goals_received: int = 0
    jobs_corrected: int = 0  # this device's own jobs whose words staff corrected on the hub
    withdrawals: int = 0  # withdrawals of consent made elsewhere, applied here
    words_updated: int = 0  # people whose taught words were changed on another device
    words_deleted: int = 0  # examples deleted here for a word-consent withdrawal made elsewhere
    unchanged: bool = False
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.unchanged or not (
            self.people_added
            or self.people_updated
            or self.people_merged
            or self.settings_updated
            or self.people_dropped
            or self.jobs_received
            or self.withdrawals
            or self.words_updated
            or self.words_deleted
        ):
            return []  # nothing new: nothing to say (the timer's log stays quiet)
        lines = [
            f"From the hub: {self.people_added} people added, {self.people_updated} updated, "
            f"{self.jobs_received} jobs received."
        ]
        if self.people_merged:
            lines.append(
                f"{self.people_merged} person record(s) here merged into another, as staff "
                "merged them on the hub."
            )
        if self.people_dropped:
            lines.append(
                f"{self.people_dropped} person(s) are no longer given to this device by staff: "
                "taken off its list (their finished sessions still go to the hub)."
            )
        if self.settings_updated:
            lines.append(
                f"{self.settings_updated} person(s) had their own settings changed on another "
                "device: kept here too."
            )
        if self.jobs_corrected:
            lines.append(f"{self.jobs_corrected} job(s) made here were corrected by staff.")
        if self.withdrawals:
            lines.append(
                f"{self.withdrawals} withdrawal(s) of consent made elsewhere: their recordings "
                "on this device were deleted."
            )
        if self.words_updated:
            lines.append(
                f"{self.words_updated} person(s) had their taught words changed on another device."
            )
        if self.words_deleted:
            lines.append(
                f"{self.words_deleted} example(s) of taught words deleted: consent to keep them "
                "was withdrawn elsewhere."
            )
        return lines


def last_pull(store: RecordStore) -> dict[str, Any] | None:
    """The last update applied: when, its cursor, and what it held (``sync status``)."""
    rows = store.database.read("SELECT value FROM meta WHERE key = 'hub_last_pull'")
    return json.loads(rows[0]["value"]) if rows else None


def _known(
    model: type[Job] | type[JobEvent] | type[Goal], data: dict[str, Any], what: str
) -> dict[str, Any]:
    """*data* without the fields *model* does not have (each left out is logged)."""
    dropped = sorted(set(data) - set(model.model_fields))
    if dropped:
        log.info(
            "%s from the hub has fields this version does not use: %s (left out).",
            what,
            ", ".join(dropped),
        )
    return {k: v for k, v in data.items() if k in model.model_fields}


def job_from_hub(data: dict[str, Any]) -> Job:
    """A job from the hub, with the fields this version knows. Devices of a charity are updated
    one at a time, so a job may come from a newer device with a field this one does not know:
    the field is left out (and logged), never a reason to refuse the whole update."""
    known = _known(Job, data, "A job")
    known["history"] = [
        _known(JobEvent, e, "A job's status update") for e in data.get("history") or []
    ]
    return Job.model_validate(known)


def _take_settings(db: Any, person_id: str, sent: dict[str, Any]) -> bool:
    """The person's own settings from the hub, if they were changed later than the ones here
    (the latest change, on any device, wins). A setting this version does not know, or a value
    it would refuse, is left out (logged)."""
    from datetime import datetime

    from assistant.records.people import PERSON_SETTINGS

    settings, at = sent.get("settings"), sent.get("settings_at")
    if not isinstance(settings, dict) or not at:
        return False
    row = db.execute("SELECT data FROM people WHERE id = ?", (person_id,)).fetchone()
    if row is None:
        return False
    person = Person.model_validate_json(row[0])
    theirs = datetime.fromisoformat(str(at))
    if person.settings_at is not None and _utc(person.settings_at) == _utc(theirs):
        # the hub holds ours (sent by network or by stick): nothing to send again
        own_settings.mark_sent(db, person_id, own_settings.stamp(theirs))
        return False
    if person.settings_at is not None and _utc(person.settings_at) > _utc(theirs):
        return False
    data = person.model_dump(exclude={"consent", "name_clip"})
    for key, value in settings.items():
        if key in PERSON_SETTINGS:
            data[key] = value
        else:
            log.info("A person's setting from the hub this version does not use: %s.", key)
    data["settings_at"] = theirs
    try:
        updated = Person.model_validate(data)
    except ValueError as exc:
        log.warning("The settings from the hub for %s were not kept: %s", person.name, exc)
        return False
    db.execute(
        "UPDATE people SET data = ? WHERE id = ?",
        (updated.model_dump_json(exclude={"consent", "name_clip"}), person_id),
    )
    own_settings.mark_sent(db, person_id, own_settings.stamp(theirs))  # the hub's: not sent back
    return True


def _was_sent(db: Any, person_id: str) -> bool:
    return (
        db.execute("SELECT 1 FROM hub_people WHERE person_id = ?", (person_id,)).fetchone()
        is not None
    )


def _drop_unsent(db: Any, sent: set[str], jobs: set[str], now: str) -> int:
    """The update is the whole of what this device should hold (a device keeps only the people
    and plans of its place): a person the hub sent before and no longer sends (staff stopped
    sending them here) is taken off the roster, and a job received from the hub that it no
    longer sends is dropped. Their finished sessions stay until sent; the device's own jobs,
    its people added here and not yet known to the hub, are never touched. Returns how many
    people were taken off."""
    dropped = 0
    for (pid,) in db.execute("SELECT person_id FROM hub_people").fetchall():
        if pid in sent:
            continue
        db.execute(
            "UPDATE people SET removed_at = ? WHERE id = ? AND removed_at IS NULL", (now, pid)
        )
        db.execute("DELETE FROM hub_people WHERE person_id = ?", (pid,))
        dropped += 1
    for (job_id,) in db.execute("SELECT id FROM received_jobs").fetchall():
        if job_id not in jobs:
            db.execute("DELETE FROM received_jobs WHERE id = ?", (job_id,))
    return dropped


def _take_goals(db: Any, goals: list[Any], now: str) -> int:
    """The goals the hub sends (the whole of them: replaced each time), each with the time of
    its copy; a goal this version cannot read is left out (logged)."""
    db.execute("DELETE FROM received_goals")
    kept = 0
    for item in goals:
        try:
            goal = Goal.model_validate(_known(Goal, dict(item["goal"]), "A goal"))
            at = _utc(datetime.fromisoformat(str(item["at"]))).isoformat()
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("A goal from the hub was not kept: %s", exc)
            continue
        db.execute(
            "INSERT INTO received_goals (id, at, data, received_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET at = excluded.at, data = excluded.data",
            (goal.id, at, goal.model_dump_json(), now),
        )
        kept += 1
    return kept


def _utc(at: Any) -> Any:
    from datetime import UTC

    return at if at.tzinfo else at.replace(tzinfo=UTC)


def apply_update(
    store: RecordStore,
    body: dict[str, Any],
    cursor: str,
    *,
    made_at: str = "",
    via: str = "network",
) -> UpdatesReport:
    """Apply one opened update to the record store, in one transaction. *made_at* (when the
    hub made it, from its signed header) and *via* ("network" or "stick") are kept with the
    cursor: a stick's update older than one already applied is not used (:mod:`.stick`)."""
    report = UpdatesReport()
    before = last_pull(store)
    if before is not None and before.get("cursor") == cursor and cursor:
        report.unchanged = True
        return report
    people = [dict(p) for p in body["people"]]
    jobs = [job_from_hub(j) for j in body["jobs"]]
    repo = store.people_repo
    db_ = store.database
    now = iso(db_.now())
    deleted: set[str] = set()
    sent_ids: set[str] = set()
    word_files: set[str] = set()
    incomplete = False  # an example's audio is missing: this update is applied again next time

    def size_of(sha: str) -> int | None:
        path = store.words.path(sha)
        return path.stat().st_size if path.is_file() else None

    with db_.tx() as db:
        for p in people:
            pid, name = str(p["id"]), " ".join(str(p["name"]).split())
            merged = [a for a in p.get("aliases") or [] if merge_alias(db, str(a), pid, name, now)]
            if merged:  # staff merged two records of this person on the hub
                report.people_merged += len(merged)
                deleted.update(repo.cover_after_merge(db, pid))
            row = db.execute(
                "SELECT name, data, removed_at FROM people WHERE id = ?", (pid,)
            ).fetchone()
            sent_ids.add(pid)
            clash = db.execute(
                "SELECT id FROM people WHERE name = ? COLLATE NOCASE AND removed_at IS NULL "
                "AND id != ?",
                (name, pid),
            ).fetchone()
            if clash:
                report.problems.append(
                    f"The hub sends {name}, but this device already has someone else called "
                    f"{name}: staff link them on the hub. They were not changed."
                )
                continue
            if row is not None and row[2] is not None and not _was_sent(db, pid):
                # taken off this device when staff stopped sending them; given to it again
                db.execute("UPDATE people SET removed_at = NULL WHERE id = ?", (pid,))
                report.people_added += 1
            if row is None:
                person = Person(id=pid, name=name)
                db.execute(
                    "INSERT INTO people (id, name, data, added_at) VALUES (?, ?, ?, ?)",
                    (pid, name, person.model_dump_json(exclude={"consent"}), now),
                )
                report.people_added += 1
            elif row[0] != name:
                person = Person.model_validate_json(row[1]).model_copy(update={"name": name})
                db.execute(
                    "UPDATE people SET name = ?, data = ? WHERE id = ?",
                    (name, person.model_dump_json(exclude={"consent"}), pid),
                )
                report.people_updated += 1
            if _take_settings(db, pid, p):
                report.settings_updated += 1
            if isinstance(p.get("words"), dict):
                replaced, withdrawn, word_shas, whole = apply_words(
                    db, pid, p["words"], now, size_of
                )
                report.words_updated += int(replaced)
                report.words_deleted += withdrawn
                word_files |= word_shas
                incomplete = incomplete or not whole
            db.execute(
                "INSERT INTO hub_people (person_id, hub_id, received_at) VALUES (?, ?, ?) "
                "ON CONFLICT (person_id) DO UPDATE SET received_at = excluded.received_at",
                (pid, str(p.get("hub_id") or pid), now),
            )
            for withdrawal in p.get("withdrawals") or []:
                shas = repo.apply_withdrawal(db, pid, withdrawal)
                if shas is not None:
                    report.withdrawals += 1
                    deleted.update(shas)
            consent = Consent.model_validate(p["consent"]) if p.get("consent") else None
            if consent is not None and not consent.withdrawn:  # withdrawals: just above
                repo.merge_consent(db, pid, consent)
        report.people_dropped = _drop_unsent(db, sent_ids, {j.id for j in jobs}, now)
        for job in jobs:
            held = db.execute(
                "SELECT session_id, data FROM jobs WHERE id = ?", (job.id,)
            ).fetchone()
            if held is not None:  # the device's own job: its history grows
                for e in job.history:
                    insert_job_event(db, job.id, e, held[0])
                mine = Job.model_validate_json(held[1])
                if job.what.strip() and job.what != mine.what:
                    # only this device changes a job's words, so other words from the hub are
                    # a staff correction (of the answer the job was made from): they stand
                    mine.what = job.what
                    db.execute(
                        "UPDATE jobs SET data = ? WHERE id = ?", (mine.model_dump_json(), job.id)
                    )
                    report.jobs_corrected += 1
            else:
                db.execute(
                    "INSERT INTO received_jobs (id, person_id, data, history, received_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "person_id = excluded.person_id, data = excluded.data, "
                    "history = excluded.history, received_at = excluded.received_at",
                    (
                        job.id,
                        job.person_id,
                        job.model_dump_json(exclude={"history"}),
                        json.dumps([e.model_dump(mode="json") for e in job.history]),
                        now,
                    ),
                )
            report.jobs_received += 1
        if isinstance(body.get("goals"), list):  # a hub from before goals sends none
            report.goals_received = _take_goals(db, body["goals"], now)
        summary = {
            "at": now,
            "cursor": cursor + "-partial" if incomplete else cursor,
            "made_at": made_at,
            "via": via,
            "people": len(people),
            "jobs": len(jobs),
            "problems": report.problems,
        }
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('hub_last_pull', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (json.dumps(summary),),
        )
    if deleted:  # the rows are marked in the transaction; the files go once it is committed
        store.folder.delete_unreferenced(deleted)
    if word_files:
        store.words.delete_unreferenced(word_files)
    return report


def fetch_examples(
    client: HubClient,
    store: RecordStore,
    body: dict[str, Any],
    open_: Callable[[bytes], tuple[str, bytes]],
) -> list[str]:
    """Fetch the examples the update names and this device lacks; returns problems (an example
    not fetched leaves that person's words as they are until the next sync)."""
    from assistant.sync.client import _check_auth, _detail
    from assistant.sync.words import EXAMPLE_KIND, keep_example, missing_examples

    problems: list[str] = []
    for sha in missing_examples(store, body):
        response = client.request("GET", f"/v1/words/{sha}")
        _check_auth(response)
        if response.status_code != 200:
            problems.append(f"The example {sha[:12]} was not sent: {_detail(response)}")
            continue
        try:
            kind, data = open_(response.content)
            if kind != EXAMPLE_KIND:
                raise BundleError(f"The hub sent {kind!r} where an example was expected.")
            keep_example(store, sha, data)
        except (BundleError, RecordError) as exc:
            problems.append(str(exc))
    return problems


def pull_updates(
    settings: Settings,
    store: RecordStore,
    *,
    enrolment: Enrolment | None = None,
    client: HubClient | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> UpdatesReport:
    """Bring this device's people and jobs up to date with the hub. Raises
    :class:`~assistant.errors.HubUnreachable` when offline (nothing is changed then); an update
    that is not signed by the hub, altered, or sealed for another device changes nothing."""
    from assistant.sync.client import HubClient, _check_auth, _detail
    from assistant.sync.downstream import UpdateRefused, open_from_hub, read_header
    from assistant.sync.scripts import _hub_verify

    enrolment = enrolment or Enrolment.load(settings.data_dir)
    report = UpdatesReport()
    own = client is None
    if client is None:
        client = HubClient(
            enrolment.hub_url,
            enrolment.token,
            timeout_s=settings.sync.timeout_s,
            max_attempts=settings.sync.max_attempts,
            sleep=sleep,
            transport=transport,
        )
    try:
        verify = _hub_verify(client, settings.data_dir, enrolment)
        if verify is None:
            report.problems.append("The hub has no signing key yet, so nothing can be received.")
            return report
        response = client.request("GET", "/v1/updates")
        _check_auth(response)
        if response.status_code == 404:  # a hub from before people were shared
            return report
        if response.status_code != 200:
            report.problems.append(
                f"The hub did not send this device's people: {_detail(response)}"
            )
            return report
        try:
            kind, payload = open_from_hub(enrolment.signing_seed, verify, response.content)
            if kind != UPDATE_KIND:
                raise UpdateRefused(f"The hub sent {kind!r} where people were expected.")
            header = read_header(response.content)
            body = json.loads(payload)
            fetched = fetch_examples(
                client, store, body, lambda b: open_from_hub(enrolment.signing_seed, verify, b)
            )
            got = apply_update(
                store,
                body,
                str(header.get("cursor") or ""),
                made_at=str(header.get("created_at") or ""),
            )
            got.problems.extend(fetched)
            return got
        except (UpdateRefused, ValueError, KeyError, TypeError, RecordError) as exc:
            report.problems.append(f"The people and jobs from the hub were not used: {exc}")
            log.warning("people and jobs not updated: %s", exc)
            return report
    except SyncError:
        raise
    finally:
        if own:
            client.close()
