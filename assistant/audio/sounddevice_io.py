"""The real microphone and speaker, through PortAudio (sounddevice).

:class:`SoundDeviceMicrophone` opens the device at 16 kHz if it accepts that, else at its own
default rate, and resamples to 16 kHz with a streaming soxr resampler. It delivers 30 ms
blocks through a bounded queue (the oldest block is dropped if nobody reads). A device that
stops delivering audio (unplugged, or its PulseAudio sink removed: PortAudio then simply stops
calling back) is reported as :class:`DeviceLost` by :meth:`~SoundDeviceMicrophone.read`, never
a hang; :meth:`~SoundDeviceMicrophone.start` again reopens it when it is back.

:class:`SoundDeviceSpeaker` keeps one output stream open and feeds it from a queue in the
PortAudio callback, so :meth:`~SoundDeviceSpeaker.play` returns at once and
:meth:`~SoundDeviceSpeaker.stop` silences the output from the next block (barge-in). It
notes the wall time at which the first sample of each play was handed to the device.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from assistant.audio.base import MIC_RATE
from assistant.audio.devices import (
    DeviceInfo,
    close_stream,
    find_device,
    refresh,
    sounddevice,
    track_stream,
)
from assistant.audio.wav import to_int16
from assistant.errors import AudioError, DeviceLost, DeviceNotFound

log = logging.getLogger(__name__)


_WAKE = np.zeros(0, dtype=np.int16)
"""Put in the microphone's queue by :meth:`SoundDeviceMicrophone.interrupt`: not audio."""


