"""PulseAudio fixtures and helpers: the real audio path on virtual devices, for every test.

``script/start-services`` runs PulseAudio with two null sinks:

* ``assistant_speaker``: the assistant plays into it; a test records ``assistant_speaker.monitor``.
* ``assistant_mic``: a test plays into it; the assistant listens to ``assistant_mic.monitor``.

The assistant reaches them through ALSA's ``pulse`` device (libasound2-plugins), pointed at the
right sink and source by the ``PULSE_SINK`` / ``PULSE_SOURCE`` environment variables, which
libpulse reads each time a stream is opened. The helpers here use separate ``pacat`` / ``parec``
processes, so a test observes the audio that really went through the sound server.

Recipes::

    def test_speaks(pulse_env):                       # skips with the reason if no PulseAudio
        speaker = open_speaker(pulse_env)             # AudioSettings aimed at the null sinks
        with MonitorRecorder(SPEAKER_SINK) as rec:
            speaker.play(pcm, 22050); speaker.wait()
        heard = rec.audio                            # 16 kHz int16

    play_into(MIC_SINK, pcm, 16000)                   # the microphone hears it
    unload_sink(MIC_SINK); ...; reload_sink(MIC_SINK) # unplug and plug back
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from assistant.config import AudioSettings

ROOT = Path(__file__).resolve().parents[1]
SPEAKER_SINK = "assistant_speaker"
MIC_SINK = "assistant_mic"
MIC_SOURCE = f"{MIC_SINK}.monitor"
SPEAKER_MONITOR = f"{SPEAKER_SINK}.monitor"
RATE = 16_000


def _pactl(*args: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pactl", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _pacmd(*args: str) -> None:
    """A pacmd command (pactl 16 has no kill-*); loads the CLI protocol module if needed."""
    if "module-cli-protocol-unix" not in _pactl("list", "short", "modules").stdout:
        _pactl("load-module", "module-cli-protocol-unix")
    subprocess.run(["pacmd", *args], capture_output=True, timeout=10, check=False)


def pulse_running() -> bool:
    if shutil.which("pactl") is None:
        return False
    try:
        return _pactl("info", timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def sinks() -> list[str]:
    out = _pactl("list", "short", "sinks").stdout
    return [line.split("\t")[1] for line in out.splitlines() if "\t" in line]


def _keepalive_running(sink: str) -> bool:
    return f'media.name = "assistant-keepalive-{sink}"' in _pactl("list", "source-outputs").stdout


def start_keepalive(sink: str) -> None:
    """A quiet low-latency reader on the sink's monitor, so the null sink runs in 20 ms blocks.

    (A null sink alone renders 2-second blocks, so the first stream would wait up to 2 s.)
    """
    if _keepalive_running(sink):
        return
    subprocess.Popen(
        ["parec", "--raw", "--latency-msec=20", "--rate=8000", "--channels=1",
         f"--stream-name=assistant-keepalive-{sink}", "-d", f"{sink}.monitor"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    for _ in range(50):
        if _keepalive_running(sink):
            return
        time.sleep(0.05)


def ensure_pulse() -> str | None:
    """Make sure PulseAudio runs with both sinks; None when ready, else the reason it is not."""
    for tool in ("pulseaudio", "pactl", "pacat", "parec"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (script/setup --dev installs PulseAudio)"
    if not pulse_running() or not {SPEAKER_SINK, MIC_SINK} <= set(sinks()):
        subprocess.run(
            [str(ROOT / "script" / "start-services")],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    if not pulse_running():
        return "PulseAudio is not running and script/start-services could not start it"
    missing = {SPEAKER_SINK, MIC_SINK} - set(sinks())
    for sink in sorted(missing):
        reload_sink(sink)
    missing = {SPEAKER_SINK, MIC_SINK} - set(sinks())
    if missing:
        return f"PulseAudio has no null sink {', '.join(sorted(missing))}"
    for sink in (SPEAKER_SINK, MIC_SINK):
        start_keepalive(sink)
    try:
        import sounddevice as sd
    except OSError:
        return "the PortAudio library (libportaudio2) is not installed"
    names = [str(d["name"]) for d in sd.query_devices()]
    if "pulse" not in names:
        sd._terminate()
        sd._initialize()
        names = [str(d["name"]) for d in sd.query_devices()]
    if "pulse" not in names:
        return "PortAudio has no 'pulse' device (is libasound2-plugins installed?)"
    return None


def _index_of(kind: str, name: str) -> str | None:
    for line in _pactl("list", "short", kind).stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1] == name:
            return parts[0]
    return None


def unload_sink(name: str) -> None:
    """Remove a null sink, as if its device were unplugged.

    PulseAudio quietly moves the streams on a removed sink to another one, which is not what
    an unplugged USB card does to its programs. So the sink is removed first and then the
    streams that were on it (playing into it, or recording its monitor) are killed: their
    programs see the device fail, and cannot reconnect to a sink that is no longer there.
    """
    sink_idx = _index_of("sinks", name)
    mon_idx = _index_of("sources", f"{name}.monitor")
    inputs = [
        parts[0]
        for line in _pactl("list", "short", "sink-inputs").stdout.splitlines()
        if len(parts := line.split("\t")) >= 2 and parts[1] == sink_idx
    ]
    outputs = [
        parts[0]
        for line in _pactl("list", "short", "source-outputs").stdout.splitlines()
        if len(parts := line.split("\t")) >= 2 and parts[1] == mon_idx
    ]
    for line in _pactl("list", "short", "modules").stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1] == "module-null-sink" and f"sink_name={name}" in parts[2]:
            _pactl("unload-module", parts[0])
    for idx in inputs:
        _pacmd("kill-sink-input", idx)
    for idx in outputs:
        _pacmd("kill-source-output", idx)


def reload_sink(name: str) -> None:
    """Bring a null sink back (no-op if it is there), with its keep-alive reader."""
    if name not in sinks():
        _pactl("load-module", "module-null-sink", f"sink_name={name}")
    start_keepalive(name)


def suspend_sink(name: str, suspended: bool = True) -> None:
    """Suspend (or resume) a sink: its streams stall without an error, like a hung device."""
    _pactl("suspend-sink", name, "1" if suspended else "0")


ANCHOR_WINDOW_S = 3.0
"""A monitor recording's sample is timed by the reads of this much audio after it."""


