"""A person's own settings on the hub: the latest change, from a session or on their own.

A device sends a person's own settings inside each session record, and on their own when they
changed there (a sealed ``settings`` bundle, ``PUT /v1/settings/{person id}``,
:mod:`assistant.sync.own_settings`). Both are merged by :func:`merge`: the latest change wins;
an earlier change the hub has not seen before was made while another device made a later one,
and is kept and shown to staff as a lost change (:mod:`assistant.hub.changes`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session as DBSession

from assistant.errors import BundleError
from assistant.hub import changes, db, withdrawals
from assistant.records.model import Person
from assistant.records.people import PERSON_SETTINGS, settings_lines
from assistant.sync import own_settings as device_settings

if TYPE_CHECKING:
    from assistant.hub.service import Hub


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def merge(s: DBSession, row: db.Person, person: Person, device_id: str | None) -> bool:
    """The device's copy of the person's own settings (*person*, with ``settings_at``) against
    the hub's (*row*); True when it is now the one in force (caller's transaction)."""
    if person.settings_at is None:
        return False
    at = _aware(person.settings_at).astimezone(UTC).isoformat()
    values = json.dumps({k: getattr(person, k) for k in PERSON_SETTINGS}, sort_keys=True)
    later = row.settings_at is None or _aware(datetime.fromisoformat(row.settings_at)) < _aware(
        person.settings_at
    )
    if later:
        row.settings_json, row.settings_at = values, at
        changes.note(s, row.id, "settings", at, device_id, in_force=True)
        return True
    if at != row.settings_at and values != row.settings_json:
        # made there while a later change was made elsewhere: lost, shown to staff
        said = "; ".join(settings_lines(person)) or "the device's own settings"
        changes.note(s, row.id, "settings", at, device_id, in_force=False, detail=said)
    return False


def store_settings(
    hub: Hub, ident: str, data: bytes, *, device_id: str | None
) -> tuple[bool, bool]:
    """Take a device's ``settings`` bundle: (whether the hub knows the person, whether the
    settings are now the ones in force). A person the hub does not know yet is not made here:
    their first session from that device makes them, with the same settings."""
    opened = hub._open(data, device_settings.KIND, ident, device_id)
    doc = device_settings.parse(opened.payload, ident)
    sender = opened.header.device_id
    try:
        person = Person.model_validate(
            {
                "id": ident,
                "name": doc["name"] or "someone",
                **doc["settings"],
                "settings_at": doc["settings_at"],
            }
        )
    except ValueError as exc:
        raise BundleError(f"The settings of person {ident[:8]} cannot be kept: {exc}.") from exc
    with hub.tx() as s:
        row = s.get(db.Person, withdrawals.hub_person(s, sender, ident, "The settings name"))
        if row is None:  # never seen: their first session makes them, with these settings
            return False, False
        return True, merge(s, row, person, sender)
