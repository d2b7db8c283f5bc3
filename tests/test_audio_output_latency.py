"""The speaker's output buffer: ``audio.output_latency_s`` reaches the PortAudio stream, and
output underflows (gaps in the sound) are counted and logged (docs/performance.md, fix 4)."""

from __future__ import annotations

import logging
import math
import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from assistant.audio import open_speaker
from assistant.audio import sounddevice_io as sdio
from assistant.config import AudioSettings
from assistant.errors import DeviceLost

R = 16_000

# -- the speaker's output buffer -----------------------------------------------------------


class _FakeStream:
    """A blocking PortAudio output stream on a device that plays in real time: what is
    written is kept (with when it will be heard), ``write_available`` is the free room."""

    def __init__(self, **kw: Any) -> None:
        self.kw = kw
        self.rate = int(kw["samplerate"])
        self.latency = float(kw["latency"]) + 0.005
        self.buffer = int((float(kw["latency"]) + 0.01) * self.rate)
        self.active = True
        self.frozen = False  # a hung device: it stops taking sound, without an error
        self.fail: Exception | None = None  # the next call raises this
        self.underflow_on_write: int | None = None  # this write says the output ran dry
        self.writes: list[tuple[float, int, np.ndarray]] = []  # (monotonic, fill, frames)
        self._fill = 0.0
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def _now_fill(self) -> float:
        now = time.monotonic()
        if not self.frozen:
            self._fill = max(0.0, self._fill - (now - self._at) * self.rate)
        self._at = now
        return self._fill

    @property
    def write_available(self) -> int:
        with self._lock:
            if self.fail is not None:
                raise self.fail
            return self.buffer - math.ceil(self._now_fill())

    def write(self, data: np.ndarray) -> bool:
        with self._lock:
            if self.fail is not None:
                raise self.fail
            fill = self._now_fill()
            assert data.dtype == np.float32 and data.ndim == 2
            assert fill + len(data) <= self.buffer, "a write that would block"
            self.writes.append((time.monotonic(), int(fill), data.copy()))
            self._fill = fill + len(data)
            return self.underflow_on_write == len(self.writes)

    def fill_s(self) -> float:
        with self._lock:
            return self._now_fill() / self.rate

    def start(self) -> None:
        pass

    def abort(self, ignore_errors: bool = True) -> None:
        self.active = False

    def close(self, ignore_errors: bool = True) -> None:
        self.active = False


def _fake_devices(monkeypatch: pytest.MonkeyPatch) -> list[_FakeStream]:
    opened: list[_FakeStream] = []
    device = SimpleNamespace(index=3, name="fake speaker", default_rate=48_000.0)

    def output_stream(**kw: Any) -> _FakeStream:
        assert "callback" not in kw  # blocking writes, fed by the speaker's writer thread
        opened.append(_FakeStream(**kw))
        return opened[-1]

    fake_sd = SimpleNamespace(check_output_settings=lambda **kw: None, OutputStream=output_stream)
    monkeypatch.setattr(sdio, "sounddevice", lambda: fake_sd)
    monkeypatch.setattr(sdio, "find_device", lambda spec, kind: device)
    monkeypatch.setattr("assistant.audio.devices.find_device", lambda spec, kind: device)
    return opened


def _sound_at(stream: _FakeStream) -> tuple[float, float]:
    """When the first written sound was handed over, and how much was queued ahead of it."""
    for at, fill, data in stream.writes:
        loud = np.flatnonzero(np.abs(data[:, 0]) > 0.01)
        if len(loud):
            return at, (fill + int(loud[0])) / stream.rate
    raise AssertionError("no sound was written")


def test_output_latency_setting_reaches_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _fake_devices(monkeypatch)
    assert AudioSettings().output_latency_s == sdio.DEFAULT_OUTPUT_LATENCY_S
    speaker = open_speaker(AudioSettings(output_latency_s=0.02))
    assert isinstance(speaker, sdio.SoundDeviceSpeaker)
    speaker.play(np.zeros(2205, dtype=np.int16), 22_050)
    kw = opened[-1].kw
    assert kw["latency"] == 0.02
    assert speaker.idle_lead_s == 0.02  # never more queued while silent than while playing
    assert kw["blocksize"] == kw["samplerate"] * 10 // 1000  # periods of half the latency
    assert speaker.output_latency == pytest.approx(0.025)
    speaker.close()
    default = open_speaker(AudioSettings())
    assert isinstance(default, sdio.SoundDeviceSpeaker)
    default.play(np.zeros(2205, dtype=np.int16), 22_050)
    kw = opened[-1].kw
    assert kw["latency"] == 0.06 and default.idle_lead_s == sdio.DEFAULT_IDLE_LEAD_S
    assert kw["blocksize"] == kw["samplerate"] * 20 // 1000 and default.block_ms == 10
    default.close()
    with pytest.raises(ValueError):
        AudioSettings(output_latency_s=0.0)  # a buffer of nothing is refused
    assert AudioSettings().idle_lead_s == sdio.DEFAULT_IDLE_LEAD_S
    calm = open_speaker(AudioSettings(idle_lead_s=0.05))  # a card that clicks when it runs dry
    assert isinstance(calm, sdio.SoundDeviceSpeaker) and calm.idle_lead_s == 0.05
    with pytest.raises(ValueError):
        AudioSettings(idle_lead_s=0.0)


