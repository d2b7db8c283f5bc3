"""The self-test's microphone step on the virtual audio devices (real sounddevice streams).

PulseAudio null sinks of this test's own stand in for a USB microphone and speaker: ``pacat``
plays "a person speaking" (a tone) into the microphone sink, whose monitor the real
:class:`SoundDeviceMicrophone` records; the recording is played back by the real
:class:`SoundDeviceSpeaker` and heard on the speaker sink's monitor.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from assistant.buttons import InputStream
from assistant.buttons.keyboard import NoButtons
from assistant.buttons.lights import ConsoleLights
from assistant.check import CheckKit, SelfTest
from assistant.config import Settings
from assistant.errors import DeviceLost
from tests.pulse import MonitorRecorder, ensure_pulse, play_into, reload_sink, unload_sink

pytestmark = [pytest.mark.slow, pytest.mark.audio]

SPEAKER = "assistant_check_speaker"
MIC = "assistant_check_mic"


@pytest.fixture(scope="module")
def devices():
    reason = ensure_pulse()
    if reason is not None:
        pytest.skip(reason)
    mp = pytest.MonkeyPatch()
    reload_sink(SPEAKER)
    reload_sink(MIC)
    mp.setenv("PULSE_SINK", SPEAKER)
    mp.setenv("PULSE_SOURCE", f"{MIC}.monitor")
    from assistant.audio.sounddevice_io import SoundDeviceMicrophone, SoundDeviceSpeaker

    time.sleep(1.0)  # fresh null sinks settle once their keep-alive readers run
    speaker = SoundDeviceSpeaker("pulse")
    for attempt in range(3):
        try:
            speaker.play(np.zeros(1600, dtype=np.int16), 16_000)
            speaker.wait(5)
            break
        except DeviceLost:
            if attempt == 2:
                raise
            time.sleep(0.5)
    mic = SoundDeviceMicrophone("pulse")
    yield mic, speaker
    speaker.close()
    unload_sink(SPEAKER)
    unload_sink(MIC)
    mp.undo()


def self_test(tmp_path, mic, speaker) -> SelfTest:
    settings = Settings.model_validate({"records": {"data_dir": str(tmp_path)}})
    kit = CheckKit(
        stream=InputStream(),
        buttons=NoButtons(),
        lights=ConsoleLights(),
        speaker=speaker,
        microphone=mic,
    )
    return SelfTest(settings, kit, out=lambda s: None, record_s=2.0)


def test_microphone_level_and_playback(devices, tmp_path):
    mic, speaker = devices
    test = self_test(tmp_path, mic, speaker)
    t = np.arange(4 * 16_000) / 16_000
    voice_like = (0.3 * 32767 * np.sin(2 * np.pi * 330 * t)).astype(np.int16)
    player = play_into(MIC, voice_like, 16_000, wait=False)  # "a person speaking"
    try:
        with MonitorRecorder(SPEAKER) as rec:
            test.check_microphone()
            time.sleep(0.3)
    finally:
        player.kill()
    item = test.items[-1]
    assert item.name == "microphone"
    assert item.ok, item.detail
    loud = float(item.detail.split("loudest ")[1].split(" dBFS")[0])
    assert -20 <= loud <= -8  # a 0.3 sine is -13.5 dBFS
    # the recording was played back: the tone is heard at the speaker's monitor
    heard = rec.audio
    loud_part = heard[np.abs(heard) > 1000]
    assert len(loud_part) > 0.5 * 16_000, "less than half a second of the recording was heard"
    start = int(np.flatnonzero(np.abs(heard) > 1000)[0]) + 1600
    window = heard[start : start + 8000].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window))))
    assert abs(np.argmax(spectrum) * 16_000 / len(window) - 330) < 5


def test_a_silent_microphone_fails(devices, tmp_path):
    mic, speaker = devices
    test = self_test(tmp_path, mic, speaker)
    test.check_microphone()
    item = test.items[-1]
    assert not item.ok
    assert "heard almost nothing" in item.detail
