"""Audio clips: the folder of clips (``<data_dir>/clips/<sha256>.sealed``) and their rows.

Each clip is a WAV sealed with the store's key (``<sha256>.wav`` when the store is opened
without one, as benchmarks and the first conversion do); the sha256 names the WAV bytes.

A clip is written to a temporary file, fsynced, renamed to its final name and the folder
fsynced, before the database points at it; a half-written clip is never visible under its final
name. On open, :meth:`ClipFolder.sweep` tidies what an interrupted write left. A clip is kept
only when consent allows it, checked again inside the transaction that records it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import BadAudioFile, ConsentError, DiskFull, RecordError
from assistant.faults import fault_point
from assistant.records.db import Database, fsync_dir, is_full, iso
from assistant.records.keys import RestKey

if TYPE_CHECKING:
    from assistant.records.people import PeopleRepository
    from assistant.records.sessions import SessionRepository

log = logging.getLogger("assistant.records.store")

CLIPS_DIR = "clips"
ORPHAN_GRACE_S = 600.0
"""A clip file no record points at is swept only when older than this (another process may be
between renaming it and committing)."""
_CHUNK = 1 << 16


class ClipFolder:
    """The clip files themselves: written atomically, deleted when nothing points at them.

    With a key (the store's :class:`~assistant.records.keys.RestKey`) each clip is sealed
    (``<sha256>.sealed``: PyNaCl ``SecretBox``, no RIFF header) and :meth:`read` opens it; the
    sha256 is always that of the WAV bytes. Without one, clips are plain ``<sha256>.wav``.
    """

    def __init__(self, db: Database, clips_dir: Path, key: RestKey | None = None) -> None:
        self.db = db
        self.clips_dir = clips_dir
        self.key = key
        self.suffix = ".sealed" if key is not None else ".wav"

    def clip_path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise RecordError(f"{sha256!r} is not a clip name (a sha256 in hex).")
        return self.clips_dir / f"{sha256}{self.suffix}"

    def read(self, sha256: str) -> bytes:
        """The clip's WAV bytes (opened if sealed), checked against its sha256."""
        path = self.clip_path(sha256)
        try:
            blob = path.read_bytes()
        except FileNotFoundError as exc:
            raise RecordError(f"The audio clip {sha256[:12]} is not on this device.") from exc
        except OSError as exc:
            raise RecordError(f"Cannot read the audio clip {path}: {exc}.") from exc
        data = blob if self.key is None else self.key.open("clips", blob, f"The audio clip {path}")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise RecordError(f"The audio clip {sha256[:12]} is damaged on this device.")
        return data

    @staticmethod
    def check_wav(wav: Path) -> int:
        """The size of *wav* in bytes, or :class:`BadAudioFile` if it is not a WAV with sound."""
        try:
            with wave.open(str(wav), "rb") as w:
                frames = w.getnframes()
            size = wav.stat().st_size
        except FileNotFoundError as exc:
            raise BadAudioFile(f"The audio file {wav} is not there.") from exc
        except (wave.Error, EOFError, OSError) as exc:
            raise BadAudioFile(f"The audio file {wav} is not a readable WAV: {exc}.") from exc
        if frames == 0:
            raise BadAudioFile(f"The audio file {wav} has no sound in it.")
        return size

    def write(self, src: Path) -> tuple[str, Path]:
        """Copy *src* into the clips folder atomically; return (sha256, final path)."""
        tmp = self.clips_dir / f".incoming-{uuid.uuid4().hex}.part"
        try:
            data = src.read_bytes()  # an answer is at most a few MB
            sha = hashlib.sha256(data).hexdigest()
            payload = data if self.key is None else self.key.seal("clips", data)
            with open(tmp, "xb") as fout:
                os.fchmod(fout.fileno(), 0o600)
                view = memoryview(payload)
                for start in range(0, len(view), _CHUNK):
                    fout.write(view[start : start + _CHUNK])
                    if start == 0:
                        fout.flush()
                        fault_point("clip_mid_write")
                fout.flush()
                os.fsync(fout.fileno())
            final = self.clip_path(sha)
            if final.exists():  # the same sound already kept: one file serves both
                tmp.unlink()
            else:
                os.replace(tmp, final)
            fsync_dir(self.clips_dir)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if is_full(exc):
                raise DiskFull(
                    "The disk filled up while keeping the audio, so it was not kept; "
                    "everything saved before is kept."
                ) from exc
            raise RecordError(f"Cannot write an audio clip in {self.clips_dir}: {exc}.") from exc
        return sha, final

    def delete_unreferenced(self, shas: set[str]) -> int:
        """Delete clip files that no kept clip points at; return how many were deleted."""
        deleted = 0
        for sha in shas:
            live = self.db.read(
                "SELECT 1 FROM clips WHERE sha256 = ? AND deleted_at IS NULL UNION ALL "
                "SELECT 1 FROM name_clips WHERE sha256 = ? AND deleted_at IS NULL LIMIT 1",
                (sha, sha),
            )
            if live:
                continue
            path = self.clip_path(sha)
            try:
                path.unlink()
                deleted += 1
            except FileNotFoundError:
                pass
        if deleted:
            fsync_dir(self.clips_dir)
        return deleted

    def sweep(self) -> None:
        """Tidy what an interrupted write left: temporary files, and clip files nobody keeps."""
        cutoff = time.time() - ORPHAN_GRACE_S
        created = self.db.created_at()
        strangers = 0
        known: dict[str, bool] = {}
        for r in self.db.read(
            "SELECT sha256, max(deleted_at IS NULL) AS live FROM (SELECT sha256, deleted_at "
            "FROM clips UNION ALL SELECT sha256, deleted_at FROM name_clips) GROUP BY sha256"
        ):
            known[r["sha256"]] = bool(r["live"])
        for path in self.clips_dir.iterdir():
            try:
                if path.name.startswith(".incoming-"):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                    continue
                if path.suffix != self.suffix:
                    continue
                sha = path.stem
                if sha in known:
                    if not known[sha]:
                        path.unlink()  # deleted (withdrawn, retention) but the unlink was cut off
                else:
                    mtime = path.stat().st_mtime
                    if mtime < created:
                        strangers += 1  # older than this database: not ours to delete
                    elif mtime < cutoff:
                        path.unlink()  # renamed, but the record was never committed
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("Cannot tidy %s: %s", path, exc)
        if strangers:
            log.warning(
                "%d audio clip(s) in %s are older than the records database and not in it "
                "(was the database replaced?); they are left alone.",
                strangers,
                self.clips_dir,
            )


class ClipRepository:
    """The ``clips`` and ``name_clips`` tables: which answer (or name) each kept clip is."""

    def __init__(
        self,
        db: Database,
        folder: ClipFolder,
        people: PeopleRepository,
        sessions: SessionRepository,
        *,
        min_free_mb: int,
    ) -> None:
        self.db = db
        self.folder = folder
        self.people = people
        self.sessions = sessions
        self.min_free_mb = min_free_mb

    def _allowed(self, session_id: str, person_id: str | None) -> bool:
        with self.db.lock:
            return self.people.audio_allowed(self.db.connection, session_id, person_id)

    def keep_audio(self, session_id: str, answer_id: str, wav_path: Path | str) -> str | None:
        wav = Path(wav_path)
        person_id = self.sessions.answer_person(session_id, answer_id)
        if not self._allowed(session_id, person_id):
            wav.unlink(missing_ok=True)
            return None
        sha = self.add_clip(session_id, answer_id, wav)
        wav.unlink(missing_ok=True)
        return sha

    def add_clip(self, session_id: str, answer_id: str, wav_path: Path | str) -> str:
        wav = Path(wav_path)
        person_id = self.sessions.answer_person(session_id, answer_id)
        if not self._allowed(session_id, person_id):
            raise ConsentError(
                f"Answer {answer_id} is from someone who has not agreed to keep their voice, "
                "so its audio cannot be kept."
            )
        size = self.folder.check_wav(wav)
        self.db.check_space(size, self.min_free_mb, "this audio was not kept")
        sha, _ = self.folder.write(wav)
        fault_point("clip_after_rename")
        try:
            with self.db.tx("clip_before_commit") as db:
                if not self.people.audio_allowed(db, session_id, person_id):  # withdrawn since
                    raise ConsentError(
                        f"Consent was withdrawn while answer {answer_id}'s audio was being kept."
                    )
                old = db.execute(
                    "SELECT sha256 FROM clips WHERE answer_id = ?", (answer_id,)
                ).fetchone()
                db.execute(
                    "INSERT INTO clips (answer_id, sha256, session_id, person_id, bytes, kept_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (answer_id) DO UPDATE SET "
                    "sha256 = excluded.sha256, bytes = excluded.bytes, kept_at = excluded.kept_at, "
                    "deleted_at = NULL, deleted_why = NULL",
                    (answer_id, sha, session_id, person_id, size, iso(self.db.now())),
                )
        except BaseException:
            self.folder.delete_unreferenced({sha})
            raise
        if old is not None and old[0] != sha:
            self.folder.delete_unreferenced({old[0]})
        return sha

    def keep_name_clip(self, person_id: str, wav_path: Path | str) -> str | None:
        wav = Path(wav_path)
        self.people.get_person(person_id)
        if not self._allowed("", person_id):
            wav.unlink(missing_ok=True)
            return None
        size = self.folder.check_wav(wav)
        self.db.check_space(size, self.min_free_mb, "the recording of the name was not kept")
        sha, _ = self.folder.write(wav)
        try:
            with self.db.tx("name_clip_before_commit") as db:
                if not self.people.audio_allowed(db, "", person_id):
                    raise ConsentError("Consent was withdrawn while the name was being kept.")
                old = db.execute(
                    "SELECT sha256 FROM name_clips WHERE person_id = ? AND deleted_at IS NULL",
                    (person_id,),
                ).fetchone()
                db.execute(
                    "INSERT INTO name_clips (person_id, sha256, bytes, kept_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (person_id) DO UPDATE SET "
                    "sha256 = excluded.sha256, bytes = excluded.bytes, "
                    "kept_at = excluded.kept_at, deleted_at = NULL, deleted_why = NULL",
                    (person_id, sha, size, iso(self.db.now())),
                )
        except BaseException:
            self.folder.delete_unreferenced({sha})
            raise
        if old is not None and old[0] != sha:
            self.folder.delete_unreferenced({old[0]})
        wav.unlink(missing_ok=True)
        return sha

    def withdrawn_clips(self) -> list[dict[str, Any]]:
        rows = self.db.read(
            "SELECT sha256, person_id, session_id, deleted_at FROM clips "
            "WHERE deleted_why = 'consent withdrawn' UNION ALL "
            "SELECT sha256, person_id, NULL, deleted_at FROM name_clips "
            "WHERE deleted_why = 'consent withdrawn' ORDER BY deleted_at"
        )
        return [dict(r) for r in rows]

    def clips_for(self, person_id: str) -> list[str]:
        rows = self.db.read(
            "SELECT sha256 FROM clips WHERE person_id = ? AND deleted_at IS NULL ORDER BY kept_at",
            (person_id,),
        )
        return [r["sha256"] for r in rows]
