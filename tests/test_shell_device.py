"""The device side of the shell: listening on a microphone, choosing a script by voice, carrying
on an unfinished session, saving into the record store. Fakes for the microphone, speaker, voice
and recogniser; the real engine, scripts and record store."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from assistant.app import Device, run_session
from assistant.audio.endpoint import EnergyDetector
from assistant.audio.fake import ArrayMicrophone, FakeClock, MemorySpeaker
from assistant.buttons.base import InputStream
from assistant.buttons.keyboard import NoButtons
from assistant.config import AudioSettings, Settings
from assistant.dialogue import prompts as P
from assistant.dialogue.events import ButtonPressed, Listen, SilenceTimedOut, SpeechHeard
from assistant.dialogue.shell import MicrophoneEars, RealClock, SimpleInputs
from assistant.dialogue.simulate import SpeechKit
from assistant.records.model import Consent
from assistant.records.store import RecordStore
from assistant.stt.fake import FakeRecognizer
from assistant.voice.fake import FakeVoice

RATE = 16_000


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * 220 * t) * 9000).astype(np.int16)


def ears(mic, rec, inputs, tmp_path) -> MicrophoneEars:
    # The energy detector: a tone is "speech" to it (Silero VAD rightly disagrees).
    return MicrophoneEars(
        mic, {"short": rec, "free": rec}, inputs, AudioSettings(), tmp_path, EnergyDetector()
    )


def test_a_spoken_short_answer_is_recognised_and_kept_as_16k_wav(tmp_path):
    from assistant.audio.wav import read_wav

    mic = ArrayMicrophone(np.concatenate([np.zeros(4800, np.int16), tone(0.6)]), silence_s=5)
    rec = FakeRecognizer(["yes please"])
    event = ears(mic, rec, SimpleInputs(), tmp_path).hear(
        Listen("short", "consent", allowed=("yes", "no"), timeout_s=10)
    )
    assert isinstance(event, SpeechHeard)
    assert event.transcript.answer == "yes" and event.audio_path
    assert 0.6 <= len(read_wav(event.audio_path)) / RATE < 2.5


def test_no_speech_times_out(tmp_path):
    mic = ArrayMicrophone(np.zeros(0, np.int16))
    event = ears(mic, FakeRecognizer(), SimpleInputs(), tmp_path).hear(
        Listen("free", "why", timeout_s=10)
    )
    assert isinstance(event, SilenceTimedOut) and event.waited_s >= 10


def test_a_press_stops_listening_at_once(tmp_path):
    inputs = InputStream()
    mic = ArrayMicrophone(np.zeros(0, np.int16), realtime=True)
    timer = threading.Timer(0.3, lambda: inputs.put(ButtonPressed("next")))
    timer.start()
    started = time.monotonic()
    event = ears(mic, FakeRecognizer(), inputs, tmp_path).hear(Listen("free", "why", timeout_s=30))
    assert event == ButtonPressed("next")
    assert time.monotonic() - started < 2.0


@pytest.fixture
def device(tmp_path):
    settings = Settings.model_validate({"records": {"data_dir": str(tmp_path / "data")}})
    store = RecordStore.open(settings)
    store.add_person("Sam", consent=Consent(audio=True, method="staff_recorded"))
    voice = FakeVoice()
    rec = FakeRecognizer()
    kit = SpeechKit(voice, voice, {"short": rec, "free": rec}, [])
    yield settings, store, kit
    store.close()


class PowerCut(Exception):
    pass


class UntilPowerCut(SimpleInputs):
    """The given presses, then the power goes (the session stops part way)."""

    def get(self, timeout=None):
        event = super().get(timeout)
        if event is None:
            raise PowerCut
        return event


# Yellow at "Is there anything you want to tell me?" offers its three choices and "My supporter
# will answer with me" one at a time; yellow at each, then yellow at "To hear them again, press
# green. To pass, press yellow." passes: six presses.
NEWS_PASS = ["next"] * 6


def _run(device, presses, script=None, inputs=None):
    settings, store, kit = device
    inputs = inputs or SimpleInputs()
    for button in presses:
        inputs.put(ButtonPressed(button))
    parts = Device(
        settings=settings,
        clock=RealClock(),
        inputs=inputs,
        buttons=NoButtons(),
        voice=kit.voice,
        speech_voice=kit.voice,
        recognisers=kit.recognisers,
        microphone=ArrayMicrophone(np.zeros(0, np.int16)),
        speaker=MemorySpeaker(clock=FakeClock()),
        store=store,
    )
    return run_session(parts, script), kit.voice


def test_scripts_are_offered_by_voice_and_chosen_with_the_buttons(device):
    # a press wakes it; next at the first offer, yes at the second: daily-checkin; then Sam
    # checks in by buttons.
    record, voice = _run(device, ["next", "next", "yes", "yes", "yes", "yes", *NEWS_PASS])
    assert record.script == "daily-checkin"
    assert voice.calls[0] == P.IDLE_INVITE
    assert voice.calls[1].startswith("Which session would you like?")
    assert "Press green" in voice.calls[1] and "Press yes" not in voice.calls[1]
    from assistant.dialogue.script import load_script

    titles = [load_script(n).title for n in ("coproduction-group", "daily-checkin")]
    assert voice.calls[2:4] == [f"{t}?" for t in titles]
    store = device[1]
    saved = store.get_session(record.id)
    assert store.session_state(record.id) == "finalised"
    assert [a.value for a in saved.answers if a.step_id == "mood"] == ["good"]


class EmptyRoom(SimpleInputs):
    """Nobody presses anything: the time asked for passes at once; the power goes after
    *minutes* (the presses given first still come)."""

    def __init__(self, minutes: float) -> None:
        super().__init__()
        self.left = minutes * 60

    def get(self, timeout=None):
        event = super().get(None)
        if event is not None:
            return event
        self.left -= timeout or 0
        if self.left <= 0:
            raise PowerCut
        return None


def test_an_idle_device_left_alone_says_its_invitation_once_then_is_quiet(device):
    with pytest.raises(PowerCut):
        _run(device, [], inputs=EmptyRoom(minutes=10))
    voice = device[2].voice
    assert voice.calls == [P.IDLE_INVITE]


def test_an_idle_device_reads_its_list_once_then_is_quiet_until_a_press(device):
    inputs = EmptyRoom(minutes=10)
    inputs.put(ButtonPressed("yes"))  # wakes it, then nobody presses
    with pytest.raises(PowerCut):
        _run(device, [], inputs=inputs)
    calls = device[2].voice.calls
    assert calls[0] == P.IDLE_INVITE and calls[1].startswith(P.WHICH_SESSION)
    titles = calls[2:]
    assert len(titles) == len(set(titles)), "each session said once, then quiet"


def test_carry_on_is_never_decided_by_silence(device):
    settings, store, kit = device
    with pytest.raises(PowerCut):
        _run(device, ["yes", "yes"], script="daily-checkin", inputs=UntilPowerCut())
    before = len(kit.voice.calls)
    with pytest.raises(PowerCut):
        _run(device, [], inputs=EmptyRoom(minutes=10))
    calls = kit.voice.calls[before:]
    assert len(calls) == 1 and calls[0].startswith("A session stopped before the end.")
    assert store.unfinished_session() is not None
    before = len(kit.voice.calls)
    record, _ = _run(device, ["repeat", "yes", "yes", *NEWS_PASS])  # repeat asks again; yes
    asked = [c for c in kit.voice.calls[before:] if c.startswith("A session stopped")]
    assert len(asked) == 2
    assert store.session_state(record.id) == "finalised"


def test_an_unfinished_session_is_offered_and_carried_on(device):
    settings, store, kit = device
    left = settings.data_dir / "audio" / "turns" / "old.wav"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"RIFF")
    with pytest.raises(PowerCut):
        _run(device, ["yes", "yes"], script="daily-checkin", inputs=UntilPowerCut())
    assert not left.exists()  # a turn recording left from before is not kept
    draft = store.unfinished_session()
    assert draft is not None and draft.script == "daily-checkin"
    before = len(kit.voice.calls)
    record, voice = _run(device, ["yes", "yes", *NEWS_PASS])  # yes: carry on; mood; news
    assert voice.calls[before].startswith("A session stopped before the end.")
    assert record.id == draft.id
    assert store.session_state(record.id) == "finalised"
    steps = [a.step_id for a in store.get_session(record.id).answers]
    assert steps.count("consent") == 1 and steps.count("mood") == 1  # nothing asked twice


def test_a_flag_blinks_the_idle_light_until_staff_clear_it(device):
    from assistant.buttons.lights import ConsoleLights
    from assistant.dialogue.shell import choose_script

    settings, store, kit = device

    def idle_status() -> str:
        lights = ConsoleLights()
        inputs = SimpleInputs()
        for button in ("yes", "yes"):  # wake; the first session offered
            inputs.put(ButtonPressed(button))
        choose_script(
            kit.voice, MemorySpeaker(clock=FakeClock()), inputs, [settings.scripts_dir],
            settings, wait_s=0.01, lights=lights, flagged=store.has_open_flags,
        )  # fmt: skip
        return lights.history[0].status

    assert idle_status() == "idle"
    sync_now = settings.data_dir / "sync-now"  # watched by systemd/assistant-sync.path
    _run(device, ["yes", "yes", "yes", *NEWS_PASS], "daily-checkin")  # feeling good: no flag
    assert not sync_now.exists()
    # Sam checks in: red at "How are you feeling?", checked back ("You said: not good"), yes
    record, voice = _run(device, ["yes", "yes", "no", "yes", *NEWS_PASS], "daily-checkin")
    assert [f.kind for f in record.flags] == ["mood_not_good"]
    assert sync_now.exists()  # a sync is asked for at once, not at the next timer
    said = " ".join(voice.calls)
    assert "Someone will talk with you" not in said  # it promises only what it can do
    assert "I will keep it for" in said
    assert store.has_open_flags() and idle_status() == "flagged"
    store.resolve_flag(record.flags[0].id, "Kate")
    assert not store.has_open_flags() and idle_status() == "idle"


def test_stopped_for_today_the_next_start_is_quiet_until_a_press(device):
    settings, store, kit = device
    # Sam: who, consent; at the mood question help, help again (a break), red: stop for today
    record, voice = _run(device, ["yes", "yes", "help", "help", "no"], "daily-checkin")
    assert voice.calls[-1] == P.STOPPED_FOR_TODAY
    assert store.session_state(record.id) != "finalised"
    assert (settings.data_dir / "stopped-for-today").read_text() == record.id
    before = len(kit.voice.calls)
    # The next start: yellow wakes it (a press that is not an answer), then "carry on?" once,
    # yes, then the mood question goes on where it stopped.
    again, _ = _run(device, ["next", "yes", "yes", *NEWS_PASS])
    said = kit.voice.calls[before:]
    assert said[0].startswith("A session stopped before the end.")  # nothing before the press
    assert sum(s.startswith("A session stopped before the end.") for s in said) == 1
    assert again.id == record.id and store.session_state(record.id) == "finalised"
    assert not (settings.data_dir / "stopped-for-today").exists()
