"""Taught words on the hub: kept from every device, sent to every device that holds the person.

A device sends a person's words in a sealed ``words`` bundle (``PUT /v1/words/{person id}``,
:func:`store_words`); the hub keeps their word-consent decisions (a union, by each decision's
id), the set of examples of the latest change on any device (``changed_at``), and the audio
of those examples in ``<home>/words/``. What it holds is sent with the person
(:func:`for_person`, in ``GET /v1/updates``); a device fetches the audio it lacks, one
example at a time, sealed to it and signed by the hub (:func:`example_for_device`).

The rule, the same on the hub and every device (:mod:`assistant.sync.words`): the decision in
force is the latest by time; an example stands only while consent is in force and if it was
kept after the latest withdrawal (or no). A withdrawal made anywhere therefore deletes the
examples on the hub at once, and on each device at its next contact.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session as DBSession

from assistant.errors import BundleError
from assistant.hub import changes, db, withdrawals
from assistant.hub.errors import HubFull, MissingClips, NotYours, full_or
from assistant.sync import bundle
from assistant.sync import words as device_words

if TYPE_CHECKING:
    from assistant.hub.service import Hub

log = logging.getLogger(__name__)

WORDS_DIR = "words"


def example_path(home: Path, sha256: str) -> Path:
    if not bundle.is_sha256(sha256):
        raise BundleError("An example's name must be a sha256 (64 hex digits).")
    return home / WORDS_DIR / sha256[:2] / f"{sha256}.wav"


def people_of_device(s: DBSession, device_id: str) -> set[str]:
    """The hub people a device holds: assigned to it, or first seen on it."""
    return set(
        s.scalars(select(db.PersonDevice.person_id).where(db.PersonDevice.device_id == device_id))
    ) | set(s.scalars(select(db.Person.id).where(db.Person.device_id == device_id)))


def _in_force(s: DBSession, person_id: str) -> tuple[bool, str | None]:
    """Whether consent to keep the examples is in force, and when the latest no was said."""
    return device_words.consent_in_force(
        (r.at, r.allowed)
        for r in s.scalars(
            select(db.HubWordConsent).where(db.HubWordConsent.person_id == person_id)
        )
    )


def store_words(hub: Hub, ident: str, data: bytes, *, device_id: str | None) -> bool:
    """Take a device's ``words`` bundle. True if anything changed, False if the hub had it all.
    Raises :class:`MissingClips` (424) naming examples whose audio it does not hold."""
    if not bundle.is_uuid(ident):
        raise BundleError("A person's id must be a UUID.")
    opened = hub._open(data, "words", ident, device_id)
    doc = device_words.parse(opened.payload, ident)
    sender = opened.header.device_id
    home = hub.home
    for sha, audio in doc["audio"].items():  # by hash: writing one twice writes the same bytes
        path = example_path(home, sha)
        if not path.is_file():
            from assistant.sync.device import write_private

            try:
                write_private(path, audio)
            except OSError as exc:
                raise HubFull(f"The hub could not keep an example: {exc}.") from exc
    try:
        with hub.tx() as s:
            person = withdrawals.hub_person(s, sender, ident, "The taught words name")
            changed = False
            for c in doc["consent"]:
                if s.get(db.HubWordConsent, c["uid"]) is None:
                    s.add(
                        db.HubWordConsent(
                            uid=c["uid"],
                            person_id=person,
                            allowed=c["allowed"],
                            withdrawal=c["withdrawal"],
                            at=c["at"],
                            method=c["method"],
                            witnessed_by=c["witnessed_by"],
                            device_id=sender,
                        )
                    )
                    changed = True
            s.flush()
            allowed, cutoff = _in_force(s, person)
            held = s.get(db.HubWordSet, person)
            rows = {
                r.sha256: r
                for r in s.scalars(
                    select(db.HubWordExample).where(db.HubWordExample.person_id == person)
                )
            }
            if held is None or doc["changed_at"] > held.changed_at:
                if held is None:
                    held = db.HubWordSet(person_id=person, changed_at=doc["changed_at"])
                    s.add(held)
                held.changed_at, held.device_id = doc["changed_at"], sender
                held.received_at = datetime.now(UTC)
                target = {e["sha256"]: e for e in doc["examples"]}
                changed = True
                changes.note(s, person, "words", doc["changed_at"], sender, in_force=True)
            else:
                theirs = {e["sha256"] for e in doc["examples"]}
                if doc["changed_at"] != held.changed_at and theirs != set(rows) and allowed:
                    # taught here while a later change was made elsewhere: lost, for staff
                    changes.note(
                        s,
                        person,
                        "words",
                        doc["changed_at"],
                        sender,
                        in_force=False,
                        detail=_count_words(doc["examples"]),
                    )
                target = {
                    sha: {"word": r.word, "source": r.source, "kept_at": r.kept_at}
                    for sha, r in rows.items()
                }
            target = {
                sha: e
                for sha, e in target.items()
                if device_words.example_stands(e["kept_at"], allowed, cutoff)
            }
            missing = sorted(
                sha for sha in target if sha not in rows and not example_path(home, sha).is_file()
            )
            if missing:
                raise MissingClips(missing)
            gone = [sha for sha in rows if sha not in target]
            for sha in gone:
                s.delete(rows[sha])
            for sha, e in target.items():
                if sha not in rows:
                    s.add(
                        db.HubWordExample(
                            person_id=person,
                            sha256=sha,
                            word=e["word"],
                            source=e["source"],
                            kept_at=e["kept_at"],
                            size=example_path(home, sha).stat().st_size,
                        )
                    )
            if gone and not allowed:
                s.add(
                    db.Audit(
                        actor=f"device {sender[:8]}",
                        action="word consent withdrawn",
                        target=person,
                        detail=f"{len(gone)} example(s) of taught words deleted",
                    )
                )
            changed = changed or bool(gone)
    except IntegrityError:
        return False  # the same bundle stored at the same moment
    except OperationalError as exc:
        raise full_or(exc) from exc
    unlink_unreferenced(hub, set(gone) | set(doc["audio"]))
    return changed


def _count_words(examples: list[dict[str, Any]]) -> str:
    listed = ", ".join(f"{w} {n}" for w, n in sorted(Counter(e["word"] for e in examples).items()))
    return f"examples: {listed}" if listed else "no examples"


def unlink_unreferenced(hub: Hub, shas: set[str]) -> None:
    """Remove the audio of examples nobody's set holds (after the transaction committed)."""
    with hub.tx() as s:
        live = set(
            s.scalars(
                select(db.HubWordExample.sha256).where(db.HubWordExample.sha256.in_(list(shas)))
            )
        )
    for sha in shas - live:
        example_path(hub.home, sha).unlink(missing_ok=True)


