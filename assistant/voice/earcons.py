"""Earcons: short, gentle sounds that say what the device is doing.

``listening`` (rising two notes: "your turn"), ``done_listening`` (falling two notes: "I heard
you"), ``thinking`` (a soft, slow pulse while a free answer is recognised), ``celebrate`` (a
bright three-note rise) and ``error`` (a low, soft two-note fall; never a buzzer).

The WAV files in ``assistant/sounds/`` are made by this module: run
``python -m assistant.voice.earcons`` to write them again. They are 16 kHz mono int16, quiet
(peak about a third of full scale) with soft starts and ends, and each is well under 50 KB.
"""

from __future__ import annotations

import io
import wave
from importlib.resources import files
from pathlib import Path

import numpy as np

from assistant.errors import AudioError, BadAudioFile

RATE = 16_000
PEAK = 0.32
EARCONS = ("listening", "done_listening", "thinking", "celebrate", "error")


def _note(freq: float, seconds: float, decay: float = 6.0, attack: float = 0.012) -> np.ndarray:
    """A soft bell-like note: sine plus a quiet octave, quick attack, exponential decay."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(4 * np.pi * freq * t)
    envelope = np.minimum(1.0, t / attack) * np.exp(-decay * t)
    release = np.minimum(1.0, (seconds - t) / 0.02)  # no click at the end
    out: np.ndarray = tone * envelope * release
    return out


def _sequence(notes: list[tuple[float, float]], overlap: float = 0.0) -> np.ndarray:
    parts = [_note(f, d) for f, d in notes]
    total = sum(len(p) for p in parts) - int(overlap * RATE) * (len(parts) - 1)
    out = np.zeros(total)
    pos = 0
    for p in parts:
        out[pos : pos + len(p)] += p
        pos += len(p) - int(overlap * RATE)
    return out


def _thinking() -> np.ndarray:
    t = np.arange(int(0.9 * RATE)) / RATE
    tone = np.sin(2 * np.pi * 392.0 * t)
    pulse = 0.5 - 0.5 * np.cos(2 * np.pi * t / 0.9)  # one soft swell
    out: np.ndarray = 0.6 * tone * pulse
    return out


def generate(name: str) -> np.ndarray:
    """The earcon *name* as int16 mono at :data:`RATE`."""
    if name == "listening":
        audio = _sequence([(523.25, 0.14), (783.99, 0.26)], overlap=0.04)  # C5 -> G5
    elif name == "done_listening":
        audio = _sequence([(783.99, 0.14), (523.25, 0.26)], overlap=0.04)  # G5 -> C5
    elif name == "thinking":
        audio = _thinking()
    elif name == "celebrate":
        audio = _sequence([(523.25, 0.12), (659.25, 0.12), (783.99, 0.12), (1046.5, 0.4)], 0.02)
    elif name == "error":
        audio = _sequence([(392.0, 0.18), (311.13, 0.34)], overlap=0.04)  # G4 -> Eb4
    else:
        raise AudioError(f"There is no earcon called {name!r}; there are: {', '.join(EARCONS)}.")
    audio = audio / max(1e-9, float(np.max(np.abs(audio)))) * PEAK
    return np.round(audio * 32767).astype(np.int16)


def _to_wav(pcm: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()


def load_earcon(name: str) -> tuple[np.ndarray, int]:
    """The earcon *name* from ``assistant/sounds/`` as (int16 mono samples, sample rate)."""
    if name not in EARCONS:
        raise AudioError(f"There is no earcon called {name!r}; there are: {', '.join(EARCONS)}.")
    resource = files("assistant").joinpath("sounds", f"{name}.wav")
    try:
        data = resource.read_bytes()
    except OSError as exc:
        raise BadAudioFile(f"The earcon file {resource} cannot be read.") from exc
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise BadAudioFile(f"The earcon file {resource} is not 16-bit mono.")
            rate = wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
    except (wave.Error, EOFError) as exc:
        raise BadAudioFile(f"The earcon file {resource} is not a readable WAV file.") from exc
    if pcm.size == 0:
        raise BadAudioFile(f"The earcon file {resource} is empty.")
    return pcm, rate


def write_all(folder: Path | None = None) -> list[Path]:
    """(Re)write every earcon WAV into *folder* (default: the package's ``sounds`` folder)."""
    target = folder or Path(__file__).resolve().parent.parent / "sounds"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in EARCONS:
        path = target / f"{name}.wav"
        path.write_bytes(_to_wav(generate(name), RATE))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all():
        print(f"{p} ({p.stat().st_size} bytes)")
