"""End of turn on synthetic audio (voice-like tone bursts and quiet), record_turn, and the fakes."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from assistant.audio import turn as turn_mod
from assistant.audio.endpoint import EndpointDetector, EnergyDetector, TurnState
from assistant.audio.fake import ArrayMicrophone, FakeClock, MemorySpeaker, NullSpeaker
from assistant.audio.turn import record_turn
from assistant.audio.wav import write_wav
from assistant.errors import AudioError, DeviceLost
from assistant.stt.base import RecognizerStream, Transcript

R = 16_000
E = EnergyDetector


def quiet(seconds: float, db: float = -70.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 32768 * 10 ** (db / 20), int(seconds * R))


def voice(seconds: float, db: float = -20.0, f0: float = 140.0) -> np.ndarray:
    """A voice-like sound: a harmonic tone with syllable-rate (4 Hz) loudness changes."""
    t = np.arange(int(seconds * R)) / R
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    x = x / np.sqrt(np.mean(x * x)) * 32768 * 10 ** (db / 20)
    return x * (0.75 + 0.25 * np.sin(2 * np.pi * 4 * t))


def audio(*parts: np.ndarray) -> np.ndarray:
    x = np.concatenate(parts) + quiet(sum(len(p) for p in parts) / R, seed=len(parts))
    return np.clip(x, -32768, 32767).astype(np.int16)


def run(pcm: np.ndarray, block: int = 480, **kw: float) -> EndpointDetector:
    # synthetic tones are not speech to Silero, so these use the energy detector
    ep = EndpointDetector(detector=EnergyDetector(), **kw)  # type: ignore[arg-type]
    for i in range(0, len(pcm), block):
        if ep.feed(pcm[i : i + block]).state is TurnState.ENDED:
            break
    return ep


def test_waits_for_speech_then_gives_up() -> None:
    ep = run(audio(quiet(12)), wait_for_speech_s=10)
    assert ep.ended_by == "no_speech" and not ep.speech_started
    assert ep.ended_at_s == pytest.approx(10.0, abs=0.03)


def test_a_long_wait_is_honoured() -> None:
    pcm = audio(quiet(25), voice(1.0), quiet(3))
    ep = run(pcm, wait_for_speech_s=30, trailing_silence_s=1.5)
    assert ep.ended_by == "silence"
    assert ep.speech_start_s == pytest.approx(25.0, abs=0.05)


def test_trailing_silence_ends_the_turn() -> None:
    pcm = audio(quiet(1.0), voice(1.2), quiet(5))
    ep = run(pcm, trailing_silence_s=1.5)
    assert ep.ended_by == "silence"
    assert ep.speech_start_s == pytest.approx(1.0, abs=0.03)
    assert ep.ended_at_s == pytest.approx(1.0 + 1.2 + 1.5, abs=0.06)


def test_stutters_and_pauses_do_not_end_a_free_answer() -> None:
    # "I... I want... to go swimming": pauses of 0.8 s and 1.1 s inside the answer
    pcm = audio(quiet(0.5), voice(0.3), quiet(0.8), voice(0.6), quiet(1.1), voice(1.5), quiet(4))
    ep = run(pcm, trailing_silence_s=1.5)
    assert ep.ended_by == "silence"
    assert ep.speech_start_s == pytest.approx(0.5, abs=0.03)
    assert ep.ended_at_s == pytest.approx(0.5 + 0.3 + 0.8 + 0.6 + 1.1 + 1.5 + 1.5, abs=0.06)


def test_short_answers_end_sooner() -> None:
    pcm = audio(quiet(0.5), voice(0.4), quiet(0.8), voice(0.5), quiet(2))
    ep = run(pcm, trailing_silence_s=0.7)
    assert ep.ended_by == "silence"
    assert ep.ended_at_s == pytest.approx(0.5 + 0.4 + 0.7, abs=0.05)


def test_hard_cap_on_one_answer() -> None:
    pcm = audio(quiet(2.0), voice(9.0), quiet(1))
    ep = run(pcm, max_answer_s=5.0)
    assert ep.ended_by == "max_length"
    assert ep.ended_at_s == pytest.approx(7.0, abs=0.05)


def test_a_click_or_a_knock_is_not_speech() -> None:
    click = voice(0.03, db=-6)
    pcm = audio(quiet(1), click, quiet(1), click, quiet(1.5))
    ep = run(pcm, wait_for_speech_s=3.0)
    assert ep.ended_by == "no_speech"


def test_quiet_speech_in_a_quiet_room_is_heard() -> None:
    pcm = audio(quiet(1), voice(0.8, db=-42), quiet(2))
    ep = run(pcm, trailing_silence_s=0.7)
    assert ep.speech_started and ep.ended_by == "silence"


def test_steady_background_noise_is_learnt_and_speech_over_it_is_heard() -> None:
    hum = np.clip(quiet(8, db=-38, seed=5), -32768, 32767)
    pcm = audio(hum[: 3 * R], voice(1.0, db=-22) + hum[3 * R : 4 * R], hum[4 * R :])
    ep = run(pcm, wait_for_speech_s=10, trailing_silence_s=1.5)
    assert ep.speech_start_s == pytest.approx(3.0, abs=0.05)
    assert ep.ended_by == "silence"
    assert ep.ended_at_s == pytest.approx(5.5, abs=0.1)


@pytest.mark.parametrize("block", [160, 333, 480, 1024, 4000])
def test_block_size_does_not_matter(block: int) -> None:
    pcm = audio(quiet(0.7), voice(0.6), quiet(0.5), voice(0.4), quiet(3))
    ep = run(pcm, block=block, trailing_silence_s=1.0)
    assert ep.ended_by == "silence"
    assert ep.speech_start_s == pytest.approx(0.7, abs=0.02)
    assert ep.ended_at_s == pytest.approx(0.7 + 0.6 + 0.5 + 0.4 + 1.0, abs=0.01 + block / R)


def test_early_stop_and_cancel() -> None:
    ep = EndpointDetector(detector=EnergyDetector())
    ep.early_stop()  # before speech it waits: nothing was recognised yet
    assert ep.feed(audio(quiet(0.3))).state is TurnState.WAITING
    assert ep.feed(audio(voice(0.3))).state is TurnState.STARTED
    assert ep.feed(audio(voice(0.1))).state is TurnState.ENDED
    assert ep.ended_by == "early_stop"
    ep2 = EndpointDetector(detector=EnergyDetector())
    ep2.feed(audio(quiet(0.3)))
    ep2.cancel()
    update = ep2.feed(audio(quiet(0.1)))
    assert update.state is TurnState.ENDED and update.ended_by == "cancelled"


def test_energy_detector_levels() -> None:
    det = EnergyDetector()
    for _ in range(10):  # the first 100 ms learn the room
        assert not det.is_speech(audio(quiet(0.01)))
    assert det.floor_db == pytest.approx(-70, abs=3)
    assert det.threshold_db == pytest.approx(-50.0)
    assert det.is_speech(voice(0.01, db=-20).astype(np.int16))


# -- record_turn ------------------------------------------------------------------------------


class FakeStream(RecognizerStream):
    """A recogniser stream that 'recognises' a fixed partial text after some audio."""

    def __init__(self, partials: Sequence[tuple[float, str]], final: str) -> None:
        self.partials = list(partials)  # (after this much audio, text)
        self.final = final
        self.fed = 0
        self.results = 0

    def accept(self, pcm: np.ndarray) -> str | None:
        self.fed += len(pcm)
        text = None
        for at, t in self.partials:
            if self.fed / R >= at:
                text = t
        return text

    def result(self) -> Transcript:
        self.results += 1
        return Transcript(text=self.final, confidence=0.9, engine="fake")


def test_record_turn_keeps_the_answer_with_pre_roll() -> None:
    pcm = audio(quiet(2.0), voice(1.0), quiet(3))
    mic = ArrayMicrophone(pcm)
    mic.start()
    turn = record_turn(
        mic, wait_for_speech_s=10, trailing_silence_s=1.5, max_answer_s=60, detector=E()
    )
    assert turn.speech_started and turn.ended_by == "silence"
    assert turn.speech_start_s == pytest.approx(2.0, abs=0.03)
    # pre-roll (~0.3 s) + speech + trailing silence
    assert turn.duration_s == pytest.approx(0.3 + 1.0 + 1.5, abs=0.1)
    lead = turn.pcm[: int(0.25 * R)].astype(np.float64)
    assert np.sqrt(np.mean(lead**2)) < 30  # the pre-roll is the quiet before the first word
    assert turn.transcript is None and turn.partial is None


def test_record_turn_no_speech_returns_empty_audio() -> None:
    mic = ArrayMicrophone(audio(quiet(0.5)))  # then endless digital silence
    mic.start()
    turn = record_turn(
        mic, wait_for_speech_s=3, trailing_silence_s=1.5, max_answer_s=60, detector=E()
    )
    assert not turn.speech_started and turn.ended_by == "no_speech"
    assert len(turn.pcm) == 0 and turn.listened_s == pytest.approx(3.0, abs=0.03)


def test_record_turn_feeds_the_stream_and_ends_early_on_a_short_answer() -> None:
    pcm = audio(quiet(1.0), voice(0.4), quiet(3))
    mic = ArrayMicrophone(pcm)
    mic.start()
    stream = FakeStream([(0.5, "yeah")], final="yeah")
    turn = record_turn(
        mic, wait_for_speech_s=10, trailing_silence_s=0.7, max_answer_s=60,
        detector=E(), stream=stream, allowed=("yes", "no"),
    )  # fmt: skip
    assert turn.ended_by == "early_stop" and turn.early_answer == "yes"
    # it ended after a short pause, sooner than the 0.7 s trailing silence would
    assert turn.listened_s == pytest.approx(1.0 + 0.4 + 0.25, abs=0.08)
    assert stream.fed == len(turn.pcm)  # every kept block went to the recogniser
    assert stream.results == 1 and turn.transcript is not None
    assert turn.transcript.text == "yeah"


class QuickStream(FakeStream):
    """A stream that asks for its own, shorter pause (as a taught person's words do)."""

    @property
    def early_silence_s(self) -> float | None:
        return 0.1


def test_a_stream_may_ask_for_a_shorter_pause_before_the_early_stop() -> None:
    assert FakeStream([], final="").early_silence_s is None  # the base class's default
    pcm = audio(quiet(1.0), voice(0.4), quiet(3))
    mic = ArrayMicrophone(pcm)
    mic.start()
    stream = QuickStream([(0.5, "yeah")], final="yeah")
    turn = record_turn(
        mic, wait_for_speech_s=10, trailing_silence_s=0.7, max_answer_s=60,
        detector=E(), stream=stream, allowed=("yes", "no"),
    )  # fmt: skip
    assert turn.ended_by == "early_stop" and turn.early_answer == "yes"
    assert turn.listened_s == pytest.approx(1.0 + 0.4 + 0.1, abs=0.06)


def test_a_partial_that_is_not_allowed_does_not_end_early() -> None:
    pcm = audio(quiet(1.0), voice(0.4), quiet(3))
    mic = ArrayMicrophone(pcm)
    mic.start()
    stream = FakeStream([(0.5, "next")], final="next")
    turn = record_turn(
        mic, wait_for_speech_s=10, trailing_silence_s=0.7, max_answer_s=60,
        detector=E(), stream=stream, allowed=("yes", "no"),
    )  # fmt: skip
    assert turn.ended_by == "silence"


def test_what_then_a_pause_shorter_than_the_early_stop_keeps_listening() -> None:
    # "what ... do I do": the partial "what" is a repeat, but the person goes on
    pcm = audio(quiet(1.0), voice(0.3), quiet(0.15), voice(0.6), quiet(3))
    mic = ArrayMicrophone(pcm)
    mic.start()
    stream = FakeStream([(0.3, "what"), (0.9, "what do i do")], final="what do i do")
    turn = record_turn(
        mic, wait_for_speech_s=10, trailing_silence_s=0.7, max_answer_s=60,
        detector=E(), stream=stream, allowed=("help", "repeat"),
    )  # fmt: skip
    assert turn.early_answer == "help"
    assert turn.speech_s > 1.0


def test_cancel_ends_listening_at_once() -> None:
    cancel = threading.Event()

    class PressAfter(ArrayMicrophone):
        def read(self, timeout: float) -> np.ndarray | None:
            if self.blocks_read == 40:
                cancel.set()  # a button press while the person talks
            return super().read(timeout)

    mic = PressAfter(audio(quiet(0.5), voice(5), quiet(1)))
    mic.start()
    turn = record_turn(
        mic,
        wait_for_speech_s=10,
        trailing_silence_s=1.5,
        max_answer_s=60,
        cancel=cancel,
        detector=E(),
    )
    assert turn.ended_by == "cancelled"
    assert turn.listened_s == pytest.approx(41 * 0.03, abs=0.01)  # the block being read
    assert turn.speech_started


def test_device_lost_is_raised_not_hidden() -> None:
    class Dying(ArrayMicrophone):
        def read(self, timeout: float) -> np.ndarray | None:
            if self.blocks_read > 20:
                raise DeviceLost("The microphone test stopped sending sound.")
            return super().read(timeout)

    mic = Dying(audio(quiet(0.3), voice(3)))
    mic.start()
    with pytest.raises(DeviceLost):
        record_turn(
            mic, wait_for_speech_s=10, trailing_silence_s=1.5, max_answer_s=60, detector=E()
        )


def test_a_microphone_that_sends_nothing_does_not_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turn_mod, "NO_AUDIO_GRACE_S", 0.0)
    mic = ArrayMicrophone(audio(quiet(0.1)), silence_s=0.0)
    mic.start()
    with pytest.raises(DeviceLost, match="sent no audio"):
        record_turn(mic, wait_for_speech_s=0.3, trailing_silence_s=0.2, max_answer_s=0.3,
                    read_timeout_s=0.05, detector=E())  # fmt: skip