def sample_time(
    arrivals: list[tuple[int, float]],
    sample: int,
    rate: int,
    fallback_start: float | None = None,
    window_s: float = ANCHOR_WINDOW_S,
) -> float:
    """Wall time of *sample* from *arrivals* ((samples so far, wall time), in order): the
    earliest that the reads covering it in the next *window_s* allow. Without reads there,
    ``fallback_start + sample / rate``."""
    import bisect

    i = bisect.bisect_left(arrivals, (sample + 1, float("-inf")))  # the first read holding it
    limit = sample + int(window_s * rate)
    best: float | None = None
    while i < len(arrivals) and arrivals[i][0] <= limit:
        count, wall = arrivals[i]
        t = wall - (count - sample) / rate
        best = t if best is None else min(best, t)
        i += 1
    if best is None:
        assert fallback_start is not None, "no reads to time the sample by"
        return fallback_start + sample / rate
    return best


class MonitorRecorder:
    """Records a sink's monitor in a separate ``parec`` process, as 16 kHz mono int16.

    :attr:`started_at` is the wall time (``time.time()``) of the first recorded sample
    (estimated from when the first bytes arrived), so tests can time what they hear.
    :meth:`time_of` times a sample from the bytes that came soon after it instead (see there),
    so neither a late first read nor a long run nor lost samples skew it.
    """

    def __init__(self, sink: str, rate: int = RATE) -> None:
        self.sink = sink
        self.rate = rate
        self._buf = bytearray()
        self.started_at: float | None = None
        self.arrivals: list[tuple[int, float]] = []
        """(samples recorded so far, wall time they had come by), one per read."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MonitorRecorder:
        self._proc = subprocess.Popen(
            ["parec", "--raw", "--format=s16le", f"--rate={self.rate}", "--channels=1",
             "--latency-msec=10", "-d", f"{self.sink}.monitor"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while self.started_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.started_at is None:
            self.stop()
            raise RuntimeError(f"parec recorded nothing from {self.sink}.monitor within 5 s")
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            data = self._proc.stdout.read1(4096)  # type: ignore[attr-defined]
            if not data:
                return
            now = time.time()
            if self.started_at is None:
                self.started_at = now - len(data) / (2 * self.rate)
            self._buf.extend(data)
            self.arrivals.append((len(self._buf) // 2, now))

    def stop(self) -> np.ndarray:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self._thread is not None:
            self._thread.join(2)
        return self.audio

    @property
    def audio(self) -> np.ndarray:
        n = len(self._buf) // 2 * 2
        return np.frombuffer(bytes(self._buf[:n]), dtype="<i2").astype(np.int16)

    def time_of(self, sample: int) -> float:
        """Wall time of a sample index in the recording.

        Each read says "these samples had come by now", never too early and sometimes late
        (the reader was not scheduled at once); so the sample's time is the earliest that the
        reads of the next :data:`ANCHOR_WINDOW_S` seconds allow. Drift over a long run, or samples
        lost, shift only the reads around them.
        """
        return sample_time(self.arrivals, sample, self.rate, self.started_at)

    def __enter__(self) -> MonitorRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def record_monitor(sink: str, seconds: float, rate: int = RATE) -> np.ndarray:
    """Record *seconds* of a sink's monitor (blocking), as mono int16 at *rate*."""
    rec = MonitorRecorder(sink, rate).start()
    time.sleep(seconds)
    rec.stop()
    return rec.audio[: int(seconds * rate)]


