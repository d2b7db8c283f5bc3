"""Finding devices by index or name, and the errors that list what is there."""

from __future__ import annotations

import sys
import threading
import time
import weakref
from types import SimpleNamespace
from typing import Any

import pytest

from assistant.audio import devices as devmod
from assistant.audio import open_microphone, open_speaker
from assistant.audio.devices import find_device, list_devices
from assistant.cli import main
from assistant.config import AudioSettings
from assistant.errors import AudioError, DeviceNotFound


class FakePortAudioError(Exception):
    pass


def fake_sd(devs: list[tuple[str, int, int, float]], default: tuple[int, int] = (0, 1)) -> Any:
    table = [
        {"index": i, "name": n, "hostapi": 0, "max_input_channels": ci,
         "max_output_channels": co, "default_samplerate": r}
        for i, (n, ci, co, r) in enumerate(devs)
    ]  # fmt: skip
    return SimpleNamespace(
        query_devices=lambda kind=None: table,
        query_hostapis=lambda: [{"name": "ALSA"}],
        default=SimpleNamespace(device=list(default)),
        PortAudioError=FakePortAudioError,
    )


PI = [
    ("bcm2835 Headphones: - (hw:0,0)", 0, 8, 44_100.0),
    ("USB PnP Sound Device: Audio (hw:1,0)", 1, 2, 48_000.0),
    ("ReSpeaker 4 Mic Array (UAC1.0): USB Audio (hw:2,0)", 6, 0, 16_000.0),
    ("default", 128, 128, 44_100.0),
]


@pytest.fixture
def pi(monkeypatch: pytest.MonkeyPatch) -> None:
    sd = fake_sd(PI, default=(3, 3))
    monkeypatch.setattr(devmod, "sounddevice", lambda: sd)


def test_list_devices(pi: None) -> None:
    devs = list_devices()
    assert [d.index for d in devs] == [0, 1, 2, 3]
    usb = devs[1]
    assert (usb.input_channels, usb.output_channels, usb.default_rate) == (1, 2, 48_000.0)
    assert devs[3].default_input and devs[3].default_output
    assert usb.hostapi == "ALSA"


def test_find_by_index_name_part_and_default(pi: None) -> None:
    assert find_device(1, "input").name.startswith("USB PnP")
    assert find_device("2", "input").name.startswith("ReSpeaker")
    assert find_device("respeaker", "input").index == 2  # part of the name, any case
    assert find_device("USB", "output").index == 1  # the first that can play
    assert find_device("usb", "input").index == 1
    assert find_device("default", "output").index == 3
    assert find_device(None, "input").index == 3
    assert find_device("", "output").index == 3


def test_missing_name_lists_the_devices_there_are(pi: None) -> None:
    with pytest.raises(DeviceNotFound) as info:
        find_device("Blue Yeti", "input")
    msg = str(info.value)
    assert "There is no microphone called 'Blue Yeti'" in msg
    assert "1: USB PnP Sound Device" in msg and "2: ReSpeaker" in msg
    assert "bcm2835" not in msg  # it cannot record, so it is not offered
    assert "\n" not in msg and msg.endswith(".")
    with pytest.raises(DeviceNotFound, match="no speaker called 'hdmi'.*0: bcm2835"):
        find_device("hdmi", "output")


def test_bad_index_and_wrong_direction(pi: None) -> None:
    with pytest.raises(DeviceNotFound, match="no audio device number 9; the input devices are"):
        find_device(9, "input")
    with pytest.raises(DeviceNotFound, match="device 0 .*has no input channels"):
        find_device(0, "input")
    with pytest.raises(DeviceNotFound, match="no speaker called 'ReSpeaker'"):
        find_device("ReSpeaker", "output")


def test_no_devices_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    sd = fake_sd([], default=(-1, -1))
    monkeypatch.setattr(devmod, "sounddevice", lambda: sd)
    assert list_devices() == []
    with pytest.raises(AudioError, match="There is no microphone: PortAudio sees no input"):
        find_device(None, "input")
    with pytest.raises(AudioError, match="no speaker"):
        open_speaker(AudioSettings())


