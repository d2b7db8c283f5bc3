"""Settings in one place: typed, documented, validated.

The configuration file is TOML. It is looked for at ``$ASSISTANT_CONFIG``, then
``~/.config/assistant/config.toml``, then ``/etc/assistant/config.toml``; with none, the defaults
below are used. ``assistant config`` prints the settings in force as TOML (:func:`settings_toml`)
and the file read. Every field has a default, so a file needs only the lines that differ. An
unknown key or a bad value is a :class:`ConfigError` naming the file, the key, its section and
what is wrong ("unknown setting 'input_devic' in [audio] (did you mean 'input_device'?)").

On the command line the root callback puts a :class:`SettingsSource` on the click context;
commands read it with :func:`settings_of` (loaded once, on first use).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.core.settings import DialogueSettings
from assistant.errors import ConfigError

_T = TypeVar("_T")

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
    whisper_window_s: int = Field(
        30,
        ge=15,
        le=30,
        description="Whisper's encoder window in seconds: 30 is Whisper's own; 15 about halves"
        " a decoding, a little less accurate (the Pi 4 profile's)",
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
        0,
        ge=0,
        description="Audio of sessions the hub has confirmed is deleted after this many days "
        "(0: at once); audio not yet sent never",
    )
    keep_sent_transcripts_days: int = Field(
        30,
        ge=0,
        description="Transcripts of sessions the hub has confirmed are blanked on the device "
        "after this many days (the hub keeps them)",
    )
    min_free_mb: int = Field(100, ge=0, description="Refuse to record below this free space")
    key_file: Path | None = Field(
        None,
        description="Key file that locks the records (e.g. on a key stick kept apart); "
        "$ASSISTANT_KEY_FILE wins; none = a systemd credential, the board's OTP key, "
        "else <data_dir>/records.key (docs/security.md)",
    )


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
    def published_scripts_dir(self) -> Path:
        """Scripts the charity's hub published to this device (``scripts list`` shows them)."""
        return self.data_dir / "published" / "scripts"

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


def find_config_file(path: Path | None = None) -> Path | None:
    """The file :func:`load_settings` reads: *path*, else the first candidate there, else none."""
    if path is not None:
        return path
    for candidate in config_candidates():
        if candidate.exists():
            return candidate
    if os.environ.get("ASSISTANT_CONFIG"):
        raise ConfigError(f"Config file {config_candidates()[0]} does not exist.")
    return None


def load_settings(path: Path | None = None) -> Settings:
    """Settings from *path*, or from the first config file found, or the defaults."""
    path = find_config_file(path)
    if path is None:
        return _profiled(Settings(), {})
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}.") from exc
    if len(raw) > 1024 * 1024:
        raise ConfigError(f"Config file {path} is too large to be a config file (over 1 MB).")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except RecursionError as exc:
        raise ConfigError(f"Config file {path} is nested too deeply to be a config file.") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from exc
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"Config file {path}: {_plain_problem(exc.errors()[0])}.") from exc
    return _profiled(settings, data)


def _profiled(settings: Settings, data: dict[str, Any]) -> Settings:
    """*settings* with the board profile's choices (``assistant/pi.py``) for every setting
    the file (*data*) does not set itself."""
    from assistant.pi import apply_profile

    explicit = {
        f"{section}.{key}"
        for section, values in data.items()
        if isinstance(values, dict)
        for key in values
    }
    apply_profile(settings, explicit)
    return settings


def _did_you_mean(word: str, choices: list[str], quote: str = "'") -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    if close:
        return f"did you mean {quote}{close[0]}{quote}?"
    return "the settings there are: " + ", ".join(choices)


