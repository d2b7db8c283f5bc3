"""Two records of one person made one on this device, after staff merged them on the hub.

The hub sends the kept person once, under the id this device should use, with the device's other
ids for them as ``aliases`` (:func:`assistant.hub.people.payload_for`). :func:`merge_alias`
moves what the device holds of an alias to the kept person, inside the caller's transaction:
its jobs (received ones too), its consent decisions (the latest by time stays in force), its
taught words and their consent, the recording of its name (unless the kept person has one) and
the per-person settings the kept person lacks. The alias is then marked removed, and
``person_aliases`` remembers whom it means, so a withdrawal of consent covers the sessions
recorded under either id (:func:`assistant.records.people.ids_of`). Finished sessions are
never rewritten: they keep the id they were recorded under, which the hub maps to the same
person.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from assistant.records.model import Person
from assistant.records.people import PERSON_SETTINGS

if TYPE_CHECKING:
    from assistant.records import sql


def merge_alias(db: sql.Connection, alias: str, into: str, name: str, now: str) -> bool:
    """Merge the local person *alias* into *into* (made, with *name*, if this device does not
    have them yet). Returns False when there was nothing to merge (unknown, or done before)."""
    if alias == into:
        return False
    row = db.execute(
        "SELECT data FROM people WHERE id = ? AND removed_at IS NULL", (alias,)
    ).fetchone()
    if row is None:
        return False
    theirs = Person.model_validate_json(row[0])
    have = db.execute("SELECT data FROM people WHERE id = ?", (into,)).fetchone()
    if have is None:
        kept = theirs.model_copy(update={"id": into, "name": name, "consent": None})
        db.execute(
            "INSERT INTO people (id, name, data, added_at) VALUES (?, ?, ?, ?)",
            (into, name, kept.model_dump_json(exclude={"consent", "name_clip"}), now),
        )
    else:
        kept = Person.model_validate_json(have[0])
        fill = {k: getattr(theirs, k) for k in PERSON_SETTINGS if getattr(kept, k) is None}
        kept = kept.model_copy(update={k: v for k, v in fill.items() if v is not None})
        db.execute(
            "UPDATE people SET removed_at = NULL, data = ? WHERE id = ?",
            (kept.model_dump_json(exclude={"consent", "name_clip"}), into),
        )
    for job_id, data in db.execute(
        "SELECT id, data FROM jobs WHERE person_id = ?", (alias,)
    ).fetchall():
        job = json.loads(data)
        job["person_id"] = into
        db.execute(
            "UPDATE jobs SET person_id = ?, data = ? WHERE id = ?", (into, json.dumps(job), job_id)
        )
    for job_id, data in db.execute(
        "SELECT id, data FROM received_jobs WHERE person_id = ?", (alias,)
    ).fetchall():
        job = json.loads(data)
        job["person_id"] = into
        db.execute(
            "UPDATE received_jobs SET person_id = ?, data = ? WHERE id = ?",
            (into, json.dumps(job), job_id),
        )
    for table in ("consent_events", "word_consent_events", "word_examples"):
        db.execute(f"UPDATE {table} SET person_id = ? WHERE person_id = ?", (into, alias))
    # the joined words are the kept person's, changed when the later of the two was; they
    # go to the hub again (sent_digest cleared)
    stamps = [
        r[0]
        for r in db.execute(
            "SELECT changed_at FROM words_state WHERE person_id IN (?, ?)", (into, alias)
        ).fetchall()
    ]
    db.execute("DELETE FROM words_state WHERE person_id IN (?, ?)", (into, alias))
    if stamps:
        db.execute(
            "INSERT INTO words_state (person_id, changed_at) VALUES (?, ?)", (into, max(stamps))
        )
    if not db.execute(
        "SELECT 1 FROM name_clips WHERE person_id = ? AND deleted_at IS NULL", (into,)
    ).fetchone():
        db.execute("DELETE FROM name_clips WHERE person_id = ?", (into,))
        db.execute("UPDATE name_clips SET person_id = ? WHERE person_id = ?", (into, alias))
    _latest_in_force(db, into, now)
    db.execute("DELETE FROM hub_people WHERE person_id = ?", (alias,))
    db.execute("UPDATE people SET removed_at = ? WHERE id = ?", (now, alias))
    db.execute(
        "INSERT INTO person_aliases (alias_id, person_id, merged_at) VALUES (?, ?, ?) "
        "ON CONFLICT (alias_id) DO UPDATE SET person_id = excluded.person_id",
        (alias, into, now),
    )
    db.execute("UPDATE person_aliases SET person_id = ? WHERE person_id = ?", (into, alias))
    return True


def _latest_in_force(db: sql.Connection, person_id: str, now: str) -> None:
    """The decision in force is the last recorded (by seq); after two histories are joined it
    must be the latest made (by time), so that one is recorded again at the end if needed."""
    rows = db.execute(
        "SELECT seq, audio, at, method, witnessed_by, session_id, withdrawal FROM consent_events "
        "WHERE person_id = ? ORDER BY seq",
        (person_id,),
    ).fetchall()
    if not rows:
        return
    latest = max(rows, key=lambda r: (str(r[2]), int(r[0])))
    if latest[0] == rows[-1][0]:
        return
    # a copy, never sent up again (the original, or its withdrawal id, already travels)
    db.execute(
        "INSERT INTO consent_events (person_id, audio, at, method, witnessed_by, session_id, "
        "withdrawal, recorded_at, sent_at, from_hub) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        (person_id, latest[1], latest[2], latest[3], latest[4], latest[5], latest[6], now, now),
    )
