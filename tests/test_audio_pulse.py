"""The real audio path, end to end, through PulseAudio null sinks (see tests/pulse.py).

The assistant's speaker plays into ``assistant_speaker`` and a separate ``parec`` records its
monitor; a separate ``pacat`` plays into ``assistant_mic`` and the assistant's microphone
listens to ``assistant_mic.monitor``. Measured times are printed (``pytest -s``) for the report.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
import pytest

from assistant.audio import open_microphone, open_speaker, record_turn
from assistant.audio.sounddevice_io import (
    DEFAULT_BLOCK_MS,
    SoundDeviceMicrophone,
    SoundDeviceSpeaker,
)
from assistant.audio.wav import resample
from assistant.config import AudioSettings
from assistant.errors import DeviceLost
from tests.pulse import (
    MIC_SINK,
    SPEAKER_SINK,
    MonitorRecorder,
    play_into,
    reload_sink,
    suspend_sink,
    unload_sink,
)

pytestmark = [pytest.mark.slow, pytest.mark.audio]

FRAME = 160  # 10 ms at 16 kHz


def tone(freq: float, seconds: float, rate: int, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)


def frame_rms(pcm: np.ndarray) -> np.ndarray:
    n = len(pcm) // FRAME
    x = pcm[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    return np.sqrt((x * x).mean(axis=1))


def peak_hz(pcm: np.ndarray, rate: int = 16_000) -> float:
    spec = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spec) * rate / len(pcm))


def segment_match(heard: np.ndarray, played: np.ndarray, seg: int = 1600) -> float:
    """Share of voiced 100 ms segments of *played* found in *heard* (correlation > 0.8).

    Segments are looked for near where the previous one was found (within 50 ms), so a short
    gap or repeat in the path costs only the segments it touches.
    """
    h = heard.astype(np.float64)
    p = played.astype(np.float64)
    full = np.correlate(h, p, "valid") if len(h) >= len(p) else np.zeros(1)
    offset = int(np.argmax(full))
    voiced = found = 0
    for i in range(0, len(p) - seg, seg):
        y = p[i : i + seg]
        if np.sqrt(np.mean(y * y)) < 300:
            continue
        voiced += 1
        lo = max(0, offset + i - 800)
        window = h[lo : offset + i + seg + 800]
        if len(window) < seg:
            continue
        c = np.correlate(window, y, "valid")
        energy = np.convolve(window * window, np.ones(seg), "valid")
        r = c / np.sqrt(energy * (y * y).sum() + 1e-9)
        k = int(np.argmax(r))
        if r[k] > 0.8:
            found += 1
            offset = lo + k - i
    return found / max(voiced, 1)


def espeak(text: str) -> tuple[np.ndarray, int]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (script/setup --dev installs it)")
    out = subprocess.run(
        ["espeak-ng", "-v", "en-gb", "-s", "150", "--stdout", text],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    import io
    import wave

    with wave.open(io.BytesIO(out)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    return pcm, rate


@pytest.fixture
def speaker(pulse_env: AudioSettings):
    sp = open_speaker(pulse_env)
    assert isinstance(sp, SoundDeviceSpeaker)
    yield sp
    sp.close()


@pytest.fixture
def mic(pulse_env: AudioSettings):
    m = open_microphone(pulse_env)
    assert isinstance(m, SoundDeviceMicrophone)
    m.start()
    yield m
    m.stop()


def test_speaker_plays_a_tone_into_the_sink(speaker: SoundDeviceSpeaker) -> None:
    rate = 22_050  # the Piper voice's rate; the device runs at its own
    with MonitorRecorder(SPEAKER_SINK) as rec:
        time.sleep(0.1)
        t_play = time.time()
        speaker.play(tone(1000, 0.6, rate), rate)
        returned = time.time() - t_play
        assert speaker.playing
        assert speaker.wait(timeout=5)
        time.sleep(0.2)
    heard = rec.audio
    loud = np.nonzero(frame_rms(heard) > 3000)[0]
    assert len(loud) > 0, "nothing was heard on assistant_speaker.monitor"
    # the whole tone arrived (0.6 s, give or take a block), in one piece
    assert 0.55 <= len(loud) / 100 <= 0.7
    assert loud[-1] - loud[0] + 1 <= 72
    onset = int(loud[0]) * FRAME
    assert abs(peak_hz(heard[onset : onset + 8000]) - 1000) < 5
    handed = speaker.last_first_sample_at
    assert handed is not None
    heard_at = rec.time_of(onset)
    print(
        f"\nspeaker: play() returned in {returned * 1000:.1f} ms; first sample handed to the"
        f" device {1000 * (handed - t_play):.0f} ms after play(); heard on the monitor"
        f" {1000 * (heard_at - t_play):.0f} ms after play(); device rate {speaker.rate} Hz"
    )
    assert returned < 0.05
    assert heard_at - t_play < 0.5
    assert not speaker.playing


def test_speaker_stop_silences_within_a_block_or_two(speaker: SoundDeviceSpeaker) -> None:
    rate = 22_050
    with MonitorRecorder(SPEAKER_SINK) as rec:
        speaker.play(tone(700, 3.0, rate), rate)
        time.sleep(0.6)
        t_stop = time.time()
        speaker.stop()
        assert speaker.wait(timeout=1)
        time.sleep(0.4)
    rms = frame_rms(rec.audio)
    loud = np.nonzero(rms > 3000)[0]
    assert len(loud) > 30
    last_heard = rec.time_of(int(loud[-1] + 1) * FRAME)
    stop_ms = 1000 * (last_heard - t_stop)
    print(f"\nspeaker: stop() silenced the monitor {stop_ms:.0f} ms after the call")
    assert stop_ms < 250
    assert not speaker.playing
    # what followed the stop is silence
    after = int(loud[-1]) + 3
    assert rms[after:].max(initial=0) < 100


def test_microphone_hears_speech_and_the_turn_ends_after_silence(mic: SoundDeviceMicrophone):
    speech, rate = espeak("I would like to go swimming on Friday.")
    player = play_into(MIC_SINK, np.concatenate([np.zeros(rate // 2, np.int16), speech]), rate,
                       wait=False)  # fmt: skip
    t0 = time.monotonic()
    turn = record_turn(mic, wait_for_speech_s=5, trailing_silence_s=1.0, max_answer_s=15)
    wall = time.monotonic() - t0
    player.wait(5)
    assert turn.speech_started
    assert turn.ended_by == "silence"
    expected = resample(speech, rate)
    # the answer holds the whole sentence (plus pre-roll and the trailing silence)
    assert len(expected) / 16_000 - 0.1 < turn.speech_s < len(expected) / 16_000 + 1.3
    # and it is the same sound: each voiced 100 ms of what was played is found, in order,
    # in what was heard (a glitch under heavy load may shift the rest by a few ms)
    match = segment_match(turn.pcm, expected)
    assert match > 0.9, (
        f"only {match:.0%} of the speech came through intact"
        f" (microphone glitches {mic.glitches}, dropped blocks {mic.dropped_blocks})"
    )
    print(
        f"\nmicrophone: speech {len(expected) / 16_000:.2f} s; turn ended by {turn.ended_by}"
        f" {wall:.2f} s after listening began; {match:.0%} of it intact; glitches {mic.glitches};"
        f" device rate {mic.rate} Hz"
    )


def test_microphone_latency_from_speaker_to_read(
    pulse_env: AudioSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tone played by our own speaker into assistant_mic reaches mic.read() quickly."""
    monkeypatch.setenv("PULSE_SINK", MIC_SINK)  # this speaker plays into the microphone's sink
    player = SoundDeviceSpeaker("pulse")
    player.open(16_000)
    mic = SoundDeviceMicrophone("pulse")
    mic.start()
    try:
        for _ in range(10):  # let both streams settle
            mic.read(0.5)
        player.play(tone(1000, 0.3, 16_000), 16_000)
        arrived = None
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            block = mic.read(0.5)
            if block is not None and np.abs(block).max() > 3000:
                arrived = time.time()
                break
        assert arrived is not None, "the tone never reached the microphone"
        handed = player.last_first_sample_at
        assert handed is not None
        latency_ms = 1000 * (arrived - handed)
        print(f"\nmicrophone: {latency_ms:.0f} ms from the speaker callback to mic.read()")
        assert latency_ms < 300
    finally:
        mic.stop()
        player.close()


