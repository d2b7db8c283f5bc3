"""A fake voice for fast tests: deterministic, instant, no model.

Each word becomes a short tone whose pitch depends on the word (so different texts give different
audio and the same text always gives the same audio); each sentence is one chunk, as with Piper.
It counts what it was asked to say (:attr:`FakeVoice.calls`), can pause per sentence to imitate a
slow engine (``sentence_delay_s``) and can be told to fail (``fail_with``).
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
from collections.abc import Iterator

import numpy as np

from assistant.voice.base import Voice
from assistant.voice.piper import count_words

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """Split *text* after ``.``, ``!`` or ``?`` followed by a space; drops empty parts."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


class FakeVoice(Voice):
    """A :class:`~assistant.voice.base.Voice` that beeps once per word, at 16 kHz."""

    def __init__(
        self,
        *,
        sample_rate: int = 16_000,
        words_per_minute: float = 150.0,
        volume: float = 1.0,
        sentence_delay_s: float = 0.0,
        fail_with: BaseException | None = None,
        name: str = "fake",
    ) -> None:
        self.name = name
        self.sample_rate = sample_rate
        self.words_per_minute = words_per_minute
        self.volume = volume
        self.sentence_delay_s = sentence_delay_s
        self.fail_with = fail_with
        self.calls: list[str] = []

    @property
    def cache_key(self) -> str:
        return f"{self.name}|{self.sample_rate}|wpm={self.words_per_minute}|vol={self.volume}"

    def at_rate(self, words_per_minute: float | None) -> FakeVoice:
        """The same fake voice at another rate (what it was asked to say is counted in one
        place, :attr:`calls`)."""
        if words_per_minute is None or words_per_minute == self.words_per_minute:
            return self
        other = copy.copy(self)
        other.words_per_minute = words_per_minute
        return other

    def _tone(self, word: str, seconds: float) -> np.ndarray:
        digest = hashlib.sha256(word.lower().encode()).digest()
        freq = 300.0 + digest[0] * 2.0
        n = max(1, int(seconds * 0.8 * self.sample_rate))
        t = np.arange(n) / self.sample_rate
        envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
        wave = 0.5 * self.volume * envelope * np.sin(2 * np.pi * freq * t)
        gap = np.zeros(int(seconds * 0.2 * self.sample_rate))
        return np.concatenate([wave, gap])

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield one chunk per sentence: a tone per word, timed to :attr:`words_per_minute`."""
        self.calls.append(text)
        if self.fail_with is not None:
            raise self.fail_with
        seconds_per_word = 60.0 / self.words_per_minute
        for sentence in split_sentences(text):
            if self.sentence_delay_s:
                time.sleep(self.sentence_delay_s)
            words = sentence.split()
            if count_words(sentence) == 0:
                continue
            audio = np.concatenate([self._tone(w, seconds_per_word) for w in words])
            yield np.clip(audio * 32767, -32767, 32767).astype(np.int16)
