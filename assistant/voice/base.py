"""The base class every voice (text to speech engine) derives from, as gpiozero's ``Pin``.

Must provide: :attr:`Voice.name`, :attr:`Voice.sample_rate` and :meth:`Voice.synthesize`.

May provide (harmless defaults otherwise): :attr:`Voice.cache_key`, what distinguishes its
audio for the prompt cache (by default its name and rate), and :meth:`Voice.describe`, one line
for people (by default its name). :meth:`Voice.speak` gives the same audio as
:class:`~assistant.core.audio.AudioChunk` (samples with their rate), as it crosses to the
speaker. Piper (:mod:`assistant.voice.piper`), the prompt cache
(:mod:`assistant.voice.cache`) and the fake (:mod:`assistant.voice.fake`) all derive from it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from assistant.core.audio import AudioChunk


class Voice:
    name: str = "voice"
    """Voice name, e.g. ``piper:en_US-joe-medium``."""
    sample_rate: int = 16_000

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield int16 mono audio, one chunk per sentence, as soon as each is ready."""
        raise NotImplementedError

    def speak(self, text: str) -> Iterator[AudioChunk]:
        """:meth:`synthesize`'s sentences, each with its sample rate."""
        for pcm in self.synthesize(text):
            yield AudioChunk(pcm, self.sample_rate)

    @property
    def cache_key(self) -> str:
        """What distinguishes this voice's audio (for the prompt cache)."""
        return f"{self.name}|{self.sample_rate}"

    def describe(self) -> str:
        """One line for people: which voice."""
        return self.name

    def at_rate(self, words_per_minute: float | None) -> Voice:
        """This voice speaking at *words_per_minute* (a person's own rate); None, or a voice
        that cannot change its rate: itself."""
        return self