def test_unplugged_microphone_is_device_lost_and_comes_back(mic: SoundDeviceMicrophone) -> None:
    for _ in range(5):
        assert mic.read(1.0) is not None
    unload_sink(MIC_SINK)
    t0 = time.monotonic()
    try:
        with pytest.raises(DeviceLost, match="stopped sending sound"):
            while time.monotonic() - t0 < 10:
                mic.read(0.5)
        lost_after = time.monotonic() - t0
        print(f"\nmicrophone: DeviceLost {lost_after:.2f} s after the sink was removed")
        assert lost_after < 3
        with pytest.raises(DeviceLost):
            mic.read(0.1)
    finally:
        reload_sink(MIC_SINK)
    mic.start()
    player = play_into(MIC_SINK, tone(500, 1.0, 16_000), 16_000, wait=False)
    heard = False
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not heard:
        block = mic.read(0.5)
        heard = block is not None and np.abs(block).max() > 3000
    player.wait(5)
    assert heard, "the reopened microphone did not hear the tone"


def test_speaker_survives_its_sink_going_away(speaker: SoundDeviceSpeaker) -> None:
    speaker.play(tone(440, 3.0, 22_050), 22_050)
    time.sleep(0.3)
    unload_sink(SPEAKER_SINK)
    try:
        t0 = time.monotonic()
        # Usually the stream fails and the speaker says so (DeviceLost). After an underrun,
        # ALSA's pulse plugin may instead recover the stream onto another sink, as PulseAudio
        # does for a removed card: then the prompt plays to its end there. Either way the
        # speaker must not hang. (A loss the speaker must report is tested with fakes in
        # tests/test_shell_unplug.py.)
        try:
            finished = speaker.wait(timeout=10)
        except DeviceLost:
            assert time.monotonic() - t0 < 4
        else:
            assert finished, "the speaker neither reported the loss nor finished playing"
    finally:
        reload_sink(SPEAKER_SINK)
    # played again, it reopens and is heard. A null sink that has just been loaded can refuse
    # a stream for about its first second (more on a loaded machine): the device's own
    # recovery is to try again, so the test does too, within a bound.
    deadline = time.monotonic() + 8
    with MonitorRecorder(SPEAKER_SINK) as rec:
        while True:
            try:
                speaker.play(tone(440, 0.4, 22_050), 22_050)
                assert speaker.wait(timeout=5)
                break
            except DeviceLost:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        time.sleep(0.1)
    assert (frame_rms(rec.audio) > 3000).sum() > 30


