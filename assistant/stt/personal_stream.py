"""A taught person's short answers on the device: their own words fused with the general
recogniser, decided from their words alone (without waiting for Whisper) when the matcher is
sure.

:class:`PersonalRecognizer` wraps the general short-answer recogniser for one turn of one
person (``MicrophoneEars`` and ``recognise`` in ``assistant/dialogue/shell.py`` wrap it when
the person whose turn it is has taught words: :class:`PersonalWordsBook`). Its stream feeds
every block to the general stream as before, and also watches the sound's level: at the first
short pause after sound (:data:`PAUSE_S`), the matcher compares what was said with the
person's examples (a few milliseconds). When it is sure, :meth:`PersonalStream.accept` returns
the word as a partial result, and ``record_turn`` ends the turn after
:attr:`PersonalStream.early_silence_s` of quiet instead of the general stream's; the result is
the matcher's (``decided_by="personal"``) and the general stream's decoding is not waited for.
If the person goes on speaking, the partial no longer stands. When the matcher is not sure,
the general recogniser's result is fused with the matcher's (:func:`~assistant.stt.personal.
fuse`): agree, or the general alone when the matcher has no candidate; a conflict is no answer.
With talk around the answer (:attr:`~assistant.stt.personal.Match.alone` false), the matcher's
sure word is not a partial result either: the general recogniser is waited for and fused.

This recognises the words of the person already identified by name or button; it never
identifies anyone by voice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from assistant.stt.base import Recognizer, RecognizerStream, Transcript
from assistant.stt.personal import MIN_PEAK, Match, PersonalWords, fuse
from assistant.words import ShortAnswer, match_short_answer

log = logging.getLogger(__name__)

RATE = 16_000
PAUSE_S = 0.09
"""Quiet (by level) after sound at which the matcher looks at what was said."""
QUIET_DB = 22.0
"""A block this far below the loudest so far is quiet."""
EARLY_SILENCE_S = 0.1
"""With the matcher sure, the turn ends after this much quiet (``record_turn``'s
``early_silence_s`` for this stream); the general stream's partials wait 0.25 s."""


class PersonalStream(RecognizerStream):
    """One short-answer turn of a taught person (see the module's description)."""

    def __init__(
        self,
        words: PersonalWords,
        general: RecognizerStream,
        allowed: Sequence[ShortAnswer] | None,
        who: str,
    ) -> None:
        self._words = words
        self._general = general
        self._allowed = list(allowed) if allowed is not None else None
        self._who = who
        self._blocks: list[np.ndarray] = []
        self._samples = 0
        self._peak_db = -np.inf
        self._last_loud = -1  # sample where the latest loud block ended
        self._looked_at = -1  # _last_loud when the matcher last looked
        self._match: Match | None = None  # the matcher's view at the latest pause
        self.compute_s = 0.0
        """Processor seconds the matcher took in this turn."""

    def __getattr__(self, name: str) -> Any:
        # trace and the like: the general stream's
        return getattr(self._general, name)

    def settle(self, timeout: float | None = None) -> bool:
        return self._general.settle(timeout)

    def wake_with(self, wake: Callable[[], None] | None) -> bool:
        return self._general.wake_with(wake)

    @property
    def early_silence_s(self) -> float | None:
        """Quiet after which ``record_turn`` may end the turn on a partial: short while the
        matcher is sure, else None (``record_turn``'s own)."""
        return EARLY_SILENCE_S if self._sure() else None

    def _sure(self) -> bool:
        return self._match is not None and self._match.alone and self._looked_at == self._last_loud

    def accept(self, pcm: np.ndarray) -> str | None:
        block = np.asarray(pcm, dtype=np.int16)
        text = self._general.accept(block)
        if len(block) == 0:
            return None if self._sure() else text
        self._blocks.append(block.copy())
        self._samples += len(block)
        rms = float(np.sqrt(np.mean(block.astype(np.float64) ** 2))) + 1e-3
        db = 20 * np.log10(rms)
        self._peak_db = max(self._peak_db, db)
        if db > self._peak_db - QUIET_DB and rms > MIN_PEAK / 3:
            was_sure = self._sure()
            self._last_loud = self._samples
            if was_sure:  # the person went on: the partial no longer stands
                self._match = None
                return ""
            return text
        quiet_s = (self._samples - self._last_loud) / RATE
        if self._last_loud > 0 and quiet_s >= PAUSE_S and self._looked_at != self._last_loud:
            self._looked_at = self._last_loud
            self._match = self._look()
            if self._match.alone:
                return self._match.answer
        if self._sure():
            return None  # the matcher's partial stands; the general stream's is not needed
        return text

    def _look(self) -> Match:
        m = self._words.match(np.concatenate(self._blocks), self._allowed)
        self.compute_s += m.compute_s
        return m

    def result(self) -> Transcript:
        audio_s = self._samples / RATE
        if self._sure():
            m = self._match
            assert m is not None and m.answer is not None
            drop = getattr(self._general, "abandon", None)
            if callable(drop):
                drop()
            return Transcript(
                text=m.answer,
                confidence=min(1.0, 1.0 - 1.0 / max(m.margin, 1.0001)),
                engine=f"personal words ({self._who})",
                answer=m.answer,
                audio_s=audio_s,
                compute_s=self.compute_s,
                decided_by="personal",
            )
        general = self._general.result()
        if self._looked_at != self._last_loud or self._match is None:
            self._match = self._look() if self._blocks else None
        d = fuse(
            self._match,
            general.answer,
            plain(general, self._allowed),
            below_bar(general, self._allowed),
        )
        engine = general.engine
        if d.decided_by == "both":
            engine = f"personal words ({self._who}) + {general.engine}"
        log.info("personal words of %s: %s (%s)", self._who, d.answer, d.why)
        return replace(
            general, answer=d.answer, decided_by=d.decided_by, engine=engine,
            compute_s=general.compute_s + self.compute_s,
        )  # fmt: skip