def _plain_problem(err: Any) -> str:
    """One pydantic error as a plain phrase naming the setting and its section."""
    loc = [str(p) for p in err["loc"]]
    kind = err["type"]
    if kind == "extra_forbidden" and len(loc) == 1 and not isinstance(err.get("input"), dict):
        return f"the setting '{loc[0]}' must be under a section, such as [audio] or [voice]"
    if kind == "extra_forbidden" and len(loc) == 1:
        sections = list(Settings.model_fields)
        close = difflib.get_close_matches(loc[0], sections, n=1, cutoff=0.5)
        hint = (
            f"did you mean [{close[0]}]?"
            if close
            else "the sections are: " + ", ".join(f"[{name}]" for name in sections)
        )
        return f"unknown section [{loc[0]}] ({hint})"
    section = loc[0]
    key = ".".join(loc[1:]) or section
    where = f"'{key}' in [{section}]" if len(loc) > 1 else f"[{section}]"
    if kind == "extra_forbidden":
        field = Settings.model_fields.get(section)
        model = field.annotation if field is not None else None
        names = (
            list(model.model_fields)
            if isinstance(model, type) and issubclass(model, BaseModel)
            else []
        )
        return f"unknown setting '{key}' in [{section}] ({_did_you_mean(loc[1], names)})"
    ctx = err.get("ctx") or {}
    value = err.get("input")
    shown = f" (it is {value!r})" if not isinstance(value, dict | list) else ""
    limits = {
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
    }
    if kind in limits:
        words, name = limits[kind]
        limit = ctx.get(name)
        limit_text = f"{limit:g}" if isinstance(limit, int | float) else str(limit)
        return f"{where} must be {words} {limit_text}{shown}"
    if kind == "literal_error":
        return f"{where} must be one of {ctx.get('expected', '')}{shown}"
    if kind.endswith("_parsing") or kind.endswith("_type"):
        wanted = kind.split("_")[0]
        nouns = {
            "int": "a whole number",
            "float": "a number",
            "bool": "true or false",
            "string": "words in quotes",
            "model": "a section of settings",
        }
        return f"{where} must be {nouns.get(wanted, 'a ' + wanted)}{shown}"
    return f"{where}: {err['msg']}"


class SettingsSource:
    """The settings for one command, read when first asked for, so that a broken file stops
    only the commands that need settings (never ``--help`` or ``version``).

    The command line's root callback puts one on the click context (``ctx.obj``); command
    modules find it with :func:`settings_of`, so none of them imports the root.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._settings: Settings | None = None
        self.files_read: list[Path] = []

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            found = find_config_file(self.path)
            self._settings = load_settings(found) if found is not None else Settings()
            self.files_read = [found] if found is not None else []
        return self._settings


class _Context(Protocol):
    def find_object(self, object_type: type[_T]) -> _T | None: ...


def source_of(ctx: _Context | None = None) -> SettingsSource:
    """The :class:`SettingsSource` on *ctx* (default: the command running now), or a new one."""
    if ctx is None:
        from typer._click.globals import get_current_context

        ctx = get_current_context(silent=True)
    found = ctx.find_object(SettingsSource) if ctx is not None else None
    return found if found is not None else SettingsSource()


def settings_of(ctx: _Context | None = None) -> Settings:
    """The settings in force for the command running in *ctx* (default: the current one)."""
    return source_of(ctx).settings


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


def _toml_value(value: Any) -> str:
    if isinstance(value, Path):
        value = str(value)
    elif isinstance(value, tuple):
        value = list(value)
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def settings_toml(settings: Settings, files_read: list[Path]) -> str:
    """The settings in force as a TOML file (valid: it loads back to the same settings).

    A setting that is not set (none) cannot be written in TOML, so it is a comment.
    """
    if files_read:
        head = [f"# Settings in force, read from {', '.join(str(f) for f in files_read)}."]
    else:
        tried = ", ".join(str(c) for c in config_candidates())
        head = [f"# Settings in force: no config file was found ({tried}), so the defaults."]
    lines = [*head, ""]
    for section, model in settings:
        lines.append(f"[{section}]")
        for key, value in model:
            if value is None:
                lines.append(f"# {key} is not set")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)
