"""Personal words in the record store: a person's taught examples and their own consent.

The examples are recordings of the person's voice (how they say yes, no, next, help and
repeat), kept only to understand them (``assistant/stt/personal.py``), never to identify
anyone by their voice. So:

* **Their own consent**, asked and recorded separately from consent to keep answers
  (``word_consent_events``, migration 0004). Nothing is kept without it; withdrawing it
  deletes every example (the withdrawal and the count are recorded).
* **Stored like other clips**: each WAV is written to a temporary file, fsynced, renamed to
  ``<data_dir>/words/<sha256>.wav`` and the folder fsynced before the database points at it;
  leftovers of an interrupted write are swept away on open. Their own folder, so the answer
  clips' sweep and retention never touch them (taught words are not session audio).
* **Bounded**: at most :data:`~assistant.stt.personal.MAX_EXAMPLES` per word, of them at
  most :data:`~assistant.stt.personal.MAX_CONFIRMED` confirmed answers (``source='confirmed'``:
  a short answer that stood, kept by the dialogue engine at the end of a session); when a
  bound is reached the oldest confirmed one is dropped; a taught example never is.

Recipes::

    words = store.words
    words.set_consent(sam.id, True, by="Kate (support worker)")
    words.add_example(sam.id, "yes", Path("yes1.wav"))   # WordProblem if unusable
    words.counts(sam.id)                                  # {"yes": 3, ...}
    matcher, problems = words.matcher(sam.id)            # PersonalWords or None
    words.forget(sam.id, "yes")
    words.withdraw_consent(sam.id, by="Kate")            # deletes every example
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import BadAudioFile, ConsentError, RecordError

if TYPE_CHECKING:
    from assistant.records.store import RecordStore
    from assistant.stt.personal import PersonalWords
    from assistant.words import ShortAnswer

log = logging.getLogger(__name__)

WORDS_DIR = "words"
ORPHAN_GRACE_S = 3600.0


class WordProblem(RecordError):
    """A teaching example that cannot be kept (silent, clipped, too long, a duplicate, or no
    consent); the message is a plain sentence."""


def _iso(dt: Any) -> str:
    from assistant.records.db import iso

    return iso(dt)  # UTC, one format: times from every device compare as strings


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def touch(db: Any, person_id: str, at: str) -> None:
    """Stamp when the person's words (examples or consent) last changed here: the latest change
    on any device wins when they travel (:mod:`assistant.sync.words`)."""
    db.execute(
        "INSERT INTO words_state (person_id, changed_at) VALUES (?, ?) ON CONFLICT (person_id) "
        "DO UPDATE SET changed_at = excluded.changed_at",
        (person_id, at),
    )


class WordsRepo:
    """Taught examples and word consent, on the store's database (its transactions, clock and
    data folder)."""

    def __init__(self, store: RecordStore) -> None:
        self._store = store
        self.dir = store.data_dir / WORDS_DIR
        try:
            self.dir.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise RecordError(f"Cannot make the folder {self.dir}: {exc.strerror or exc}.") from exc
        self._sweep()

    # ------------------------------------------------------------------ consent

    def set_consent(
        self, person_id: str, allowed: bool, by: str | None = None, method: str = "staff_recorded"
    ) -> None:
        """Record the person's decision about keeping examples of their words. Saying no keeps
        nothing new; :meth:`withdraw_consent` deletes what was kept."""
        self._store.get_person(person_id)
        now = _iso(self._store.database.now())
        with self._store.database.tx() as db:
            db.execute(
                "INSERT INTO word_consent_events (person_id, allowed, at, method, witnessed_by, "
                "recorded_at, uid) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (person_id, int(allowed), now, method, by, now, uuid.uuid4().hex),
            )
            touch(db, person_id, now)

    def consent(self, person_id: str) -> bool | None:
        """The decision in force: True, False, or None (never asked)."""
        rows = self._store.database.read(
            "SELECT allowed FROM word_consent_events WHERE person_id = ? "
            "ORDER BY at DESC, seq DESC LIMIT 1",
            (person_id,),
        )
        return None if not rows else bool(rows[0]["allowed"])

    def withdraw_consent(
        self, person_id: str, by: str | None = None, method: str = "staff_recorded"
    ) -> int:
        """Withdraw consent: delete every example of the person's words; return how many."""
        self._store.get_person(person_id)
        now = _iso(self._store.database.now())
        with self._store.database.tx() as db:
            rows = db.execute(
                "SELECT sha256 FROM word_examples WHERE person_id = ? AND deleted_at IS NULL",
                (person_id,),
            ).fetchall()
            db.execute(
                "UPDATE word_examples SET deleted_at = ?, deleted_why = 'consent withdrawn' "
                "WHERE person_id = ? AND deleted_at IS NULL",
                (now, person_id),
            )
            db.execute(
                "INSERT INTO word_consent_events (person_id, allowed, at, method, witnessed_by, "
                "withdrawal, deleted, recorded_at, uid) VALUES (?, 0, ?, ?, ?, 1, ?, ?, ?)",
                (person_id, now, method, by, len(rows), now, uuid.uuid4().hex),
            )
            touch(db, person_id, now)
        self._delete_unreferenced({r[0] for r in rows})
        log.info("Word consent withdrawn for %s; %d example(s) deleted", person_id, len(rows))
        return len(rows)

    def consent_history(self, person_id: str) -> list[dict[str, Any]]:
        rows = self._store.database.read(
            "SELECT * FROM word_consent_events WHERE person_id = ? ORDER BY seq", (person_id,)
        )
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ examples

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise RecordError(f"{sha256!r} is not an example name (a sha256 in hex).")
        return self.dir / f"{sha256}.wav"

    def add_example(
        self, person_id: str, word: ShortAnswer, wav_path: Path | str, source: str = "taught"
    ) -> str:
        """Keep one example of *word*; return its sha256. :class:`WordProblem` (a plain
        sentence) when it cannot be kept: no consent, silent, clipped, too long, a duplicate,
        or the word already has its most examples. :class:`BadAudioFile` for a damaged file.
        The source file is left where it is."""
        from assistant.audio.wav import read_wav
        from assistant.stt.personal import (
            MAX_CONFIRMED,
            MAX_EXAMPLES,
            WORDS,
            example_problem,
            same_sound,
        )

        wav = Path(wav_path)
        if word not in WORDS:
            raise WordProblem(f"{word!r} is not one of the words: {', '.join(WORDS)}.")
        self._store.get_person(person_id)
        if self.consent(person_id) is not True:
            raise WordProblem(
                "They have not agreed to the device keeping examples of their words: ask them "
                "first (assistant people words-consent NAME yes)."
            )
        pcm = read_wav(wav)
        problem = example_problem(pcm)
        if problem:
            raise WordProblem(f"{wav.name} was not kept. {problem}")
        digest = hashlib.sha256(wav.read_bytes()).hexdigest()
        for r in self.examples(person_id):
            if r["sha256"] == digest or same_sound(pcm, self._pcm(r["sha256"])):
                raise WordProblem(
                    f"{wav.name} was not kept: it is the same recording as an example of "
                    f"{r['word']!r} already kept."
                )
        live = [r for r in self.examples(person_id) if r["word"] == word]
        confirmed = [r for r in live if r["source"] == "confirmed"]  # oldest first
        replace: str | None = None
        full = len(live) >= MAX_EXAMPLES
        if full or (source == "confirmed" and len(confirmed) >= MAX_CONFIRMED):
            if not confirmed:  # every example was taught: none is dropped for another
                raise WordProblem(
                    f"{wav.name} was not kept: {word!r} already has {MAX_EXAMPLES} examples "
                    f"(the most kept). Forget some first (assistant people forget NAME {word})."
                )
            replace = confirmed[0]["id"]  # the oldest confirmed answer makes room
        size = wav.stat().st_size
        self._store.database.check_space(size, self._store.min_free_mb, "the example was not kept")
        sha = self._write(wav)
        now = _iso(self._store.database.now())
        old: list[str] = []
        try:
            with self._store.database.tx() as db:
                if self._consent_db(db, person_id) is not True:
                    raise ConsentError("Consent was withdrawn while the example was being kept.")
                if replace:
                    old = [
                        r[0]
                        for r in db.execute(
                            "SELECT sha256 FROM word_examples WHERE id = ?", (replace,)
                        )
                    ]
                    db.execute(
                        "UPDATE word_examples SET deleted_at = ?, deleted_why = 'replaced' "
                        "WHERE id = ?",
                        (now, replace),
                    )
                db.execute(
                    "INSERT INTO word_examples (id, person_id, word, sha256, bytes, source, "
                    "kept_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (uuid.uuid4().hex, person_id, word, sha, size, source, now),
                )
                touch(db, person_id, now)
        except BaseException:
            self._delete_unreferenced({sha})
            raise
        self._delete_unreferenced(set(old))
        return sha

    @staticmethod
    def _consent_db(db: Any, person_id: str) -> bool | None:
        row = db.execute(
            "SELECT allowed FROM word_consent_events WHERE person_id = ? "
            "ORDER BY at DESC, seq DESC LIMIT 1",
            (person_id,),
        ).fetchone()
        return None if row is None else bool(row[0])

    def examples(self, person_id: str, word: str | None = None) -> list[dict[str, Any]]:
        """The kept examples (id, word, sha256, source, kept_at), oldest first."""
        sql = (
            "SELECT id, word, sha256, source, kept_at FROM word_examples WHERE person_id = ? "
            "AND deleted_at IS NULL"
        )
        args: tuple[Any, ...] = (person_id,)
        if word is not None:
            sql += " AND word = ?"
            args += (word,)
        return [dict(r) for r in self._store.database.read(sql + " ORDER BY kept_at, rowid", args)]

    def counts(self, person_id: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.examples(person_id):
            out[r["word"]] = out.get(r["word"], 0) + 1
        return out

    def forget(self, person_id: str, word: str | None = None) -> int:
        """Delete the examples of one word (or all); return how many."""
        self._store.get_person(person_id)
        now = _iso(self._store.database.now())
        where = "person_id = ? AND deleted_at IS NULL" + (" AND word = ?" if word else "")
        args: tuple[Any, ...] = (person_id, word) if word else (person_id,)
        with self._store.database.tx() as db:
            rows = db.execute(f"SELECT sha256 FROM word_examples WHERE {where}", args).fetchall()
            db.execute(
                f"UPDATE word_examples SET deleted_at = ?, deleted_why = 'forgotten' WHERE {where}",
                (now, *args),
            )
            if rows:
                touch(db, person_id, now)
        self._delete_unreferenced({r[0] for r in rows})
        return len(rows)

    def _pcm(self, sha: str) -> np.ndarray:
        from assistant.audio.wav import read_wav

        return read_wav(self.path(sha))

    def matcher(self, person_id: str) -> tuple[PersonalWords | None, list[str]]:
        """The person's matcher (None when nothing is taught) and a sentence for each example
        that could not be read (named and skipped)."""
        from assistant.stt.personal import PersonalWords

        pw = PersonalWords()
        problems: list[str] = []
        for r in self.examples(person_id):
            path = self.path(r["sha256"])
            try:
                kept = pw.add(r["word"], self._pcm(r["sha256"]))
            except (BadAudioFile, OSError, ValueError) as exc:
                problems.append(f"The example {path.name} of {r['word']!r} is damaged: {exc}")
                continue
            if not kept:
                problems.append(f"The example {path.name} of {r['word']!r} holds no sound.")
                continue
        for p in problems:
            log.warning("%s (skipped)", p)
        if not pw.examples:
            return None, problems
        pw.calibrate()
        return pw, problems

    # ------------------------------------------------------------------ files

    def _write(self, src: Path) -> str:
        tmp = self.dir / f".incoming-{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        try:
            with src.open("rb") as fin, open(tmp, "xb") as fout:
                os.fchmod(fout.fileno(), 0o600)
                while chunk := fin.read(1 << 16):
                    digest.update(chunk)
                    fout.write(chunk)
                fout.flush()
                os.fsync(fout.fileno())
            sha = digest.hexdigest()
            final = self.path(sha)
            if final.exists():
                tmp.unlink()
            else:
                os.replace(tmp, final)
            _fsync_dir(self.dir)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise RecordError(f"Cannot write an example in {self.dir}: {exc}.") from exc
        return sha

    def delete_unreferenced(self, shas: set[str]) -> None:
        """Remove the files of these examples that no live example names (after a commit)."""
        self._delete_unreferenced(shas)

    def _delete_unreferenced(self, shas: set[str]) -> None:
        deleted = 0
        for sha in shas:
            live = self._store.database.read(
                "SELECT 1 FROM word_examples WHERE sha256 = ? AND deleted_at IS NULL LIMIT 1",
                (sha,),
            )
            if not live:
                with contextlib.suppress(FileNotFoundError):
                    self.path(sha).unlink()
                    deleted += 1
        if deleted:
            _fsync_dir(self.dir)

    def _sweep(self) -> None:
        """Tidy what an interrupted write left: temporary files, and files nobody keeps."""
        cutoff = time.time() - ORPHAN_GRACE_S
        known = {
            r["sha256"]: bool(r["live"])
            for r in self._store.database.read(
                "SELECT sha256, max(deleted_at IS NULL) AS live FROM word_examples GROUP BY sha256"
            )
        }
        for path in self.dir.iterdir():
            try:
                if path.name.startswith(".incoming-"):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                elif (
                    path.suffix == ".wav"
                    and not known.get(path.stem, False)
                    and (path.stem in known or path.stat().st_mtime < cutoff)
                ):
                    path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("Cannot tidy %s: %s", path, exc)
