"""The real microphone and speaker, through PortAudio (sounddevice).

:class:`SoundDeviceMicrophone` opens the device at 16 kHz if it accepts that, else at its own
default rate, and resamples to 16 kHz with a streaming soxr resampler. It delivers 10 ms
blocks (:data:`DEFAULT_BLOCK_MS`) through a bounded queue (the oldest block is dropped if
nobody reads). A device that stops delivering audio (unplugged, or its PulseAudio sink
removed: PortAudio then simply stops calling back) is reported as :class:`DeviceLost` by
:meth:`~SoundDeviceMicrophone.read`, never a hang; :meth:`~SoundDeviceMicrophone.start`
again reopens it when it is back.

:class:`SoundDeviceSpeaker` keeps one output stream open and feeds it from a queue in a writer
thread (blocking writes), so :meth:`~SoundDeviceSpeaker.play` returns at once and
:meth:`~SoundDeviceSpeaker.stop` silences the output once what the device holds has played
(barge-in). While silent it keeps only a little silence queued (``idle_lead_s``, 30 ms), so a
new sound is heard that soon; while playing it keeps the output latency queued (60 ms), the
cushion against a busy machine. It notes the wall time at which the first sample of each play
was handed to the device.
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

from assistant.audio.base import MIC_RATE, Microphone, Speaker
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


DEFAULT_BLOCK_MS = 10
"""The microphone's blocks (``audio.input_block_ms``). Each block is looked at as it comes, so
the last sound of an answer, and the quiet after it, are heard at most this long after they
came in. 10 ms instead of 30 ms ended yes/no turns about 20 ms sooner in ``bench/bench_e2e.py``
(the 32 ms frames of the speech detector are done as soon as their last sound comes, not up to
a 30 ms block later), with no input overflow; the listening loop then runs 100 times a second,
a few tenths of a percent of a core more."""

_WAKE = np.zeros(0, dtype=np.int16)
"""Put in the microphone's queue by :meth:`SoundDeviceMicrophone.interrupt`: not audio."""


