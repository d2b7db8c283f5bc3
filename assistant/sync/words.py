"""Taught words travel with the person: up to the hub, down to every device of their place.

A person's examples of yes, no, next, help and repeat (:mod:`assistant.records.words_repo`)
belong to the person, not to a session or a device. So:

* **Up.** ``assistant sync`` sends (:func:`assistant.sync.client.send_words`), for each
  person whose words changed since the hub last acknowledged them, one sealed and signed
  ``words`` bundle (``PUT /v1/words/{person id}``): when they last changed here, every
  word-consent decision (each with one id, the same on every device), and the examples (word,
  sha256, taught or confirmed, when kept), with the audio of those the hub does not hold yet
  (it answers 424 naming any it lacks, and they go again with their audio).
* **Down.** The hub sends each person's words with the person (``GET /v1/updates``): the
  decisions and the list of examples, not their audio; the device fetches each example it
  lacks (``GET /v1/words/{sha256}``, :func:`assistant.sync.updates.fetch_examples`; sealed
  to this device, signed by the hub, checked against its hash) *before* it applies the
  update, then applies it in the update's transaction (:func:`apply_words`).

**Merge rules** (docs/sync.md, "Taught words"): consent decisions merge by union, and the one
in force is the latest by time; a withdrawal (or a no) wins over every example kept before it,
on every side, whichever device it was made on; the examples are the set of the latest change
on any device (``changed_at``), as for a person's own settings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assistant.errors import BundleError, RecordError
from assistant.sync import bundle

if TYPE_CHECKING:
    from assistant.records.store import RecordStore
    from assistant.sync.device import Enrolment

log = logging.getLogger(__name__)

KIND = "words"
EXAMPLE_KIND = "word"  # one example's audio, hub to device
MAX_EXAMPLE_BYTES = 2 * 1024 * 1024  # far beyond 4 s of sound at 48 kHz stereo
MAX_EXAMPLES_SENT = 60  # 5 words x 10, with room
WORDS = ("yes", "no", "next", "help", "repeat")
SOURCES = ("taught", "confirmed")


def _aware(text: str) -> datetime:
    at = datetime.fromisoformat(str(text))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def norm_time(text: str) -> str:
    """One format for a time from any device (UTC, microseconds): they compare as strings."""
    return _aware(text).astimezone(UTC).isoformat(timespec="microseconds")


def consent_in_force(decisions: Iterable[tuple[str, bool]]) -> tuple[bool, str | None]:
    """The rule for a person's words consent, the same on the hub, its pages and every device:
    from their decisions (when, agreed or not), whether consent to keep examples is in force
    (the latest decision by time; at the same time, a no wins) and when the latest no was said
    (an example stands only if kept after it: :func:`example_stands`)."""
    held = [(norm_time(at), bool(allowed)) for at, allowed in decisions]
    if not held:
        return False, None
    latest = max(held, key=lambda d: (d[0], not d[1]))
    noes = [at for at, allowed in held if not allowed]
    return latest[1], max(noes) if noes else None


def example_stands(kept_at: str, allowed: bool, cutoff: str | None) -> bool:
    """An example stands while consent is in force, if it was kept after the latest no."""
    return allowed and (cutoff is None or norm_time(kept_at) > cutoff)


# ---------------------------------------------------------------------------- the snapshot


def snapshot_db(db: Any, person_id: str) -> dict[str, Any] | None:
    """What the device holds of the person's words (None: nothing was ever taught or asked),
    read on a connection (``db.execute``), so it can be taken inside a transaction."""
    state = db.execute(
        "SELECT changed_at FROM words_state WHERE person_id = ?", (person_id,)
    ).fetchone()
    if state is None:
        return None
    consent = [
        {
            "uid": r[0],
            "allowed": bool(r[1]),
            "at": norm_time(r[2]),
            "method": str(r[3] or "staff_recorded")[:40],
            "witnessed_by": r[4],
            "withdrawal": bool(r[5]),
        }
        for r in db.execute(
            "SELECT uid, allowed, at, method, witnessed_by, withdrawal FROM word_consent_events "
            "WHERE person_id = ? ORDER BY at, seq",
            (person_id,),
        ).fetchall()
    ]
    examples = [
        {"word": r[0], "sha256": r[1], "source": r[2], "kept_at": norm_time(r[3])}
        for r in db.execute(
            "SELECT word, sha256, source, kept_at FROM word_examples WHERE person_id = ? "
            "AND deleted_at IS NULL ORDER BY kept_at, rowid",
            (person_id,),
        ).fetchall()
    ]
    return {
        "format": 1,
        "person_id": person_id,
        "changed_at": norm_time(state[0]),
        "consent": consent,
        "examples": examples,
    }


def digest(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest()


def changed(store: RecordStore) -> list[tuple[str, dict[str, Any]]]:
    """The people whose words changed since the hub last acknowledged them, with the snapshot."""
    out = []
    with store.database.tx() as db:
        for person_id, sent in db.execute(
            "SELECT person_id, sent_digest FROM words_state ORDER BY person_id"
        ).fetchall():
            snap = snapshot_db(db, person_id)
            if snap is not None and digest(snap) != sent:
                out.append((person_id, snap))
    return out


def mark_sent(store: RecordStore, person_id: str, snap: dict[str, Any]) -> None:
    """The hub has this snapshot: remember it, and that it holds every example in it."""
    with store.database.tx() as db:
        db.execute(
            "UPDATE words_state SET sent_digest = ? WHERE person_id = ?", (digest(snap), person_id)
        )
        for e in snap["examples"]:
            db.execute(
                "UPDATE word_examples SET on_hub = 1 WHERE person_id = ? AND sha256 = ?",
                (person_id, e["sha256"]),
            )


def payload(store: RecordStore, snap: dict[str, Any], with_audio: set[str]) -> bytes:
    """The ``words`` bundle's bytes: the snapshot, and the audio of the examples named."""
    audio = {}
    for e in snap["examples"]:
        if e["sha256"] in with_audio:
            data = store.words.path(e["sha256"]).read_bytes()
            audio[e["sha256"]] = base64.b64encode(data).decode()
    return json.dumps(snap | {"audio": audio}, sort_keys=True, separators=(",", ":")).encode()


