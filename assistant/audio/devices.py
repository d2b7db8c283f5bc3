"""Finding microphones and speakers (PortAudio through sounddevice).

A device is named in the config by index or by (part of) its name, case-insensitive. A name
that matches nothing is a :class:`DeviceNotFound` whose message lists the devices there are.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from assistant.errors import AudioError, DeviceNotFound

log = logging.getLogger(__name__)

Kind = Literal["input", "output"]


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device."""

    index: int
    name: str
    input_channels: int
    output_channels: int
    default_rate: float
    hostapi: str = ""
    default_input: bool = False
    default_output: bool = False

    def channels(self, kind: Kind) -> int:
        return self.input_channels if kind == "input" else self.output_channels

    def describe(self) -> str:
        return (
            f"{self.index}: {self.name} ({self.input_channels} in, {self.output_channels} out,"
            f" {self.default_rate:g} Hz)"
        )


def sounddevice() -> ModuleType:
    """The sounddevice module, or a clear :class:`AudioError` when PortAudio is missing."""
    try:
        import sounddevice as sd
    except (OSError, ImportError) as exc:  # the PortAudio library is not installed
        raise AudioError(
            "The PortAudio library is not installed (on Debian: apt install libportaudio2)."
        ) from exc
    return sd


_streams: weakref.WeakKeyDictionary[Any, threading.Lock | None] = weakref.WeakKeyDictionary()
"""Open streams, each with the lock its owner holds while inside it (or None)."""

REFRESH_LOCK_WAIT_S = 0.5
"""How long :func:`refresh` waits for a stream's owner to come out of it before closing it."""


def track_stream(stream: Any, lock: threading.Lock | None = None) -> Any:
    """Remember an open stream, so :func:`refresh` can close it cleanly first. *lock* is held
    by the stream's owner while it is inside the stream (the speaker's writer, in a blocking
    write): :func:`refresh` then closes the stream only between two writes, as the owner's
    own close does, never under a write (undefined in PortAudio)."""
    _streams[stream] = lock
    return stream


def close_stream(stream: Any, wait_s: float = 1.0) -> None:
    """Abort and close a stream without ever hanging the caller (a lost device can block)."""
    if stream is None:
        return

    def _do() -> None:
        with contextlib.suppress(Exception):
            stream.abort(ignore_errors=True)
        with contextlib.suppress(Exception):
            stream.close(ignore_errors=True)

    t = threading.Thread(target=_do, name="audio-close", daemon=True)
    t.start()
    t.join(wait_s)
    if t.is_alive():
        log.warning("closing the audio stream did not finish in %.1f s; left behind", wait_s)
    _streams.pop(stream, None)


def refresh() -> None:
    """Make PortAudio look for devices again (after a device was unplugged or plugged in).

    Every stream still open in the process is closed first (PortAudio cannot keep them across
    a restart); their owners notice and reopen.
    """
    sd = sounddevice()
    for stream, lock in list(_streams.items()):
        # a stuck owner (a write on a hung device) does not hold up the refresh for long
        got = lock.acquire(timeout=REFRESH_LOCK_WAIT_S) if lock is not None else False
        try:
            close_stream(stream)
        finally:
            if got and lock is not None:
                lock.release()
    try:
        sd._terminate()
        sd._initialize()
    except Exception as exc:  # pragma: no cover - PortAudio failing to restart
        raise AudioError(f"Could not restart PortAudio: {exc}.") from exc


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio can see (may be empty)."""
    sd = sounddevice()
    try:
        raw: Any = sd.query_devices()
        hostapis: Any = sd.query_hostapis()
        default_in, default_out = _defaults(sd)
    except sd.PortAudioError as exc:
        raise AudioError(f"Could not list the audio devices: {exc}.") from exc
    out = []
    for d in raw:
        idx = int(d["index"])
        try:
            api = str(hostapis[int(d["hostapi"])]["name"])
        except (IndexError, KeyError, TypeError):
            api = ""
        out.append(
            DeviceInfo(
                index=idx,
                name=str(d["name"]),
                input_channels=int(d["max_input_channels"]),
                output_channels=int(d["max_output_channels"]),
                default_rate=float(d["default_samplerate"]),
                hostapi=api,
                default_input=idx == default_in,
                default_output=idx == default_out,
            )
        )
    return out


def _defaults(sd: ModuleType) -> tuple[int, int]:
    dev = sd.default.device
    try:
        di, do = int(dev[0]), int(dev[1])
    except (TypeError, ValueError):
        di = do = -1
    if di < 0 or do < 0:
        try:
            info_in = sd.query_devices(kind="input")
            di = int(info_in["index"])
        except Exception:
            di = -1
        try:
            info_out = sd.query_devices(kind="output")
            do = int(info_out["index"])
        except Exception:
            do = -1
    return di, do


def _listing(devices: list[DeviceInfo], kind: Kind) -> str:
    usable = [d for d in devices if d.channels(kind) > 0]
    if not usable:
        return f"there are no {kind} devices"
    return f"the {kind} devices are: " + "; ".join(f"{d.index}: {d.name}" for d in usable)


def find_device(spec: str | int | None, kind: Kind) -> DeviceInfo:
    """The device *spec* names (index, or part of a name) that can do *kind*.

    *spec* None means the system default. Raises :class:`DeviceNotFound` listing the devices
    there are, or :class:`AudioError` when there are no audio devices at all.
    """
    devices = list_devices()
    usable = [d for d in devices if d.channels(kind) > 0]
    word = "microphone" if kind == "input" else "speaker"
    if not usable:
        raise AudioError(
            f"There is no {word}: PortAudio sees no {kind} devices"
            " (is a sound card plugged in, or PulseAudio running?)."
        )
    if spec is None or (isinstance(spec, str) and spec.strip() in ("", "default")):
        for d in usable:
            if d.default_input if kind == "input" else d.default_output:
                return d
        return usable[0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        idx = int(spec)
        for d in devices:
            if d.index == idx:
                if d.channels(kind) == 0:
                    raise DeviceNotFound(
                        f"Audio device {idx} ({d.name}) has no {kind} channels;"
                        f" {_listing(devices, kind)}."
                    )
                return d
        raise DeviceNotFound(f"There is no audio device number {idx}; {_listing(devices, kind)}.")
    want = spec.strip().lower()
    exact = [d for d in usable if d.name.lower() == want]
    if exact:
        return exact[0]
    partial = [d for d in usable if want in d.name.lower()]
    if partial:
        if len(partial) > 1:
            log.info(
                "%s %r matches %d devices; using %s",
                word,
                spec,
                len(partial),
                partial[0].describe(),
            )
        return partial[0]
    raise DeviceNotFound(f"There is no {word} called {spec!r}; {_listing(devices, kind)}.")
