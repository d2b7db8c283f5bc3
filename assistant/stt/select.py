"""Which recogniser serves which role, and why.

Order (``stt.short_engine`` / ``stt.free_engine`` = ``auto``):

1. Vosk for both roles when an English Vosk model is in the models folder (``stt.vosk_model``).
2. Otherwise the embedded engine that measured best for each role in ``bench/bench_stt.py``
   (:data:`EMBEDDED_DEFAULTS`), with an :class:`~assistant.errors.EngineFallback` warning that
   says how to get the Vosk model.

:data:`AUTO_ORDER` is that order, as a table. An engine named in the config (or in the
``ASSISTANT_STT_SHORT`` / ``ASSISTANT_STT_FREE`` environment variables, which override it) is
used as named, or fails with a clear error. :mod:`assistant.buttons.select` has the same
shape. Nothing is loaded here: each recogniser loads its model on first use, and one
instance per engine and model is shared by the whole process (so Vosk serving both roles
loads its model once).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assistant.config import Settings
from assistant.errors import ConfigError, EngineFallback, ModelError
from assistant.stt.base import Recognizer, Role

log = logging.getLogger(__name__)

Engine = Literal["vosk", "whisper", "pocketsphinx"]
ENGINES: tuple[Engine, ...] = ("vosk", "whisper", "pocketsphinx")

EMBEDDED_DEFAULTS: dict[Role, Engine] = {"short": "whisper", "free": "whisper"}
"""Best embedded engine per role, measured by bench/bench_stt.py (176 short answers from eight
synthetic voices, three also in noise at 10 dB SNR; 20 free sentences from two voices):

* short: Whisper 88.6% right, 0% swapped, 0 of 47 non-answers taken as answers;
  pocketsphinx 39.8% right, 1.7% swapped, 4.3% of non-answers taken (threshold 0.4; its
  posterior clusters at 0.5, so no threshold brings swaps under 1% with useful accuracy).
* free: word error rate Whisper 2.9%, pocketsphinx 36.8%.

pocketsphinx is far quicker to finalise (about 10 ms against 600 ms for Whisper on a busy
2-core machine) but too often wrong to be the default; it stays available by name."""

WHY_EMBEDDED: dict[Role, str] = {
    "short": "88.6% of short answers right and none swapped in the benchmark",
    "free": "lowest word error rate in the benchmark (2.9%)",
}

AUTO_ORDER: dict[Role, tuple[Engine, ...]] = {
    role: ("vosk", EMBEDDED_DEFAULTS[role]) for role in ("short", "free")
}
"""The order ``auto`` tries for each role: the first usable engine is taken (Vosk is usable
when its English model is there; the embedded engines always are). Using a later one is an
:class:`~assistant.errors.EngineFallback`."""

ENV_VARS: dict[Role, str] = {"short": "ASSISTANT_STT_SHORT", "free": "ASSISTANT_STT_FREE"}
"""Override ``stt.short_engine`` / ``stt.free_engine`` (as ``GPIOZERO_PIN_FACTORY`` does
gpiozero's pin factory; :data:`assistant.buttons.select.ENV_VAR` does the buttons')."""


def wanted_engine(role: Role, settings: Settings) -> str:
    """The engine asked for in *role*: the environment's, else the config's."""
    value = os.environ.get(ENV_VARS[role], "").strip().lower()
    return value or (settings.stt.short_engine if role == "short" else settings.stt.free_engine)


MIN_CONFIDENCE: dict[Engine, float | None] = {"vosk": None, "whisper": 0.5, "pocketsphinx": 0.4}
"""Short-answer acceptance threshold per engine; None = ``stt.min_short_confidence``.

