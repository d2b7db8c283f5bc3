"""A fake recogniser for fast tests: a real member of the family, with no model.

It follows the same :class:`~assistant.stt.base.Recognizer` protocol and the same short-answer
rules (the whole text must be one allowed phrase, at or above the minimum confidence), so code
tested against it behaves the same with a real engine.

Two ways to tell it what was said:

1. **A script**: the texts of the coming utterances, in order. Each ``start()`` / ``transcribe()``
   takes the next one (``""`` = silence; a ``(text, confidence)`` pair sets the confidence)::

       rec = FakeRecognizer(["yes", ("no", 0.3), "I want to grow carrots"])
       rec.transcribe(pcm, allowed=["yes", "no"]).answer   # "yes"
       rec.transcribe(pcm, allowed=["yes", "no"]).answer   # None: confidence 0.3 < 0.6
       rec.transcribe(pcm).text                            # "I want to grow carrots"

2. **Text carried in the audio**: :func:`speech_pcm` turns text into int16 "speech" that the
   fake decodes back exactly (a fake voice or a fake microphone can play it; the path must be
   lossless, i.e. 16 kHz int16 with no resampling or mixing). Audio with no embedded text is
   heard as silence, unless a script is given, which then wins. The hum after the text is
   "speech" to :class:`~assistant.audio.endpoint.EnergyDetector` but not to the Silero VAD
   (it is not a voice), so pair it with the energy detector in end-of-turn tests::

       rec = FakeRecognizer()
       rec.transcribe(speech_pcm("next please")).text      # "next please"

``rec.heard`` lists every transcript returned, for assertions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np

from assistant.stt.base import SAMPLE_RATE, RecognizerStream, Transcript
from assistant.stt.common import StreamTranscribe, as_pcm16, decide_short, seconds
from assistant.words import ShortAnswer

_MAGIC = np.array([12345, -12345, 23456, -23456], dtype=np.int16)


def speech_pcm(text: str, *, pad_s: float = 0.3) -> np.ndarray:
    """Int16 16 kHz "speech" that :class:`FakeRecognizer` hears as *text*.

    It is a short marker, the length, the UTF-8 bytes, then a hum lasting about as long as the
    words would take to say (so end-of-turn timing stays realistic), with silence around.
    """
    data = text.encode("utf-8")
    payload = np.array(list(data), dtype=np.int16) * 64 + 1000
    header = np.concatenate([_MAGIC, np.array([len(data)], dtype=np.int16)])
    spoken_s = max(0.3, 0.35 * len(text.split()))
    body = np.concatenate([header, payload])
    # a voice-like hum for as long as the words would take, so that an energy-based
    # end-of-turn detector hears "speech" for the right time
    n = max(0, int(spoken_s * SAMPLE_RATE) - len(body))
    t = np.arange(n) / SAMPLE_RATE
    hum = (3000 * np.sin(2 * np.pi * 180 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(
        np.int16
    )
    pad = np.zeros(int(pad_s * SAMPLE_RATE), dtype=np.int16)
    return np.concatenate([pad, body, hum, pad])


def text_in_pcm(pcm: np.ndarray) -> str | None:
    """The text :func:`speech_pcm` embedded in *pcm* (several are joined), or None."""
    data = as_pcm16(pcm)
    found: list[str] = []
    n = len(_MAGIC)
    if len(data) < n + 1:
        return None
    windows = np.lib.stride_tricks.sliding_window_view(data, n)
    for start in np.flatnonzero((windows == _MAGIC).all(axis=1)):
        length = int(data[start + n]) if start + n < len(data) else 0
        body = data[start + n + 1 : start + n + 1 + length]
        if length <= 0 or len(body) < length:
            continue
        raw = ((body.astype(np.int32) - 1000) // 64).clip(0, 255).astype(np.uint8).tobytes()
        found.append(raw.decode("utf-8", errors="replace"))
    return " ".join(found) if found else None


class FakeRecognizer(StreamTranscribe):
    """A recogniser that hears what it is told (see the module docstring)."""

    engine = "fake"

    def __init__(
        self,
        script: Iterable[str | tuple[str, float]] = (),
        *,
        confidence: float = 0.95,
        min_confidence: float = 0.6,
        compute_s: float = 0.0,
    ) -> None:
        self.name = "fake"
        self.script: deque[str | tuple[str, float]] = deque(script)
        self.confidence = confidence
        self.min_confidence = min_confidence
        self.compute_s = compute_s
        self.heard: list[Transcript] = []

    def say(self, *texts: str | tuple[str, float]) -> None:
        """Add utterances to the script."""
        self.script.extend(texts)

    def load(self) -> None:
        """Nothing to load."""

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> FakeStream:
        return FakeStream(self, allowed)

    def _finish(self, pcm: np.ndarray, allowed: Sequence[ShortAnswer] | None) -> Transcript:
        confidence = self.confidence
        if self.script:
            item = self.script.popleft()
            text, confidence = item if isinstance(item, tuple) else (item, confidence)
        else:
            text = text_in_pcm(pcm) or ""
        if not text.strip():
            confidence = 0.0
        audio_s = seconds(len(pcm))
        if allowed is None:
            tr = Transcript(
                text=text,
                confidence=confidence,
                engine=self.name,
                audio_s=audio_s,
                compute_s=self.compute_s,
            )
        else:
            tr = decide_short(
                text,
                confidence,
                engine=self.name,
                allowed=allowed,
                min_confidence=self.min_confidence,
                audio_s=audio_s,
                compute_s=self.compute_s,
            )
        self.heard.append(tr)
        return tr


class FakeStream(RecognizerStream):
    def __init__(self, owner: FakeRecognizer, allowed: Sequence[ShortAnswer] | None) -> None:
        self._owner = owner
        self._allowed = allowed
        self._blocks: list[np.ndarray] = []

    def accept(self, pcm: np.ndarray) -> str | None:
        self._blocks.append(as_pcm16(pcm).copy())
        return None

    def result(self) -> Transcript:
        pcm = np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.int16)
        return self._owner._finish(pcm, self._allowed)