class SoundDeviceMicrophone:
    """A microphone that always delivers 16 kHz mono int16, in ~30 ms blocks.

    *device* is an index or (part of) a name; None is the system default.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        block_ms: int = 30,
        queue_s: float = 3.0,
        stall_s: float = 1.0,
        start_grace_s: float = 4.0,
        latency: str | float = "low",
    ) -> None:
        self.spec = device
        self.block = MIC_RATE * block_ms // 1000
        self.block_ms = block_ms
        self.stall_s = stall_s
        self.start_grace_s = start_grace_s
        self.latency = latency
        self.name = f"sounddevice:{device if device is not None else 'default'}"
        self.device: DeviceInfo | None = None
        self.rate: int | None = None
        self.channels = 1
        self.dropped_blocks = 0
        """Blocks dropped because nobody read them in time (the queue holds ``queue_s``)."""
        self.glitches = 0
        """Callbacks that PortAudio flagged (input overflow: sound lost under heavy load)."""
        self._queue: queue.Queue[np.ndarray] = queue.Queue(
            maxsize=max(1, int(queue_s * 1000 / block_ms))
        )
        self._stream: Any = None
        self._resampler: soxr.ResampleStream | None = None
        self._acc = np.zeros(0, dtype=np.float32)
        self._started_at = 0.0
        self._last_callback = 0.0
        self._callbacks = 0
        self._lost: str | None = None
        self._was_lost = False
        self._lock = threading.Lock()

    # -- life cycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._stream is not None and self._lost is None

    def start(self) -> None:
        """Open the device and start delivering audio (reopens a lost device)."""
        if self._stream is not None and self._lost is None:
            return
        if self._stream is not None:
            close_stream(self._stream)
            self._stream = None
        self._lost = None
        if self._was_lost:
            # PortAudio keeps its first list of devices; a re-plugged card needs a fresh look.
            try:
                self._open()
                return
            except AudioError:
                refresh()
        self._open()

    def _open(self) -> None:
        sd = sounddevice()
        dev = find_device(self.spec, "input")
        rates = [MIC_RATE] + ([int(dev.default_rate)] if int(dev.default_rate) != MIC_RATE else [])
        # one channel if the device allows; some (hw: devices, microphone arrays) insist on more
        chans = list(
            dict.fromkeys(c for c in (1, 2, dev.input_channels) if c <= dev.input_channels)
        )
        last_exc: Exception | None = None
        for rate, ch in ((r, c) for r in rates for c in chans):
            try:
                sd.check_input_settings(
                    device=dev.index, samplerate=rate, channels=ch, dtype="float32"
                )
                stream = sd.InputStream(
                    device=dev.index,
                    samplerate=rate,
                    channels=ch,
                    dtype="float32",
                    blocksize=rate * self.block_ms // 1000,
                    latency=self.latency,
                    callback=self._callback,
                )
            except Exception as exc:  # PortAudioError, ValueError for a refused setting
                last_exc = exc
                log.debug("microphone %s refused %d Hz x %d: %s", dev.name, rate, ch, exc)
                continue
            self._resampler = (
                None
                if rate == MIC_RATE
                else soxr.ResampleStream(rate, MIC_RATE, 1, dtype="float32", quality="HQ")
            )
            self._acc = np.zeros(0, dtype=np.float32)
            self._drain()
            self.device, self.rate, self.channels = dev, rate, ch
            self._stream = track_stream(stream)
            self.name = f"sounddevice:{dev.name}"
            self._lost = None
            self._callbacks = 0
            self._started_at = self._last_callback = time.monotonic()
            try:
                stream.start()
            except Exception as exc:
                close_stream(stream)
                self._stream = None
                raise DeviceLost(f"The microphone {dev.name} could not start: {exc}.") from exc
            log.info(
                "microphone %s open at %d Hz, %d channel(s) (first used, resampled to %d Hz)",
                dev.name, rate, ch, MIC_RATE,
            )  # fmt: skip
            return
        raise DeviceNotFound(
            f"The microphone {dev.name} cannot record at {' or '.join(map(str, rates))} Hz:"
            f" {last_exc}."
        )

    def stop(self) -> None:
        """Close the device; queued audio is dropped."""
        stream, self._stream = self._stream, None
        close_stream(stream)
        self._drain()

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    # -- audio ------------------------------------------------------------------------------

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._last_callback = time.monotonic()
        self._callbacks += 1
        if status:
            self.glitches += 1
        x = indata[:, 0]
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x)
        acc = np.concatenate([self._acc, x]) if len(self._acc) else x.copy()
        n = len(acc) // self.block
        for i in range(n):
            block = to_int16(acc[i * self.block : (i + 1) * self.block])
            try:
                self._queue.put_nowait(block)
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
                self.dropped_blocks += 1
                self._queue.put_nowait(block)
        self._acc = acc[n * self.block :]

    def _check_alive(self) -> None:
        if self._lost is not None:
            raise DeviceLost(self._lost)
        if self._stream is None:
            return
        now = time.monotonic()
        silent_for = now - self._last_callback
        limit = self.stall_s if self._callbacks else self.start_grace_s
        active = True
        try:
            active = bool(self._stream.active)
        except Exception:
            active = False
        if silent_for > limit or not active:
            name = self.device.name if self.device else "microphone"
            why = "its stream stopped" if not active else f"no sound for {silent_for:.1f} s"
            self._lost = (
                f"The microphone {name} stopped sending sound ({why}); it may have been unplugged."
            )
            self._was_lost = True
            stream, self._stream = self._stream, None
            threading.Thread(target=close_stream, args=(stream,), daemon=True).start()
            raise DeviceLost(self._lost)

    def read(self, timeout: float) -> np.ndarray | None:
        """The next 16 kHz block, None if none came within *timeout*; DeviceLost if it died.

        Also None at once after :meth:`interrupt`.
        """
        if self._stream is None and self._lost is None:
            raise AudioError("The microphone is not started.")
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                block = self._queue.get_nowait()
                return None if block is _WAKE else block
            except queue.Empty:
                pass
            self._check_alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                block = self._queue.get(timeout=min(0.1, remaining))
                return None if block is _WAKE else block
            except queue.Empty:
                continue

    def interrupt(self) -> None:
        """Make a waiting :meth:`read` (or else the next one) return None at once.

        A button press ends listening this way without waiting for the next block (up to
        30 ms); called from any thread.
        """
        with contextlib.suppress(queue.Full):  # a full queue: read() returns at once anyway
            self._queue.put_nowait(_WAKE)

    def __enter__(self) -> SoundDeviceMicrophone:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


DEFAULT_OUTPUT_LATENCY_S = 0.06
"""The output buffer PortAudio is asked for (``audio.output_latency_s``), played in blocks of
half of it (at most 20 ms). Smaller is heard sooner, but the buffer runs dry (gaps, crackles)
sooner under load: :attr:`SoundDeviceSpeaker.output_underflows` counts that. Measured through
ALSA's pulse plugin on the loaded 2-core build machine: 20 ms in 10 ms blocks underflowed at
once and ran a 2 s tone through in 0.19 s (233 underflows; 48 to 854 in 60 s runs), where
60 ms in 20 ms blocks played it in 2.08 s with none. So 60 ms stays the default; try 20 ms on
a device only with a long playback run that counts no underflows."""

FIRST_SAMPLES_KEPT = 256
"""How many plays' first-sample times the speaker remembers (the oldest are forgotten)."""