# -- the fakes ----------------------------------------------------------------------------------


def test_array_microphone_paced_by_a_fake_clock() -> None:
    clock = FakeClock()
    mic = ArrayMicrophone(audio(voice(0.3)), realtime=True, clock=clock, silence_s=0.3)
    with pytest.raises(AudioError, match="not started"):
        mic.read(0.1)
    mic.start()
    blocks = []
    while (b := mic.read(timeout=1.0)) is not None:
        blocks.append(b)
    assert len(blocks) == 20 and all(len(b) == 480 for b in blocks)
    assert clock.monotonic() == pytest.approx(0.6 + 1.0, abs=0.031)  # 0.6 s audio + a timeout
    assert mic.finished


def test_array_microphone_resamples_and_wav_microphone(tmp_path: object) -> None:
    from pathlib import Path

    from assistant.audio.fake import WavMicrophone

    x = (np.sin(2 * np.pi * 440 * np.arange(44_100) / 44_100) * 8000).astype(np.int16)
    mic = ArrayMicrophone(x, 44_100)
    assert len(mic.audio) == R
    path = Path(str(tmp_path)) / "in.wav"
    write_wav(path, x, 44_100)
    wmic = WavMicrophone(path, lead_silence_s=0.5)
    wmic.start()
    assert len(wmic.audio) == R + R // 2
    assert np.abs(wmic.read(0.1)).max() == 0  # type: ignore[arg-type]


