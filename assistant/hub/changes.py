"""Concurrent changes of a person's own settings or taught words: the later wins, the loser is
kept and shown to staff (the person page, ``assistant hub people list``).

A device sends a person's settings (in each session) and taught words (in a ``words`` bundle)
stamped with when they were last changed there. The hub keeps the latest. A change that
arrives *older* than the one in force, and that the hub has never seen, was made on a device
while another device made a later one: both were real edits, and the earlier is lost. It is
noted with its values (:func:`note`) and shown as a conflict (:func:`conflicts`), so staff
can set or teach it again if it was the better one. A device that simply has not yet heard of
a later change sends a change the hub has seen before: no conflict.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session as DBSession

from assistant.hub import db

WHAT = {"settings": "their own settings", "words": "their taught words"}


def note(
    s: DBSession,
    person_id: str,
    what: str,
    changed_at: str,
    device_id: str | None,
    *,
    in_force: bool,
    detail: str = "",
) -> bool:
    """Note one change received (caller's transaction); False if it was seen before."""
    if s.get(db.HubPersonChange, (person_id, what, changed_at)) is not None:
        return False
    s.add(
        db.HubPersonChange(
            person_id=person_id,
            what=what,
            changed_at=changed_at,
            device_id=device_id,
            in_force=in_force,
            detail=detail[:2000],
        )
    )
    return True


def conflicts(s: DBSession, person_id: str) -> list[dict[str, str]]:
    """The person's changes lost to a later change made elsewhere, oldest first: what, the
    device (by name), when, and what it was."""
    names = {d.id: d.name for d in s.scalars(select(db.Device))}
    return [
        {
            "what": WHAT.get(c.what, c.what),
            "device": names.get(c.device_id or "", "the hub"),
            "at": c.changed_at[:16].replace("T", " "),
            "detail": c.detail,
        }
        for c in s.scalars(
            select(db.HubPersonChange)
            .where(
                db.HubPersonChange.person_id == person_id, db.HubPersonChange.in_force.is_(False)
            )
            .order_by(db.HubPersonChange.changed_at)
        )
    ]


def merge_into(s: DBSession, into: str, away: str) -> None:
    """Staff merged two records of one person: the other's changes are the kept one's."""
    for c in list(
        s.scalars(select(db.HubPersonChange).where(db.HubPersonChange.person_id == away))
    ):
        if s.get(db.HubPersonChange, (into, c.what, c.changed_at)) is None:
            s.add(
                db.HubPersonChange(
                    person_id=into,
                    what=c.what,
                    changed_at=c.changed_at,
                    device_id=c.device_id,
                    in_force=c.in_force,
                    detail=c.detail,
                    received_at=c.received_at,
                )
            )
        s.delete(c)