def for_person(s: DBSession, person_id: str) -> dict[str, Any] | None:
    """The person's words as a device receives them (no audio), or None: nothing held."""
    held = s.get(db.HubWordSet, person_id)
    consent = list(
        s.scalars(
            select(db.HubWordConsent)
            .where(db.HubWordConsent.person_id == person_id)
            .order_by(db.HubWordConsent.at, db.HubWordConsent.uid)
        )
    )
    if held is None and not consent:
        return None
    examples = s.scalars(
        select(db.HubWordExample)
        .where(db.HubWordExample.person_id == person_id)
        .order_by(db.HubWordExample.kept_at, db.HubWordExample.sha256)
    )
    return {
        "changed_at": held.changed_at if held else max(c.at for c in consent),
        "consent": [
            {
                "uid": c.uid,
                "allowed": c.allowed,
                "withdrawal": c.withdrawal,
                "at": c.at,
                "method": c.method,
                "witnessed_by": c.witnessed_by,
            }
            for c in consent
        ],
        "examples": [
            {"word": e.word, "sha256": e.sha256, "source": e.source, "kept_at": e.kept_at}
            for e in examples
        ],
    }


def counts(s: DBSession, person_id: str) -> dict[str, int]:
    """How many examples of each word the hub holds for the person (the person page)."""
    return dict(
        Counter(
            s.scalars(
                select(db.HubWordExample.word).where(db.HubWordExample.person_id == person_id)
            )
        )
    )