def test_memory_speaker_on_a_fake_clock() -> None:
    clock = FakeClock()
    spk = MemorySpeaker(clock)
    one_s = np.ones(22_050, dtype=np.int16)
    spk.play(one_s, 22_050)
    spk.play(one_s[:11_025], 22_050)
    assert spk.playing
    assert [p.started_at for p in spk.played] == [0.0, 1.0]
    clock.advance(0.4)
    spk.stop()  # barge-in
    assert not spk.playing
    assert spk.played[0].ends_at == pytest.approx(0.4)
    assert len(spk.played[0].heard) == pytest.approx(0.4 * 22_050, abs=1)
    assert len(spk.played[1].heard) == 0
    assert spk.wait(0)
    spk.play(one_s, 22_050)
    assert not spk.wait(timeout=0.5) and clock.monotonic() == pytest.approx(0.9)
    assert spk.wait() and clock.monotonic() == pytest.approx(1.4)
    assert len(spk.audio) == int(0.4 * 22_050) + 22_050
    null = NullSpeaker()
    null.play(one_s, 22_050)
    assert null.wait() and not null.playing


# -- Silero VAD (the default) on real speech ----------------------------------------------------


def bounds(clean: np.ndarray) -> tuple[float, float]:
    """First and last clearly audible sample of a clean clip, in seconds."""
    from tests.speech_samples import sound_bounds

    first, last = sound_bounds(clean)
    return first / R, last / R