@dataclass
class _Chunk:
    play_id: int
    data: np.ndarray  # float32, (frames, channels), at the stream rate
    pos: int = 0


class SoundDeviceSpeaker:
    """A speaker that plays int16 mono audio without blocking, and stops at once.

    *device* is an index or (part of) a name; None is the system default.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        block_ms: int | None = None,
        latency: str | float = DEFAULT_OUTPUT_LATENCY_S,
        stall_s: float = 1.5,
    ) -> None:
        self.spec = device
        if block_ms is None:
            # half the buffer per callback (two blocks in flight), at most 20 ms
            seconds = latency if isinstance(latency, float | int) else DEFAULT_OUTPUT_LATENCY_S
            block_ms = max(5, min(20, round(seconds * 1000 / 2)))
        self.block_ms = block_ms
        self.latency = latency
        self.stall_s = stall_s
        self.name = f"sounddevice:{device if device is not None else 'default'}"
        self.device: DeviceInfo | None = None
        self.rate: int | None = None
        self.channels = 1
        self.output_latency = 0.0
        self.output_underflows = 0
        """Callbacks PortAudio flagged with an output underflow: the buffer ran dry and the
        listener heard a gap (the speaker's counterpart of the microphone's ``glitches``)."""
        self._underflows_logged = 0
        self.first_sample_at: dict[int, float] = {}
        """play id -> wall time (time.time()) when its first sample was handed to the device."""
        self.first_sample_dac_at: dict[int, float] = {}
        """play id -> estimated wall time when that sample reaches the output (adds latency)."""
        self._next_id = 0
        self._queue: collections.deque[_Chunk] = collections.deque()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stream: Any = None
        self._tail_until = 0.0
        self._last_callback = 0.0
        self._lost: str | None = None

    # -- stream -----------------------------------------------------------------------------

    def open(self, rate: int | None = None) -> None:
        """Open the output (done by the first :meth:`play`); *rate* is preferred if possible."""
        if self._stream is not None and self._lost is None:
            return
        if self._stream is not None:
            close_stream(self._stream)
            self._stream = None
        try:
            self._open(rate)
        except AudioError:
            if self._lost is None:
                raise
            refresh()
            self._open(rate)

    def _open(self, rate: int | None) -> None:
        sd = sounddevice()
        dev = find_device(self.spec, "output")
        candidates = [r for r in (rate, int(dev.default_rate), 48_000, 44_100) if r]
        last_exc: Exception | None = None
        for r in dict.fromkeys(candidates):
            for ch in (1, 2):
                try:
                    sd.check_output_settings(
                        device=dev.index, samplerate=r, channels=ch, dtype="float32"
                    )
                    stream = sd.OutputStream(
                        device=dev.index,
                        samplerate=r,
                        channels=ch,
                        dtype="float32",
                        blocksize=r * self.block_ms // 1000,
                        latency=self.latency,
                        callback=self._callback,
                    )
                except Exception as exc:
                    last_exc = exc
                    continue
                self.device, self.rate, self.channels = dev, r, ch
                self._stream = track_stream(stream)
                self.name = f"sounddevice:{dev.name}"
                self._lost = None
                self.output_latency = float(stream.latency)
                self._last_callback = time.monotonic()
                try:
                    stream.start()
                except Exception as exc:
                    close_stream(stream)
                    self._stream = None
                    raise DeviceLost(f"The speaker {dev.name} could not start: {exc}.") from exc
                log.info(
                    "speaker %s open at %d Hz, %d channel(s), %.0f ms output buffer in %d ms"
                    " blocks",
                    dev.name, r, ch, 1000 * self.output_latency, self.block_ms,
                )  # fmt: skip
                return
        raise DeviceNotFound(f"The speaker {dev.name} cannot play at any usual rate: {last_exc}.")

    def close(self) -> None:
        self.stop()
        stream, self._stream = self._stream, None
        close_stream(stream)
        self._log_underflows()

    def _log_underflows(self) -> None:
        """Say (once per new batch) that the output ran dry; never from the callback."""
        count = self.output_underflows
        if count > self._underflows_logged:
            log.warning(
                "speaker %s: %d output underflow(s) so far (gaps in the sound, %d new);"
                " a larger audio.output_latency_s (now %s) prevents them",
                self.name, count, count - self._underflows_logged, self.latency,
            )  # fmt: skip
            self._underflows_logged = count

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        self._last_callback = now
        if status and status.output_underflow:
            self.output_underflows += 1  # logged outside the callback (_log_underflows)
        outdata.fill(0)
        filled = 0
        with self._lock:
            while filled < frames and self._queue:
                chunk = self._queue[0]
                if chunk.pos == 0 and chunk.play_id not in self.first_sample_at:
                    ahead = filled / (self.rate or 1)
                    wall = time.time() + ahead
                    self.first_sample_at[chunk.play_id] = wall
                    try:
                        dac = float(time_info.outputBufferDacTime - time_info.currentTime)
                    except Exception:
                        dac = 0.0
                    self.first_sample_dac_at[chunk.play_id] = wall + max(0.0, dac)
                    # keep the latest plays only: a device runs for months
                    while len(self.first_sample_at) > FIRST_SAMPLES_KEPT:
                        del self.first_sample_at[next(iter(self.first_sample_at))]
                    while len(self.first_sample_dac_at) > FIRST_SAMPLES_KEPT:
                        del self.first_sample_dac_at[next(iter(self.first_sample_dac_at))]
                take = min(frames - filled, len(chunk.data) - chunk.pos)
                outdata[filled : filled + take] = chunk.data[chunk.pos : chunk.pos + take]
                chunk.pos += take
                filled += take
                if chunk.pos >= len(chunk.data):
                    self._queue.popleft()
            if filled:
                self._tail_until = now + filled / (self.rate or 1) + self.output_latency
            if not self._queue:
                self._idle.notify_all()

    def _check_alive(self) -> None:
        if self._lost is not None:
            raise DeviceLost(self._lost)
        if self._stream is None:
            return
        silent_for = time.monotonic() - self._last_callback
        try:
            active = bool(self._stream.active)
        except Exception:
            active = False
        if silent_for > self.stall_s or not active:
            name = self.device.name if self.device else "speaker"
            self._lost = f"The speaker {name} stopped playing; it may have been unplugged."
            with self._lock:
                self._queue.clear()
                self._idle.notify_all()
            raise DeviceLost(self._lost)

    # -- the Speaker protocol ---------------------------------------------------------------

    def play(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Queue int16 mono audio at *sample_rate*; returns at once."""
        self.play_id(pcm, sample_rate)

    def play_id(self, pcm: np.ndarray, sample_rate: int) -> int:
        """Like :meth:`play`, returning an id to look up in :attr:`first_sample_at`."""
        if self._stream is not None and self._lost is None:
            with contextlib.suppress(DeviceLost):
                self._check_alive()
        if self._stream is None or self._lost is not None:
            self.open(sample_rate)
        self._log_underflows()
        data = np.asarray(pcm)
        x = data.astype(np.float32) / 32768.0 if data.dtype == np.int16 else data.astype(np.float32)
        if x.ndim > 1:
            x = x.mean(axis=1)
        if sample_rate != self.rate:
            x = soxr.resample(x, sample_rate, self.rate, quality="HQ").astype(np.float32)
        frames = np.repeat(x[:, None], self.channels, axis=1) if self.channels > 1 else x[:, None]
        with self._lock:
            self._next_id += 1
            pid = self._next_id
            if len(frames):
                self._queue.append(_Chunk(pid, np.ascontiguousarray(frames)))
        return pid

    def stop(self) -> None:
        """Drop everything queued; the output is silent from the next block."""
        with self._lock:
            self._queue.clear()
            self._tail_until = min(self._tail_until, time.monotonic() + self.output_latency)
            self._idle.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until all queued audio has been heard; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = bool(self._queue)
                tail = self._tail_until
            now = time.monotonic()
            if not pending and now >= tail:
                return True
            if deadline is not None and now >= deadline:
                return False
            self._check_alive()
            step = 0.05
            if deadline is not None:
                step = min(step, max(0.0, deadline - now))
            if pending:
                with self._lock:
                    self._idle.wait(step)
            else:
                time.sleep(min(step, max(0.0, tail - now)) or 0.001)

    @property
    def playing(self) -> bool:
        with self._lock:
            return bool(self._queue) or time.monotonic() < self._tail_until

    @property
    def last_first_sample_at(self) -> float | None:
        """Wall time the most recent play's first sample was handed to the device."""
        return self.first_sample_at.get(self._next_id)

    def __enter__(self) -> SoundDeviceSpeaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
