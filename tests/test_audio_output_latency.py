"""The speaker's output buffer: ``audio.output_latency_s`` reaches the PortAudio stream, and
output underflows (gaps in the sound) are counted and logged (docs/performance.md, fix 4)."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from assistant.audio import open_speaker
from assistant.audio import sounddevice_io as sdio
from assistant.config import AudioSettings

R = 16_000

# -- the speaker's output buffer -----------------------------------------------------------


class _FakeStream:
    def __init__(self, **kw: Any) -> None:
        self.kw = kw
        self.latency = float(kw["latency"]) + 0.005
        self.active = True

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
        opened.append(_FakeStream(**kw))
        return opened[-1]

    fake_sd = SimpleNamespace(check_output_settings=lambda **kw: None, OutputStream=output_stream)
    monkeypatch.setattr(sdio, "sounddevice", lambda: fake_sd)
    monkeypatch.setattr(sdio, "find_device", lambda spec, kind: device)
    monkeypatch.setattr("assistant.audio.devices.find_device", lambda spec, kind: device)
    return opened


def test_output_latency_setting_reaches_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _fake_devices(monkeypatch)
    assert AudioSettings().output_latency_s == sdio.DEFAULT_OUTPUT_LATENCY_S
    speaker = open_speaker(AudioSettings(output_latency_s=0.02))
    assert isinstance(speaker, sdio.SoundDeviceSpeaker)
    speaker.play(np.zeros(2205, dtype=np.int16), 22_050)
    kw = opened[-1].kw
    assert kw["latency"] == 0.02
    assert kw["blocksize"] == kw["samplerate"] * 10 // 1000  # 10 ms blocks for 20 ms
    assert speaker.output_latency == pytest.approx(0.025)
    speaker.close()
    default = open_speaker(AudioSettings())
    assert isinstance(default, sdio.SoundDeviceSpeaker)
    default.play(np.zeros(2205, dtype=np.int16), 22_050)
    kw = opened[-1].kw
    assert kw["latency"] == 0.06 and kw["blocksize"] == kw["samplerate"] * 20 // 1000
    default.close()
    with pytest.raises(ValueError):
        AudioSettings(output_latency_s=0.0)  # a buffer of nothing is refused


def test_output_underflows_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    speaker = sdio.SoundDeviceSpeaker("x", latency=0.02)
    speaker.rate = 48_000
    out = np.zeros((480, 1), dtype=np.float32)
    now = SimpleNamespace(outputBufferDacTime=0.0, currentTime=0.0)
    speaker._callback(out, 480, now, SimpleNamespace(output_underflow=False))
    assert speaker.output_underflows == 0
    for _ in range(3):
        speaker._callback(out, 480, now, SimpleNamespace(output_underflow=True))
    assert speaker.output_underflows == 3
    with caplog.at_level(logging.WARNING, logger="assistant.audio.sounddevice_io"):
        speaker._log_underflows()
        speaker._log_underflows()  # nothing new: said once
    said = [r.getMessage() for r in caplog.records if "underflow" in r.getMessage()]
    assert len(said) == 1 and "3 output underflow" in said[0]


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
    assert speaker.block_ms == 20
    assert 0.08 <= speaker.output_latency <= 0.3  # PortAudio gave about the buffer asked for
    speaker.close()