def plain(tr: Transcript, allowed: Sequence[ShortAnswer] | None) -> bool:
    """The transcript's own text is its answer (not a second look at the audio)."""
    words = list(allowed) if allowed is not None else None
    return not tr.second_look and match_short_answer(tr.text, words) == tr.answer


def below_bar(tr: Transcript, allowed: Sequence[ShortAnswer] | None) -> ShortAnswer | None:
    """The answer a rejected transcript's own text names ("No, no, no." heard with too little
    confidence), or None: only ever to agree with the matcher (:func:`~assistant.stt.personal.
    fuse`)."""
    if tr.answer is not None:
        return None
    return match_short_answer(tr.text, list(allowed) if allowed is not None else None)


class PersonalRecognizer(Recognizer):
    """The general short-answer recogniser with one person's own words (one turn)."""

    def __init__(self, general: Recognizer, words: PersonalWords, who: str) -> None:
        self.general = general
        self.words = words
        self.who = who
        self.name = f"personal words ({who}) + {general.name}"

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> RecognizerStream:
        inner = self.general.start(allowed, phrases=phrases) if phrases else self.general.start(
            allowed
        )  # fmt: skip
        if allowed is None:
            return inner
        return PersonalStream(self.words, inner, allowed, self.who)

    def transcribe(
        self,
        pcm: np.ndarray,
        allowed: Sequence[ShortAnswer] | None = None,
        phrases: Sequence[str] = (),
    ) -> Transcript:
        if allowed is None:
            return self.general.transcribe(pcm, allowed, phrases)
        m = self.words.match(pcm, allowed)
        if m.alone and m.answer:  # sure (no talk around): the general recogniser is not needed
            return Transcript(
                text=m.answer, confidence=min(1.0, 1.0 - 1.0 / max(m.margin, 1.0001)),
                engine=f"personal words ({self.who})", answer=m.answer,
                audio_s=len(pcm) / RATE, compute_s=m.compute_s, decided_by="personal",
            )  # fmt: skip
        tr = self.general.transcribe(pcm, allowed, phrases)
        d = fuse(m, tr.answer, plain(tr, allowed), below_bar(tr, allowed))
        engine = (
            tr.engine if d.decided_by != "both" else f"personal words ({self.who}) + {tr.engine}"
        )
        return replace(tr, answer=d.answer, decided_by=d.decided_by, engine=engine)


class PersonalWordsBook:
    """Each person's matcher, loaded once (from ``load(person_id)``, e.g. the record store's
    ``words.matcher``) and kept for the session; :meth:`wrap` gives the recogniser for a turn."""

    def __init__(
        self,
        load: Callable[[str], PersonalWords | None],
        names: Callable[[str], str] | None = None,
    ) -> None:
        self._load = load
        self._names = names or (lambda pid: pid)
        self._cache: dict[str, PersonalWords | None] = {}
        self._lock = threading.Lock()

    def words(self, person_id: str | None) -> PersonalWords | None:
        if person_id is None:
            return None
        with self._lock:
            if person_id not in self._cache:
                try:
                    self._cache[person_id] = self._load(person_id)
                except Exception as exc:  # never lose the turn over the taught words
                    log.warning("The personal words of %s could not be read: %s", person_id, exc)
                    self._cache[person_id] = None
            return self._cache[person_id]

    def forget(self, person_id: str | None = None) -> None:
        """Load again next time (after teaching)."""
        with self._lock:
            if person_id is None:
                self._cache.clear()
            else:
                self._cache.pop(person_id, None)

    def wrap(self, general: Recognizer, person_id: str | None) -> Recognizer:
        """*general* itself for someone with no words taught, else the fused recogniser."""
        pw = self.words(person_id)
        if pw is None or not pw.usable():
            return general
        pw.use_embedder(general.embedder())  # Whisper's encoder, in a busy background
        assert person_id is not None
        return PersonalRecognizer(general, pw, self._names(person_id))


def store_loader(store: Any) -> Callable[[str], PersonalWords | None]:
    """``load`` for :class:`PersonalWordsBook` from a ``RecordStore`` (damaged examples are
    logged and skipped)."""

    def load(person_id: str) -> PersonalWords | None:
        pw, _problems = store.words.matcher(person_id)
        return pw

    return load
