"""When has a person finished answering? A pure, clock-free end-of-turn detector.

Feed it 16 kHz mono int16 blocks of any size; time is counted in samples, never read from a
clock, so the same audio always gives the same answer. It says whether speech has started, is
going on, or the turn has ended, and why:

* ``no_speech``: nothing was said within ``wait_for_speech_s``;
* ``silence``: speech, then ``trailing_silence_s`` of quiet (1.5 s suits free answers, 0.7 s
  short ones; stutters and pauses shorter than that do not end the turn);
* ``max_length``: the answer reached ``max_answer_s`` (counted from the start of speech);
* ``early_stop``: the caller recognised a complete short answer (:meth:`early_stop`);
* ``cancelled``: the caller stopped listening (a button press, :meth:`cancel`).

Speech detection is pluggable (:class:`SpeechDetector`). The default is
:class:`SileroDetector`, the Silero VAD model that faster-whisper ships, run one 32 ms window at
a time: on Piper and espeak-ng answers in pink noise it found every answer down to 5 dB SNR and
never cut a paused answer short, where the energy detector missed 40% of short answers at 5 dB
and cut 2 of 6 paused answers at 10 dB (``bench/bench_endpoint.py``). It costs about 0.4% of a
core. :class:`EnergyDetector` (an adaptive energy threshold: 10 ms frames well above a tracked
noise floor and above an absolute minimum) is the fallback when Silero cannot load, and is what
tests with synthetic tones use.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from assistant.audio.base import MIC_RATE

log = logging.getLogger(__name__)

EndReason = Literal["no_speech", "silence", "max_length", "early_stop", "cancelled"]


class SpeechDetector(Protocol):
    """Decides, frame by frame, whether 16 kHz audio is speech."""

    frame_samples: int

    def is_speech(self, frame: np.ndarray) -> bool:
        """*frame* is exactly ``frame_samples`` int16 samples."""

    def reset(self) -> None: ...


class EnergyDetector:
    """Speech = frame energy well above an adaptive noise floor and above an absolute floor.

    The noise floor follows quiet frames down quickly and creeps up slowly (only while the
    frame is not speech), so steady background noise is learnt within a few seconds while a
    long answer does not raise it.
    """

    frame_samples = MIC_RATE // 100

    def __init__(
        self,
        margin_db: float = 10.0,
        min_db: float = -50.0,
        initial_floor_db: float = -60.0,
        rise_db_per_s: float = 3.0,
        learn_s: float = 0.1,
    ) -> None:
        self.learn_frames = max(1, round(learn_s * 100))
        self.margin_db = margin_db
        self.min_db = min_db
        self.initial_floor_db = initial_floor_db
        self.rise = rise_db_per_s / 100.0
        self.floor_db = initial_floor_db
        self._frames = 0

    def reset(self) -> None:
        self.floor_db = self.initial_floor_db
        self._frames = 0

    @staticmethod
    def level_db(frame: np.ndarray) -> float:
        x = frame.astype(np.float64) / 32768.0
        return 10.0 * math.log10(float(np.mean(x * x)) + 1e-12)

    @property
    def threshold_db(self) -> float:
        return max(self.floor_db + self.margin_db, self.min_db)

    def is_speech(self, frame: np.ndarray) -> bool:
        e = self.level_db(frame)
        self._frames += 1
        if self._frames <= self.learn_frames:
            # learn the room from the first 100 ms (the microphone opens after the question)
            self.floor_db = e if self._frames == 1 else min(self.floor_db, e)
            return False
        speech = e > self.threshold_db
        if e < self.floor_db:
            self.floor_db = 0.7 * self.floor_db + 0.3 * e
        elif not speech:
            self.floor_db = min(self.floor_db + self.rise, e)
        return speech


_sessions: dict[str, Any] = {}
_sessions_lock = threading.Lock()


def _silero_session(model_path: str | Path | None) -> Any:
    """The Silero ONNX session, loaded once per process (about 0.4 s) and shared.

    The default model is the one faster-whisper's own VAD runs (Whisper's check for speech before
    decoding), so the session is faster-whisper's cached one: one Silero session in the process
    instead of two (5 MB less). Its settings are the ones used here (one thread, errors only),
    with onnxruntime's memory arena off, which changes no result (``tests/test_memory.py``).
    """
    if model_path is None:
        with _sessions_lock:
            if "" not in _sessions:
                from faster_whisper.vad import get_vad_model

                _sessions[""] = get_vad_model().session
            return _sessions[""]
    key = str(model_path)
    with _sessions_lock:
        if key not in _sessions:
            import onnxruntime

            opts = onnxruntime.SessionOptions()
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = 1
            opts.log_severity_level = 4
            _sessions[key] = onnxruntime.InferenceSession(
                key, providers=["CPUExecutionProvider"], sess_options=opts
            )
        return _sessions[key]


class SileroDetector:
    """Silero VAD (the ONNX model inside faster-whisper), run one 32 ms window at a time.

    About 0.2 ms a window on one core (0.4% of a core in real time). The session is shared;
    each detector keeps its own recurrent state.
    """

    frame_samples = 512
    _context = 64

    def __init__(self, threshold: float = 0.5, model_path: str | Path | None = None) -> None:
        self.session = _silero_session(model_path)
        self.threshold = threshold
        self.last_probability = 0.0
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._ctx = np.zeros(self._context, dtype=np.float32)

    def probability(self, frame: np.ndarray) -> float:
        x = frame.astype(np.float32) / 32768.0
        inp = np.concatenate([self._ctx, x])[None, :]
        out, self._h, self._c = self.session.run(None, {"input": inp, "h": self._h, "c": self._c})
        self._ctx = x[-self._context :]
        self.last_probability = float(np.asarray(out).reshape(-1)[0])
        return self.last_probability

    def is_speech(self, frame: np.ndarray) -> bool:
        return self.probability(frame) >= self.threshold


def default_detector() -> SpeechDetector:
    """Silero VAD when it loads (better in noise: bench/bench_endpoint.py), else energy."""
    try:
        return SileroDetector()
    except Exception as exc:  # onnxruntime or the model file missing or broken
        log.warning("Silero VAD is not available (%s); using the energy detector.", exc)
        return EnergyDetector()


class TurnState(enum.Enum):
    WAITING = "waiting"
    """No speech yet."""
    STARTED = "started"
    """Speech started in this block."""
    SPEAKING = "speaking"
    """Speech has started (the person may be in a pause)."""
    ENDED = "ended"


@dataclass(frozen=True)
class EndpointUpdate:
    state: TurnState
    ended_by: EndReason | None
    time_s: float
    """Audio fed so far, in seconds."""
    speech_start_s: float | None
    silence_s: float
    """Quiet since the last speech (or since the start, before any speech)."""


class EndpointDetector:
    """Decides when a spoken turn has ended, from the audio alone (see the module docs).

    Speech starts when ``start_frames`` of the last ``start_window`` detector frames are speech
    (so a click or a cough-length noise does not count); once started, two speech frames out of
    three keep it going.
    """

    def __init__(
        self,
        *,
        wait_for_speech_s: float = 10.0,
        trailing_silence_s: float = 1.5,
        max_answer_s: float = 60.0,
        detector: SpeechDetector | None = None,
        min_speech_s: float = 0.08,
        start_window_s: float = 0.15,
    ) -> None:
        self.wait_for_speech_s = wait_for_speech_s
        self.trailing_silence_s = trailing_silence_s
        self.max_answer_s = max_answer_s
        self.detector: SpeechDetector = detector or default_detector()
        fs = self.detector.frame_samples
        self._frame_s = fs / MIC_RATE
        self.start_window = max(1, round(start_window_s / self._frame_s))
        self.start_frames = max(1, min(self.start_window, math.ceil(min_speech_s / self._frame_s)))
        self._recent: deque[bool] = deque(maxlen=self.start_window)
        self._keep: deque[bool] = deque(maxlen=3)
        self._pending = np.zeros(0, dtype=np.int16)
        self._samples = 0
        self.speech_start_s: float | None = None
        self.last_speech_s: float | None = None
        self.speech_frames = 0
        self.ended_by: EndReason | None = None
        self.ended_at_s: float | None = None
        self._early = False
        self._cancelled = False

    # -- queries ------------------------------------------------------------------------------

    @property
    def time_s(self) -> float:
        return self._samples / MIC_RATE

    @property
    def speech_started(self) -> bool:
        return self.speech_start_s is not None

    @property
    def ended(self) -> bool:
        return self.ended_by is not None

    @property
    def silence_s(self) -> float:
        ref = self.last_speech_s if self.last_speech_s is not None else 0.0
        return max(0.0, self.time_s - ref)

    def early_stop(self) -> None:
        """The caller recognised a complete short answer: end the turn now (if speech began)."""
        self._early = True

    def cancel(self) -> None:
        """End the turn now, whatever was heard."""
        self._cancelled = True

    # -- feeding ------------------------------------------------------------------------------

    def _end(self, why: EndReason) -> None:
        if self.ended_by is None:
            self.ended_by = why
            self.ended_at_s = self.time_s

    def _update(self, state: TurnState) -> EndpointUpdate:
        return EndpointUpdate(
            state=TurnState.ENDED if self.ended else state,
            ended_by=self.ended_by,
            time_s=self.time_s,
            speech_start_s=self.speech_start_s,
            silence_s=self.silence_s,
        )

    def feed(self, pcm: np.ndarray) -> EndpointUpdate:
        """Feed the next 16 kHz mono int16 block; says where the turn stands."""
        if self.ended:
            return self._update(TurnState.ENDED)
        started_now = False
        if self._cancelled:
            self._end("cancelled")
        elif self._early and self.speech_started:
            self._end("early_stop")
        if self.ended:
            return self._update(TurnState.ENDED)
        fs = self.detector.frame_samples
        buf = np.concatenate([self._pending, np.asarray(pcm, dtype=np.int16)])
        n = len(buf) // fs
        for i in range(n):
            frame = buf[i * fs : (i + 1) * fs]
            speech = self.detector.is_speech(frame)
            self._samples += fs
            if speech:
                self.speech_frames += 1
            if not self.speech_started:
                self._recent.append(speech)
                if sum(self._recent) >= self.start_frames:
                    first = len(self._recent) - list(self._recent).index(True)
                    self.speech_start_s = self.time_s - first * self._frame_s
                    self.last_speech_s = self.time_s
                    started_now = True
                    self._keep.extend([True, True, True])
                elif self.time_s >= self.wait_for_speech_s:
                    self._end("no_speech")
                    break
            else:
                self._keep.append(speech)
                if speech and sum(self._keep) >= 2:
                    self.last_speech_s = self.time_s
                assert self.speech_start_s is not None
                if self.time_s - self.speech_start_s >= self.max_answer_s:
                    self._end("max_length")
                    break
                if self.silence_s >= self.trailing_silence_s:
                    self._end("silence")
                    break
        self._pending = buf[n * fs :].copy()
        if self.ended:
            return self._update(TurnState.ENDED)
        if started_now:
            return self._update(TurnState.STARTED)
        return self._update(TurnState.SPEAKING if self.speech_started else TurnState.WAITING)
