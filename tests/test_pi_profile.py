"""The Raspberry Pi model from the device tree, the profile for it, and assistant check's report."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.pi import PROFILES, board_model, board_report, profile_for, profile_in_force


@pytest.mark.parametrize(
    ("model", "profile"),
    [
        ("Raspberry Pi 5 Model B Rev 1.0", "pi5"),
        ("Raspberry Pi 4 Model B Rev 1.4", "pi4"),
        ("Raspberry Pi 400 Rev 1.0", "pi4"),
        ("Raspberry Pi Compute Module 4 Rev 1.0", "pi4"),
        ("Raspberry Pi 3 Model B Plus Rev 1.3", "pi3"),
        ("Raspberry Pi 3 Model B Rev 1.2", "pi3"),
        ("Raspberry Pi Zero 2 W Rev 1.0", "zero2w"),
        ("Raspberry Pi Zero W Rev 1.1", "zero2w"),
        ("Pine64 RockPro64", "pc"),
        (None, "pc"),
    ],
)
def test_profile_for_each_board(model: str | None, profile: str) -> None:
    assert profile_for(model) == profile


def test_model_is_read_from_the_device_tree(tmp_path: Path) -> None:
    proc, sysfs = tmp_path / "proc-model", tmp_path / "sys-model"
    assert board_model((proc, sysfs)) is None
    sysfs.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\0")  # the kernel ends it with a NUL
    assert board_model((proc, sysfs)) == "Raspberry Pi 4 Model B Rev 1.4"
    proc.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    assert board_model((proc, sysfs)) == "Raspberry Pi 5 Model B Rev 1.0"


def test_report_names_the_board_the_profile_and_what_differs(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi Zero 2 W Rev 1.0\0")
    lines = board_report(Settings(), (model,))
    assert lines[0] == "board: Raspberry Pi Zero 2 W Rev 1.0"
    assert lines[1].startswith("profile: zero2w (detected")
    text = "\n".join(lines)
    assert "differs: voice.voice" in text and "stt.short_engine is 'auto'" in text

    chosen = Settings.model_validate({"device": {"profile": "pc"}})
    profile, found, detected = profile_in_force(chosen, (model,))
    assert profile is PROFILES["pc"] and found.startswith("Raspberry Pi Zero") and not detected
    assert "set in device.profile" in board_report(chosen, (model,))[1]


def test_check_prints_the_board_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant import check

    lines: list[str] = []
    monkeypatch.setattr(check, "open_kit", lambda s: (_ for _ in ()).throw(RuntimeError("stop")))
    with pytest.raises(RuntimeError, match="stop"):
        check.run_check(Settings(), out=lines.append)
    assert lines[0].startswith("board: ") and lines[1].startswith("profile: ")
