"""Reading and writing WAV files.

Everything the rest of the project hears is 16 kHz mono int16 (:data:`MIC_RATE`).
:func:`read_wav` converts any PCM or float WAV (any rate, any number of channels, 8 to 32 bit)
to that with soxr, and turns every kind of bad file into one :class:`BadAudioFile` sentence
that names the file. :func:`write_wav` never leaves a half-written file behind: it writes a
temporary file, flushes it to disk, then renames it into place.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import soxr

from assistant.audio.base import MIC_RATE
from assistant.errors import BadAudioFile

MIN_SECONDS = 0.1
"""Shorter than this (after conversion) is "too short" for :func:`read_wav`."""

_PCM = 0x0001
_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE


def _parse(path: Path, data: bytes) -> tuple[np.ndarray, int]:
    """(samples, shape (frames, channels), rate) from RIFF bytes.

    Samples are float32 in [-1, 1], except 16-bit mono, which stays int16 (exact).
    """
    if len(data) == 0:
        raise BadAudioFile(f"The audio file {path} is empty.")
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise BadAudioFile(f"The audio file {path} is not a WAV file.")
    if data[:4] == b"RIFX":
        raise BadAudioFile(f"The audio file {path} is a big-endian WAV, which is not supported.")
    fmt: tuple[int, int, int, int] | None = None
    pcm_bytes: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise BadAudioFile(f"The audio file {path} has a broken format header.")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE and len(body) >= 26:
                (tag,) = struct.unpack_from("<H", body, 24)
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            pcm_bytes = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise BadAudioFile(f"The audio file {path} has no format header.")
    if pcm_bytes is None:
        raise BadAudioFile(f"The audio file {path} has no audio data.")
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1000 or rate > 384_000:
        raise BadAudioFile(
            f"The audio file {path} has an impossible format ({channels} channels at {rate} Hz)."
        )
    width = bits // 8 if bits % 8 == 0 else 0
    frame = width * channels
    if tag == _PCM and width in (1, 2, 3, 4):
        n = len(pcm_bytes) // frame
        raw = np.frombuffer(pcm_bytes[: n * frame], dtype=np.uint8)
        if width == 1:
            samples = (raw.astype(np.float32) - 128.0) / 128.0
        elif width == 2:
            ints16 = raw.view("<i2")
            if channels == 1 and n > 0:  # the common case, kept exact
                return ints16.astype(np.int16).reshape(n, 1), rate
            samples = ints16.astype(np.float32) / 32768.0
        elif width == 3:
            b = raw.reshape(-1, 3).astype(np.int32)
            ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8
            samples = (ints >> 8).astype(np.float32) / 8_388_608.0
        else:
            samples = (raw.view("<i4").astype(np.float64) / 2_147_483_648.0).astype(np.float32)
    elif tag == _FLOAT and width in (4, 8):
        n = len(pcm_bytes) // frame
        raw = np.frombuffer(pcm_bytes[: n * frame], dtype="<f4" if width == 4 else "<f8")
        samples = np.nan_to_num(raw.astype(np.float32)).clip(-1.0, 1.0)
    else:
        kind = {_PCM: "PCM", _FLOAT: "float"}.get(tag, f"format {tag:#06x}")
        raise BadAudioFile(
            f"The audio file {path} uses {kind} with {bits}-bit samples, which is not supported."
        )
    if n == 0:
        raise BadAudioFile(f"The audio file {path} holds no sound.")
    return samples.reshape(n, channels), rate


def read_wav_raw(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """The file's audio as mono int16 at its own rate: ``(pcm, rate)``.

    Several channels are averaged. Raises :class:`BadAudioFile` naming the file.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError as exc:
        raise BadAudioFile(f"The audio file {p} is a folder, not a file.") from exc
    except FileNotFoundError as exc:
        raise BadAudioFile(f"The audio file {p} does not exist.") from exc
    except OSError as exc:
        raise BadAudioFile(f"The audio file {p} cannot be read: {exc.strerror or exc}.") from exc
    samples, rate = _parse(p, data)
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    return to_int16(mono.astype(np.float32, copy=False) if mono.dtype != np.int16 else mono), rate


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] (or int16 already) as int16, clipped."""
    if samples.dtype == np.int16:
        return samples
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def resample(pcm: np.ndarray, rate: int, to_rate: int = MIC_RATE) -> np.ndarray:
    """Mono int16 audio at *rate* converted to *to_rate* (soxr, high quality)."""
    if rate == to_rate or len(pcm) == 0:
        return pcm.astype(np.int16, copy=False)
    out = soxr.resample(pcm.astype(np.float32) / 32768.0, rate, to_rate, quality="HQ")
    return to_int16(out)


def read_wav(path: str | os.PathLike[str], min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """The file's audio as 16 kHz mono int16, whatever its rate, channels and sample width.

    Raises :class:`BadAudioFile` (one sentence naming the file) when the file is missing,
    unreadable, empty, not a WAV, in an unsupported format, or shorter than *min_seconds*.
    """
    pcm, rate = read_wav_raw(path)
    out = resample(pcm, rate, MIC_RATE)
    if len(out) < min_seconds * MIC_RATE:
        raise BadAudioFile(
            f"The audio file {Path(path)} is too short ({len(pcm) / rate:.3f} s) to hold speech."
        )
    return out


def write_wav(path: str | os.PathLike[str], pcm: np.ndarray, rate: int) -> Path:
    """Write int16 audio (mono, or frames x channels) as a 16-bit WAV, atomically.

    Float audio in [-1, 1] is converted. The file appears complete or not at all.
    """
    p = Path(path)
    arr = np.asarray(pcm)
    if arr.dtype != np.int16:
        arr = to_int16(arr.astype(np.float32)) if arr.dtype.kind == "f" else arr.astype(np.int16)
    channels = 1 if arr.ndim == 1 else arr.shape[1]
    body = np.ascontiguousarray(arr).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVE"
    header += b"fmt " + struct.pack(
        "<IHHIIHH", 16, _PCM, channels, rate, rate * channels * 2, channels * 2, 16
    )
    header += b"data" + struct.pack("<I", len(body))
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dfd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return p
