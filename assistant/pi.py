"""Which Raspberry Pi this is, and the settings profile for it.

The board's model is read from the device tree (``/proc/device-tree/model``, or
``/sys/firmware/devicetree/base/model``), as Raspberry Pi OS gives it: "Raspberry Pi 4 Model B
Rev 1.4", "Raspberry Pi 5 Model B Rev 1.0", "Raspberry Pi Zero 2 W Rev 1.0", ... . The profile is
``device.profile`` in the settings, or (``auto``) the one for that model. A profile is the set of
settings ``docs/performance.md`` projects to meet the targets on that board (or to come nearest
them, where it says so): which voice quality, which recogniser for each role, the microphone
block size, and whether the prompt cache is filled at install. ``assistant check`` reports the
model and the profile in force, and each setting in force that differs from the profile's.
:func:`apply_profile` (called by :func:`assistant.config.load_settings`) sets the microphone
block size, the Whisper window and (where its low-quality copy is installed) the voice from the
profile; a setting in the configuration file wins. The service fills the prompt cache at start
when the profile says so (``warm_prompt_cache``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from assistant.config import Settings

ProfileName = Literal["pi5", "pi4", "pi3", "zero2w", "pc"]

MODEL_FILES = (
    Path("/proc/device-tree/model"),
    Path("/sys/firmware/devicetree/base/model"),
)


@dataclass(frozen=True)
class Profile:
    name: ProfileName
    boards: str
    voice_quality: Literal["medium", "low"]
    short_engine: str
    """The recogniser for short answers: "vosk" (a grammar on the small English model, where it
    is installed) is the only one projected near the yes/no target on a Pi; Whisper is not."""
    free_engine: str
    input_block_ms: int
    whisper_window_s: int
    """Whisper's encoder window (``stt.whisper_window_s``): 30 s is Whisper's own; 15 s about
    halves a decoding (246 -> 134 ms measured on x86) at some cost in accuracy (short answers
    88.6 -> 84.1% right, free-answer WER 6.6 -> 7.5%; ``assistant/stt/whisper.py``)."""
    warm_prompt_cache: bool
    """Synthesise every prompt of the installed scripts into the cache at install and after a
    script is published, so that no prompt is synthesised while a person waits."""
    note: str


PROFILES: dict[ProfileName, Profile] = {
    "pi5": Profile(
        "pi5", "Raspberry Pi 5", "medium", "vosk", "whisper", 10, 30, True,
        "Whisper tiny decodes in about 0.6-0.8 s: fine for free answers, too slow for yes/no",
    ),
    "pi4": Profile(
        "pi4", "Raspberry Pi 4, Pi 400, Compute Module 4", "medium", "vosk", "whisper", 10, 15,
        True,
        "Whisper tiny takes 3-4 s per answer: free answers only, with the 15 s window; medium "
        "voice only from the cache (synthesis at about half real time)",
    ),
    "pi3": Profile(
        "pi3", "Raspberry Pi 3B/3B+", "low", "vosk", "vosk", 20, 15, True,
        "Whisper takes about 8 s per answer here: Vosk for both roles, the low voice",
    ),
    "zero2w": Profile(
        "zero2w", "Raspberry Pi Zero 2 W (512 MB)", "low", "vosk", "vosk", 20, 15, True,
        "512 MB: one recogniser (Vosk small) loaded, no Whisper, the low voice",
    ),
    "pc": Profile(
        "pc", "not a Raspberry Pi", "medium", "auto", "auto", 10, 30, False,
        "the defaults",
    ),
}  # fmt: skip


def board_model(files: tuple[Path, ...] | None = None) -> str | None:
    """The board's model from the device tree, or None (not a board with one: a PC)."""
    for path in MODEL_FILES if files is None else files:
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        text = raw.replace(b"\0", b"").decode("utf-8", "replace").strip()
        if text:
            return text
    return None


def profile_for(model: str | None) -> ProfileName:
    """The profile for a device-tree model string."""
    if not model or "Raspberry Pi" not in model:
        return "pc"
    m = model.lower()
    if "raspberry pi 5" in m or "compute module 5" in m or "raspberry pi 500" in m:
        return "pi5"
    if "raspberry pi 4" in m or "compute module 4" in m or "raspberry pi 400" in m:
        return "pi4"
    if "zero 2" in m:
        return "zero2w"
    if "raspberry pi 3" in m or "compute module 3" in m:
        return "pi3"
    return "zero2w"  # older and smaller boards: the most frugal profile


