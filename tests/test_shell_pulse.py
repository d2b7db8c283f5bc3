"""The shell on real sound devices (PulseAudio null sinks): it speaks into the speaker, the
person's answer comes in through the microphone, a press stops it talking at once."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import open_microphone, open_speaker
from assistant.buttons.base import InputStream, PressLogic
from assistant.config import AudioSettings
from assistant.dialogue.events import ButtonPressed, SpeechHeard
from assistant.dialogue.shell import JsonRecordSink, MicrophoneEars, RealClock, SessionShell
from assistant.stt.fake import FakeRecognizer
from assistant.voice.fake import FakeVoice
from tests.pulse import MIC_SINK, SPEAKER_SINK, MonitorRecorder, play_into
from tests.test_shell import TwoQuestions

sys.path.insert(0, str(Path(__file__).parent))
import speech_samples as ss  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.audio]


@pytest.fixture
def devices():
    """Speakers and microphones opened by a test, closed after it (PortAudio must not be left
    with open streams when Python exits)."""
    opened: list = []
    yield opened
    for device in opened:
        close = getattr(device, "close", None) or device.stop
        close()


def _shell(
    pulse_env: AudioSettings, tmp_path: Path, rec: FakeRecognizer, inputs: InputStream, opened
):
    from assistant.records.model import Consent, Person

    engine = TwoQuestions([Person(name="Sam", consent=Consent(audio=True))])
    speaker = open_speaker(pulse_env)
    mic = open_microphone(pulse_env)
    opened += [speaker, mic]
    audio = pulse_env.model_copy(update={"wait_for_speech_s": 8.0})
    ears = MicrophoneEars(mic, {"short": rec, "free": rec}, inputs, audio, tmp_path / "turns")
    shell = SessionShell(
        engine,
        voice=FakeVoice(),
        speaker=speaker,
        ears=ears,
        inputs=inputs,
        sink=JsonRecordSink(tmp_path / "r.json"),
        clock=RealClock(),
    )
    return engine, shell


def test_an_answer_comes_in_through_the_microphone(pulse_env, tmp_path, devices):
    inputs = InputStream()
    rec = FakeRecognizer(["I want to cook"])
    engine, shell = _shell(pulse_env, tmp_path, rec, inputs, devices)
    # the prompt takes about 3 s; the person answers after it, with real (Piper) speech
    speech = np.concatenate([ss.silence(4.5), ss.speak("I want to cook"), ss.silence(3.0)])
    player = play_into(MIC_SINK, speech, ss.RATE, wait=False)
    try:
        with MonitorRecorder(SPEAKER_SINK) as said:
            record = shell.run()
    finally:
        player.wait(20)
    heard = [e for e in engine.events if isinstance(e, SpeechHeard)]
    assert len(heard) == 1 and record.answers[0].transcript == "I want to cook"
    assert record.answers[0].audio_clip  # Sam consented: kept beside the JSON record
    assert np.abs(said.audio).max() > 1000  # the prompt really went out of the speaker


def test_a_press_stops_the_prompt_at_once(pulse_env, tmp_path, devices):
    inputs = InputStream()
    engine, shell = _shell(pulse_env, tmp_path, FakeRecognizer(), inputs, devices)
    yes = PressLogic("yes", inputs)
    pressed_at: list[float] = []

    def press() -> None:
        pressed_at.append(time.monotonic())
        yes.tap()

    timer = threading.Timer(1.0, press)  # one second into the first question
    timer.start()
    started = time.monotonic()
    try:
        with MonitorRecorder(SPEAKER_SINK):  # someone listening keeps the null sink in real time
            shell.run()
    finally:
        yes.close()  # its stuck-button timer must not outlive the test
    first = next(e for e in engine.events if isinstance(e, ButtonPressed))
    assert first == ButtonPressed("yes", while_speaking=True)
    assert shell.barge_ins == 1
    # FakeVoice says the question in about 3 s; the press at 1 s ended the session well before
    assert pressed_at and time.monotonic() - started < 3.0
