"""The one small protocol every speech recogniser follows.

Audio in is always 16 kHz mono int16 (the audio layer resamples). Two roles:

* ``short``: yes / no / next / help / repeat. The caller passes the allowed answers; the engine
  restricts itself to them where it can, and :attr:`Transcript.answer` is set only when the
  result is *confidently* one of them. Otherwise it is None: "Sorry, I didn't catch that".
* ``free``: a person's own words; accuracy matters more than speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from assistant.core.speech import Role, Transcript, Word
from assistant.core.words import ShortAnswer

__all__ = ["SAMPLE_RATE", "Recognizer", "RecognizerStream", "Role", "Transcript", "Word"]

SAMPLE_RATE = 16_000


@runtime_checkable
class RecognizerStream(Protocol):
    def accept(self, pcm: np.ndarray) -> str | None:
        """Feed int16 16 kHz mono audio; returns partial text when the engine has some."""

    def result(self) -> Transcript:
        """Finish the utterance and return the final transcript."""


@runtime_checkable
class Recognizer(Protocol):
    name: str
    """Engine and model, e.g. ``vosk:vosk-model-small-en-us-0.15``."""

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> RecognizerStream:
        """Begin one utterance; *allowed* given means the short-answer role.

        *phrases* are extra whole-utterance answers for this question (scale points, option
        names: ``Listen.phrases``); an engine with a grammar adds them to it. They never set
        :attr:`Transcript.answer`; the caller matches :attr:`Transcript.text` against them.
        """

    def transcribe(
        self,
        pcm: np.ndarray,
        allowed: Sequence[ShortAnswer] | None = None,
        phrases: Sequence[str] = (),
    ) -> Transcript:
        """Recognise a whole utterance at once."""
