"""The real Piper voice (the bundled en_US-joe-medium): sound, rate, streaming, cache, ``say``.

The voice is loaded once for the module; its rate calibration is kept in a temporary file that
the command-line test reuses, so the passage is measured once.
"""

from __future__ import annotations

import json
import shutil
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.voice.base import Voice
from assistant.voice.cache import CachedVoice
from assistant.voice.piper import (
    CALIBRATION_PASSAGE,
    DEFAULT_VOICE,
    PiperVoice,
    count_words,
    words_per_minute,
)

pytestmark = pytest.mark.slow

# A passage other than the calibration one, in the same plain style.
PASSAGE = (
    "Good morning. Let us look at your plan for this week. "
    "On Monday you will go to the shop with Priya. "
    "You said you want to buy some food for the party. "
    "Is that still right? Press yes or no. "
    "If you want to change it, we can do that together."
)


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("calibration") / "voice-calibration.json"


@pytest.fixture(scope="module")
def voice(calibration: Path) -> PiperVoice:
    return PiperVoice.load(DEFAULT_VOICE, None, calibration_file=calibration)


def _rate_of(voice: PiperVoice, wpm: float, text: str = PASSAGE) -> float:
    voice.words_per_minute = wpm
    try:
        n = sum(len(c) for c in voice.synthesize(text))
    finally:
        voice.words_per_minute = 150.0
    return words_per_minute(text, n, voice.sample_rate)


def test_speaks_audible_audio_at_the_voice_rate(voice: PiperVoice) -> None:
    assert isinstance(voice, Voice)
    assert voice.name == "piper:en_US-joe-medium" and voice.sample_rate == 22_050
    chunks = list(voice.synthesize("Hello. Press the green button for yes."))
    assert len(chunks) == 2
    audio = np.concatenate(chunks)
    assert audio.dtype == np.int16
    assert 1.0 < len(audio) / voice.sample_rate < 6.0
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert rms > 1000  # speech, not silence
    assert list(voice.synthesize("   ")) == []


def test_calibration_is_measured_once_and_kept(voice: PiperVoice, calibration: Path) -> None:
    natural = voice.calibrate()
    assert 120 < natural < 300
    stored = json.loads(calibration.read_text())
    (key, entry), *others = stored.items()
    assert not others and entry["natural_wpm"] == pytest.approx(natural, abs=0.1)
    # a remembered measurement is used instead of measuring again
    words = count_words(CALIBRATION_PASSAGE)
    fake = {"seconds_at_1": words * 60 / 300, "seconds_at_1.6": words * 60 / 150}
    calibration.write_text(json.dumps({key: fake}))
    voice._calibration = None
    try:
        assert voice.calibrate() == pytest.approx(300.0)
        assert voice.length_scale == pytest.approx(1.6)  # 150 words a minute
        assert voice.length_scale_for(300) == pytest.approx(1.0)
    finally:
        calibration.write_text(json.dumps(stored))
        voice._calibration = None
    assert voice.calibrate() == pytest.approx(natural, abs=0.1)


def test_rate_follows_words_per_minute(voice: PiperVoice) -> None:
    assert count_words("Don't stop - it's fine, Sam.") == 5
    assert count_words(PASSAGE) > 40 and count_words(CALIBRATION_PASSAGE) > 40
    at_150 = _rate_of(voice, 150)
    assert at_150 == pytest.approx(150, rel=0.15)
    slow, fast = _rate_of(voice, 120), _rate_of(voice, 190)
    assert slow < at_150 < fast
    assert slow == pytest.approx(120, rel=0.15) and fast == pytest.approx(190, rel=0.15)


def test_volume_scales_loudness(voice: PiperVoice) -> None:
    text = "Press the green button."
    loud = np.abs(np.concatenate(list(voice.synthesize(text)))).max()
    voice.volume = 0.5
    try:
        quiet = np.abs(np.concatenate(list(voice.synthesize(text)))).max()
    finally:
        voice.volume = 1.0
    assert quiet == pytest.approx(loud * 0.5, rel=0.05)