def profile_in_force(
    settings: Settings, files: tuple[Path, ...] | None = None
) -> tuple[Profile, str | None, bool]:
    """(the profile, the board's model or None, whether the profile was detected)."""
    model = board_model(files)
    chosen = settings.device.profile
    if chosen == "auto":
        return PROFILES[profile_for(model)], model, True
    return PROFILES[chosen], model, False


def low_voice(voice: str) -> str:
    """The low-quality Piper voice of the same speaker (``en_GB-alan-medium`` ->
    ``en_GB-alan-low``); a path or a name without a quality is kept."""
    for quality in ("-medium", "-high", "-x_low"):
        if voice.endswith(quality) and "/" not in voice:
            return voice.removesuffix(quality) + "-low"
    return voice


def profile_values(profile: Profile, settings: Settings) -> dict[str, object]:
    """The settings *profile* chooses (dotted keys), given the rest of *settings*: the voice
    only where its low-quality copy is installed (else it is reported, not changed)."""
    out: dict[str, object] = {
        "audio.input_block_ms": profile.input_block_ms,
        "stt.whisper_window_s": profile.whisper_window_s,
    }
    if profile.voice_quality == "low":
        low = low_voice(settings.voice.voice)
        if low != settings.voice.voice and (settings.models_dir / f"{low}.onnx").is_file():
            out["voice.voice"] = low
    return out


def apply_profile(
    settings: Settings, explicit: set[str], files: tuple[Path, ...] | None = None
) -> list[str]:
    """Set each setting the profile in force chooses, except those in *explicit* (dotted keys
    the configuration file sets: the file wins). Returns the keys set. The recognisers are not
    set: ``auto`` already prefers the Vosk grammar wherever its model is installed, and naming
    an engine that is not installed would stop the device."""
    profile, _model, _detected = profile_in_force(settings, files)
    done = []
    for key, value in profile_values(profile, settings).items():
        if key in explicit:
            continue
        section, name = key.split(".")
        part = getattr(settings, section)
        if getattr(part, name) != value:
            setattr(part, name, value)
            done.append(key)
    return done


def differences(settings: Settings, profile: Profile) -> list[str]:
    """The settings in force that differ from the profile's."""
    out = []
    voice = settings.voice.voice
    if profile.voice_quality == "low" and not voice.endswith("-low"):
        out.append(f"voice.voice is {voice!r}; this profile uses a low-quality voice")
    for role, want in (("short", profile.short_engine), ("free", profile.free_engine)):
        have = getattr(settings.stt, f"{role}_engine")
        if want != "auto" and have != want:
            out.append(f"stt.{role}_engine is {have!r}; this profile uses {want!r}")
    if settings.audio.input_block_ms != profile.input_block_ms:
        out.append(
            f"audio.input_block_ms is {settings.audio.input_block_ms} (set in the config); "
            f"this profile uses {profile.input_block_ms}"
        )
    if settings.stt.whisper_window_s != profile.whisper_window_s:
        out.append(
            f"stt.whisper_window_s is {settings.stt.whisper_window_s} (set in the config); "
            f"this profile uses {profile.whisper_window_s}"
        )
    return out


def board_report(settings: Settings, files: tuple[Path, ...] | None = None) -> list[str]:
    """Lines for ``assistant check``: the board, the profile in force, and how the settings
    differ from it."""
    profile, model, detected = profile_in_force(settings, files)
    how = "detected" if detected else "set in device.profile"
    lines = [
        f"board: {model or 'no device-tree model (not a Raspberry Pi)'}",
        f"profile: {profile.name} ({how}; for {profile.boards}): {profile.note}",
        f"  voice {profile.voice_quality}, short answers {profile.short_engine}, free answers "
        f"{profile.free_engine}, {profile.input_block_ms} ms microphone blocks, Whisper window "
        f"{profile.whisper_window_s} s, prompt cache "
        f"{'filled at install and at start' if profile.warm_prompt_cache else 'as said'}",
        f"  in force: voice {settings.voice.voice}, {settings.audio.input_block_ms} ms "
        f"microphone blocks, Whisper window {settings.stt.whisper_window_s} s",
    ]
    lines += [f"  differs: {d}" for d in differences(settings, profile)]
    return lines
