"""Barge-in on the virtual audio devices: a MockFactory press silences the real speaker.

The speaker (SoundDeviceSpeaker) plays into a PulseAudio null sink of this test's own (so tests
that unplug the shared sinks cannot disturb it); ``parec`` records its monitor, and the time
from the press to the last sample heard is measured.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from assistant.buttons import InputStream
from assistant.buttons.gpio import GpioButtons
from assistant.config import ButtonSettings
from assistant.dialogue.events import ButtonPressed
from assistant.errors import DeviceLost
from tests.pulse import MonitorRecorder, ensure_pulse, reload_sink, unload_sink

pytestmark = [pytest.mark.slow, pytest.mark.audio]

SINK = "assistant_buttons_test"
THRESHOLD = 300


@pytest.fixture
def speaker(monkeypatch):
    reason = ensure_pulse()
    if reason is not None:
        pytest.skip(reason)
    reload_sink(SINK)
    monkeypatch.setenv("PULSE_SINK", SINK)
    from assistant.audio.sounddevice_io import SoundDeviceSpeaker

    spk = SoundDeviceSpeaker("pulse")
    time.sleep(1.0)  # a fresh null sink renders in 2 s blocks until its keep-alive reader runs
    for attempt in range(3):  # open the output and let it settle
        try:
            spk.play(np.zeros(1600, dtype=np.int16), 16_000)
            spk.wait(5)
            break
        except DeviceLost:
            if attempt == 2:
                raise
            time.sleep(0.5)
    yield spk
    spk.close()
    unload_sink(SINK)


def tone(seconds: float, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def test_press_while_speaking_silences_the_speaker(speaker):
    factory = MockFactory(pin_class=MockPWMPin)
    stream = InputStream()
    stream.set_barge_in(speaker.stop)
    buttons = GpioButtons(ButtonSettings(), stream, pin_factory=factory)
    times: list[float] = []
    try:
        for _ in range(3):
            with MonitorRecorder(SINK) as rec, stream.prompt():
                speaker.play(tone(3.0), 16_000)
                time.sleep(0.6)
                t0 = time.time()
                factory.pin(27).drive_low()  # no
                time.sleep(0.05)
                factory.pin(27).drive_high()
                time.sleep(0.6)
            assert stream.get(timeout=1) == ButtonPressed("no", while_speaking=True)
            audio = rec.audio
            loud = np.flatnonzero(np.abs(audio) > THRESHOLD)
            assert len(loud), "nothing was heard at the monitor"
            last = rec.time_of(int(loud[-1]) + 1)
            assert last > t0 - 0.05, "the tone was not sounding when the button went down"
            times.append(last - t0)
            # without the press the tone would have gone on for 2.4 s more
            assert not speaker.playing
        print(f"press to silence at the monitor: {[round(t * 1000) for t in times]} ms")
        assert float(np.median(times)) < 0.3
    finally:
        buttons.close()
        factory.reset()
