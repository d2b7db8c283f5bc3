"""Record one spoken answer from a microphone: :func:`record_turn`.

It reads 16 kHz blocks, asks the :class:`~assistant.audio.endpoint.EndpointDetector` whether
the turn has ended, keeps the answer's audio (with a little pre-roll so the first sound is not
clipped), and optionally feeds a recogniser stream as it goes. With *allowed* short answers, a
partial result that is already one allowed answer ends the turn after a short pause
(``early_silence_s``) instead of the full trailing silence, so "yes" is answered quickly but
"what... do I do" is not cut off as "what". A *cancel* event (a button press) ends listening
at once: with a microphone that can be interrupted (``Microphone.interruptible``, as
:class:`SoundDeviceMicrophone`), a small thread wakes the waiting read as soon as the event is
set, instead of at the next block.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.audio.base import MIC_RATE, Microphone
from assistant.audio.endpoint import EndpointDetector, EndReason, SpeechDetector, TurnState
from assistant.errors import DeviceLost
from assistant.stt.base import RecognizerStream, Transcript
from assistant.words import ShortAnswer, match_short_answer, normalise

log = logging.getLogger(__name__)

NO_AUDIO_GRACE_S = 10.0
"""A microphone that sends nothing for (wait + cap + this) seconds is treated as lost."""

CANCEL_POLL_S = 0.1
"""How often the cancel relay looks whether the turn is over (it wakes at once on a cancel)."""


def _relay_cancel(mic: Microphone, cancel: threading.Event) -> threading.Event | None:
    """Wake *mic*'s waiting read as soon as *cancel* is set; set the returned event to end."""
    if not mic.interruptible:
        return None
    interrupt = mic.interrupt
    done = threading.Event()

    def relay() -> None:
        while not done.is_set():
            if cancel.wait(CANCEL_POLL_S):
                if not done.is_set():
                    interrupt()
                return

    threading.Thread(target=relay, name="turn-cancel", daemon=True).start()
    return done


