"""A person's own settings travel on their own, not only inside that person's next session.

Staff set how the device talks with one person (``assistant people set``: their speaking rate,
how long to wait, buttons only, ...). Each session record carries the person's settings, so
the hub has always heard of a change with the person's next session from that device. A
change made for someone who then has no session there for weeks (they moved to another house,
or only the workshop device sees them) would wait as long. So ``assistant sync`` (and ``sync
export`` onto a stick) also sends, for each person whose settings changed here since the hub
last acknowledged them, one sealed and signed ``settings`` bundle (``PUT
/v1/settings/{person id}``): the settings and when they were changed (``settings_at``).

The hub merges it exactly as the settings in a session (docs/sync.md, "Settings"): the latest
change wins; an earlier change it has not seen is kept as a lost change and shown to staff. A
person the hub does not know yet (never in a session sent from here, never received) is left
to their first session, which carries the same settings (a later change is sent again).
Settings that came down from the hub are marked as the hub's (:func:`mark_sent`), so they are
never sent back.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from assistant.errors import BundleError
from assistant.records.people import PERSON_SETTINGS
from assistant.sync import bundle
from assistant.sync.words import norm_time

if TYPE_CHECKING:
    from assistant.records.store import RecordStore
    from assistant.sync.device import Enrolment

log = logging.getLogger(__name__)

KIND: Final = "settings"


def stamp(at: datetime) -> str:
    """One format for ``settings_at`` on every side (UTC, microseconds)."""
    return norm_time(at.isoformat())


def changed(store: RecordStore) -> list[dict[str, Any]]:
    """The settings documents of the people whose own settings changed here since the hub last
    acknowledged (or sent) them."""
    sent = {
        r["person_id"]: r["sent_at"]
        for r in store.database.read("SELECT person_id, sent_at FROM settings_state")
    }
    out = []
    for person in store.people():
        if person.settings_at is None:
            continue
        at = stamp(person.settings_at)
        if sent.get(person.id) == at:
            continue
        out.append(
            {
                "format": 1,
                "person_id": person.id,
                "name": person.name,
                "settings": {k: getattr(person, k) for k in PERSON_SETTINGS},
                "settings_at": at,
            }
        )
    return out


def mark_sent(db: Any, person_id: str, at: str) -> None:
    """The hub holds these settings (it took them, or sent them): on a connection, so the
    update that brings them can mark them in its own transaction."""
    db.execute(
        "INSERT INTO settings_state (person_id, sent_at) VALUES (?, ?) "
        "ON CONFLICT (person_id) DO UPDATE SET sent_at = excluded.sent_at",
        (person_id, at),
    )


def seal(doc: dict[str, Any], enrolment: Enrolment) -> bytes:
    return bundle.seal(
        KIND,
        doc["person_id"],
        json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(),
        device_id=enrolment.device_id,
        hub_public_key=enrolment.hub_key,
        signing_key=enrolment.signing_seed,
    )


def parse(data: bytes, expected_person: str) -> dict[str, Any]:
    """A ``settings`` bundle's content, checked: the person, a time, and only settings this
    version knows the names of (their values are checked as the record model checks them, by
    the caller). Raises :class:`BundleError` with one plain sentence."""
    what = f"The settings of person {expected_person[:8]}"
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != 1:
            raise ValueError("not a settings bundle")
        settings = doc["settings"]
        if not isinstance(settings, dict):
            raise ValueError("no settings")
        out = {
            "person_id": str(doc["person_id"]),
            "name": " ".join(str(doc.get("name") or "").split())[:200],
            "settings": {k: v for k, v in settings.items() if k in PERSON_SETTINGS},
            "settings_at": norm_time(str(doc["settings_at"])),
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{what} could not be read: {exc}.") from exc
    if out["person_id"] != expected_person:
        raise BundleError(f"{what} name another person.")
    unknown = set(settings) - set(PERSON_SETTINGS)
    if unknown:  # from a newer device: left out, never a reason to refuse the rest
        log.info("Settings this hub does not know were left out: %s.", ", ".join(sorted(unknown)))
    return out