def parse(data: bytes, expected_person: str) -> dict[str, Any]:
    """A ``words`` bundle's content, checked (ids, words, times, sizes, each audio against its
    hash). Raises :class:`BundleError` with one plain sentence."""
    what = f"The taught words of person {expected_person[:8]}"
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != 1:
            raise ValueError("not a words bundle")
        consent: list[dict[str, Any]] = [
            {
                "uid": str(c["uid"]),
                "allowed": bool(c["allowed"]),
                "at": norm_time(c["at"]),
                "method": str(c.get("method") or "staff_recorded")[:40],
                "witnessed_by": None if c.get("witnessed_by") is None else str(c["witnessed_by"]),
                "withdrawal": bool(c.get("withdrawal")),
            }
            for c in doc.get("consent") or []
        ]
        examples = [
            {
                "word": str(e["word"]),
                "sha256": str(e["sha256"]),
                "source": str(e.get("source") or "taught"),
                "kept_at": norm_time(e["kept_at"]),
            }
            for e in doc.get("examples") or []
        ]
        audio = {
            str(k): base64.b64decode(str(v), validate=True)
            for k, v in (doc.get("audio") or {}).items()
        }
        out = {
            "person_id": str(doc["person_id"]),
            "changed_at": norm_time(doc["changed_at"]),
            "consent": consent,
            "examples": examples,
            "audio": audio,
        }
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise BundleError(f"{what} are not readable.") from exc
    if out["person_id"] != expected_person:
        raise BundleError(f"{what} name a different person.")
    if len(consent) > 1000 or len(examples) > MAX_EXAMPLES_SENT:
        raise BundleError(f"{what} hold more than any device keeps.")
    for c in consent:
        if not (len(c["uid"]) == 32 and all(ch in "0123456789abcdef" for ch in c["uid"])):
            raise BundleError(f"{what} hold a consent decision with a bad id.")
        if len(c["witnessed_by"] or "") > 200:
            raise BundleError(f"{what} hold a field that is too long.")
    for e in examples:
        if (
            e["word"] not in WORDS
            or e["source"] not in SOURCES
            or not bundle.is_sha256(e["sha256"])
        ):
            raise BundleError(f"{what} hold an example that is not one of the five words.")
    for sha, data_ in audio.items():
        if bundle.sha256_hex(data_) != sha:
            raise BundleError(f"{what} hold an example whose sound does not match its name.")
        if len(data_) > MAX_EXAMPLE_BYTES or not is_wav(data_):
            raise BundleError(f"{what} hold an example that is not a short WAV recording.")
    return out


def is_wav(data: bytes) -> bool:
    return len(data) > 44 and data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def seal(
    store: RecordStore, snap: dict[str, Any], with_audio: set[str], enrolment: Enrolment
) -> bytes:
    return bundle.seal(
        "words",
        snap["person_id"],
        payload(store, snap, with_audio),
        device_id=enrolment.device_id,
        hub_public_key=enrolment.hub_key,
        signing_key=enrolment.signing_seed,
    )


def on_hub(store: RecordStore, person_id: str) -> set[str]:
    return {
        r["sha256"]
        for r in store.database.read(
            "SELECT sha256 FROM word_examples WHERE person_id = ? AND on_hub = 1", (person_id,)
        )
    }


# ---------------------------------------------------------------------------- down