@dataclass
class TurnResult:
    """One listened turn."""

    pcm: np.ndarray
    """16 kHz mono int16: the answer with pre-roll (empty if nobody spoke)."""
    speech_started: bool
    ended_by: EndReason
    listened_s: float
    """Audio time from opening to the end of the turn."""
    speech_start_s: float | None = None
    """When speech started, in audio time from the start of listening."""
    speech_s: float = 0.0
    """From the start of speech to the end of the turn."""
    wall_s: float = 0.0
    """Wall-clock time the call took."""
    partial: str | None = None
    """The last partial text the recogniser gave (if a stream was given)."""
    early_answer: ShortAnswer | None = None
    """The short answer the partial result matched when it ended the turn early."""
    transcript: Transcript | None = None
    """``stream.result()``, when a stream was given and speech started."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / MIC_RATE


def record_turn(
    mic: Microphone,
    *,
    wait_for_speech_s: float,
    trailing_silence_s: float,
    max_answer_s: float,
    stream: RecognizerStream | None = None,
    allowed: Sequence[ShortAnswer] | None = None,
    phrases: Sequence[str] = (),
    cancel: threading.Event | None = None,
    pre_roll_s: float = 0.3,
    early_silence_s: float = 0.25,
    detector: SpeechDetector | None = None,
    finalize: bool = True,
    read_timeout_s: float = 0.5,
) -> TurnResult:
    """Listen for one answer on *mic* (which must be started) and return it.

    With *stream*, every block from (pre-roll before) the start of speech is fed to it, and
    at the end ``stream.result()`` is put in :attr:`TurnResult.transcript` (unless *finalize*
    is False). With *allowed* as well, a partial result that is one allowed short answer, or
    one of the question's *phrases* (scale points, options), after *early_silence_s* of quiet,
    ends the turn (``ended_by == "early_stop"``; :attr:`TurnResult.early_answer` is None for a
    phrase).
    Raises :class:`DeviceLost` if the microphone dies or stops delivering audio.
    """
    t0 = time.monotonic()
    ep = EndpointDetector(
        wait_for_speech_s=wait_for_speech_s,
        trailing_silence_s=trailing_silence_s,
        max_answer_s=max_answer_s,
        detector=detector,
    )
    pre_blocks: deque[np.ndarray] = deque()
    pre_samples = 0
    kept: list[np.ndarray] = []
    partial: str | None = None
    early: ShortAnswer | None = None
    timings: dict[str, float] = {}
    allowed_t = tuple(allowed) if allowed is not None else None
    phrases_n = {normalise(p) for p in phrases} - {""}
    feed_s = 0.0
    # a safety net against a microphone that returns nothing forever
    no_data_limit = wait_for_speech_s + max_answer_s + NO_AUDIO_GRACE_S
    last_data = time.monotonic()
    fed = 0
    # A microphone that is not real time (a file, a simulation) hands blocks over as fast as
    # they are read: a recogniser that decodes ahead on another thread (Whisper) is then let
    # finish before the next block, as it would in the time a real block takes to come.
    paced_by_caller = not mic.realtime and stream is not None
    keep_before = int((pre_roll_s + 0.5) * MIC_RATE)  # speech is sure ~0.1 s after it starts

    def feed_stream(block: np.ndarray) -> None:
        nonlocal partial, feed_s
        if stream is None:
            return
        f0 = time.monotonic()
        text = stream.accept(block)
        if paced_by_caller:
            stream.settle()  # compute takes no audio time (nothing, for most recognisers)
        feed_s += time.monotonic() - f0
        if text is not None:
            partial = text

    def take(block: np.ndarray) -> bool:
        """Hear one block: keep it (with the pre-roll once speech starts), feed the stream;
        True when the turn has ended."""
        nonlocal fed, pre_samples
        update = ep.feed(block)
        fed += len(block)
        if not ep.speech_started:
            pre_blocks.append(block)
            pre_samples += len(block)
            while pre_blocks and pre_samples - len(pre_blocks[0]) >= keep_before:
                pre_samples -= len(pre_blocks.popleft())
        elif update.state is TurnState.STARTED or not kept:
            timings["speech_start_wall_s"] = time.monotonic() - t0
            pre_blocks.append(block)
            pre_samples += len(block)
            # keep from pre_roll_s before the first speech, not before the moment it was sure
            assert ep.speech_start_s is not None
            first = max(0, round((ep.speech_start_s - pre_roll_s) * MIC_RATE))
            drop = max(0, first - (fed - pre_samples))
            head = np.concatenate(list(pre_blocks))[drop:]
            kept.append(head)
            feed_stream(head)
            pre_blocks.clear()
        else:
            kept.append(block)
            feed_stream(block)
        return update.state is TurnState.ENDED

    relay_done = _relay_cancel(mic, cancel) if cancel is not None else None
    # A recogniser that decodes ahead (Whisper) wakes the waiting read when a decoding is done,
    # so that a sure partial result ends the turn at once, not at the next block.
    woken = (
        stream is not None
        and mic.interruptible
        and not paced_by_caller
        and stream.wake_with(mic.interrupt)
    )
    try:
        while True:
            if cancel is not None and cancel.is_set():
                ep.cancel()
                ep.feed(np.zeros(0, dtype=np.int16))
                break
            block = mic.read(read_timeout_s)
            if block is None:
                if time.monotonic() - last_data > no_data_limit:
                    raise DeviceLost(f"The microphone {mic.name} sent no audio for too long.")
                if not (woken and ep.speech_started and kept):
                    continue
                feed_stream(np.zeros(0, dtype=np.int16))  # a decoding is done: look at it now
            else:
                last_data = time.monotonic()
                if take(block):
                    break
            if allowed_t is not None and partial and ep.speech_started:
                hit = match_short_answer(partial, allowed_t)
                whole = hit is not None or normalise(partial) in phrases_n
                # a stream may ask for a shorter pause while it is sure (a taught person's
                # own words: assistant/stt/personal_stream.py)
                own = stream.early_silence_s if stream is not None else None
                quiet_needed = early_silence_s if own is None else own
                if whole and ep.silence_s >= quiet_needed:
                    early = hit
                    ep.early_stop()
                    ep.feed(np.zeros(0, dtype=np.int16))
                    break
    finally:
        if relay_done is not None:
            relay_done.set()
    ended_by = ep.ended_by or "cancelled"
    timings["stream_feed_s"] = feed_s
    transcript = None
    if stream is not None and finalize and ep.speech_started:
        f0 = time.monotonic()
        transcript = stream.result()
        timings["finalize_s"] = time.monotonic() - f0
    pcm = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int16)
    start = ep.speech_start_s
    result = TurnResult(
        pcm=pcm,
        speech_started=ep.speech_started,
        ended_by=ended_by,
        listened_s=ep.time_s,
        speech_start_s=start,
        speech_s=(ep.time_s - start) if start is not None else 0.0,
        wall_s=time.monotonic() - t0,
        partial=partial,
        early_answer=early,
        transcript=transcript,
        timings=timings,
    )
    log.debug(
        "turn ended by %s after %.2f s (speech %s)", ended_by, result.listened_s, start is not None
    )
    return result
