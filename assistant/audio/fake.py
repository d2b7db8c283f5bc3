"""Stand-ins for the microphone and speaker, for tests, simulations and machines with no sound.

* :class:`ArrayMicrophone` / :class:`WavMicrophone` feed given audio, then silence, in 30 ms
  blocks, either paced in real time or as fast as they are read.
* :class:`MemorySpeaker` keeps everything played and when, on an injectable clock; ``stop()``
  cuts the current play short like a real barge-in.
* :class:`NullSpeaker` discards everything.

They derive from :class:`~assistant.audio.base.Microphone` and
:class:`~assistant.audio.base.Speaker`, as the real ones do. The clock is the one clock of
:mod:`assistant.core.clock` (re-exported here): :class:`SystemClock` is the real one and
:class:`FakeClock` moves only when told (its ``sleep`` advances it), so tests of timing run
instantly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from assistant.audio.base import MIC_RATE, Microphone, Speaker
from assistant.audio.wav import read_wav, resample
from assistant.core.clock import Clock, FakeClock, SystemClock
from assistant.errors import AudioError

__all__ = [
    "ArrayMicrophone",
    "Clock",
    "FakeClock",
    "MemorySpeaker",
    "NullSpeaker",
    "Played",
    "SystemClock",
    "WavMicrophone",
]


class ArrayMicrophone(Microphone):
    """A microphone that plays back *pcm* (int16 mono, at *rate*), then silence.

    *realtime* paces blocks by *clock* (as a real device would); otherwise each ``read`` returns
    the next block at once. ``silence_s`` limits the silence after the audio (None = endless;
    afterwards ``read`` returns None). ``noise`` adds a little random noise (int16 RMS) so
    energy-based detectors see a realistic floor.
    """

    def __init__(
        self,
        pcm: np.ndarray,
        rate: int = MIC_RATE,
        *,
        realtime: bool = False,
        clock: Clock | None = None,
        block_ms: int = 30,
        lead_silence_s: float = 0.0,
        silence_s: float | None = None,
        noise: float = 0.0,
        name: str = "array",
        seed: int = 0,
    ) -> None:
        audio = resample(np.asarray(pcm, dtype=np.int16), rate, MIC_RATE)
        lead = np.zeros(int(lead_silence_s * MIC_RATE), dtype=np.int16)
        self.audio = np.concatenate([lead, audio])
        self.name = name
        self.realtime = realtime
        self.clock: Clock = clock or SystemClock()
        self.block = MIC_RATE * block_ms // 1000
        self.silence_s = silence_s
        self.noise = noise
        self._rng = np.random.default_rng(seed)
        self._pos = 0
        self._started = False
        self._t0 = 0.0
        self.blocks_read = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._t0 = self.clock.monotonic() - self._pos / MIC_RATE

    def stop(self) -> None:
        self._started = False

    @property
    def finished(self) -> bool:
        """True once the given audio (not the silence after it) has all been read."""
        return self._pos >= len(self.audio)

    def read(self, timeout: float) -> np.ndarray | None:
        if not self._started:
            raise AudioError(f"The microphone {self.name} is not started.")
        end_pos = self._pos + self.block
        if self.silence_s is not None and self._pos >= len(self.audio) + self.silence_s * MIC_RATE:
            self.clock.sleep(timeout)
            return None
        if self.realtime:
            due = self._t0 + end_pos / MIC_RATE
            wait = due - self.clock.monotonic()
            if wait > timeout:
                self.clock.sleep(timeout)
                return None
            self.clock.sleep(wait)
        block = np.zeros(self.block, dtype=np.int16)
        have = self.audio[self._pos : end_pos]
        block[: len(have)] = have
        if self.noise > 0:
            n = self._rng.normal(0.0, self.noise, self.block)
            block = np.clip(block.astype(np.float64) + n, -32768, 32767).astype(np.int16)
        self._pos = end_pos
        self.blocks_read += 1
        return block


class WavMicrophone(ArrayMicrophone):
    """An :class:`ArrayMicrophone` that plays back a WAV file (any format read_wav takes)."""

    def __init__(self, path: str | os.PathLike[str], **kwargs: object) -> None:
        kwargs.setdefault("name", f"wav:{path}")
        super().__init__(read_wav(path), MIC_RATE, **kwargs)  # type: ignore[arg-type]


@dataclass
class Played:
    """One call to :meth:`MemorySpeaker.play`."""

    pcm: np.ndarray
    sample_rate: int
    started_at: float
    stopped_at: float | None = None

    @property
    def duration(self) -> float:
        return len(self.pcm) / self.sample_rate

    @property
    def ends_at(self) -> float:
        full = self.started_at + self.duration
        return full if self.stopped_at is None else min(full, self.stopped_at)

    @property
    def heard(self) -> np.ndarray:
        """The part that was actually played before any stop()."""
        n = int(round((self.ends_at - self.started_at) * self.sample_rate))
        return self.pcm[: max(0, n)]


class MemorySpeaker(Speaker):
    """A speaker that keeps what was played, and when, on *clock*.

    Plays queue one after another in clock time. ``wait()`` sleeps the clock until the end
    (instantly with a :class:`FakeClock`).
    """

    def __init__(self, clock: Clock | None = None, name: str = "memory") -> None:
        self.clock: Clock = clock or SystemClock()
        self.name = name
        self.played: list[Played] = []
        self.stops: list[float] = []

    def play(self, pcm: np.ndarray, sample_rate: int) -> None:
        now = self.clock.monotonic()
        start = max([now] + [p.ends_at for p in self.played if p.ends_at > p.started_at])
        self.played.append(Played(np.asarray(pcm, dtype=np.int16).copy(), sample_rate, start))

    def stop(self) -> None:
        now = self.clock.monotonic()
        self.stops.append(now)
        for p in self.played:
            if p.ends_at > now:
                p.stopped_at = max(now, p.started_at)

    def wait(self, timeout: float | None = None) -> bool:
        end = max([p.ends_at for p in self.played if p.ends_at > p.started_at], default=0.0)
        now = self.clock.monotonic()
        if end <= now:
            return True
        if timeout is not None and end - now > timeout:
            self.clock.sleep(timeout)
            return False
        self.clock.sleep(end - now)
        return True

    @property
    def playing(self) -> bool:
        now = self.clock.monotonic()
        return any(now < p.ends_at and p.ends_at > p.started_at for p in self.played)

    @property
    def audio(self) -> np.ndarray:
        """Everything heard so far, concatenated (at each play's own rate)."""
        parts = [p.heard for p in self.played]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


class NullSpeaker(Speaker):
    """A speaker that plays nothing and is never busy."""

    name = "null"

    def play(self, pcm: np.ndarray, sample_rate: int) -> None:
        pass

    def stop(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> bool:
        return True

    @property
    def playing(self) -> bool:
        return False
