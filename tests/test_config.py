"""Settings load from TOML with clear errors that name the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

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
        ("[voice]\nwords_per_minute = 400\n", "'words_per_minute' in [voice] must be at most 250"),
        ("[voice]\nspeed = 1\n", "unknown setting 'speed' in [voice]"),
        ("[dialogue]\nrepeat_after_s = 3\n", "'repeat_after_s' in [dialogue] must be at least 10"),
        ("[audio\n", "not valid TOML"),
        ("[stt]\nshort_engine = 'siri'\n", "'short_engine' in [stt] must be one of"),
        ("[voice]\nvolume = 'loud'\n", "'volume' in [voice] must be a number (it is 'loud')"),
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


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        (
            "[audio]\ninput_devic = 'USB'\n",
            "unknown setting 'input_devic' in [audio] (did you mean 'input_device'?).",
        ),
        ("[audoi]\nkeep_wav = true\n", "unknown section [audoi] (did you mean [audio]?)."),
        (
            "words_per_minute = 130\n",
            "the setting 'words_per_minute' must be under a section, such as [audio] or [voice].",
        ),
    ],
)
def test_unknown_settings_suggest_the_near_one(tmp_path: Path, text: str, sentence: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(err.value) == f"Config file {cfg}: {sentence}"
    assert "Extra inputs" not in str(err.value)


def test_an_unknown_setting_with_no_near_one_lists_the_section(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[voice]\nspeed = 1\n")
    with pytest.raises(ConfigError, match=r"in \[voice\] \(the settings there are: voice, "):
        load_settings(cfg)


def test_config_prints_valid_toml_and_the_file_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tomllib

    monkeypatch.setenv("ASSISTANT_DATA", str(tmp_path / "data"))
    cfg = tmp_path / "c.toml"
    cfg.write_text('[voice]\nwords_per_minute = 130\n[dialogue]\nscripts_dir = "~/s"\n')
    assert main(["--config", str(cfg), "config"]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "PosixPath" not in out
    assert out.splitlines()[0] == f"# Settings in force, read from {cfg}."
    printed = tmp_path / "printed.toml"
    printed.write_text(out)
    again = load_settings(printed)
    assert again == load_settings(cfg)
    assert tomllib.loads(out)["voice"]["words_per_minute"] == 130
    assert "# input_device is not set" in out


def test_config_says_when_no_file_was_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tomllib

    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Settings in force: no config file was found (")
    assert tomllib.loads(out)["voice"]["words_per_minute"] == 150


def test_settings_come_from_the_context_put_there_by_the_root(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from assistant.cli import app
    from assistant.config import SettingsSource, settings_of

    seen: list[float] = []

    @app.command("show-rate", hidden=True)
    def _show_rate(ctx: typer.Context) -> None:
        assert isinstance(ctx.obj, SettingsSource)
        seen.append(settings_of(ctx).voice.words_per_minute)
        seen.append(settings_of().voice.words_per_minute)  # the current context, the same

    cfg = tmp_path / "c.toml"
    cfg.write_text("[voice]\nwords_per_minute = 120\n")
    try:
        result = CliRunner().invoke(app, ["--config", str(cfg), "show-rate"])
        assert result.exit_code == 0, result.output
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "show-rate"]
    assert seen == [120, 120]
