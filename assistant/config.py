"""Settings in one place: typed, documented, validated.

The configuration file is TOML. It is looked for at ``$ASSISTANT_CONFIG``, then
``~/.config/assistant/config.toml``, then ``/etc/assistant/config.toml``; with none, the defaults
below are used. ``assistant config`` prints the settings in force. Every field has a default, so a
file needs only the lines that differ. An unknown key or a bad value is a :class:`ConfigError`
naming the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.core.settings import DialogueSettings
from assistant.errors import ConfigError

EngineName = Literal["auto", "vosk", "whisper", "pocketsphinx"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AudioSettings(_Section):
    """Microphone, speaker and when a spoken turn ends."""

    input_device: str | int | None = Field(
        None, description="Microphone by name (part of it is enough) or index; none = default"
    )
    output_device: str | int | None = Field(
        None, description="Speaker by name (part of it is enough) or index; none = default"
    )
    wait_for_speech_s: float = Field(
        10.0, gt=0, le=600, description="How long to wait for speech to start"
    )
    trailing_silence_free_s: float = Field(
        1.5, gt=0, le=30, description="Silence that ends a free answer"
    )
    trailing_silence_short_s: float = Field(
        0.7, gt=0, le=30, description="Silence that ends a short (yes/no/next) answer"
    )
    max_answer_s: float = Field(60.0, gt=0, le=600, description="Hard cap on one answer")
    output_latency_s: float = Field(
        0.06,
        ge=0.005,
        le=0.5,
        description="Sound queued ahead while the speaker plays, in seconds: the cushion"
        " against a busy machine; raise it if the sound crackles (while silent only"
        " idle_lead_s is queued, so a new sound starts soon whatever this is)",
    )
    idle_lead_s: float = Field(
        0.03,
        ge=0.005,
        le=0.5,
        description="Silence queued ahead while the speaker is silent, in seconds: a new sound"
        " starts about this soon (a button press to its sound); raise it (to 0.06) if a USB"
        " sound card clicks now and then while nothing plays",
    )
    input_block_ms: int = Field(
        10,
        ge=5,
        le=100,
        description="The microphone's sound is taken in blocks of this many milliseconds:"
        " small blocks let a turn end sooner (10 ms ends a yes/no turn about 20 ms sooner"
        " than 30 ms), large ones cost a little less processor time",
    )
    keep_wav: bool = Field(True, description="Keep each answer's audio as WAV for the records")


class VoiceSettings(_Section):
    """Text to speech (Piper)."""

    voice: str = Field(
        "en_US-joe-medium",
        description="Piper voice: a name in the models folder, or a path to a .onnx file",
    )
    words_per_minute: float = Field(
        150.0, ge=80, le=250, description="Speaking rate; 150 suits most listeners"
    )
    volume: float = Field(1.0, ge=0.0, le=2.0, description="Loudness multiplier")
    cache_max_mb: int = Field(200, ge=0, description="Disk size bound of the prompt cache")


class SttSettings(_Section):
    """Speech to text: one engine per role, or "auto" to choose from what is installed."""

    short_engine: EngineName = Field("auto", description="Engine for yes/no/next answers")
    free_engine: EngineName = Field("auto", description="Engine for answers in own words")
    vosk_model: str = Field(
        "vosk-model-small-en-us-0.15",
        description="Vosk model: a folder name in the models folder, or a path",
    )
    whisper_model: str | None = Field(
        None, description="CTranslate2 Whisper model folder; none = the embedded tiny model"
    )
    min_short_confidence: float = Field(
        0.6, ge=0, le=1, description="Below this a short answer is rejected, not guessed"
    )


class ButtonSettings(_Section):
    """Big buttons and their lights (BCM pin numbers)."""

    backend: Literal["auto", "gpio", "keyboard", "mock", "none"] = Field(
        "auto", description="auto = GPIO on a Pi, else the keyboard when there is a terminal"
    )
    yes_pin: int | None = 17
    no_pin: int | None = 27
    next_pin: int | None = 22
    help_pin: int | None = 23
    repeat_pin: int | None = 24
    yes_led_pin: int | None = 5
    no_led_pin: int | None = 6
    next_led_pin: int | None = 13
    help_led_pin: int | None = 19
    repeat_led_pin: int | None = 26
    status_led_pins: tuple[int, int, int] | None = Field(
        (16, 20, 21), description="RGB status light (red, green, blue)"
    )
    bounce_time_s: float = Field(0.05, ge=0, le=1)
    hold_time_s: float = Field(2.0, gt=0, le=10)
    chatter_limit: int = Field(
        10, ge=2, description="Presses in one second after which a button is ignored"
    )


class RecordSettings(_Section):
    """Where records live and how long audio is kept."""

    data_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("ASSISTANT_DATA", "~/.local/share/assistant")),
        description="Data folder: database, audio clips, outbox, prompt cache "
        "(default: $ASSISTANT_DATA, else ~/.local/share/assistant)",
    )
    models_dir: Path | None = Field(None, description="Models folder; none = <data_dir>/models")
    keep_synced_audio_days: int = Field(
        90, ge=0, description="Synced audio older than this is deleted; unsynced audio never"
    )
    min_free_mb: int = Field(100, ge=0, description="Refuse to record below this free space")


class SyncSettings(_Section):
    """Sending records to the charity's hub."""

    hub_url: str | None = None
    timeout_s: float = Field(30.0, gt=0)
    max_attempts: int = Field(8, ge=1)


