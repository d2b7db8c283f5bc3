"""WAV reading, conversion to 16 kHz mono, atomic writing, and a clear error for each bad file."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.wav import read_wav, read_wav_raw, resample, write_wav
from assistant.errors import AudioError, BadAudioFile


def tone(freq: float, seconds: float, rate: int, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return level * np.sin(2 * np.pi * freq * t)


def peak_hz(pcm: np.ndarray, rate: int = 16_000) -> float:
    spec = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spec) * rate / len(pcm))


def riff(tag: int, channels: int, rate: int, bits: int, data: bytes, extensible: bool = False):
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * block,
                      block, bits)  # fmt: skip
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + b"\x00" * 14
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"LIST" + struct.pack("<I", 5) + b"abcde\x00"  # an odd-sized chunk to skip
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def encode(x: np.ndarray, bits: int, flt: bool = False) -> bytes:
    """x: float (frames, channels) in [-1, 1]."""
    if flt:
        return x.astype("<f4" if bits == 32 else "<f8").tobytes()
    if bits == 8:
        return (x * 127 + 128).round().astype(np.uint8).tobytes()
    if bits == 16:
        return (x * 32767).round().astype("<i2").tobytes()
    if bits == 24:
        ints = (x * 8_388_607).round().astype("<i4").reshape(-1)
        b = ints.view(np.uint8).reshape(-1, 4)[:, :3]
        return b.tobytes()
    return (x * 2_147_483_647).round().astype("<i4").tobytes()


def test_round_trip_16k_mono(tmp_path: Path) -> None:
    pcm = (tone(440, 1.0, 16_000) * 32767).astype(np.int16)
    path = write_wav(tmp_path / "a.wav", pcm, 16_000)
    back = read_wav(path)
    assert back.dtype == np.int16
    assert np.array_equal(back, pcm)
    raw, rate = read_wav_raw(path)
    assert rate == 16_000 and np.array_equal(raw, pcm)


@pytest.mark.parametrize(
    ("rate", "channels", "bits", "flt", "ext"),
    [
        (44_100, 2, 16, False, False),
        (48_000, 1, 24, False, False),
        (48_000, 2, 32, False, True),
        (22_050, 1, 8, False, False),
        (8_000, 1, 16, False, False),
        (44_100, 1, 32, True, False),
        (32_000, 2, 64, True, True),
    ],
)
def test_any_format_becomes_16k_mono_and_keeps_the_pitch(
    tmp_path: Path, rate: int, channels: int, bits: int, flt: bool, ext: bool
) -> None:
    x = tone(1000, 0.8, rate)
    frames = np.repeat(x[:, None], channels, axis=1)
    path = tmp_path / "in.wav"
    path.write_bytes(riff(3 if flt else 1, channels, rate, bits, encode(frames, bits, flt), ext))
    out = read_wav(path)
    assert out.dtype == np.int16 and out.ndim == 1
    assert abs(len(out) - 0.8 * 16_000) <= 2
    assert abs(peak_hz(out) - 1000) < 3
    # level is kept (0.5 of full scale, give or take the 8-bit steps and the filter's edges)
    mid = out[2000:-2000].astype(np.float64) / 32768
    assert 0.45 < np.sqrt(2 * np.mean(mid * mid)) < 0.55


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_resampling_keeps_a_tone_frequency(rate: int) -> None:
    for freq in (300.0, 1000.0, 3500.0):
        pcm = (tone(freq, 1.0, rate) * 32767).astype(np.int16)
        out = resample(pcm, rate, 16_000)
        assert len(out) == 16_000
        assert abs(peak_hz(out) - freq) < 2
    # and a tone above the new Nyquist frequency is filtered away, not folded back
    high = (tone(9000, 1.0, rate) * 32767).astype(np.int16)
    assert np.abs(resample(high, rate, 16_000)[500:-500]).max() < 100


def test_write_is_atomic_and_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sub" / "clip.wav"
    first = np.arange(1600, dtype=np.int16)
    write_wav(path, first, 16_000)
    second = np.full(3200, 7, dtype=np.int16)
    write_wav(path, second, 16_000)
    assert np.array_equal(read_wav(path), second)
    assert [p.name for p in path.parent.iterdir()] == ["clip.wav"]

    def broken_replace(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_wav(path, first, 16_000)
    monkeypatch.undo()
    assert np.array_equal(read_wav(path), second)  # the old file is untouched
    assert [p.name for p in path.parent.iterdir()] == ["clip.wav"]  # no temp file left


def test_write_float_and_stereo(tmp_path: Path) -> None:
    x = tone(500, 0.5, 16_000)
    write_wav(tmp_path / "f.wav", x, 16_000)
    assert abs(peak_hz(read_wav(tmp_path / "f.wav")) - 500) < 3
    st = (np.stack([x, x], axis=1) * 32767).astype(np.int16)
    write_wav(tmp_path / "s.wav", st, 16_000)
    raw, rate = read_wav_raw(tmp_path / "s.wav")
    assert rate == 16_000 and len(raw) == len(x)


def _bad(tmp_path: Path, name: str, content: bytes | None) -> Path:
    p = tmp_path / name
    if content is not None:
        p.write_bytes(content)
    return p


one_second = encode(tone(440, 1, 16_000)[:, None], 16)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("missing.wav", None, "does not exist"),
        ("empty.wav", b"", "is empty"),
        ("notes.wav", b"these are my notes, not audio at all", "not a WAV"),
        ("song.wav", b"ID3\x03\x00\x00\x00" + b"\x00" * 100, "not a WAV"),
        ("nofmt.wav", b"RIFF\x04\x00\x00\x00WAVE", "no format header"),
        (
            "short-fmt.wav",
            b"RIFF\x10\x00\x00\x00WAVEfmt \x04\x00\x00\x00\x01\x00\x01\x00",
            "broken format header",
        ),  # fmt: skip
        ("nodata.wav", riff(1, 1, 16_000, 16, b"")[:-8], "no audio data"),
        ("silent.wav", riff(1, 1, 16_000, 16, b""), "holds no sound"),
        ("tiny.wav", riff(1, 1, 16_000, 16, one_second[:800]), "too short"),
        ("adpcm.wav", riff(0x11, 1, 16_000, 4, one_second), "not supported"),
        ("weird.wav", riff(1, 0, 16_000, 16, one_second), "impossible format"),
    ],
)
def test_each_bad_file_is_one_clear_sentence(
    tmp_path: Path, name: str, content: bytes | None, words: str
) -> None:
    path = _bad(tmp_path, name, content)
    with pytest.raises(BadAudioFile) as info:
        read_wav(path)
    msg = str(info.value)
    assert words in msg
    assert str(path) in msg
    assert "\n" not in msg and msg.endswith(".")
    assert isinstance(info.value, AudioError) and isinstance(info.value, ValueError)


def test_a_folder_is_not_a_wav(tmp_path: Path) -> None:
    with pytest.raises(BadAudioFile, match="is a folder"):
        read_wav(tmp_path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "locked.wav"
    write_wav(p, np.zeros(16_000, np.int16), 16_000)

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(BadAudioFile, match=r"locked.wav cannot be read: Permission denied\.$"):
        read_wav(p)


def test_truncated_data_chunk_reads_what_is_there(tmp_path: Path) -> None:
    data = riff(1, 1, 16_000, 16, one_second)
    p = _bad(tmp_path, "cut.wav", data[: len(data) // 2])  # a recording cut off mid-write
    out = read_wav(p)
    assert 0.4 < len(out) / 16_000 < 0.5
