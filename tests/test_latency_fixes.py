"""Latency fixes of docs/performance.md in the Whisper engine: an encoder window fitted to the
audio (an option: it loses accuracy, so not the default)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.stt.whisper import FULL_WINDOW, MIN_WINDOW, WhisperRecognizer, encoder_window
from assistant.words import SHORT_ANSWERS, ShortAnswer

sys.path.insert(0, str(Path(__file__).parent))
import speech_samples as ss  # noqa: E402

R = 16_000
ALL: list[ShortAnswer] = list(SHORT_ANSWERS)


# -- the encoder window --------------------------------------------------------------------


def test_encoder_window_fits_the_audio_within_bounds() -> None:
    assert encoder_window(150) == MIN_WINDOW  # a 1.5 s answer: the smallest window
    assert encoder_window(1950) == 2100  # rounded up to a whole second, plus one second
    assert encoder_window(2000) == 2100
    assert encoder_window(2950) == FULL_WINDOW  # never more than Whisper's 30 s
    assert encoder_window(150, minimum=FULL_WINDOW) == FULL_WINDOW
    assert encoder_window(150, minimum=1000) == 1000


# -- Whisper: the fitted window and partial results ----------------------------------------


@pytest.fixture(scope="module")
def whisper() -> WhisperRecognizer:
    rec = WhisperRecognizer(min_confidence=0.5)
    rec.load()
    return rec


class _EncodeSpy:
    """Wraps the model's encode to note the window (mel frames) of every encoding."""

    def __init__(self, rec: WhisperRecognizer) -> None:
        self.model = rec._get_model()
        self.inner = self.model.encode
        self.windows: list[int] = []

    def __call__(self, features: np.ndarray) -> Any:
        self.windows.append(int(features.shape[-1]))
        return self.inner(features)

    def __enter__(self) -> _EncodeSpy:
        self.model.encode = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.model.encode = self.inner


@pytest.mark.slow
def test_windows_fit_the_audio_and_answers_are_still_heard(whisper: WhisperRecognizer) -> None:
    fitted = WhisperRecognizer(min_confidence=0.5, short_window=MIN_WINDOW, free_window=MIN_WINDOW)
    fitted._model = whisper._get_model()  # one model for both
    for said in ("yes", "no", "next"):
        pcm = ss.pad(ss.speak(said))
        with _EncodeSpy(whisper) as spy:
            tr = fitted.transcribe(pcm, ALL)
        assert tr.answer == said, f"{said!r} heard as {tr.text!r}"
        assert spy.windows == [MIN_WINDOW] and MIN_WINDOW < FULL_WINDOW  # 15 s, not 30 s
    sentence = "I want to grow vegetables in the garden."
    with _EncodeSpy(whisper) as spy:
        free = fitted.transcribe(ss.pad(ss.speak(sentence)))
        whole = whisper.transcribe(ss.pad(ss.speak(sentence)))
    assert spy.windows == [MIN_WINDOW, FULL_WINDOW]  # the default keeps Whisper's 30 s
    assert "vegetables in the garden" in free.text.lower()
    assert "vegetables in the garden" in whole.text.lower()
