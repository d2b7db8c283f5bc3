"""A button press ends listening at once: record_turn wakes the microphone's waiting read as
soon as the cancel event is set, not at the microphone's next block."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np

from assistant.audio import sounddevice_io as sdio
from assistant.audio.turn import record_turn


class _PacedMicrophone(sdio.SoundDeviceMicrophone):
    """The real microphone class fed by a thread that stands in for PortAudio's callback,
    with blocks far longer than a real device's so a late wake-up cannot pass unseen."""

    def __init__(self, every_s: float) -> None:
        super().__init__("fake", block_ms=30)
        self.every_s = every_s
        self._quit = threading.Event()
        self._stream = SimpleNamespace(active=True)
        self._feeder = threading.Thread(target=self._feed, daemon=True)

    def start(self) -> None:
        self._callbacks = 0
        self._last_callback = time.monotonic()
        self._feeder.start()

    def _feed(self) -> None:
        quiet = np.zeros((int(self.every_s * 16_000), 1), dtype=np.float32)
        while not self._quit.wait(self.every_s):
            self._callback(quiet, len(quiet), None, None)

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
        assert block is not None and len(block) == 480  # 30 ms at 16 kHz, as before
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
