"""``assistant listen`` from the microphone: a PulseAudio null sink carries real speech in."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.cli import main
from assistant.config import AudioSettings
from tests.pulse import MIC_SINK, play_into

sys.path.insert(0, str(Path(__file__).parent))
import speech_samples as ss  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.audio,
    pytest.mark.filterwarnings("ignore::assistant.errors.EngineFallback"),  # no Vosk model here
]


def test_listen_hears_an_answer_from_the_microphone(
    pulse_env: AudioSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[audio]\ninput_device = "pulse"\nwait_for_speech_s = 8.0\n'
        'trailing_silence_short_s = 0.7\n\n[stt]\nshort_engine = "whisper"\n'
        f'\n[records]\ndata_dir = "{tmp_path}"\n'
    )
    speech = ss.speak("yes please")
    pcm = np.concatenate([ss.silence(1.5), speech, ss.silence(2.0)])
    player = play_into(MIC_SINK, pcm, ss.RATE, wait=False)
    try:
        code = main(["-c", str(config), "listen", "--role", "short", "--allowed", "yes,no"])
    finally:
        player.wait(15)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "engine: whisper:tiny.en" in out
    assert "answer: yes" in out, out
    assert "transcript: " in out and "confidence: " in out
