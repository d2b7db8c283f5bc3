"""The small protocols for the microphone and the speaker.

Real ones use sounddevice; fakes (WAV files, in-memory buffers) stand beside them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

MIC_RATE = 16_000
"""The microphone always delivers 16 kHz mono int16, whatever the device's own rate."""


@runtime_checkable
class Microphone(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self, timeout: float) -> np.ndarray | None:
        """The next block of 16 kHz mono int16 audio, or None if none came within *timeout*."""


@runtime_checkable
class Speaker(Protocol):
    name: str

    def play(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Queue int16 mono audio; returns at once."""

    def stop(self) -> None:
        """Silence now and drop anything queued (barge-in)."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until everything queued has played; False on timeout."""

    @property
    def playing(self) -> bool: ...