def _refuse_rate(
    monkeypatch: pytest.MonkeyPatch, name: str, refused: int, refused_channels: int = 0
) -> None:
    import sounddevice as sd

    real = getattr(sd, name)

    def check(
        *args: object, samplerate: float | None = None, channels: int | None = None, **kw: object
    ) -> None:
        if samplerate == refused:
            raise sd.PortAudioError(f"Invalid sample rate {refused} (test)")
        if channels == refused_channels:
            raise sd.PortAudioError(f"Invalid number of channels {channels} (test)")
        real(*args, samplerate=samplerate, channels=channels, **kw)

    monkeypatch.setattr(sd, name, check)


def test_microphone_that_refuses_16k_is_opened_at_its_rate_and_resampled(
    pulse_env: AudioSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # like many USB microphones and hw: devices: no 16 kHz, and not one channel alone
    _refuse_rate(monkeypatch, "check_input_settings", 16_000, refused_channels=1)
    mic = open_microphone(pulse_env)
    assert isinstance(mic, SoundDeviceMicrophone)
    mic.start()
    try:
        assert mic.rate is not None and mic.rate != 16_000  # the device's default (44.1/48 kHz)
        assert mic.channels == 2
        player = play_into(MIC_SINK, tone(1234, 1.0, 48_000), 48_000, wait=False)
        blocks = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum(map(len, blocks)) < 12_000:
            block = mic.read(0.5)
            if block is not None and np.abs(block).max() > 3000:
                blocks.append(block)
        player.wait(5)
    finally:
        mic.stop()
    # blocks of the configured length at 16 kHz (10 ms: 160 samples), whatever the device rate
    assert mic.block == 16_000 * DEFAULT_BLOCK_MS // 1000 == 160
    assert all(len(b) == mic.block for b in blocks)
    heard = np.concatenate(blocks)
    assert len(heard) >= 16_000 * 0.7
    assert abs(peak_hz(heard[1600:]) - 1234) < 5
    print(
        f"\nmicrophone: opened at {mic.rate} Hz, 1234 Hz tone heard at {peak_hz(heard[1600:]):.1f}"
    )


def test_speaker_resamples_when_the_device_refuses_the_voice_rate(
    pulse_env: AudioSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_rate(monkeypatch, "check_output_settings", 22_050)
    speaker = open_speaker(pulse_env)
    assert isinstance(speaker, SoundDeviceSpeaker)
    try:
        with MonitorRecorder(SPEAKER_SINK) as rec:
            speaker.play(tone(880, 0.5, 22_050), 22_050)
            assert speaker.rate != 22_050
            assert speaker.wait(timeout=5)
            time.sleep(0.1)
    finally:
        speaker.close()
    heard = rec.audio
    loud = np.nonzero(frame_rms(heard) > 3000)[0]
    assert 0.45 <= len(loud) / 100 <= 0.6  # the same length: resampled, not sped up
    onset = int(loud[0]) * FRAME
    assert abs(peak_hz(heard[onset : onset + 6400]) - 880) < 5


def test_a_portaudio_restart_is_survived(pulse_env: AudioSettings) -> None:
    """refresh() (done to find a re-plugged card) closes every stream; both reopen cleanly."""
    from assistant.audio.devices import refresh

    mic = open_microphone(pulse_env)
    speaker = open_speaker(pulse_env)
    assert isinstance(mic, SoundDeviceMicrophone) and isinstance(speaker, SoundDeviceSpeaker)
    mic.start()
    speaker.play(tone(300, 0.2, 22_050), 22_050)
    try:
        assert mic.read(1.0) is not None
        refresh()
        with pytest.raises(DeviceLost):
            for _ in range(100):
                mic.read(0.1)
        mic.start()
        assert mic.read(2.0) is not None
        with MonitorRecorder(SPEAKER_SINK) as rec:
            speaker.play(tone(600, 0.4, 22_050), 22_050)  # reopens its closed stream
            assert speaker.wait(timeout=5)
            time.sleep(0.1)
        assert (frame_rms(rec.audio) > 3000).sum() > 30
    finally:
        mic.stop()
        speaker.close()


def test_a_microphone_that_goes_quiet_is_device_lost_not_a_hang(
    mic: SoundDeviceMicrophone,
) -> None:
    """PortAudio just stops calling back (a hung device): the watchdog reports it."""
    assert mic.read(1.0) is not None
    suspend_sink(MIC_SINK)
    t0 = time.monotonic()
    try:
        with pytest.raises(DeviceLost, match=r"no sound for 1\.\d s"):
            while time.monotonic() - t0 < 10:
                mic.read(0.5)
        assert time.monotonic() - t0 < 2.0
    finally:
        suspend_sink(MIC_SINK, False)
    mic.start()
    assert mic.read(2.0) is not None