def play_into(
    sink: str, pcm: np.ndarray, rate: int, *, wait: bool = True
) -> subprocess.Popen[bytes]:
    """Play int16 mono audio into a sink with a separate ``pacat`` process.

    With *wait* (the default) it returns once the audio has been played out.
    """
    proc = subprocess.Popen(
        ["pacat", "--playback", "--raw", "--format=s16le", f"--rate={rate}", "--channels=1",
         "--latency-msec=100", "-d", sink],
        stdin=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdin is not None
    data = np.asarray(pcm, dtype=np.int16).astype("<i2").tobytes()

    def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass

    if wait:
        feed()
        proc.wait(timeout=len(pcm) / rate + 10)
    else:
        threading.Thread(target=feed, daemon=True).start()
    return proc


@dataclass(frozen=True)
class Pulse:
    speaker_sink: str = SPEAKER_SINK
    mic_sink: str = MIC_SINK
    mic_source: str = MIC_SOURCE


@pytest.fixture(scope="session")
def pulse() -> Pulse:
    """PulseAudio running with the two null sinks (started if needed), or the test is skipped."""
    reason = ensure_pulse()
    if reason is not None:
        pytest.skip(reason)
    return Pulse()


@pytest.fixture
def pulse_env(pulse: Pulse, monkeypatch: pytest.MonkeyPatch) -> Iterator[AudioSettings]:
    """Audio settings (and environment) that aim the assistant at the null sinks.

    The speaker plays into ``assistant_speaker``; the microphone hears ``assistant_mic.monitor``.
    Both sinks are put back afterwards if a test unloaded them.
    """
    monkeypatch.setenv("PULSE_SINK", SPEAKER_SINK)
    monkeypatch.setenv("PULSE_SOURCE", MIC_SOURCE)
    yield AudioSettings(input_device="pulse", output_device="pulse")
    for sink in (SPEAKER_SINK, MIC_SINK):
        reload_sink(sink)
        suspend_sink(sink, False)