@pytest.fixture(scope="module")
def espeak_speak():  # type: ignore[no-untyped-def]
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (script/setup --dev installs it)")
    from tests.speech_samples import mix_noise, speak

    return speak, mix_noise


def test_default_detector_is_silero() -> None:
    from assistant.audio.endpoint import SileroDetector, default_detector

    assert isinstance(default_detector(), SileroDetector)


def test_silero_paused_answer_in_noise_is_not_cut_short(espeak_speak) -> None:  # type: ignore[no-untyped-def]
    speak, mix_noise = espeak_speak
    parts = [speak(t, "espeak:en-gb:150") for t in ("I", "I would like to", "cook my dinner")]
    gap = np.zeros(int(0.9 * R), np.int16)
    answer = np.concatenate([parts[0], gap, parts[1], gap, parts[2]])
    lead, tail = np.zeros(int(1.5 * R), np.int16), np.zeros(3 * R, np.int16)
    turn = mix_noise(np.concatenate([lead, answer, tail]), snr_db=10, seed=3)
    ep = EndpointDetector(trailing_silence_s=1.5)
    for i in range(0, len(turn), 480):
        if ep.feed(turn[i : i + 480]).ended_by:
            break
    assert ep.ended_by == "silence"
    first, last = bounds(answer)
    assert ep.speech_start_s == pytest.approx(1.5 + first, abs=0.1)
    end_of_speech = 1.5 + last
    assert end_of_speech + 1.5 - 0.1 < ep.ended_at_s < end_of_speech + 1.5 + 0.4  # type: ignore[operator]


def test_silero_ignores_noise_and_a_knock() -> None:
    from tests.speech_samples import noise

    bg = noise(6.0, rms=1500, seed=1)
    bg[2 * R : 2 * R + 400] = 20_000
    ep = EndpointDetector(wait_for_speech_s=5.5)
    for i in range(0, len(bg), 480):
        if ep.feed(bg[i : i + 480]).ended_by:
            break
    assert ep.ended_by == "no_speech"


def test_silero_record_turn_on_a_short_answer(espeak_speak) -> None:  # type: ignore[no-untyped-def]
    speak, _ = espeak_speak
    yes = speak("yes please", "espeak:en-gb:150")
    mic = ArrayMicrophone(np.concatenate([np.zeros(R, np.int16), yes]))
    mic.start()
    turn = record_turn(mic, wait_for_speech_s=10, trailing_silence_s=0.7, max_answer_s=60)
    assert turn.ended_by == "silence"
    first, last = bounds(yes)
    assert turn.speech_start_s == pytest.approx(1.0 + first, abs=0.1)
    assert turn.speech_s == pytest.approx(last - first + 0.7, abs=0.2)