def test_no_portaudio_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(AudioError, match="PortAudio library is not installed"):
        list_devices()
    with pytest.raises(AudioError, match="PortAudio"):
        open_microphone(AudioSettings(input_device="usb"))


def test_open_checks_the_configured_device(pi: None) -> None:
    with pytest.raises(DeviceNotFound, match="no microphone called 'yeti'"):
        open_microphone(AudioSettings(input_device="yeti"))
    mic = open_microphone(AudioSettings(input_device="respeaker"))
    assert mic.name  # found, not yet opened
    spk = open_speaker(AudioSettings(output_device=1))
    assert spk.name


def test_devices_command_lists_and_marks(
    pi: None, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[audio]\ninput_device = "respeaker"\n')
    assert main(["-c", str(cfg), "devices"]) == 0
    out = capsys.readouterr().out
    mics, speakers = out.split("Speakers:")
    assert "ReSpeaker" in mics and "in use" in mics.split("ReSpeaker")[1].splitlines()[0]
    assert "bcm2835" not in mics and "bcm2835" in speakers
    assert "3  default  (128 ch, 44100 Hz, ALSA)  <- in use (default)" in speakers


def test_devices_command_missing_device_is_one_line(
    pi: None, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[audio]\noutput_device = "hdmi"\n')
    assert main(["-c", str(cfg), "devices"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("assistant: There is no speaker called 'hdmi'; the output devices are:")
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert "not there" in captured.out


@pytest.mark.audio
def test_real_pulse_device_is_found(pulse: Any) -> None:
    dev = find_device("pulse", "input")
    assert dev.name == "pulse" and dev.input_channels > 0
    with pytest.raises(DeviceNotFound, match="pulse"):
        find_device("no such card", "output")


class _Stream:
    """A stream that notes when it was closed."""

    def __init__(self) -> None:
        self.closed_at: float | None = None

    def abort(self, ignore_errors: bool = True) -> None:
        pass

    def close(self, ignore_errors: bool = True) -> None:
        self.closed_at = time.monotonic()


def test_refresh_closes_a_stream_only_when_its_owner_is_out_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    restarted: list[str] = []
    sd = SimpleNamespace(
        _terminate=lambda: restarted.append("terminate"),
        _initialize=lambda: restarted.append("initialize"),
    )
    monkeypatch.setattr(devmod, "sounddevice", lambda: sd)
    monkeypatch.setattr(devmod, "_streams", weakref.WeakKeyDictionary())  # only these two
    owned, free = _Stream(), _Stream()
    lock = threading.Lock()
    devmod.track_stream(owned, lock=lock)
    devmod.track_stream(free)
    lock.acquire()  # the owner is inside the stream (a blocking write) ...
    released_at: list[float] = []

    def leave() -> None:
        time.sleep(0.2)
        released_at.append(time.monotonic())
        lock.release()  # ... and comes out of it

    threading.Thread(target=leave, daemon=True).start()
    devmod.refresh()
    assert owned.closed_at is not None and free.closed_at is not None
    assert owned.closed_at >= released_at[0]  # not closed under the write
    assert restarted == ["terminate", "initialize"]
    assert not lock.locked()  # given back after closing
    assert owned not in devmod._streams and free not in devmod._streams


def test_refresh_does_not_wait_for_ever_on_a_stuck_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    sd = SimpleNamespace(_terminate=lambda: None, _initialize=lambda: None)
    monkeypatch.setattr(devmod, "sounddevice", lambda: sd)
    monkeypatch.setattr(devmod, "_streams", weakref.WeakKeyDictionary())
    stuck = _Stream()
    lock = threading.Lock()
    devmod.track_stream(stuck, lock=lock)
    lock.acquire()  # a write on a hung device: never comes back
    t0 = time.monotonic()
    devmod.refresh()
    assert stuck.closed_at is not None  # closed anyway, after a bounded wait
    assert time.monotonic() - t0 < devmod.REFRESH_LOCK_WAIT_S + 0.5
    assert lock.locked()  # still the stuck owner's
