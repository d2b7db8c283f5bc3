"""People and consent: the roster, and every consent decision (the latest is in force).

Consent gates audio: :meth:`PeopleRepository.audio_allowed` says whether a clip may be kept for
an answer's person (for a whole-group answer: for every person in the session). Withdrawal
deletes the person's clips (through the clip folder) and is recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assistant.errors import RecordError
from assistant.records import sql
from assistant.records.db import Database, iso
from assistant.records.model import Consent, ConsentMethod, Person, SessionRecord, new_id

if TYPE_CHECKING:
    from assistant.records.clips import ClipFolder

log = logging.getLogger("assistant.records.store")


def ids_of(db: sql.Connection, person_id: str) -> list[str]:
    """The person's id and every id merged into it (sessions recorded under those are theirs)."""
    rows = db.execute(
        "SELECT alias_id FROM person_aliases WHERE person_id = ? ORDER BY alias_id", (person_id,)
    ).fetchall()
    return [person_id, *(str(r[0]) for r in rows)]


VOICE_OWN = "the voice's own"
DEVICE_OWN = "the device's own"


def settings_lines(person: Person) -> list[str]:
    """A person's own settings, one plain line each (the device's own where none is set)."""
    rate = f"{person.words_per_minute:g} words a minute" if person.words_per_minute else None
    wait = f"{person.repeat_after_s:g} seconds" if person.repeat_after_s else None
    pause = f"{person.end_pause_s:g} seconds" if person.end_pause_s else None
    return [
        f"Speaking rate: {rate or VOICE_OWN}",
        f"Wait before asking again: {wait or DEVICE_OWN + ' (at least 10 seconds)'}",
        f"Pause that ends an answer: {pause or DEVICE_OWN}",
        "Answers with: "
        + ("the buttons only (microphone closed)" if person.buttons_only else "voice or buttons"),
        f"Scale: {'two points' if person.scale_points == 2 else 'three points'}",
        f"Supporter: {person.supporter or 'not named (the facilitator)'}",
    ]


PERSON_SETTINGS = (
    "words_per_minute",
    "repeat_after_s",
    "end_pause_s",
    "buttons_only",
    "scale_points",
    "supporter",
)
"""A person's own settings, kept with them (and in each session record they take part in)."""

LIMITS: dict[str, tuple[float, float, str]] = {
    "words_per_minute": (80.0, 250.0, "A speaking rate must be from 80 to 250 words a minute."),
    "repeat_after_s": (10.0, 600.0, "A wait must be from 10 to 600 seconds."),
    "end_pause_s": (0.5, 10.0, "An end-of-answer pause must be from 0.5 to 10 seconds."),
}
"""Setting -> (lowest, highest, the one sentence said when outside): 150 words a minute suits
most listeners (130 to 190 tested); waits may be ten times the 10 s default and more."""


def check_setting(name: str, value: Any) -> None:
    """Raise :class:`RecordError` with one plain sentence when *value* is out of range."""
    if value is None or name not in LIMITS:
        return
    low, high, sentence = LIMITS[name]
    if not low <= float(value) <= high:
        raise RecordError(sentence)


