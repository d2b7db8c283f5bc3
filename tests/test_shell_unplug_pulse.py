"""Unplug and replug on real (virtual) sound devices: a daily check-in runs through the real
microphone and speaker on PulseAudio null sinks of this test's own; the microphone's (or the
speaker's) null-sink module is unloaded mid-session and loaded again. The status light turns
red, the person carries on with the buttons, and once the sink is back the device is used
again: the answers are all in the record, the microphone hears again, the speaker is heard again.

The test's own sinks (``assistant_unplug_mic`` / ``assistant_unplug_speaker``) are created and
removed here, so the shared ones other tests use are never touched.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import open_microphone, open_speaker
from assistant.audio.endpoint import EnergyDetector
from assistant.buttons.base import InputStream
from assistant.config import AudioSettings, DialogueSettings
from assistant.dialogue.engine import Engine
from assistant.dialogue.events import Button, ButtonPressed, SetLights
from assistant.dialogue.script import load_script
from assistant.dialogue.shell import JsonRecordSink, MicrophoneEars, RealClock, SessionShell
from assistant.dialogue.simulate import _earcons
from assistant.records.model import Consent, Person
from assistant.stt.fake import FakeRecognizer
from assistant.voice.fake import FakeVoice
from tests.pulse import MonitorRecorder, Pulse, play_into, reload_sink, sinks, unload_sink

pytestmark = [pytest.mark.slow, pytest.mark.audio]

MIC = "assistant_unplug_mic"
SPEAKER = "assistant_unplug_speaker"
WAIT_S = 20.0  # the longest any one step of a test may take


def plug_in(sink: str) -> None:
    """Load the sink's module again, and play a moment of silence into it: the first stream on a
    new null sink stalls for about two seconds (long enough for the speaker to count as lost
    again), which a real card plugged back in does not do."""
    reload_sink(sink)
    play_into(sink, np.zeros(1600, np.int16), 16_000)


@pytest.fixture
def sinks_of_our_own(pulse: Pulse, monkeypatch: pytest.MonkeyPatch) -> Iterator[AudioSettings]:
    for sink in (MIC, SPEAKER):
        plug_in(sink)
    if not {MIC, SPEAKER} <= set(sinks()):
        pytest.skip("PulseAudio would not load a null sink for this test")
    monkeypatch.setenv("PULSE_SINK", SPEAKER)
    monkeypatch.setenv("PULSE_SOURCE", f"{MIC}.monitor")
    yield AudioSettings(input_device="pulse", output_device="pulse")
    for sink in (MIC, SPEAKER):
        unload_sink(sink)


class Lights:
    def __init__(self) -> None:
        self.shown: list[SetLights] = []

    def apply(self, lights: SetLights) -> None:
        self.shown.append(lights)

    @property
    def status(self) -> str:
        return self.shown[-1].status if self.shown else "idle"

    def pattern(self) -> str:
        """One letter per change: E while the status light is red, . otherwise."""
        return "".join("E" if s.status == "error" else "." for s in self.shown)


class CheckIn:
    """A daily check-in for Sam on the real microphone and speaker, run in a thread, with a
    person beside it who watches the lights and hears the prompts (the voice's calls)."""

    def __init__(self, audio: AudioSettings, tmp_path: Path) -> None:
        self.speaker = open_speaker(audio)
        self.mic = open_microphone(audio)
        self.inputs = InputStream()
        self.lights = Lights()
        self.voice = FakeVoice(words_per_minute=1500)
        self.short, self.free = FakeRecognizer(), FakeRecognizer()
        sam = Person(name="Sam", consent=Consent(audio=True, method="staff_recorded"))
        self.engine = Engine(
            load_script("daily-checkin"),
            [sam],
            settings=DialogueSettings(),
            clock=RealClock(),
            rng=random.Random(1),
        )
        ears = MicrophoneEars(
            self.mic, {"short": self.short, "free": self.free}, self.inputs, audio,
            tmp_path / "turns", EnergyDetector(),
        )  # fmt: skip
        self.shell = SessionShell(
            self.engine,
            voice=self.voice,
            speaker=self.speaker,
            ears=ears,
            inputs=self.inputs,
            sink=JsonRecordSink(tmp_path / "record.json"),
            clock=RealClock(),
            earcons=_earcons(),
            lights=self.lights,
        )
        self.shell.retry_every_s = 1.0  # the microphone is tried again every second
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="session", daemon=True)

    def _run(self) -> None:
        try:
            self.shell.run()
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def __enter__(self) -> CheckIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(WAIT_S if exc[0] is None else 1.0)
        self.mic.stop()
        close = getattr(self.speaker, "close", None)
        if close is not None:
            close()

    # -- the person -------------------------------------------------------------------------

    def until(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not check():
            if self.error is not None:
                raise AssertionError(f"the session failed while waiting for {what}") from self.error
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError(
                    f"never saw {what}; last prompt {self.voice.calls[-1:]}, lights "
                    f"{self.lights.pattern()}, answers {self.answers()}"
                )
            time.sleep(0.02)

    def asked(self, words: str) -> Callable[[], bool]:
        return lambda: bool(self.voice.calls) and words in self.voice.calls[-1]

    def listening(self, words: str) -> Callable[[], bool]:
        return lambda: self.asked(words)() and self.lights.status == "listening"

    def press(self, button: Button) -> None:
        self.inputs.put(ButtonPressed(button))

    def answered(self, step: str) -> Callable[[], bool]:
        return lambda: step in self.answers()

    def answers(self) -> dict[str, tuple[str | None, str]]:
        return {
            a.step_id: (a.value, f"heard {a.transcript!r}" if a.engine else "button")
            for a in self.engine.record.answers
        }

    def say_into_microphone(self, rec: FakeRecognizer, words: str) -> None:
        """Speak (a tone the energy detector takes for speech) that the recogniser hears as
        *words*."""
        rec.say(words)
        t = np.arange(int(0.8 * 16_000)) / 16_000
        tone = (0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
        play_into(MIC, np.concatenate([np.zeros(3200, np.int16), tone]), 16_000, wait=False)

    def finish(self) -> None:
        self.thread.join(WAIT_S)
        if self.error is not None:
            raise self.error
        assert not self.thread.is_alive(), f"the session did not end: {self.lights.pattern()}"


def test_microphone_unplugged_and_plugged_back_mid_session(sinks_of_our_own, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="assistant.dialogue.shell")
    started = time.monotonic()
    with CheckIn(sinks_of_our_own, tmp_path) as s:
        # the microphone goes while it listens for the first answer
        s.until("the question 'are you Sam'", s.listening("If you are Sam"))
        s.until("the microphone open", lambda: bool(getattr(s.mic, "running", False)))
        time.sleep(0.3)
        unload_sink(MIC)
        s.until("the red light", lambda: s.lights.status == "error")
        s.press("yes")
        # still out at the next question: the buttons alone
        s.until("the consent question", s.asked("can I keep a recording"))
        s.press("yes")
        s.until("the consent answer", s.answered("consent"))
        assert s.lights.status == "error"
        plug_in(MIC)
        # back: the next answers are spoken and heard through the microphone
        s.until("the mood question, listening", s.listening("How are you feeling"))
        s.say_into_microphone(s.short, "good")
        s.until("the mood answer", s.answered("mood"))
        s.until("the news question, listening", s.listening("anything you want to tell"))
        s.say_into_microphone(s.free, "I saw my friend")
        s.until("the check question, listening", s.listening("Is that right?"))
        s.say_into_microphone(s.short, "yes")
        s.finish()
    took = time.monotonic() - started
    got = s.answers()
    assert got["consent"] == ("yes", "button")
    assert got["mood"] == ("good", "heard 'good'")
    assert got["news"][1] == "heard 'I saw my friend'"
    assert s.shell.saved_finished and s.shell.outages == 1 and not s.shell.lost
    assert re.fullmatch(r"\.+E+\.+", s.lights.pattern()), s.lights.pattern()
    lost = [r.message for r in caplog.records if "Carrying on with the buttons" in r.message]
    assert len(lost) == 1 and "stopped sending sound" in lost[0]  # lost while it listened
    print(f"\nmicrophone unplugged and back: the check-in took {took:.1f} s")


def test_speaker_unplugged_and_plugged_back_mid_session(sinks_of_our_own, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="assistant.dialogue.shell")
    started = time.monotonic()
    with CheckIn(sinks_of_our_own, tmp_path) as s:
        s.until("the question 'are you Sam'", s.asked("If you are Sam"))
        s.press("yes")
        # the speaker goes while it asks for consent
        s.until("the consent question", s.asked("can I keep a recording"))
        time.sleep(0.3)
        unload_sink(SPEAKER)
        s.until("the red light", lambda: s.lights.status == "error")
        s.press("yes")
        s.until("the mood question", s.asked("How are you feeling"))
        time.sleep(1.0)  # not said: it is listening now, for 10 s (the microphone is there)
        plug_in(SPEAKER)
        assert s.lights.status == "error"
        with MonitorRecorder(SPEAKER) as heard:
            s.press("yes")
            s.until("the mood answer", s.answered("mood"))
            s.until("the news question", s.listening("anything you want to tell"))
            # passed: yellow offers its three choices and "My supporter will answer with me"
            # one at a time, then yellow at "To pass, press yellow."
            for _ in range(6):
                s.press("next")
            s.finish()
    took = time.monotonic() - started
    got = s.answers()
    assert got["consent"] == ("yes", "button") and got["mood"] == ("good", "button")
    assert s.shell.saved_finished and s.shell.outages == 1 and not s.shell.lost
    assert re.fullmatch(r"\.+E+\.+", s.lights.pattern()), s.lights.pattern()
    lost = [r.message for r in caplog.records if "Carrying on with the buttons" in r.message]
    assert len(lost) == 1 and "stopped playing" in lost[0]  # lost while it spoke
    # after the sink came back the prompts were heard again on its monitor
    loud = np.abs(heard.audio.astype(np.int32)) > 3000
    assert loud.sum() > 16_000 * 0.5, "the speaker was not heard after it came back"
    print(f"\nspeaker unplugged and back: the check-in took {took:.1f} s")
