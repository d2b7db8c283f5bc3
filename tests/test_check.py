"""``assistant check`` with MockFactory buttons and small fake audio: passes, or names failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from assistant.audio.base import MIC_RATE, Microphone, Speaker
from assistant.buttons import InputStream
from assistant.buttons.gpio import GpioButtons
from assistant.buttons.lights import GpioLights
from assistant.check import CheckKit, DiskUsage, SelfTest, level_dbfs
from assistant.config import ButtonSettings, Settings
from assistant.core.clock import FakeClock
from assistant.dialogue.events import SetLights
from assistant.voice.base import Voice

BUTTON_PINS = {"yes": 17, "no": 27, "next": 22, "help": 23, "repeat": 24}


class TinyVoice(Voice):
    name = "tiny"
    sample_rate = 16_000

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        yield np.full(160, 1000, dtype=np.int16)


class TinySpeaker(Speaker):
    name = "tiny-speaker"

    def __init__(self) -> None:
        self.played: list[np.ndarray] = []

    def play(self, pcm: np.ndarray, sample_rate: int) -> None:
        self.played.append(pcm)

    def stop(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> bool:
        return True

    @property
    def playing(self) -> bool:
        return False


class ToneMicrophone(Microphone):
    """30 ms blocks of a tone at *amplitude* (0 = a dead microphone)."""

    def __init__(self, amplitude: float) -> None:
        self.name = "tone-mic"
        self.amplitude = amplitude
        self.started = False
        self.t = 0

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def read(self, timeout: float) -> np.ndarray | None:
        assert self.started
        n = MIC_RATE * 30 // 1000
        t = (self.t + np.arange(n)) / MIC_RATE
        self.t += n
        return (self.amplitude * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


class Presser:
    """Presses each button the self-test asks for (reading what it says), like a person."""

    def __init__(self, factory: MockFactory, skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.factory = factory
        self.skip = skip

    def __call__(self, text: str) -> None:
        if text.startswith("  » Press the "):
            button = text.split()[3]
            if button not in self.skip:
                threading.Timer(0.02, self.press, args=(BUTTON_PINS[button],)).start()

    def press(self, pin: int) -> None:
        p = self.factory.pin(pin)
        p.drive_low()
        time.sleep(0.01)
        p.drive_high()


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


def make_test(factory, tmp_path, *, mic_amplitude=0.3, skip=(), free_mb=5000, year=2026):
    settings = Settings.model_validate({"records": {"data_dir": str(tmp_path)}})
    bs = ButtonSettings(hold_time_s=0.3)
    stream = InputStream()
    buttons = GpioButtons(bs, stream, pin_factory=factory)
    lights = GpioLights(bs, pin_factory=factory)
    kit = CheckKit(
        stream=stream,
        buttons=buttons,
        lights=lights,
        voice=TinyVoice(),
        speaker=TinySpeaker(),
        microphone=ToneMicrophone(mic_amplitude),
        engines=lambda: ["short answers: vosk (test)", "free answers: whisper tiny (test)"],
    )
    lines: list[str] = []
    presser = Presser(factory, set(skip))

    def out(text: str) -> None:
        lines.append(text)
        presser(text)

    test = SelfTest(
        settings,
        kit,
        out=out,
        button_timeout_s=1.0,
        record_s=0.5,
        light_s=0.0,
        clock=FakeClock(datetime(year, 3, 4, 10, 0, tzinfo=UTC)),
        disk_usage=lambda path: DiskUsage(10**10, 0, free_mb * 1024 * 1024),
    )
    return test, kit, lines


def failures(test):
    return {i.name: i.detail for i in test.items if not i.ok}


def test_passes_when_all_is_well(factory, tmp_path):
    test, kit, lines = make_test(factory, tmp_path)
    try:
        items = test.run()
    finally:
        kit.close()
    assert test.ok, failures(test)
    names = [i.name for i in items]
    for button in BUTTON_PINS:
        assert f"{button} button" in names
    assert {"voice", "speaker", "lights", "microphone", "speech in", "disk", "clock"} <= set(names)
    assert "records at rest" in names
    assert "All 14 checks passed." in lines
    assert test.spoken[-1] == "The self-test is finished. Everything works."
    # the recording was played back: three seconds' worth at the microphone rate
    speaker = kit.speaker
    assert any(len(p) == int(0.5 * MIC_RATE) for p in speaker.played)  # type: ignore[union-attr]
    mic_item = next(i for i in items if i.name == "microphone")
    assert "loudest -13 dBFS" in mic_item.detail  # a 0.3 sine: 20*log10(0.3/sqrt 2)
    assert "vosk" in next(i for i in items if i.name == "speech in").detail


def test_names_each_failure(factory, tmp_path):
    test, kit, lines = make_test(
        factory, tmp_path, mic_amplitude=0.0, skip={"no"}, free_mb=20, year=1970
    )
    try:
        test.run()
    finally:
        kit.close()
    assert not test.ok
    failed = failures(test)
    assert set(failed) == {"no button", "microphone", "disk", "clock"}
    assert failed["no button"] == "not pressed within 1 second"
    assert "heard almost nothing" in failed["microphone"]
    assert "silence" in failed["microphone"]
    assert failed["disk"].startswith("only 20 MB free")
    assert "1970" in failed["clock"]
    assert "4 of 14 checks failed:" in lines
    assert "The self-test is finished. I found 4 problems." in test.spoken
    assert "The no button failed." in test.spoken
    assert "The microphone failed." in test.spoken


def test_a_wrong_button_is_named_and_the_wait_goes_on(factory, tmp_path):
    test, kit, lines = make_test(factory, tmp_path)

    def out(text: str) -> None:
        lines.append(text)
        if text == "  » Press the yes button.":
            Presser(factory).press(BUTTON_PINS["no"])  # wrong one first
            threading.Timer(0.05, Presser(factory).press, args=(17,)).start()

    test.out = out
    test.button_timeout_s = 0.3  # the other buttons are left unpressed
    try:
        test.check_buttons()
    finally:
        kit.close()
    assert "That was the no button. Press the yes button." in test.spoken
    assert test.items[0].name == "yes button" and test.items[0].ok


def test_missing_parts_are_failures_not_crashes(factory, tmp_path):
    settings = Settings.model_validate({"records": {"data_dir": str(tmp_path / "not" / "yet")}})
    from assistant.buttons.keyboard import NoButtons
    from assistant.buttons.lights import ConsoleLights

    kit = CheckKit(
        stream=InputStream(),
        buttons=NoButtons(),
        lights=ConsoleLights(),
        voice_problem="the voice model is missing",
        speaker_problem="no output device called 'usb'",
        microphone_problem="no input device called 'usb'",
        engines=None,
    )
    test = SelfTest(settings, kit, out=lambda s: None, light_s=0.0)
    test.run()
    failed = failures(test)
    assert set(failed) == {"voice", "speaker", "buttons", "microphone", "speech in"}
    assert "the voice model is missing" in failed["voice"]
    assert "no input device" in failed["microphone"]
    assert next(i for i in test.items if i.name == "lights").ok  # shown on screen


def test_a_speaker_that_fails_is_reported(factory, tmp_path):
    from assistant.errors import DeviceLost

    test, kit, _ = make_test(factory, tmp_path)

    def broken(pcm: np.ndarray, sample_rate: int) -> None:
        raise DeviceLost("The speaker usb stopped playing; it may have been unplugged.")

    kit.speaker.play = broken  # type: ignore[union-attr, method-assign]
    try:
        test.say("Hello.")
        test.check_speaker()
    finally:
        kit.close()
    assert failures(test) == {
        "speaker": "the speaker could not play: The speaker usb stopped playing; "
        "it may have been unplugged."
    }


def test_buttons_that_cannot_be_opened_are_a_failure(tmp_path, monkeypatch):
    from assistant.check import open_kit
    from assistant.errors import ButtonError, ModelMissing

    def busy(*args, **kwargs):
        raise ButtonError("The buttons could not be set up on the GPIO pins: GPIO busy.")

    def no_voice(*args, **kwargs):
        raise ModelMissing("No voice model here.")

    monkeypatch.setattr("assistant.buttons.open_buttons", busy)
    monkeypatch.setattr("assistant.voice.open_voice", no_voice)
    monkeypatch.setattr("assistant.check.service_running", lambda: True)
    settings = Settings.model_validate(
        {
            "records": {"data_dir": str(tmp_path)},
            "audio": {"input_device": "no-such-mic", "output_device": "no-such-speaker"},
        }
    )
    kit = open_kit(settings)
    lines: list[str] = []
    test = SelfTest(settings, kit, out=lines.append, light_s=0.0)
    test.check_buttons()
    kit.close()
    assert failures(test) == {
        "buttons": "the buttons could not be used: The buttons could not be set up on the GPIO "
        "pins: GPIO busy."
    }
    assert any("sudo systemctl stop assistant" in n for n in kit.notes)


def test_lights_each_in_turn(factory, tmp_path):
    test, kit, _ = make_test(factory, tmp_path)
    seen: list[SetLights] = []
    real_apply = kit.lights.apply

    def spy(lights: SetLights) -> None:
        seen.append(lights)
        real_apply(lights)

    kit.lights.apply = spy  # type: ignore[method-assign]
    try:
        test.check_lights()
    finally:
        kit.close()
    singles = [next(iter(s.buttons)) for s in seen if len(s.buttons) == 1]
    assert singles == ["yes", "no", "next", "help", "repeat"]
    assert [s.status for s in seen if not s.buttons] == [
        "listening",
        "speaking",
        "thinking",
        "error",
        "idle",
    ]


def test_level_dbfs():
    assert level_dbfs(np.zeros(1600, dtype=np.int16))[0] == float("-inf")
    full = np.full(1600, 32767, dtype=np.int16)
    assert level_dbfs(full)[0] == pytest.approx(0.0, abs=0.01)
    quiet_then_loud = np.concatenate([np.zeros(16000, np.int16), np.full(1600, 3277, np.int16)])
    loud, average = level_dbfs(quiet_then_loud)
    assert loud == pytest.approx(-20.0, abs=0.1)
    assert average < loud - 9


@pytest.mark.slow
def test_assistant_check_exits_non_zero_naming_failures(tmp_path, monkeypatch):
    """The command itself, on a machine with no audio devices and no buttons."""
    import subprocess
    import sys

    config = tmp_path / "config.toml"
    config.write_text(
        f'[buttons]\nbackend = "none"\n[records]\ndata_dir = "{tmp_path}"\n'
        f'models_dir = "{tmp_path / "models"}"\n'
        '[audio]\ninput_device = "no-such-microphone"\noutput_device = "no-such-speaker"\n'
    )
    env = dict(__import__("os").environ, ASSISTANT_CONFIG=str(config))
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "check", "--button-timeout", "0.1"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 1, proc.stderr
    assert "FAIL buttons: no buttons were found (none)" in proc.stdout
    assert "FAIL microphone: no microphone:" in proc.stdout
    assert "FAIL speaker: no speaker:" in proc.stdout
    assert "ok   speech in:" in proc.stdout  # the recognisers are named
    assert "checks failed:" in proc.stdout


def test_check_says_which_key_locks_the_records(factory, tmp_path, monkeypatch):
    from assistant.records import keys
    from assistant.records.store import RecordStore

    monkeypatch.delenv(keys.ENV_KEY_FILE, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    RecordStore(tmp_path, min_free_mb=0).close()  # no key stick, no board key: the data folder
    test, kit, lines = make_test(factory, tmp_path)
    try:
        test.check_records_locked()
    finally:
        kit.close()
    item = test.items[-1]
    assert item.name == "records at rest" and item.ok
    assert str(tmp_path / "records.key") in item.detail
    assert "protects nothing against theft of the card" in item.detail
    (tmp_path / "records.key").unlink()  # the key gone: a failure, in one sentence
    test, kit, lines = make_test(factory, tmp_path)
    try:
        test.check_records_locked()
    finally:
        kit.close()
    assert not test.items[-1].ok and "is not there" in test.items[-1].detail
