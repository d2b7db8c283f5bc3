"""An unplugged microphone or speaker mid-session, with fakes: the status light turns red, the
session goes on with the buttons alone, nothing is lost from the record, and the device is
used again once it is back. (The same on real PulseAudio devices: test_shell_unplug_pulse.py.)"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections import deque
from pathlib import Path

import numpy as np

from assistant.audio.base import Microphone
from assistant.audio.endpoint import EnergyDetector
from assistant.audio.fake import ArrayMicrophone, FakeClock, MemorySpeaker
from assistant.buttons.base import InputStream
from assistant.config import AudioSettings, DialogueSettings
from assistant.dialogue.engine import Engine
from assistant.dialogue.events import (
    Action,
    Button,
    ButtonPressed,
    End,
    Event,
    Listen,
    PromptFinished,
    Save,
    Say,
    SetLights,
    SilenceTimedOut,
    SpeechHeard,
)
from assistant.dialogue.script import load_script
from assistant.dialogue.shell import (
    JsonRecordSink,
    MicrophoneEars,
    RealClock,
    SessionShell,
    SimpleInputs,
)
from assistant.errors import AudioError, DeviceLost, DeviceNotFound
from assistant.records.model import Consent, Person, SessionRecord
from assistant.stt.fake import FakeRecognizer, speech_pcm
from assistant.voice.fake import FakeVoice

SILENCE = np.zeros(0, np.int16)


class FlakyMicrophone(Microphone):
    """Hears one clip per listen (from its first read after opening), then silence.

    It is pulled out at the *lose_at*-th read (``DeviceLost``) and refuses to open
    (``DeviceNotFound``) until :attr:`plugged` is set again, or until it has refused
    *back_after* times.
    """

    def __init__(self, clips: list[np.ndarray], lose_at: int = 0, back_after: int = 0) -> None:
        self.name = "flaky-mic"
        self.clips = deque(clips)
        self.lose_at = lose_at
        self.back_after = back_after
        self.plugged = True
        self.source: ArrayMicrophone | None = None
        self.open = False
        self.opened = 0
        self.refused = 0
        self.reads = 0

    def start(self) -> None:
        if not self.plugged:
            self.refused += 1
            if self.refused == self.back_after:
                self.plugged = True  # put back; the next try opens it
            raise DeviceNotFound("The microphone flaky-mic is not there.")
        if not self.open:
            self.open, self.source = True, None
            self.opened += 1

    def stop(self) -> None:
        self.open = False

    def read(self, timeout: float) -> np.ndarray | None:
        if not self.open:
            raise AudioError("The microphone flaky-mic is not started.")
        if not self.plugged:
            raise DeviceLost("The microphone flaky-mic stopped sending sound.")
        self.reads += 1
        if self.reads == self.lose_at:
            self.plugged = False
            raise DeviceLost("The microphone flaky-mic stopped sending sound.")
        if self.source is None:
            self.source = ArrayMicrophone(self.clips.popleft() if self.clips else SILENCE)
            self.source.start()
        return self.source.read(timeout)


class FlakySpeaker(MemorySpeaker):
    """Pulled out as its *lose_at*-th ``wait()`` waits for a prompt to be heard (it fails);
    then it refuses to play (``DeviceNotFound``) *back_after* times, and plays again."""

    def __init__(self, lose_at: int, back_after: int) -> None:
        super().__init__(clock=FakeClock(), name="flaky-speaker")
        self.lose_at = lose_at
        self.back_after = back_after
        self.tries = 0
        self.waits = 0
        self.refused = 0
        self.gone = False

    def play(self, pcm: np.ndarray, sample_rate: int) -> None:
        self.tries += 1
        if self.gone:
            if self.refused < self.back_after:
                self.refused += 1
                raise DeviceNotFound("The speaker flaky-speaker is not there.")
            self.gone = False
        super().play(pcm, sample_rate)

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        if self.waits == self.lose_at:
            self.gone = True
            self.stop()
        if self.gone:
            raise DeviceLost("The speaker flaky-speaker stopped playing.")
        return super().wait(timeout)


class Someone(InputStream):
    """Presses the next button whenever the device waits on the buttons alone (the shell's
    own thread waiting for a press), and can plug the microphone back in as they do."""

    def __init__(self, presses: list[tuple[str, FlakyMicrophone | None]]) -> None:
        super().__init__()
        self.presses = deque(presses)
        self.asked = 0

    def get(self, timeout: float | None = None) -> Event | None:
        if timeout and threading.current_thread() is threading.main_thread() and self.presses:
            self.asked += 1
            button, plug_in = self.presses.popleft()
            if plug_in is not None:
                plug_in.plugged = True
            return ButtonPressed(button)  # type: ignore[arg-type]
        return super().get(timeout)


class Lights:
    def __init__(self) -> None:
        self.shown: list[SetLights] = []

    def apply(self, lights: SetLights) -> None:
        self.shown.append(lights)

    def pattern(self) -> str:
        """One letter per change: E while the status light is red, . otherwise."""
        return "".join("E" if s.status == "error" else "." for s in self.shown)


def checkin(tmp_path: Path, speaker, mic, inputs, rec=None):
    """The real engine on the daily check-in, with the given edges."""
    engine = Engine(
        load_script("daily-checkin"),
        [Person(name="Sam", consent=Consent(audio=True, method="staff_recorded"))],
        settings=DialogueSettings(),
        clock=RealClock(),
        rng=random.Random(1),
    )
    rec = rec or FakeRecognizer()
    ears = MicrophoneEars(
        mic, {"short": rec, "free": rec}, inputs, AudioSettings(), tmp_path / "turns",
        EnergyDetector(),
    )  # fmt: skip
    lights = Lights()
    voice = FakeVoice()
    shell = SessionShell(
        engine,
        voice=voice,
        speaker=speaker,
        ears=ears,
        inputs=inputs,
        sink=JsonRecordSink(tmp_path / "record.json"),
        clock=RealClock(),
        lights=lights,
    )
    return shell, lights, voice


def answers(record: SessionRecord) -> dict[str, tuple[str | None, str]]:
    """step -> (value, how): "button", or the words heard."""
    return {
        a.step_id: (a.value, f"heard {a.transcript!r}" if a.engine else "button")
        for a in record.answers
    }


def test_microphone_unplugged_mid_listen_the_session_goes_on_by_buttons_and_hears_again(
    tmp_path, caplog
):
    # The microphone goes during the first question; two answers come by button; it is put back
    # as the second is pressed; the next answers are spoken and heard.
    spoken = [speech_pcm(words) for words in ("good", "I saw my friend", "yes")]
    mic = FlakyMicrophone([SILENCE, *spoken], lose_at=5)
    person = Someone([("yes", None), ("yes", mic)])
    shell, lights, _ = checkin(tmp_path, MemorySpeaker(clock=FakeClock()), mic, person)
    with caplog.at_level(logging.INFO, logger="assistant.dialogue.shell"):
        record = shell.run()

    assert shell.saved_finished and shell.ended
    got = answers(record)
    assert got["consent"] == ("yes", "button")
    assert got["mood"] == ("good", "heard 'good'")  # through the microphone, once it was back
    assert got["news"][1] == "heard 'I saw my friend'"
    assert person.asked == 2  # exactly the two listens without a microphone waited on buttons
    assert mic.refused >= 1 and mic.opened >= 3  # tried while out, and opened again
    # the status light was red from the loss until the microphone was back, and only then
    assert re.fullmatch(r"\.+E+\.+", lights.pattern()), lights.pattern()
    assert lights.shown[-1].status != "error" and not shell.lost
    back = lights.pattern().rindex("E") + 1
    assert lights.shown[back].status == "listening"  # the light the engine asked for, restored
    # during the outage the engine's buttons stayed lit (the person can still answer)
    assert all(s.buttons for s in lights.shown if s.status == "error")
    lost = [r for r in caplog.records if "Carrying on with the buttons only" in r.message]
    assert len(lost) == 1 and "flaky-mic" in lost[0].message
    assert shell.outages == 1
    assert (tmp_path / "record.json").is_file()


class AskReady:
    """Asks "Ready?" and listens a second, again after each silence, until answered."""

    def __init__(self) -> None:
        self.record = SessionRecord(script="ready", people=[])
        self.finished = False
        self.events: list[Event] = []
        self.listens: list[Listen] = []
        self.prompt = 0

    def _ask(self) -> list[Action]:
        self.prompt += 1
        lit: frozenset[Button] = frozenset({"yes", "no"})
        listen = Listen("short", "ready", allowed=("yes", "no"), timeout_s=1.0)
        self.listens.append(listen)
        return [SetLights(lit, "speaking"), Say("Ready?", self.prompt), SetLights(lit, "listening"),
                listen]  # fmt: skip

    def start(self) -> list[Action]:
        return self._ask()

    def handle(self, event: Event) -> list[Action]:
        self.events.append(event)
        if isinstance(event, PromptFinished):
            return []
        if isinstance(event, SilenceTimedOut):
            return self._ask()
        self.finished = True
        return [Save(self.record, finished=True), End()]


class SeeingEars(MicrophoneEars):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timeouts: list[float] = []

    def hear(self, listen: Listen) -> Event:
        self.timeouts.append(listen.timeout_s)
        return super().hear(listen)


def test_without_a_microphone_a_listen_lasts_its_time_then_counts_as_silence(tmp_path):
    # Out from the start; tried every 0.1 s (it is back after 12 tries): about 10 tries in the
    # first listen, which ends as silence after its second; it comes back early in the second
    # listen, which then listens for the rest of its second and hears the answer.
    mic = FlakyMicrophone([speech_pcm("yes", pad_s=0.05)], back_after=12)
    mic.plugged = False
    rec = FakeRecognizer()
    inputs = InputStream()  # nobody presses
    ears = SeeingEars(mic, {"short": rec, "free": rec}, inputs, AudioSettings(), tmp_path,
                      EnergyDetector())  # fmt: skip
    engine, lights = AskReady(), Lights()
    shell = SessionShell(
        engine,
        voice=FakeVoice(words_per_minute=6000),
        speaker=MemorySpeaker(clock=FakeClock()),
        ears=ears,
        inputs=inputs,
        sink=JsonRecordSink(tmp_path / "r.json"),
        clock=RealClock(),
        lights=lights,
    )
    shell.retry_every_s = 0.1
    shell.run()

    heard = [e for e in engine.events if not isinstance(e, PromptFinished)]
    assert isinstance(heard[0], SilenceTimedOut) and heard[0].waited_s >= 1.0
    assert isinstance(heard[1], SpeechHeard) and heard[1].transcript.answer == "yes"
    assert len(heard) == 2 and mic.refused == 12
    # heard once (and the microphone failed to open), then again for the rest of the second
    assert len(ears.timeouts) == 2 and ears.timeouts[0] == 1.0 and ears.timeouts[1] < 1.0
    assert re.fullmatch(r"\.\.E+\.", lights.pattern()), lights.pattern()


def test_speaker_unplugged_mid_prompt_the_session_goes_on_and_speaks_again(tmp_path, caplog):
    # Lost while the first question is heard (wait() fails); the next two prompts cannot be
    # played (the speaker refuses to open); then it plays again.
    speaker = FlakySpeaker(lose_at=2, back_after=2)
    inputs = SimpleInputs()
    # who, consent, mood; then the news step passed: yellow offers its three choices and "My
    # supporter will answer with me" one at a time, then yellow at "To pass, press yellow."
    for button in ("yes", "yes", "yes", *["next"] * 6):
        inputs.put(ButtonPressed(button))
    shell, lights, voice = checkin(tmp_path, speaker, ArrayMicrophone(SILENCE), inputs)
    with caplog.at_level(logging.INFO, logger="assistant.dialogue.shell"):
        record = shell.run()

    assert shell.saved_finished
    got = answers(record)
    assert got["consent"] == ("yes", "button") and got["mood"] == ("good", "button")
    assert speaker.refused == 2 and speaker.tries > 5
    # every prompt was still given to the voice; the ones during the outage were not played
    played = [p.pcm for p in speaker.played]
    last = list(FakeVoice().synthesize(voice.calls[-1]))[-1]
    assert np.array_equal(played[-1], last)  # the goodbye is heard: speaking again
    assert len(played) == speaker.tries - speaker.refused
    assert re.fullmatch(r"\.+E+\.+", lights.pattern()), lights.pattern()
    assert lights.shown[-1].status != "error" and not shell.lost
    lost = [r for r in caplog.records if "Carrying on with the buttons only" in r.message]
    assert len(lost) == 1 and "flaky-speaker" in lost[0].message
    assert any("not said (no speaker)" in r.message for r in caplog.records)


def test_a_press_as_the_microphone_goes_is_still_the_answer(tmp_path):
    inputs = InputStream()

    class PressThenLose(FlakyMicrophone):
        def read(self, timeout: float) -> np.ndarray | None:
            if self.reads == 3:
                inputs.put(ButtonPressed("no"))
                threading.Event().wait(0.2)  # the watcher takes the press
            return super().read(timeout)

    mic = PressThenLose([SILENCE], lose_at=5)
    rec = FakeRecognizer()
    ears = MicrophoneEars(mic, {"short": rec, "free": rec}, inputs, AudioSettings(), tmp_path,
                          EnergyDetector())  # fmt: skip
    event = ears.hear(Listen("short", "q", allowed=("yes", "no"), timeout_s=5))
    assert event == ButtonPressed("no")


def test_simple_inputs_wait_for_a_press_up_to_the_timeout() -> None:
    import threading
    import time

    from assistant.dialogue.events import ButtonPressed
    from assistant.dialogue.shell import SimpleInputs

    inputs = SimpleInputs()
    t0 = time.monotonic()
    assert inputs.get(timeout=0.2) is None
    assert time.monotonic() - t0 >= 0.19  # waited, not a busy loop returning at once
    threading.Timer(0.05, inputs.put, args=(ButtonPressed("yes"),)).start()
    got = inputs.get(timeout=5)
    assert got == ButtonPressed("yes")
    assert inputs.get() is None
