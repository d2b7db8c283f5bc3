"""A button press ends listening at once: record_turn wakes the microphone's waiting read as
soon as the cancel event is set, not at the microphone's next block. So does a decoding ahead
that is done (Whisper): a sure "yes" ends the turn when it is decoded, not a block later."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.audio import sounddevice_io as sdio
from assistant.audio.turn import record_turn
from assistant.words import SHORT_ANSWERS

sys.path.insert(0, str(Path(__file__).parent))
import speech_samples as ss  # noqa: E402


class _PacedMicrophone(sdio.SoundDeviceMicrophone):
    """The real microphone class fed by a thread that stands in for PortAudio's callback,
    with blocks far longer than a real device's so a late wake-up cannot pass unseen."""

    def __init__(self, every_s: float, pcm: np.ndarray | None = None) -> None:
        super().__init__("fake", block_ms=30)
        self.every_s = every_s
        self.pcm = np.zeros(0, dtype=np.float32) if pcm is None else pcm.astype(np.float32) / 32768
        self.fed_at: list[float] = []
        self._quit = threading.Event()
        self._stream = SimpleNamespace(active=True)
        self._feeder = threading.Thread(target=self._feed, daemon=True)

    def start(self) -> None:
        self._callbacks = 0
        self._last_callback = time.monotonic()
        self._feeder.start()

    def _feed(self) -> None:
        n = int(self.every_s * 16_000)
        pos = 0
        while not self._quit.wait(self.every_s):
            chunk = np.zeros((n, 1), dtype=np.float32)
            have = self.pcm[pos : pos + n]
            chunk[: len(have), 0] = have
            pos += n
            self.fed_at.append(time.monotonic())
            self._callback(chunk, n, None, None)

    def stop(self) -> None:
        self._quit.set()
        self._feeder.join(2)


def test_a_press_ends_listening_without_waiting_for_the_next_block() -> None:
    mic = _PacedMicrophone(every_s=0.6)  # stall_s is 1.0: blocks every 0.6 s are alive
    mic.start()
    cancel = threading.Event()
    pressed_at: list[float] = []

    def press() -> None:
        time.sleep(0.9)  # between two blocks (0.6 s and 1.2 s)
        pressed_at.append(time.monotonic())
        cancel.set()

    threading.Thread(target=press, daemon=True).start()
    try:
        turn = record_turn(
            mic, wait_for_speech_s=10, trailing_silence_s=1.0, max_answer_s=30, cancel=cancel
        )
        ended = time.monotonic()
    finally:
        mic.stop()
    assert turn.ended_by == "cancelled"
    # the next block comes 0.3 s after the press; the wake-up is a thread switch away
    assert ended - pressed_at[0] < 0.1
    time.sleep(0.2)
    assert not [t for t in threading.enumerate() if t.name == "turn-cancel"]  # relay ended


def test_interrupt_makes_one_read_return_none_and_audio_still_flows() -> None:
    mic = _PacedMicrophone(every_s=0.05)
    mic.start()
    try:
        t0 = time.monotonic()
        threading.Timer(0.02, mic.interrupt).start()
        assert mic.read(1.0) is None  # woken, not a block
        assert time.monotonic() - t0 < 0.04 + 0.05
        block = mic.read(1.0)
        assert block is not None and len(block) == 480  # 30 ms at 16 kHz, the block asked for
    finally:
        mic.stop()


def test_turns_without_a_press_leave_no_relay_thread_behind() -> None:
    mic = _PacedMicrophone(every_s=0.03)
    mic.start()
    try:
        for _ in range(5):
            turn = record_turn(
                mic,
                wait_for_speech_s=0.2,
                trailing_silence_s=0.5,
                max_answer_s=5,
                cancel=threading.Event(),
            )
            assert turn.ended_by == "no_speech"
    finally:
        mic.stop()
    time.sleep(0.3)  # each relay looks every 0.1 s whether its turn is over
    assert not [t for t in threading.enumerate() if t.name == "turn-cancel"]


@pytest.mark.slow
def test_a_decoding_done_ends_a_sure_turn_without_waiting_for_the_next_block() -> None:
    from assistant.stt.whisper import WhisperRecognizer

    whisper = WhisperRecognizer(min_confidence=0.5)
    whisper.load()
    yes = ss.trim(ss.speak("yes", "piper-steady"))
    # blocks of 0.8 s, and "yes" ends 20 ms into one: that block holds a pause long enough to
    # end the turn on, so the decoding starts when it comes and is done (about 0.25 s) long
    # before the next block
    lead = 1.6 - len(yes) / 16_000 + 0.02
    assert lead > 0.3
    pcm = np.concatenate([ss.silence(lead), yes, ss.silence(3.0)])
    mic = _PacedMicrophone(every_s=0.8, pcm=pcm)
    mic.stall_s = 5.0
    stream = whisper.start(list(SHORT_ANSWERS))
    mic.start()
    try:
        turn = record_turn(
            mic,
            wait_for_speech_s=10,
            trailing_silence_s=2.0,  # the quiet in two blocks cannot end the turn
            max_answer_s=30,
            stream=stream,
            allowed=list(SHORT_ANSWERS),
        )
        ended = time.monotonic()
    finally:
        mic.stop()
        whisper.close()
    assert turn.ended_by == "early_stop" and turn.early_answer == "yes"
    assert stream.decodings == 1
    last_block = max(t for t in mic.fed_at if t <= ended)
    # ended by the wake-up, between two blocks: not at a block's arrival
    assert 0.03 < ended - last_block < 0.75
