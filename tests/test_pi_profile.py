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


def _pi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    import assistant.pi as pi

    path = tmp_path / "model"
    path.write_bytes(model.encode() + b"\0")
    monkeypatch.setattr(pi, "MODEL_FILES", (path,))


def _load(tmp_path: Path, toml: str) -> Settings:
    from assistant.config import load_settings

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[records]\ndata_dir = "{tmp_path / "data"}"\n{toml}')
    return load_settings(cfg)


def test_the_profile_sets_the_boards_settings_and_the_config_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pi(tmp_path, monkeypatch, "Raspberry Pi 3 Model B Plus Rev 1.3")
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    s = _load(tmp_path, "")
    assert s.audio.input_block_ms == 20 and s.stt.whisper_window_s == 15
    assert s.voice.voice == "en_US-joe-medium"  # its low copy is not installed: kept, reported
    assert "differs: voice.voice" in "\n".join(board_report(s))
    (models / "en_US-joe-low.onnx").write_bytes(b"")
    s = _load(tmp_path, "")
    assert s.voice.voice == "en_US-joe-low"  # installed: the profile's low voice
    s = _load(tmp_path, '[audio]\ninput_block_ms = 10\n[voice]\nvoice = "en_GB-alan-medium"\n')
    assert s.audio.input_block_ms == 10 and s.voice.voice == "en_GB-alan-medium"  # the file's
    assert s.stt.whisper_window_s == 15
    report = "\n".join(board_report(s))
    assert "profile: pi3" in report and "audio.input_block_ms is 10 (set in the config)" in report
    assert "in force: voice en_GB-alan-medium, 10 ms" in report


def test_a_pi5_keeps_whispers_own_window_and_a_pc_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pi(tmp_path, monkeypatch, "Raspberry Pi 5 Model B Rev 1.0")
    s = _load(tmp_path, "")
    assert (s.audio.input_block_ms, s.stt.whisper_window_s) == (10, 30)
    _pi(tmp_path, monkeypatch, "Raspberry Pi 4 Model B Rev 1.4")
    assert _load(tmp_path, "").stt.whisper_window_s == 15
    assert _load(tmp_path, '[device]\nprofile = "pc"\n').stt.whisper_window_s == 30
    monkeypatch.setattr("assistant.pi.MODEL_FILES", (tmp_path / "none",))
    assert _load(tmp_path, "") == _load(tmp_path, "")  # a PC: the defaults
    assert _load(tmp_path, "").audio.input_block_ms == 10


def test_the_whisper_window_reaches_the_recogniser(tmp_path: Path) -> None:
    from assistant.stt.select import build_engine

    s = Settings.model_validate({"stt": {"whisper_window_s": 15}})
    rec = build_engine("whisper", s)
    assert rec.short_window == 1500 and rec.free_window == 1500  # type: ignore[attr-defined]
    assert build_engine("whisper", Settings()).short_window == 3000  # type: ignore[attr-defined]