def test_silent_speaker_keeps_little_queued_and_a_play_starts_behind_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = _fake_devices(monkeypatch)
    speaker = sdio.SoundDeviceSpeaker("fake", latency=0.1, idle_lead_s=0.03)
    speaker.open(48_000)
    stream = opened[-1]
    time.sleep(0.3)
    idle_fills = []
    for _ in range(20):
        idle_fills.append(stream.fill_s())
        time.sleep(0.01)
    # silent: a little silence queued (never the 100 ms buffer), so the device keeps running
    assert max(idle_fills) <= 0.03 + 0.002
    assert np.median(idle_fills) > 0.005
    tone = (8000 * np.sin(np.arange(R) * 2 * np.pi * 440 / R)).astype(np.int16)
    t_play = time.monotonic()
    pid = speaker.play_id(tone, R)
    handed_at, ahead_s = _sound_at_soon(stream)
    # handed over by the writer at once (not at a device block), behind the idle lead only
    assert handed_at - t_play < 0.05
    assert ahead_s <= 0.03 + 0.002
    # the speaker's own estimate of when it is heard: what was queued ahead of it (the test
    # reads the queue from another thread, so a busy machine moves the two a few ms apart)
    assert speaker.first_sample_dac_at[pid] - speaker.first_sample_at[pid] == pytest.approx(
        ahead_s, abs=0.005
    )
    # playing: the queue fills up to the output latency, the cushion against a busy machine
    time.sleep(0.2)
    playing_fills = []
    for _ in range(20):
        playing_fills.append(stream.fill_s())
        time.sleep(0.01)
    assert np.median(playing_fills) > 0.07
    assert speaker.wait(3)
    assert time.monotonic() - t_play >= 0.95  # played in real time, not run through
    written = np.concatenate([data[:, 0] for _, _, data in stream.writes])
    loud = np.flatnonzero(np.abs(written) > 0.01)
    assert loud[-1] - loud[0] == pytest.approx(len(tone) * 3, abs=10)  # all of it, in order
    speaker.close()
    assert not stream.active


def _sound_at_soon(stream: _FakeStream) -> tuple[float, float]:
    deadline = time.monotonic() + 1
    while True:
        try:
            return _sound_at(stream)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.002)


def test_output_underflows_are_counted_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    opened = _fake_devices(monkeypatch)
    speaker = sdio.SoundDeviceSpeaker("fake", latency=0.06)
    speaker.open(48_000)
    stream = opened[-1]
    time.sleep(0.1)
    assert speaker.output_underflows == 0
    tone = (8000 * np.sin(np.arange(R // 2) * 2 * np.pi * 440 / R)).astype(np.int16)
    stream.underflow_on_write = len(stream.writes) + 3  # while the tone plays
    speaker.play(tone, R)
    assert speaker.wait(3)
    assert speaker.output_underflows == 1
    # the queued silence running dry while nothing plays is not heard: counted apart
    stream.underflow_on_write = len(stream.writes) + 2
    time.sleep(0.1)
    assert speaker.output_underflows == 1 and speaker.idle_underflows == 1
    with caplog.at_level(logging.WARNING, logger="assistant.audio.sounddevice_io"):
        speaker._log_underflows()
        speaker._log_underflows()  # nothing new: said once
    said = [r.getMessage() for r in caplog.records if "underflow" in r.getMessage()]
    assert len(said) == 1 and "1 output underflow" in said[0]
    speaker.close()


def test_a_hung_or_failed_device_is_lost_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _fake_devices(monkeypatch)
    speaker = sdio.SoundDeviceSpeaker("fake", latency=0.06, stall_s=0.3)
    tone = (8000 * np.sin(np.arange(2 * R) * 2 * np.pi * 440 / R)).astype(np.int16)
    speaker.play(tone, R)
    time.sleep(0.1)
    opened[-1].frozen = True  # it takes no more sound, and says nothing
    t0 = time.monotonic()
    with pytest.raises(DeviceLost):
        speaker.wait(5)
    assert time.monotonic() - t0 < 1.0
    speaker.play(tone[:1600], R)  # played again, it opens the device again
    assert len(opened) == 2 and speaker.wait(2)
    opened[-1].fail = RuntimeError("Unanticipated host error")  # the stream fails outright
    speaker.play(tone, R)
    with pytest.raises(DeviceLost, match="stopped playing"):
        speaker.wait(2)
    speaker.close()


@pytest.mark.slow
def test_output_latency_on_pulseaudio(pulse_env: AudioSettings) -> None:
    settings = pulse_env.model_copy(update={"output_latency_s": 0.1})
    speaker = open_speaker(settings)
    assert isinstance(speaker, sdio.SoundDeviceSpeaker)
    tone = (3000 * np.sin(np.arange(R) * 2 * np.pi * 440 / R)).astype(np.int16)
    t0 = time.monotonic()
    speaker.play(tone, R)
    assert speaker.wait(5)
    assert time.monotonic() - t0 >= 0.9  # played in real time, not run through
    assert speaker.block_ms == 10  # the writer tops up every 10 ms
    assert 0.08 <= speaker.output_latency <= 0.3  # PortAudio gave about the buffer asked for
    speaker.close()
