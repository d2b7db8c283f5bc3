"""Settings load from TOML with clear errors that name the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import Settings, example_toml, load_settings
from assistant.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "config.example.toml"


def test_defaults_follow_the_accessibility_rules() -> None:
    s = Settings()
    assert s.voice.words_per_minute == 150
    assert s.audio.wait_for_speech_s >= 10
    assert s.dialogue.repeat_after_s >= 10
    assert s.audio.trailing_silence_free_s > s.audio.trailing_silence_short_s


def test_example_config_is_valid_and_complete() -> None:
    s = load_settings(EXAMPLE)
    # The committed example is exactly what `assistant config --example` prints, and documents
    # every section and every key the settings have.
    text = EXAMPLE.read_text()
    assert text == example_toml(), (
        "regenerate: assistant config --example > docs/config.example.toml"
    )
    for section, model in Settings():
        assert f"[{section}]" in text
        for key, _ in model:
            assert f"{key} =" in text or f"# {key} =" in text, f"{section}.{key} not documented"
    assert s.voice.words_per_minute == 150


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[voice]\nwords_per_minute = 130\n[audio]\ninput_device = "USB"\n')
    s = load_settings(cfg)
    assert s.voice.words_per_minute == 130
    assert s.audio.input_device == "USB"
    assert s.audio.wait_for_speech_s == 10.0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[voice]\nwords_per_minute = 400\n", "voice.words_per_minute"),
        ("[voice]\nspeed = 1\n", "voice.speed"),
        ("[dialogue]\nrepeat_after_s = 3\n", "dialogue.repeat_after_s"),
        ("[audio\n", "not valid TOML"),
        ("[stt]\nshort_engine = 'siri'\n", "stt.short_engine"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(cfg) in str(err.value)
    assert fragment in str(err.value)


def test_missing_explicit_config_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_cli_reports_bad_config_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[voice]\nwords_per_minute = 'fast'\n")
    code = main(["--config", str(cfg), "config"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("assistant: Config file")
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_exit_code_from_a_command_is_kept() -> None:
    import typer

    from assistant.cli import app

    @app.command("exit-three", hidden=True)
    def _exit_three() -> None:
        raise typer.Exit(3)

    try:
        assert main(["exit-three"]) == 3
        assert main(["version"]) == 0
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "exit-three"]


def test_data_folder_follows_the_environment_when_settings_are_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_DATA", str(tmp_path / "one"))
    assert Settings().data_dir == tmp_path / "one"
    monkeypatch.setenv("ASSISTANT_DATA", str(tmp_path / "two"))
    assert Settings().data_dir == tmp_path / "two"
