"""A chunk of audio: samples and their rate together, never a bare ``(array, rate)`` pair."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is only named for the type checker: core imports no numpy
    import numpy as np
    import numpy.typing as npt

__all__ = ["AudioChunk"]


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono samples (float32 in -1..1, or int16) at *rate* samples a second."""

    samples: npt.NDArray[Any]
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    @classmethod
    def of(cls, samples: np.ndarray[Any, Any], rate: int) -> AudioChunk:
        return cls(samples, int(rate))
