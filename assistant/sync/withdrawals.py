"""Consent withdrawn anywhere wins everywhere: a withdrawal travels up, then down to every device.

A person may withdraw consent to keep their voice on any device (at a session, or staff with
``assistant people withdraw``) or on the hub (``assistant hub people withdraw``). The device
deletes its own clips of theirs at once (:meth:`PeopleRepository.withdraw_consent`); then:

* **Up.** Each withdrawal has one id, the same everywhere. ``assistant sync`` sends the
  device's unsent withdrawals *before* any session, each as a sealed and signed ``consent``
  bundle (``PUT /v1/consent/{id}``; on a stick as ``consent/<id>.bundle``); it is marked sent
  when the hub acknowledges it. The hub deletes every clip it covers
  (:func:`~assistant.records.withdrawal_rule.covered_clips`).
* **Down.** The hub sends each person's withdrawals with the person (``GET /v1/updates``); a
  device that holds the person records each withdrawal once and deletes the clips it covers
  (:meth:`PeopleRepository.apply_withdrawal`), so consent withdrawn on one device deletes the
  person's clips on every device at its next contact.

**What a withdrawal covers** (one rule, in :mod:`assistant.records.withdrawal_rule`, used by the
hub and the devices alike): in every session the person took part in whose record does not
hold a grant given *after* the withdrawal (they agreed again later), their answers' clips,
the recording of their name, and
the whole-group answers' clips (a group's audio holds everyone's voice). The words are kept.
A clip a device deleted is not uploaded; the hub does not wait for a clip a withdrawal it holds
covers, and a covered clip that reaches it anyway is deleted on arrival and answered "already
here" from then on.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assistant.core import ids_check
from assistant.errors import BundleError
from assistant.records.withdrawal_rule import aware, covered_clips, grant_after
from assistant.sync import bundle

if TYPE_CHECKING:
    from assistant.sync.device import Enrolment

log = logging.getLogger(__name__)

__all__ = ["aware", "covered_clips", "grant_after", "parse", "payload", "seal"]

KIND = "consent"
MAX_TEXT = 200


def payload(withdrawal: dict[str, Any]) -> bytes:
    """The canonical bytes of one withdrawal (what the ``consent`` bundle holds)."""
    doc = {
        "format": 1,
        "id": withdrawal["id"],
        "person_id": withdrawal["person_id"],
        "at": aware(datetime.fromisoformat(str(withdrawal["at"]))).isoformat(),
        "method": str(withdrawal.get("method") or "staff_recorded")[:40],
        "witnessed_by": withdrawal.get("witnessed_by"),
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def parse(data: bytes, expected_id: str) -> dict[str, Any]:
    """A withdrawal from an opened bundle, checked: ids, time and sizes. Raises BundleError."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != 1:
            raise ValueError("not a withdrawal")
        at = aware(datetime.fromisoformat(str(doc["at"])))
        out = {
            "id": str(doc["id"]),
            "person_id": str(doc["person_id"]),
            "at": at.isoformat(),
            "method": str(doc.get("method") or "staff_recorded"),
            "witnessed_by": None if doc.get("witnessed_by") is None else str(doc["witnessed_by"]),
        }
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise BundleError(f"Withdrawal {expected_id[:8]} is not readable.") from exc
    if out["id"] != expected_id:
        raise BundleError(f"Withdrawal {expected_id[:8]} holds a different id.")
    if not ids_check.is_uuid(out["person_id"]):
        raise BundleError(f"Withdrawal {expected_id[:8]} names a person with a bad id.")
    if len(str(out["method"])) > 40 or len(str(out["witnessed_by"] or "")) > MAX_TEXT:
        raise BundleError(f"Withdrawal {expected_id[:8]} has a field that is too long.")
    return out


def seal(withdrawal: dict[str, Any], enrolment: Enrolment) -> bytes:
    return bundle.seal(
        "consent",
        str(withdrawal["id"]),
        payload(withdrawal),
        device_id=enrolment.device_id,
        hub_public_key=enrolment.hub_key,
        signing_key=enrolment.signing_seed,
    )


def unsent(source: object) -> list[dict[str, Any]]:
    """The source's withdrawals the hub has not acknowledged (none for a source without any)."""
    fetch = getattr(source, "unsent_withdrawals", None)
    return list(fetch()) if callable(fetch) else []


def withdrawn_shas(source: object) -> set[str]:
    """Clips the source deleted because consent was withdrawn: never uploaded."""
    fetch = getattr(source, "withdrawn_clips", None)
    return {str(r["sha256"]) for r in fetch()} if callable(fetch) else set()
