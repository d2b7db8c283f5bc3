"""The one small protocol every voice (text to speech engine) follows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Voice(Protocol):
    name: str
    """Voice name, e.g. ``piper:en_US-joe-medium``."""
    sample_rate: int

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield int16 mono audio, one chunk per sentence, as soon as each is ready."""