def test_streams_the_first_sentence_before_the_rest(
    voice: PiperVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[float] = []
    real = voice._piper.phoneme_ids_to_audio

    def counting(*args: object, **kwargs: object) -> object:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        runs.append(time.perf_counter())
        return out

    monkeypatch.setattr(voice._piper, "phoneme_ids_to_audio", counting)
    text = "This is the first sentence. Here is a second one. And a third to finish."
    stream = voice.synthesize(text)
    started = time.perf_counter()
    first = next(stream)
    first_at = time.perf_counter() - started
    assert len(runs) == 1  # only the first sentence has been synthesised so far
    rest = list(stream)
    total = time.perf_counter() - started
    assert len(runs) == 3 and len(rest) == 2
    assert first_at < total
    # later sentences start with a short pause, the first does not
    assert np.abs(rest[0][:100]).max() == 0 and first.size > 0


def test_cached_prompt_is_identical_and_instant(voice: PiperVoice, tmp_path: Path) -> None:
    text = "Hello. It is time for your check in."
    cached = CachedVoice(voice, tmp_path, 50_000_000)
    started = time.perf_counter()
    made = list(cached.synthesize(text))
    cold = time.perf_counter() - started
    again_voice = CachedVoice(voice, tmp_path, 50_000_000)  # as after a restart
    started = time.perf_counter()
    again = list(again_voice.synthesize(text))
    warm = time.perf_counter() - started
    assert again_voice.hits == 1 and again_voice.misses == 0
    assert len(again) == len(made) and all(
        np.array_equal(a, b) for a, b in zip(again, made, strict=True)
    )
    assert warm < cold
    # another rate is another entry
    voice.words_per_minute = 130
    try:
        list(CachedVoice(voice, tmp_path, 50_000_000).synthesize(text))
    finally:
        voice.words_per_minute = 150.0
    assert len(list(tmp_path.glob("*.pcm"))) == 2


def test_say_to_file_through_the_command(
    tmp_path: Path, calibration: Path, voice: PiperVoice, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.cli import main

    voice.calibrate()
    data = tmp_path / "data"
    (data / "cache").mkdir(parents=True)
    shutil.copy(calibration, data / "cache" / "voice-calibration.json")  # measured once already
    config = tmp_path / "config.toml"
    config.write_text(f'[records]\ndata_dir = "{data}"\n')
    out = tmp_path / "out.wav"
    text = "Hello. This is the assistant speaking."
    assert main(["--config", str(config), "say", text, "--to-file", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Voice: piper:en_US-joe-medium" in printed and "150 words a minute" in printed
    with wave.open(str(out)) as wav:
        assert wav.getframerate() == 22_050 and wav.getnchannels() == 1
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert np.abs(pcm).max() > 5000
    assert 1.5 < len(pcm) / 22_050 < 6.0
    assert len(list((data / "cache" / "prompts").glob("*.pcm"))) == 1
    # a slower rate gives a longer file
    assert main(["--config", str(config), "say", text, "--to-file", str(out), "--wpm", "110"]) == 0
    with wave.open(str(out)) as wav:
        assert wav.getnframes() > len(pcm) * 1.2


@pytest.mark.audio
def test_say_through_the_speaker(
    pulse_env: object,
    tmp_path: Path,
    calibration: Path,
    voice: PiperVoice,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``assistant say`` plays into the PulseAudio null sink; its monitor hears speech."""
    from assistant.cli import main
    from tests.pulse import SPEAKER_SINK, MonitorRecorder

    voice.calibrate()
    data = tmp_path / "data"
    (data / "cache").mkdir(parents=True)
    shutil.copy(calibration, data / "cache" / "voice-calibration.json")
    config = tmp_path / "config.toml"
    config.write_text(f'[audio]\noutput_device = "pulse"\n[records]\ndata_dir = "{data}"\n')
    text = "Hello. Press the green button for yes."
    with MonitorRecorder(SPEAKER_SINK) as rec:
        assert main(["--config", str(config), "say", text]) == 0
        time.sleep(0.3)
    heard = rec.audio.astype(np.float64)
    loud = np.abs(heard) > 2000
    assert loud.any(), "nothing was heard on the speaker's monitor"
    first, last = np.flatnonzero(loud)[[0, -1]]
    assert (last - first) / 16_000 > 1.5  # the whole phrase, not a click
    assert "Said" in capsys.readouterr().out
