"""One clock for every layer, with a real and a fake implementation (as gpiozero's pins).

The dialogue engine reads :meth:`Clock.time`; the shell and audio read :meth:`Clock.monotonic`
and wait with :meth:`Clock.sleep`; records are stamped with :meth:`Clock.now`. A
:class:`FakeClock` moves only when slept on or advanced, so a whole session runs in milliseconds.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What a clock must provide. ``virtual`` is True when sleeping does not really wait."""

    virtual: bool

    def time(self) -> float:
        """Seconds since the epoch."""
        ...

    def now(self) -> datetime:
        """The time of day, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start; never goes back."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait *seconds* (a fake clock moves instead); a negative wait is no wait."""
        ...


class SystemClock:
    """The real clock: :meth:`sleep` really waits."""

    virtual = False

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """Simulated time, starting at *start*: only :meth:`sleep` and :meth:`advance` move it.

    Thread-safe, so a fake microphone's thread and the shell can share one.
    """

    virtual = True

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime.now(UTC)
        self.elapsed = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        return self.start.timestamp() + self.elapsed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.elapsed += max(0.0, seconds)
