"""The base classes for the microphone and the speaker, in the manner of gpiozero's ``Pin``.

Each says what a back-end **must** provide (the methods that raise ``NotImplementedError``) and
what it **may** provide; every optional capability has a harmless default, so no caller needs
``getattr`` to find out. Real ones use sounddevice (:mod:`assistant.audio.sounddevice_io`);
the fakes (arrays, WAV files, memory) stand beside them in :mod:`assistant.audio.fake` and
derive from the same classes.
"""

from __future__ import annotations

import numpy as np

from assistant.core.audio import AudioChunk

MIC_RATE = 16_000
"""The microphone always delivers 16 kHz mono int16, whatever the device's own rate."""


class Microphone:
    """A source of 16 kHz mono int16 audio, in blocks.

    Must provide: :attr:`name`, :meth:`start`, :meth:`stop`, :meth:`read`.

    May provide:

    * :meth:`interrupt`, with :attr:`interruptible` True: wake a waiting :meth:`read` at once
      (it then returns None), so a button press ends listening without waiting for a block.
      By default a microphone cannot be interrupted, and ``interrupt()`` does nothing.
    * :attr:`realtime` False: blocks come as fast as they are read (a file, a simulation),
      not paced by the sound; recognisers that decode ahead are then let finish between
      blocks. True by default.
    * :meth:`close`: let go of the device for good (after :meth:`stop`); nothing by default.
    """

    name: str = "microphone"
    realtime: bool = True
    interruptible: bool = False

    def start(self) -> None:
        """Open the device (again, if it was lost) and start delivering audio."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop delivering audio (it can be started again)."""
        raise NotImplementedError

    def read(self, timeout: float) -> np.ndarray | None:
        """The next block of 16 kHz mono int16 audio, or None if none came within *timeout*."""
        raise NotImplementedError

    def interrupt(self) -> None:
        """Wake a waiting :meth:`read` now; nothing, unless :attr:`interruptible`."""

    def close(self) -> None:
        """Let go of the device for good; nothing to do by default."""


class Speaker:
    """Plays int16 mono audio without blocking, and stops at once (barge-in).

    Must provide: :attr:`name`, :meth:`play`, :meth:`stop`, :meth:`wait`, :attr:`playing`.

    May provide: :meth:`close`, to close the output for good (an open PortAudio stream at exit
    can crash); nothing by default. :meth:`play_chunk` plays an
    :class:`~assistant.core.audio.AudioChunk` (samples with their rate) through :meth:`play`.
    """

    name: str = "speaker"

    def play(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Queue int16 mono audio; returns at once."""
        raise NotImplementedError

    def play_chunk(self, chunk: AudioChunk) -> None:
        """Queue *chunk* (int16 mono samples at their rate); returns at once."""
        self.play(chunk.samples, chunk.rate)

    def stop(self) -> None:
        """Silence now and drop anything queued (barge-in)."""
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> bool:
        """Block until everything queued has played; False on timeout."""
        raise NotImplementedError

    @property
    def playing(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        """Close the output for good; nothing to do by default."""
