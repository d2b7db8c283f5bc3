"""The one rule of what a withdrawal of consent covers, shared by the devices and the hub.

In every session the person took part in whose record does not hold a grant given *after* the
withdrawal (they agreed again later): their answers' clips, the recording of their name, and
the whole-group answers' clips (a group's audio holds everyone's voice). The words are kept.
Pure functions over records: no I/O (see :mod:`assistant.sync.withdrawals` for how a
withdrawal travels).
"""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.records.model import Consent, SessionRecord


def aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def grant_after(consent: Consent | None, at: datetime) -> bool:
    """Whether *consent* (a session's) is a grant given after a withdrawal dated *at*."""
    return (
        consent is not None
        and consent.audio
        and not consent.withdrawn
        and aware(consent.at) > aware(at)
    )


def covered_clips(record: SessionRecord, person_id: str, at: datetime) -> set[str]:
    """The clips of *record* that a withdrawal by *person_id* (a local id of the record's
    device), dated *at*, covers: see the module's rule."""
    person = next((p for p in record.people if p.id == person_id), None)
    if person is None or grant_after(person.consent, at):
        return set()
    out = {person.name_clip} if person.name_clip else set()
    for answer in record.answers:
        if answer.audio_clip and answer.person_id in (person_id, None):
            out.add(answer.audio_clip)
    return out