class SoundDeviceMicrophone(Microphone):
    """A microphone that always delivers 16 kHz mono int16, in blocks of *block_ms*.

    It can be interrupted (:meth:`interrupt` wakes a waiting :meth:`read`).

    *device* is an index or (part of) a name; None is the system default.
    """

    interruptible = True

    def __init__(
        self,
        device: str | int | None = None,
        *,
        block_ms: int = DEFAULT_BLOCK_MS,
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

        A button press ends listening this way without waiting for the next block, and so
        does a decoding ahead that is done (``record_turn``); called from any thread.
        """
        with contextlib.suppress(queue.Full):  # a full queue: read() returns at once anyway
            self._queue.put_nowait(_WAKE)

    def __enter__(self) -> SoundDeviceMicrophone:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


DEFAULT_OUTPUT_LATENCY_S = 0.06
"""How much sound is queued ahead while the speaker plays (``audio.output_latency_s``): the
cushion that keeps it playing smoothly when the machine is busy. Measured through ALSA's pulse
plugin on the loaded 2-core build machine, a PortAudio callback stream with 20 ms buffers
underflowed at once (a 2 s tone ran through in 0.19 s) and one with 25-30 ms in 5 ms blocks
lost thousands of blocks under load, where 60 ms played it with none. So 60 ms stays. It no
longer sets how soon a new sound starts: see :data:`DEFAULT_IDLE_LEAD_S`."""

DEFAULT_IDLE_LEAD_S = 0.03
"""How much silence is queued ahead while the speaker is silent (at most the output latency).
A new sound is written straight behind it, so it starts this soon (about 20-30 ms), and the
queue then fills up to the output latency at once. If the silence runs dry under load nobody
hears it (:attr:`SoundDeviceSpeaker.idle_underflows` counts it)."""

DEFAULT_WRITE_BLOCK_MS = 10
"""The writer looks at the output (and tops it up) this often; a play() wakes it at once."""

FIRST_SAMPLES_KEPT = 256
"""How many plays' first-sample times the speaker remembers (the oldest are forgotten)."""


def _is_underflow(exc: Exception) -> bool:
    """A PortAudio "output underflowed" error (it recovered; only the sound was late)."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    return len(args) > 1 and args[1] == -9980  # paOutputUnderflowed


@dataclass
class _Chunk:
    play_id: int
    data: np.ndarray  # float32, (frames, channels), at the stream rate
    pos: int = 0


class SoundDeviceSpeaker(Speaker):
    """A speaker that plays int16 mono audio without blocking, and stops at once.

    *device* is an index or (part of) a name; None is the system default.

    One output stream stays open; a writer thread keeps it fed (PortAudio's blocking writes).
    While there is sound to play it keeps *latency* seconds queued, so a busy machine does not
    make it crackle; while silent it keeps only *idle_lead_s* of silence queued, so that a new
    sound (a prompt after a button press) is written straight behind that and heard about that
    soon. :meth:`play` wakes the writer, so the hand-over does not wait for a device block.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        block_ms: int | None = None,
        latency: str | float = DEFAULT_OUTPUT_LATENCY_S,
        idle_lead_s: float = DEFAULT_IDLE_LEAD_S,
        stall_s: float = 1.5,
    ) -> None:
        self.spec = device
        seconds = float(latency) if isinstance(latency, float | int) else DEFAULT_OUTPUT_LATENCY_S
        self.buffer_s = seconds
        """Sound queued ahead while playing: the output latency asked for (the writer fills
        the device's whole buffer, which is this and one block)."""
        self.idle_lead_s = min(idle_lead_s, seconds)
        """Silence queued ahead while silent: how soon a new sound starts."""
        if block_ms is None:
            block_ms = max(2, min(DEFAULT_WRITE_BLOCK_MS, round(self.idle_lead_s * 1000 / 3)))
        self.block_ms = block_ms
        """How often the writer tops up the output."""
        self.period_ms = max(5, min(20, round(seconds * 1000 / 2)))
        """The device's period asked for: half the output latency, at most 20 ms (so its
        buffer is the output latency and one period, as a callback stream's was)."""
        self.latency = latency
        self.stall_s = stall_s
        self.name = f"sounddevice:{device if device is not None else 'default'}"
        self.device: DeviceInfo | None = None
        self.rate: int | None = None
        self.channels = 1
        self.output_latency = 0.0
        self.output_underflows = 0
        """Times the output ran dry while sound was playing: the listener heard a gap (the
        speaker's counterpart of the microphone's ``glitches``)."""
        self.idle_underflows = 0
        """Times the queued silence ran dry while nothing played (not heard; a busy machine)."""
        self._underflows_logged = 0
        self.first_sample_at: dict[int, float] = {}
        """play id -> wall time (time.time()) when its first sample was handed to the device."""
        self.first_sample_dac_at: dict[int, float] = {}
        """play id -> estimated wall time when that sample reaches the output (adds what was
        queued ahead of it)."""
        self._next_id = 0
        self._queue: collections.deque[_Chunk] = collections.deque()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        """Notified when the queue empties (wait()) and when a play arrives (the writer)."""
        self._io = threading.Lock()
        """Held by the writer around each call into the stream, so it is never closed mid-call."""
        self._stream: Any = None
        self._writer: threading.Thread | None = None
        self._buffer_frames = 0
        self._tail_until = 0.0
        self._last_callback = 0.0
        """When the device last took sound (monotonic); a stalled device is lost."""
        self._lost: str | None = None

    # -- stream -----------------------------------------------------------------------------

    def open(self, rate: int | None = None) -> None:
        """Open the output (done by the first :meth:`play`); *rate* is preferred if possible."""
        if self._stream is not None and self._lost is None:
            return
        if self._stream is not None:
            self._close_stream()
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
                        blocksize=r * self.period_ms // 1000,
                        latency=self.latency,
                    )
                except Exception as exc:
                    last_exc = exc
                    continue
                self.device, self.rate, self.channels = dev, r, ch
                self.name = f"sounddevice:{dev.name}"
                self.output_latency = float(stream.latency)
                try:
                    stream.start()
                    # nothing written yet: all of the device's buffer is free
                    self._buffer_frames = int(stream.write_available)
                except Exception as exc:
                    close_stream(stream)
                    raise DeviceLost(f"The speaker {dev.name} could not start: {exc}.") from exc
                self._stream = track_stream(stream, lock=self._io)
                self._lost = None
                self._last_callback = time.monotonic()
                self._writer = threading.Thread(
                    target=self._write_loop, args=(stream,), name="speaker-writer", daemon=True
                )
                self._writer.start()
                log.info(
                    "speaker %s open at %d Hz, %d channel(s), %.0f ms output buffer (%.0f ms"
                    " queued while playing, %.0f ms while silent, topped up every %d ms)",
                    dev.name, r, ch, 1000 * self.output_latency, 1000 * self._buffer_frames / r,
                    1000 * self.idle_lead_s, self.block_ms,
                )  # fmt: skip
                return
        raise DeviceNotFound(f"The speaker {dev.name} cannot play at any usual rate: {last_exc}.")

    def _close_stream(self) -> None:
        """Stop the writer and close the stream (never hangs on a lost device)."""
        stream, self._stream = self._stream, None
        writer, self._writer = self._writer, None
        with self._lock:
            self._idle.notify_all()  # the writer sees its stream is gone and ends
        if writer is not None and writer is not threading.current_thread():
            writer.join(0.5)
        got = self._io.acquire(timeout=0.5)  # not while the writer is inside the stream
        try:
            close_stream(stream)
        finally:
            if got:
                self._io.release()

    def close(self) -> None:
        self.stop()
        self._close_stream()
        self._log_underflows()

    def _log_underflows(self) -> None:
        """Say (once per new batch) that the output ran dry; never from the writer."""
        count = self.output_underflows
        if count > self._underflows_logged:
            log.warning(
                "speaker %s: %d output underflow(s) so far (gaps in the sound, %d new);"
                " a larger audio.output_latency_s (now %s) prevents them",
                self.name, count, count - self._underflows_logged, self.latency,
            )  # fmt: skip
            self._underflows_logged = count

    # -- the writer ---------------------------------------------------------------------------

    def _write_loop(self, stream: Any) -> None:
        rate = self.rate or 48_000
        # playing: the device's whole buffer (the output latency and a block), as a callback
        # stream keeps it, since ALSA's pulse plugin reports room in the server's pulls of
        # ~30 ms, so what it shows queued swings down by that much between two looks
        high = max(1, self._buffer_frames)
        low = max(1, min(int(self.idle_lead_s * rate), high))
        step_s = self.block_ms / 1000
        extra = max(0.0, self.output_latency - self._buffer_frames / rate)
        last_avail = -1
        fill = 0
        sound_in_buffer = False  # the last write ended in sound: running dry would be heard
        dry = True  # nothing written since the buffer was last seen empty
        try:
            while self._stream is stream:
                with self._io:
                    if self._stream is not stream:
                        return
                    underflowed = False
                    try:
                        avail = int(stream.write_available)
                    except Exception as exc:
                        if not _is_underflow(exc):
                            raise
                        underflowed, avail = True, self._buffer_frames  # recovered: empty
                    now = time.monotonic()
                    if avail > last_avail:
                        self._last_callback = now  # the device took sound: it is alive
                    last_avail = avail
                    fill = max(0, self._buffer_frames - avail)
                    if fill == 0 and not dry:
                        underflowed, dry = True, True  # it ran dry since the last write
                    if underflowed:
                        self._count_underflow(sound_in_buffer)
                        sound_in_buffer = False
                    with self._lock:
                        playing = bool(self._queue)
                    target = high if playing else low
                    if fill < target and avail > 0:
                        n = min(target - fill, avail)
                        out, sound_end = self._take(n, fill)
                        if stream.write(out) and not dry:
                            self._count_underflow(sound_in_buffer)
                        written_at = time.monotonic()
                        self._last_callback = written_at
                        last_avail, dry = avail - n, False
                        sound_in_buffer = sound_end == n
                        if sound_end:
                            with self._lock:
                                self._tail_until = max(
                                    self._tail_until,
                                    written_at + (fill + sound_end) / rate + extra,
                                )
                        fill += n
                with self._lock:
                    if self._stream is not stream:
                        return
                    if self._queue:
                        wait_s = step_s  # playing: top up a block at a time
                    else:
                        # silent: top up before the lead runs low; a play() wakes it at once
                        wait_s = min(step_s, max(0.001, (fill - low / 2) / rate))
                    self._idle.wait(wait_s)
        except Exception as exc:  # the stream failed: the device is gone
            if self._stream is stream:
                name = self.device.name if self.device else "speaker"
                self._lost = f"The speaker {name} stopped playing ({exc}); it may be unplugged."
                with self._lock:
                    self._idle.notify_all()  # wait() raises DeviceLost (and drops the queue)

    def _count_underflow(self, audible: bool) -> None:
        if audible:
            self.output_underflows += 1  # logged outside the writer (play, close)
        else:
            self.idle_underflows += 1

    def _take(self, n: int, fill: int) -> tuple[np.ndarray, int]:
        """The next *n* frames to write (queued sound, then silence) and where the sound ends."""
        out = np.zeros((n, self.channels), dtype=np.float32)
        filled = 0
        rate = self.rate or 1
        with self._lock:
            while filled < n and self._queue:
                chunk = self._queue[0]
                if chunk.pos == 0 and chunk.play_id not in self.first_sample_at:
                    wall = time.time()
                    self.first_sample_at[chunk.play_id] = wall
                    self.first_sample_dac_at[chunk.play_id] = wall + (fill + filled) / rate
                    # keep the latest plays only: a device runs for months
                    while len(self.first_sample_at) > FIRST_SAMPLES_KEPT:
                        del self.first_sample_at[next(iter(self.first_sample_at))]
                    while len(self.first_sample_dac_at) > FIRST_SAMPLES_KEPT:
                        del self.first_sample_dac_at[next(iter(self.first_sample_dac_at))]
                take = min(n - filled, len(chunk.data) - chunk.pos)
                out[filled : filled + take] = chunk.data[chunk.pos : chunk.pos + take]
                chunk.pos += take
                filled += take
                if chunk.pos >= len(chunk.data):
                    self._queue.popleft()
            if not self._queue:
                self._idle.notify_all()
        return out, filled

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
        writer = self._writer
        if silent_for > self.stall_s or not active or writer is None or not writer.is_alive():
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
                self._idle.notify_all()  # the writer hands it over now, not at its next look
        return pid

    def stop(self) -> None:
        """Drop everything queued; the output is silent once what the device holds has played
        (at most the output latency)."""
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