class PeopleRepository:
    """The ``people``, ``consent_events`` (and, for reading, ``name_clips``) tables."""

    def __init__(self, db: Database, folder: ClipFolder) -> None:
        self.db = db
        self.folder = folder

    def add_person(
        self,
        name: str,
        *,
        consent: Consent | None = None,
        communication_needs: str | None = None,
        repeat_after_s: float | None = None,
        words_per_minute: float | None = None,
        person_id: str | None = None,
    ) -> Person:
        name = " ".join(name.split())
        if not name:
            raise RecordError("A person needs a name.")
        fields: dict[str, Any] = {"name": name}
        if person_id:
            fields["id"] = person_id
        if repeat_after_s is not None or words_per_minute is not None:
            fields["settings_at"] = self.db.now()
        person = Person(
            communication_needs=communication_needs,
            repeat_after_s=repeat_after_s,
            words_per_minute=words_per_minute,
            **fields,
        )
        now = iso(self.db.now())
        with self.db.tx() as db:
            clash = db.execute(
                "SELECT id, name FROM people WHERE name = ? COLLATE NOCASE AND removed_at IS NULL",
                (name,),
            ).fetchone()
            if clash:
                raise RecordError(
                    f"There is already someone called {clash[1]}; add a surname or an initial."
                )
            db.execute(
                "INSERT INTO people (id, name, data, added_at) VALUES (?, ?, ?, ?)",
                (person.id, name, person.model_dump_json(exclude={"consent"}), now),
            )
            if consent is not None:
                self.add_consent(db, person.id, consent)
        return self.get_person(person.id)

    def get_person(self, person_id: str) -> Person:
        rows = self.db.read("SELECT data FROM people WHERE id = ?", (person_id,))
        if not rows:
            raise RecordError(f"There is no person with id {person_id}.")
        person = Person.model_validate_json(rows[0]["data"])
        person.consent = self.consent_in_force(person_id)
        person.name_clip = self.name_clip(person_id)
        return person

    def name_clip(self, person_id: str) -> str | None:
        rows = self.db.read(
            "SELECT sha256 FROM name_clips WHERE person_id = ? AND deleted_at IS NULL",
            (person_id,),
        )
        return str(rows[0]["sha256"]) if rows else None

    def people(self, *, include_removed: bool = False) -> list[Person]:
        where = "" if include_removed else "WHERE removed_at IS NULL"
        rows = self.db.read(f"SELECT id FROM people {where} ORDER BY added_at, rowid")
        return [self.get_person(r["id"]) for r in rows]

    def find_person(self, name: str) -> Person | None:
        name = " ".join(name.split())
        rows = self.db.read(
            "SELECT id FROM people WHERE name = ? COLLATE NOCASE AND removed_at IS NULL", (name,)
        )
        return self.get_person(rows[0]["id"]) if rows else None

    def update_settings(self, person_id: str, **settings: Any) -> Person:
        """Change a person's own settings (``repeat_after_s``, ``words_per_minute``,
        ``end_pause_s``, ``buttons_only``, ``scale_points``, ``supporter``); a value of None
        goes back to the device's own. Checked as the record model checks them."""
        allowed = set(PERSON_SETTINGS)
        unknown = set(settings) - allowed
        if unknown:
            raise RecordError(f"{', '.join(sorted(unknown))} is not a person's setting.")
        for name, value in settings.items():
            check_setting(name, value)
        person = self.get_person(person_id)
        data = person.model_dump(exclude={"consent", "name_clip"})
        data.update(settings)
        data["settings_at"] = self.db.now()  # the latest change wins on every device
        try:
            updated = Person.model_validate(data)
        except ValueError as exc:
            raise RecordError(f"That setting cannot be kept: {exc}.") from exc
        with self.db.tx() as db:
            db.execute(
                "UPDATE people SET data = ? WHERE id = ?",
                (updated.model_dump_json(exclude={"consent", "name_clip"}), person_id),
            )
        return self.get_person(person_id)

    def remove_person(self, person_id: str) -> None:
        self.get_person(person_id)
        with self.db.tx() as db:
            db.execute(
                "UPDATE people SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                (iso(self.db.now()), person_id),
            )

    def set_consent(self, person_id: str, consent: Consent) -> Person:
        self.get_person(person_id)
        with self.db.tx() as db:
            self.add_consent(db, person_id, consent)
        return self.get_person(person_id)

    def withdraw_consent(
        self, person_id: str, by: str | None = None, method: ConsentMethod = "staff_recorded"
    ) -> int:
        """Withdraw consent here: delete every clip of theirs (their answers, their name, and
        the whole-group answers of sessions they were in), record the withdrawal under a new
        id; sync sends it to the hub, which passes it to every other device."""
        self.get_person(person_id)
        now = self.db.now()
        with self.db.tx("withdraw_before_commit") as db:
            shas = self._delete_clips(db, person_id, now, sessions=None, name=True)
            db.execute(
                "INSERT INTO consent_events (person_id, audio, at, method, witnessed_by, "
                "withdrawal, clips_deleted, recorded_at, withdrawal_id) "
                "VALUES (?, 0, ?, ?, ?, 1, ?, ?, ?)",
                (person_id, iso(now), method, by, len(shas), iso(now), new_id()),
            )
        self.folder.delete_unreferenced(set(shas))
        log.info("Consent withdrawn for %s; %d clip(s) deleted", person_id, len(shas))
        return len(shas)

    def apply_withdrawal(
        self, db: sql.Connection, person_id: str, withdrawal: dict[str, Any]
    ) -> list[str] | None:
        """Record a withdrawal made elsewhere (received from the hub) inside the caller's
        transaction *db*, and delete the clips it covers: those of sessions whose consent for
        the person is not a grant given after it (the rule of
        :func:`assistant.records.withdrawal_rule.covered_clips`), and the recording of their name
        unless they agreed again here since. Returns the clips deleted (the caller deletes
        their files after the commit), or None when it was applied before."""
        wid = str(withdrawal["id"])
        if db.execute("SELECT 1 FROM consent_events WHERE withdrawal_id = ?", (wid,)).fetchone():
            return None
        from assistant.records.withdrawal_rule import aware

        at = aware(datetime.fromisoformat(str(withdrawal["at"])))
        now = self.db.now()
        shas, regranted = self._cover(db, person_id, at, now)
        db.execute(
            "INSERT INTO consent_events (person_id, audio, at, method, witnessed_by, "
            "withdrawal, clips_deleted, recorded_at, withdrawal_id, sent_at, from_hub) "
            "VALUES (?, 0, ?, ?, ?, 1, ?, ?, ?, ?, 1)",
            (
                person_id,
                iso(at),
                str(withdrawal.get("method") or "staff_recorded"),
                withdrawal.get("witnessed_by"),
                len(shas),
                iso(now),
                wid,
                iso(now),
            ),
        )
        if regranted:  # they agreed again here after it: that decision stays in force
            db.execute(
                "INSERT INTO consent_events (person_id, audio, at, method, witnessed_by, "
                "session_id, recorded_at) SELECT person_id, audio, at, method, witnessed_by, "
                "session_id, ? FROM consent_events WHERE person_id = ? AND audio = 1 "
                "ORDER BY seq DESC LIMIT 1",
                (iso(now), person_id),
            )
        log.info("Consent withdrawn elsewhere for %s; %d clip(s) deleted", person_id, len(shas))
        return shas

    def _cover(
        self, db: sql.Connection, person_id: str, at: datetime, now: datetime
    ) -> tuple[list[str], bool]:
        """Delete the clips a withdrawal made at *at* covers (the rule of ``apply_withdrawal``),
        in sessions recorded under the person's id or an id merged into it. Returns them, and
        whether the person agreed again after it (their name's recording is then kept)."""
        from assistant.records.withdrawal_rule import aware, grant_after

        covered: list[str] = []
        ids = ids_of(db, person_id)
        marks = ",".join("?" * len(ids))
        for sid, data in db.execute(
            "SELECT DISTINCT s.id, s.data FROM sessions s JOIN session_people p "
            f"ON p.session_id = s.id WHERE p.person_id IN ({marks})",
            ids,
        ).fetchall():
            record = SessionRecord.model_validate_json(data)
            person = next((x for x in record.people if x.id in ids), None)
            if person is None or not grant_after(person.consent, at):
                covered.append(sid)
        latest = db.execute(
            "SELECT audio, at FROM consent_events WHERE person_id = ? ORDER BY seq DESC LIMIT 1",
            (person_id,),
        ).fetchone()
        regranted = bool(latest and latest[0]) and aware(datetime.fromisoformat(latest[1])) > at
        shas = self._delete_clips(db, person_id, now, sessions=covered, name=not regranted)
        return shas, regranted

    def cover_after_merge(self, db: sql.Connection, person_id: str) -> list[str]:
        """After two records of the person were merged: their latest withdrawal (of either)
        now covers the sessions of both (caller's transaction); returns the clips deleted."""
        from assistant.records.withdrawal_rule import aware

        rows = db.execute(
            "SELECT at FROM consent_events WHERE person_id = ? AND withdrawal = 1",
            (person_id,),
        ).fetchall()
        if not rows:
            return []
        at = max(aware(datetime.fromisoformat(r[0])) for r in rows)
        return self._cover(db, person_id, at, self.db.now())[0]

    @staticmethod
    def _delete_clips(
        db: sql.Connection,
        person_id: str,
        now: datetime,
        *,
        sessions: list[str] | None,
        name: bool,
    ) -> list[str]:
        """Mark deleted the person's clips (of *sessions*, or all) and the whole-group clips of
        those sessions they took part in; with *name*, the recording of their name too. Clips
        recorded under an id merged into theirs are theirs too."""
        ids = ids_of(db, person_id)
        marks = ",".join("?" * len(ids))
        where = (
            f"deleted_at IS NULL AND (person_id IN ({marks}) OR (person_id IS NULL AND "
            f"session_id IN (SELECT session_id FROM session_people WHERE person_id IN ({marks}))))"
        )
        args: list[Any] = [*ids, *ids]
        if sessions is not None:
            if not sessions:
                where = "0"
            else:
                where += f" AND session_id IN ({','.join('?' * len(sessions))})"
                args += sessions
        shas = [r[0] for r in db.execute(f"SELECT sha256 FROM clips WHERE {where}", args)]
        db.execute(
            f"UPDATE clips SET deleted_at = ?, deleted_why = 'consent withdrawn' WHERE {where}",
            [iso(now), *args],
        )
        if name:
            shas += [
                r[0]
                for r in db.execute(
                    f"SELECT sha256 FROM name_clips WHERE person_id IN ({marks}) "
                    "AND deleted_at IS NULL",
                    ids,
                )
            ]
            db.execute(
                "UPDATE name_clips SET deleted_at = ?, deleted_why = 'consent withdrawn' "
                f"WHERE person_id IN ({marks}) AND deleted_at IS NULL",
                (iso(now), *ids),
            )
        return shas

    def unsent_withdrawals(self) -> list[dict[str, Any]]:
        """Withdrawals made on this device that the hub has not acknowledged, oldest first."""
        rows = self.db.read(
            "SELECT seq, person_id, at, method, witnessed_by, withdrawal_id FROM consent_events "
            "WHERE withdrawal = 1 AND from_hub = 0 AND sent_at IS NULL ORDER BY seq"
        )
        out: list[dict[str, Any]] = []
        for r in rows:
            wid = r["withdrawal_id"]
            if wid is None:  # made before withdrawals travelled: give it its id now
                wid = new_id()
                with self.db.tx() as db:
                    db.execute(
                        "UPDATE consent_events SET withdrawal_id = ? WHERE seq = ? "
                        "AND withdrawal_id IS NULL",
                        (wid, r["seq"]),
                    )
            out.append(
                {
                    "id": wid,
                    "person_id": r["person_id"],
                    "at": r["at"],
                    "method": r["method"],
                    "witnessed_by": r["witnessed_by"],
                }
            )
        return out

    def mark_withdrawal_sent(self, withdrawal_id: str) -> None:
        with self.db.tx() as db:
            db.execute(
                "UPDATE consent_events SET sent_at = ? WHERE withdrawal_id = ? AND sent_at IS NULL",
                (iso(self.db.now()), withdrawal_id),
            )

    def consent_history(self, person_id: str) -> list[dict[str, Any]]:
        rows = self.db.read(
            "SELECT * FROM consent_events WHERE person_id = ? ORDER BY seq", (person_id,)
        )
        return [dict(r) for r in rows]

    def add_consent(self, db: sql.Connection, person_id: str, consent: Consent) -> None:
        """Record a consent decision inside the caller's transaction *db*."""
        db.execute(
            "INSERT INTO consent_events (person_id, audio, at, method, witnessed_by, session_id, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                person_id,
                int(consent.audio),
                iso(consent.at),
                consent.method,
                consent.witnessed_by,
                consent.session_id,
                iso(self.db.now()),
            ),
        )

    def merge_consent(self, db: sql.Connection, person_id: str, consent: Consent) -> None:
        """Record a consent decision carried in a session record, once.

        A decision already recorded is not recorded again; a grant dated before a later
        withdrawal is stale (the record was built before the withdrawal) and is ignored.
        """
        at = iso(consent.at)
        same = db.execute(
            "SELECT 1 FROM consent_events WHERE person_id = ? AND audio = ? AND at = ? "
            "AND method = ? AND coalesce(session_id, '') = coalesce(?, '')",
            (person_id, int(consent.audio), at, consent.method, consent.session_id),
        ).fetchone()
        if same:
            return
        if consent.audio:
            later_withdrawal = db.execute(
                "SELECT 1 FROM consent_events WHERE person_id = ? AND withdrawal = 1 AND at >= ?",
                (person_id, at),
            ).fetchone()
            if later_withdrawal:
                return
        self.add_consent(db, person_id, consent)

    def consent_in_force(self, person_id: str) -> Consent | None:
        rows = self.db.read(
            "SELECT * FROM consent_events WHERE person_id = ? ORDER BY seq DESC LIMIT 1",
            (person_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return Consent(
            audio=bool(r["audio"]),
            at=datetime.fromisoformat(r["at"]),
            method=r["method"],
            witnessed_by=r["witnessed_by"],
            session_id=r["session_id"],
            withdrawn=bool(r["withdrawal"]),
        )

    @staticmethod
    def audio_allowed(db: sql.Connection, session_id: str, person_id: str | None) -> bool:
        """Whether the consent in force lets a clip be kept (read inside *db*'s transaction)."""

        def allowed(pid: str) -> bool:
            row = db.execute(
                "SELECT audio FROM consent_events WHERE person_id = ? ORDER BY seq DESC LIMIT 1",
                (pid,),
            ).fetchone()
            return bool(row and row[0])

        if person_id is not None:
            return allowed(person_id)
        everyone = [
            r[0]
            for r in db.execute(
                "SELECT person_id FROM session_people WHERE session_id = ?", (session_id,)
            )
        ]
        return bool(everyone) and all(allowed(pid) for pid in everyone)
