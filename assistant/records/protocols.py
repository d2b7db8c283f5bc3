"""The narrow views of the record store that its consumers need, published in one place.

Each consumer asks for the least it uses, so its tests can hand it a small fake, and
:class:`~assistant.records.store.RecordStore` fits every one of them:

=========================  ==============================================================
:class:`SessionWriter`     the dialogue shell's :class:`~assistant.dialogue.shell.StoreSink`
:class:`RosterSource`      starting a session on the device (roster, open jobs, a draft)
:class:`DeviceStore`       both of those: what the device builder opens
:class:`SessionSource`     sync: finished sessions, their clips, marking them sent
:class:`RecordSink`        where the dialogue shell puts a record (the store, or a JSON file)
=========================  ==============================================================

This module imports only the record model, so any layer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assistant.records.model import Goal, Job, Person, SessionRecord

if TYPE_CHECKING:
    from assistant.records.words_repo import WordsRepo

__all__ = ["DeviceStore", "RecordSink", "RosterSource", "SessionSource", "SessionWriter"]


class SessionWriter(Protocol):
    """Saves a session as it goes (after every answer), finishes it, keeps its clips."""

    def save_session(self, record: SessionRecord) -> None: ...

    def finish_session(self, session_id: str) -> None: ...

    def keep_audio(self, session_id: str, answer_id: str, wav_path: Path | str) -> str | None:
        """Keep the clip if the person consented: its sha256, or None (the WAV goes either way)."""
        ...

    @property
    def words(self) -> WordsRepo:
        """Personal words: taught examples and their own consent (a teach_words step)."""
        ...


class RosterSource(Protocol):
    """What a session on the device starts from."""

    def people(self, *, include_removed: bool = False) -> list[Person]: ...

    def open_jobs(self) -> list[Job]: ...

    def current_goals(self) -> list[Goal]: ...

    def unfinished_session(self) -> SessionRecord | None: ...


class DeviceStore(SessionWriter, RosterSource, Protocol):
    """The store as a device session uses it; closed when the device is."""

    def has_open_flags(self) -> bool:
        """A flag staff have not cleared yet (the idle status light blinks purple)."""
        ...

    def close(self) -> None: ...


class SessionSource(Protocol):
    """What sync reads from."""

    def sessions(self, state: Any = ...) -> Iterable[Any]: ...

    def get_session(self, session_id: str) -> SessionRecord: ...

    def mark_sent(self, session_id: str) -> None: ...

    def clip_path(self, sha256: str) -> Path: ...

    def clip_bytes(self, sha256: str) -> bytes:
        """The clip's WAV bytes (the file itself is sealed)."""
        ...

    def device_id(self) -> str: ...


class RecordSink(Protocol):
    """Where the dialogue shell puts records: the record store, or a JSON file."""

    def save(self, record: SessionRecord, finished: bool) -> None: ...

    def keep_audio(self, record: SessionRecord, answer_id: str, audio_path: str) -> str | None:
        """Keep the answer's clip; its sha256 (None if it could not be kept)."""
        ...
