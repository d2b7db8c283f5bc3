"""Injectable id makers: records get ids from one of these, never from a bare ``uuid4()``."""

from __future__ import annotations

import random
import uuid
from typing import Protocol

__all__ = ["IdMaker", "RandomIds", "SeededIds"]


class IdMaker(Protocol):
    """Makes a new unique id (a UUID string) each call."""

    def __call__(self) -> str: ...


class RandomIds:
    """Random UUID4 ids, for the device."""

    def __call__(self) -> str:
        return str(uuid.uuid4())


class SeededIds:
    """Repeatable UUID-shaped ids from a seed, for tests and simulations."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)

    def __call__(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