def examples_of_device(hub: Hub, device_id: str) -> list[str]:
    """Every example of the people a device holds (written to a stick for it)."""
    with hub.tx() as s:
        theirs = people_of_device(s, device_id)
        return sorted(
            set(
                s.scalars(
                    select(db.HubWordExample.sha256).where(
                        db.HubWordExample.person_id.in_(list(theirs))
                    )
                )
            )
        )


def example_for_device(hub: Hub, device_id: str, sha256: str) -> bytes:
    """One example's audio, sealed to the device and signed by the hub, if it is an example of
    a person the device holds (else :class:`NotYours`)."""
    from assistant.sync.downstream import seal_for_device

    path = example_path(hub.home, sha256)
    with hub.tx() as s:
        theirs = people_of_device(s, device_id)
        owner = s.scalars(
            select(db.HubWordExample.person_id).where(
                db.HubWordExample.sha256 == sha256,
                db.HubWordExample.person_id.in_(list(theirs)),
            )
        ).first()
    if owner is None or not path.is_file():
        raise NotYours(f"The example {sha256[:12]} is not one this device holds.")
    return seal_for_device(
        hub.signing_key(),
        hub._verify_key(device_id),
        device_words.EXAMPLE_KIND,
        path.read_bytes(),
        device_id=device_id,
        cursor=sha256,
    )


def merge_into(s: DBSession, into: str, away: str) -> list[str]:
    """Staff merged two records of one person: the other's word-consent decisions and examples
    become the kept one's (a union, as a device merging them does), changed when the later of
    the two was; examples the decision in force no longer covers go. Returns the sha256 of
    examples dropped (the caller removes unreferenced audio after the commit)."""
    for c in s.scalars(select(db.HubWordConsent).where(db.HubWordConsent.person_id == away)):
        c.person_id = into
    for e in list(s.scalars(select(db.HubWordExample).where(db.HubWordExample.person_id == away))):
        if s.get(db.HubWordExample, (into, e.sha256)) is None:
            s.add(
                db.HubWordExample(
                    person_id=into,
                    sha256=e.sha256,
                    word=e.word,
                    source=e.source,
                    kept_at=e.kept_at,
                    size=e.size,
                )
            )
        s.delete(e)
    theirs, mine = s.get(db.HubWordSet, away), s.get(db.HubWordSet, into)
    if theirs is not None:
        if mine is None:
            s.add(db.HubWordSet(person_id=into, changed_at=theirs.changed_at, device_id=None))
        elif theirs.changed_at > mine.changed_at:
            mine.changed_at = theirs.changed_at
        s.delete(theirs)
    s.flush()
    allowed, cutoff = _in_force(s, into)
    gone = []
    for e in list(s.scalars(select(db.HubWordExample).where(db.HubWordExample.person_id == into))):
        if not device_words.example_stands(e.kept_at, allowed, cutoff):
            gone.append(e.sha256)
            s.delete(e)
    return gone


def withdraw_for_staff(hub: Hub, who: db.Person, by: str) -> int:
    """Staff record that the person withdrew consent to keep examples of their words (they told
    staff): the hub deletes every example now, and each device that holds them at its next
    sync (:func:`assistant.sync.words.apply_words`). Returns how many the hub deleted."""
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    with hub.tx() as s:
        s.add(
            db.HubWordConsent(
                uid=uuid.uuid4().hex,
                person_id=who.id,
                allowed=False,
                withdrawal=True,
                at=now,
                method="staff_recorded",
                witnessed_by=by[:200],
                device_id=None,
            )
        )
        held = s.get(db.HubWordSet, who.id)
        if held is None:
            s.add(db.HubWordSet(person_id=who.id, changed_at=now, device_id=None))
        else:
            held.changed_at, held.device_id = now, None
        changes.note(s, who.id, "words", now, None, in_force=True)
        examples = list(
            s.scalars(select(db.HubWordExample).where(db.HubWordExample.person_id == who.id))
        )
        gone = [e.sha256 for e in examples]
        for e in examples:
            s.delete(e)
        s.add(
            db.Audit(
                actor=by,
                action="word consent withdrawn",
                target=who.id,
                detail=f"{len(gone)} example(s) of taught words deleted",
            )
        )
    unlink_unreferenced(hub, set(gone))
    return len(gone)
