"""What a recogniser hears, as plain values: the role of a turn, words and the transcript.

The recogniser protocols (``Recognizer``, ``RecognizerStream``) stay in :mod:`assistant.stt.base`;
these values are shared by the engine, the shell and every recogniser, so they live in core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from assistant.core.words import ShortAnswer

__all__ = ["Role", "Transcript", "Word"]

Role = Literal["short", "free"]
"""``short``: yes / no / next / help / repeat; ``free``: a person's own words."""


@dataclass(frozen=True)
class Word:
    word: str
    confidence: float
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class Transcript:
    """What a recogniser heard."""

    text: str
    confidence: float
    engine: str
    words: tuple[Word, ...] = field(default_factory=tuple)
    answer: ShortAnswer | None = None
    audio_s: float = 0.0
    compute_s: float = 0.0
    second_look: bool = False
    """The answer came from a second look (Whisper scoring the allowed phrases against the
    audio), not from the text alone."""

    @property
    def empty(self) -> bool:
        return not self.text.strip()
