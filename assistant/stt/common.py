"""Helpers every engine shares: audio checks and the short-answer decision."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from assistant.stt.base import SAMPLE_RATE, Recognizer, RecognizerStream, Transcript, Word
from assistant.words import SHORT_ANSWERS, ShortAnswer, match_phrase

PhraseTable = Mapping[ShortAnswer, Sequence[str]]


class StreamTranscribe(Recognizer):
    """``transcribe`` for an engine whose streams do everything: one stream, all the audio."""

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> RecognizerStream:
        raise NotImplementedError

    def transcribe(
        self,
        pcm: np.ndarray,
        allowed: Sequence[ShortAnswer] | None = None,
        phrases: Sequence[str] = (),
    ) -> Transcript:
        stream = self.start(allowed, phrases)
        stream.accept(pcm)
        return stream.result()


def as_pcm16(pcm: np.ndarray) -> np.ndarray:
    """*pcm* as a flat int16 array (float audio in [-1, 1] is scaled)."""
    data = np.asarray(pcm)
    if data.ndim > 1:
        data = data.reshape(-1) if 1 in data.shape else data.mean(axis=1)
    if data.dtype == np.int16:
        return data
    if np.issubdtype(data.dtype, np.floating):
        return np.clip(np.round(data * 32767.0), -32768, 32767).astype(np.int16)
    return np.clip(data, -32768, 32767).astype(np.int16)


def decide_short(
    text: str,
    confidence: float,
    *,
    engine: str,
    allowed: Sequence[ShortAnswer],
    min_confidence: float,
    words: tuple[Word, ...] = (),
    table: PhraseTable = SHORT_ANSWERS,
    audio_s: float = 0.0,
    compute_s: float = 0.0,
) -> Transcript:
    """A short-role transcript: ``answer`` set only when the whole of *text* is confidently
    one allowed answer; otherwise None ("Sorry, I didn't catch that")."""
    answer = match_phrase(text, table, allowed)
    if answer is not None and confidence < min_confidence:
        answer = None
    return Transcript(
        text=text,
        confidence=confidence,
        engine=engine,
        words=words,
        answer=answer,
        audio_s=audio_s,
        compute_s=compute_s,
    )


class Timer:
    """Counts compute time spent inside an engine for one utterance."""

    def __init__(self) -> None:
        self.total = 0.0
        self._start = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.total += time.perf_counter() - self._start


def seconds(samples: int) -> float:
    return samples / SAMPLE_RATE