Engines score confidence on different scales (Vosk: word posterior; Whisper: mean token
probability; pocketsphinx: utterance posterior), so each has its own, tuned in the benchmark.
"""


@dataclass(frozen=True)
class Engines:
    """The recogniser for each role, and a sentence saying why it was chosen."""

    short: Recognizer
    free: Recognizer
    short_reason: str
    free_reason: str

    def describe(self) -> list[str]:
        return [f"short answers: {self.short_reason}", f"free answers: {self.free_reason}"]

    def for_role(self, role: Role) -> Recognizer:
        return self.short if role == "short" else self.free


def vosk_model_path(settings: Settings) -> Path:
    """The configured Vosk model: a path, or a folder name in the models folder."""
    value = settings.stt.vosk_model
    if "/" in value or value.startswith("~"):
        return Path(value).expanduser()
    return settings.models_dir / value


def _looks_english(path: Path) -> bool:
    name = path.name.lower()
    if "-en-" in name or name.endswith("-en") or "-en_" in name:
        return True
    readme = path / "README"
    try:
        head = readme.read_text(encoding="utf-8", errors="replace")[:400].lower()
    except OSError:
        return False
    return "english" in head or " us english" in head


def vosk_status(settings: Settings) -> tuple[bool, str]:
    """Whether an English Vosk model is usable, and if not, a sentence saying why."""
    from assistant.stt.vosk import check_vosk_folder

    path = vosk_model_path(settings)
    try:
        check_vosk_folder(path)
    except ModelError as exc:
        hint = f"run `assistant models download {path.name}`"
        if not path.exists():
            return False, f"no English Vosk model at {path}; {hint}"
        return False, f"{exc.args[0].rstrip('.')}; {hint}"
    if not _looks_english(path):
        return False, f"the Vosk model at {path} does not look English"
    return True, f"English Vosk model at {path}"


_instances: dict[tuple[object, ...], Recognizer] = {}
_lock = threading.Lock()


def build_engine(name: Engine, settings: Settings) -> Recognizer:
    """The shared recogniser instance for *name* with these settings (not loaded yet)."""
    threshold = MIN_CONFIDENCE.get(name)
    confidence = settings.stt.min_short_confidence if threshold is None else threshold
    if name == "vosk":
        key: tuple[object, ...] = (name, str(vosk_model_path(settings)), confidence)
    elif name == "whisper":
        key = (name, settings.stt.whisper_model, confidence, settings.stt.whisper_window_s)
    elif name == "pocketsphinx":
        key = (name, confidence)
    else:
        raise ConfigError(f"Unknown speech engine {name!r}: use one of auto, {', '.join(ENGINES)}.")
    with _lock:
        found = _instances.get(key)
        if found is not None:
            return found
        rec: Recognizer
        if name == "vosk":
            from assistant.stt.vosk import VoskRecognizer

            rec = VoskRecognizer(vosk_model_path(settings), min_confidence=confidence)
        elif name == "whisper":
            from assistant.stt.whisper import WhisperRecognizer

            path = Path(settings.stt.whisper_model) if settings.stt.whisper_model else None
            window = settings.stt.whisper_window_s * 100  # 10 ms mel frames
            rec = WhisperRecognizer(
                path, min_confidence=confidence, models_dir=settings.models_dir,
                short_window=window, free_window=window,
            )  # fmt: skip
        else:
            from assistant.stt.sphinx import SphinxRecognizer

            rec = SphinxRecognizer(min_confidence=confidence)
        _instances[key] = rec
        return rec


def _describe(name: Engine, role: Role) -> str:
    if name == "vosk":
        return "Vosk grammar" if role == "short" else "Vosk"
    if name == "whisper":
        return "Whisper tiny.en (embedded)"
    return "pocketsphinx grammar (embedded)" if role == "short" else "pocketsphinx (embedded)"


def _choose(
    role: Role, wanted: str, settings: Settings, vosk: tuple[bool, str]
) -> tuple[Recognizer, str]:
    vosk_ok, vosk_why = vosk
    if wanted == "auto":
        for name in AUTO_ORDER[role]:
            if name == "vosk":
                if vosk_ok:
                    return build_engine("vosk", settings), f"Vosk ({vosk_why})"
                continue
            reason = f"{_describe(name, role)}, {WHY_EMBEDDED[role]} ({vosk_why})"
            return build_engine(name, settings), reason
        raise ConfigError(f"No speech engine can serve {role} answers.")  # pragma: no cover
    if wanted == "vosk" and not vosk_ok:
        from assistant.stt.vosk import check_vosk_folder

        check_vosk_folder(vosk_model_path(settings))  # raises the precise error
        raise ConfigError(f"stt.{role}_engine is vosk, but {vosk_why}.")
    if wanted not in ENGINES:
        raise ConfigError(
            f"Unknown speech engine {wanted!r}: use one of auto, {', '.join(ENGINES)}."
        )
    chosen = ENGINES[ENGINES.index(wanted)]
    return build_engine(chosen, settings), f"{_describe(chosen, role)} (set in the config)"


def choose_engines(
    settings: Settings, *, short: str | None = None, free: str | None = None
) -> Engines:
    """The recognisers for both roles; *short* / *free* override the config's engine names.

    A fall-back from Vosk to an embedded engine is an :class:`EngineFallback` warning, logged.
    """
    vosk = vosk_status(settings)
    wanted_short = short or wanted_engine("short", settings)
    wanted_free = free or wanted_engine("free", settings)
    short_rec, short_reason = _choose("short", wanted_short, settings, vosk)
    free_rec, free_reason = _choose("free", wanted_free, settings, vosk)
    if not vosk[0] and "auto" in (wanted_short, wanted_free):
        message = (
            f"Speech recognition falls back to the embedded engines: {vosk[1]}. "
            f"Short answers: {_describe(EMBEDDED_DEFAULTS['short'], 'short')}; "
            f"free answers: {_describe(EMBEDDED_DEFAULTS['free'], 'free')}."
        )
        log.info(message)  # the warning itself reaches the log through captureWarnings
        warnings.warn(EngineFallback(message), stacklevel=2)
    return Engines(short_rec, free_rec, short_reason, free_reason)