def missing_examples(store: RecordStore, body: dict[str, Any]) -> list[str]:
    """The examples an update names whose audio this device does not have."""
    out: list[str] = []
    for p in body.get("people") or []:
        for e in (p.get("words") or {}).get("examples") or []:
            sha = str(e.get("sha256", ""))
            if bundle.is_sha256(sha) and sha not in out and not store.words.path(sha).is_file():
                out.append(sha)
    return out


def keep_example(store: RecordStore, sha: str, data: bytes) -> None:
    """Keep one example's audio from the hub (checked against its name) in the words folder,
    before the update that names it is applied. A file nobody names is swept later."""
    if bundle.sha256_hex(data) != sha or not is_wav(data) or len(data) > MAX_EXAMPLE_BYTES:
        raise BundleError(f"The example {sha[:12]} from the hub does not match its name.")
    from assistant.sync.device import write_private

    try:
        write_private(store.words.path(sha), data)
    except OSError as exc:
        raise RecordError(f"Cannot keep an example from the hub: {exc}.") from exc


def apply_words(
    db: Any,
    person_id: str,
    words: dict[str, Any],
    now: str,
    size_of: Callable[[str], int | None],
) -> tuple[bool, int, set[str], bool]:
    """Apply one person's words from the hub, inside the update's transaction. Returns whether
    the examples were replaced by the hub's, how many examples a withdrawal (or a no) made
    elsewhere deleted here, the sha256 of every example marked deleted (the caller removes
    unreferenced files after the commit), and whether it is complete (False: an example's
    audio is missing, and the replacement waits for the next sync). *size_of* gives the size
    of an example's file here, None when it is not here."""
    from assistant.records.words_repo import touch

    for c in words.get("consent") or []:
        db.execute(
            "INSERT INTO word_consent_events (person_id, allowed, at, method, witnessed_by, "
            "withdrawal, deleted, recorded_at, uid) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) "
            "ON CONFLICT (uid) DO NOTHING",
            (
                person_id,
                int(bool(c["allowed"])),
                norm_time(c["at"]),
                str(c.get("method") or "staff_recorded")[:40],
                c.get("witnessed_by"),
                int(bool(c.get("withdrawal"))),
                now,
                str(c["uid"]),
            ),
        )
    allowed, cutoff = consent_in_force(
        (str(at), bool(a))
        for at, a in db.execute(
            "SELECT at, allowed FROM word_consent_events WHERE person_id = ?", (person_id,)
        ).fetchall()
    )

    def stands(kept_at: str) -> bool:
        return example_stands(kept_at, allowed, cutoff)

    deleted: set[str] = set()
    withdrawn = 0
    for ident, sha, kept_at in db.execute(
        "SELECT id, sha256, kept_at FROM word_examples WHERE person_id = ? AND deleted_at IS NULL",
        (person_id,),
    ).fetchall():
        if not stands(kept_at):
            db.execute(
                "UPDATE word_examples SET deleted_at = ?, deleted_why = 'consent withdrawn' "
                "WHERE id = ?",
                (now, ident),
            )
            deleted.add(sha)
            withdrawn += 1
    state = db.execute(
        "SELECT changed_at FROM words_state WHERE person_id = ?", (person_id,)
    ).fetchone()
    theirs = norm_time(words["changed_at"])
    if state is not None and norm_time(state[0]) >= theirs:
        return False, withdrawn, deleted, True  # changed here later: this device's set stands
    target = {
        str(e["sha256"]): e
        for e in words.get("examples") or []
        if str(e.get("word")) in WORDS and stands(str(e["kept_at"]))
    }
    sizes = {sha: size_of(sha) for sha in target}
    complete = all(size is not None for size in sizes.values())
    if not complete:
        return False, withdrawn, deleted, False
    live = {
        sha: ident
        for ident, sha in db.execute(
            "SELECT id, sha256 FROM word_examples WHERE person_id = ? AND deleted_at IS NULL",
            (person_id,),
        ).fetchall()
    }
    replaced = False
    for sha, ident in live.items():
        if sha not in target:
            db.execute(
                "UPDATE word_examples SET deleted_at = ?, deleted_why = 'changed on another "
                "device' WHERE id = ?",
                (now, ident),
            )
            deleted.add(sha)
            replaced = True
    for sha, e in target.items():
        if sha in live:
            continue
        db.execute(
            "INSERT INTO word_examples (id, person_id, word, sha256, bytes, source, kept_at, "
            "on_hub) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
            (
                uuid.uuid4().hex,
                person_id,
                str(e["word"]),
                sha,
                sizes[sha],
                str(e.get("source") or "taught") if e.get("source") in SOURCES else "taught",
                norm_time(str(e["kept_at"])),
            ),
        )
        replaced = True
    touch(db, person_id, theirs)
    snap = snapshot_db(db, person_id)
    if snap is not None:  # what the hub holds: not sent back
        db.execute(
            "UPDATE words_state SET sent_digest = ? WHERE person_id = ?", (digest(snap), person_id)
        )
    return replaced, withdrawn, deleted, True