class DeviceSettings(_Section):
    """The board this runs on (assistant check reports it and the profile in force)."""

    profile: Literal["auto", "pi5", "pi4", "pi3", "zero2w", "pc"] = Field(
        "auto",
        description="Settings profile (docs/performance.md); auto = from the board's model",
    )


class Settings(_Section):
    audio: AudioSettings = Field(default_factory=AudioSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    stt: SttSettings = Field(default_factory=SttSettings)
    buttons: ButtonSettings = Field(default_factory=ButtonSettings)
    dialogue: DialogueSettings = Field(default_factory=DialogueSettings)
    records: RecordSettings = Field(default_factory=RecordSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    device: DeviceSettings = Field(default_factory=DeviceSettings)

    @property
    def data_dir(self) -> Path:
        return self.records.data_dir.expanduser()

    @property
    def models_dir(self) -> Path:
        if self.records.models_dir is not None:
            return self.records.models_dir.expanduser()
        return self.data_dir / "models"

    @property
    def scripts_dir(self) -> Path:
        if self.dialogue.scripts_dir is not None:
            return self.dialogue.scripts_dir.expanduser()
        return self.data_dir / "scripts"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def config_candidates() -> list[Path]:
    env = os.environ.get("ASSISTANT_CONFIG")
    if env:
        return [Path(env).expanduser()]
    return [
        Path("~/.config/assistant/config.toml").expanduser(),
        Path("/etc/assistant/config.toml"),
    ]


def load_settings(path: Path | None = None) -> Settings:
    """Settings from *path*, or from the first config file found, or the defaults."""
    if path is None:
        explicit = bool(os.environ.get("ASSISTANT_CONFIG"))
        for candidate in config_candidates():
            if candidate.exists():
                path = candidate
                break
        else:
            if explicit:
                raise ConfigError(f"Config file {config_candidates()[0]} does not exist.")
            return Settings()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}.") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"Config file {path}: [{where}] {err['msg']}.") from exc


def example_toml() -> str:
    """A commented TOML file with every key and its default (docs/config.example.toml)."""
    lines = [
        "# assistant configuration (TOML). Every key is optional; these are the defaults.",
        "# Put this file at ~/.config/assistant/config.toml or /etc/assistant/config.toml,",
        "# or point ASSISTANT_CONFIG at it. `assistant config` prints the settings in force.",
        "",
    ]
    for section, model in Settings():
        cls = type(model)
        lines.append(f"[{section}]")
        if cls.__doc__:
            lines.append(f"# {cls.__doc__.strip()}")
        for key, field in cls.model_fields.items():
            value = getattr(model, key)
            if field.description:
                lines.append(f"# {field.description}")
            if key == "data_dir":
                lines.append(f'{key} = "~/.local/share/assistant"')
            elif value is None:
                lines.append(f"# {key} = ")
            elif isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int | float):
                lines.append(f"{key} = {value}")
            elif isinstance(value, tuple):
                lines.append(f"{key} = {list(value)}")
            else:
                lines.append(f'{key} = "{value}"')
        lines.append("")
    return "\n".join(lines)
