"""Buttons benchmark: press to first prompt sample at the speaker, and press to silence.

    python bench/bench_buttons.py [--runs N] [--fake-voice] [--memory] [--out FILE]
                                  [--speaker-latency S] [--idle-lead S]

A real gpiozero Button on a MockFactory pin is pressed (``drive_low``); the press goes through
the button logic into the input stream, a small consumer (what the dialogue shell does: read
the stream, say the next prompt) takes it, the prompt comes from the prompt cache
(:class:`CachedVoice`, already warm) and is played by the real :class:`SoundDeviceSpeaker`
into a PulseAudio null sink of its own (``assistant_bench_speaker``, low latency as in
tests/pulse.py). A separate ``parec`` records that sink's
monitor, so the times are to sound that really came out of the sound server:

* ``press_to_first_sample_s``: from the press to the first prompt sample at the monitor (the
  yes button, which counts on the way down; next and help count on release, so add the press).
  The first sound is found at the monitor and the prompt's own quiet start (Piper begins each
  sentence with some near-silence) is taken off; ``press_to_first_sound_s`` keeps it in: that
  is when a listener first hears something.
* ``press_to_silence_s``: the device is saying a long prompt (a steady tone, so the end is
  exact); from the press to the last sample at the monitor (barge-in).
* ``press_to_stop_call_s``: from the press to the speaker's ``stop()`` being called (in process).
* ``press_to_handover_s``: from the press to the prompt's first sample being handed to the
  sound device (the speaker's own record), so the rest of the first figure is the output path.

``--speaker-latency`` (sound queued ahead while playing, ``audio.output_latency_s``) and
``--idle-lead`` (silence queued ahead while silent) set the speaker's two buffers; the
results say how often the output ran dry while sound played (``output_underflows``, heard)
and while it was silent (``idle_underflows``, not heard).

With ``--memory`` (or when PulseAudio is not available, said in the output) the speaker is the
in-memory fake and the times are to the moment the audio was handed over, not heard.
Prints a table and writes JSON (default ``bench/results/buttons.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "You said you want to go to the shop with Priya. Is that right? Press yes or no."
SPEAKER_SINK = "assistant_bench_speaker"
THRESHOLD = 300  # int16 amplitude: anything above is sound, the null sink is exact zeros


def summary(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(arr)),
        "p95": float(np.percentile(arr, 95)),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "n": len(values),
    }


def tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--fake-voice", action="store_true", help="FakeVoice, not Piper")
    parser.add_argument("--memory", action="store_true", help="in-memory speaker, no PulseAudio")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "buttons.json")
    parser.add_argument("--speaker-latency", type=float, default=None, help="seconds")
    parser.add_argument("--idle-lead", type=float, default=None, help="seconds")
    args = parser.parse_args(argv)

    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from assistant.buttons import InputStream
    from assistant.buttons.gpio import GpioButtons
    from assistant.config import ButtonSettings, Settings
    from assistant.dialogue.events import ButtonPressed
    from assistant.voice.cache import CachedVoice

    notes: list[str] = []
    # ------------------------------------------------------------------ the speaker
    recorder_cls: Any = None
    speaker: Any
    if not args.memory:
        from tests.pulse import MonitorRecorder, ensure_pulse, reload_sink

        reason = ensure_pulse()
        if reason is None:
            # A sink of its own, so tests that unplug the shared sinks cannot disturb it.
            reload_sink(SPEAKER_SINK)
            os.environ["PULSE_SINK"] = SPEAKER_SINK
            from assistant.audio.sounddevice_io import SoundDeviceSpeaker

            options: dict[str, Any] = {}
            if args.speaker_latency is not None:
                options["latency"] = args.speaker_latency
            if args.idle_lead is not None:
                options["idle_lead_s"] = args.idle_lead
            speaker = SoundDeviceSpeaker("pulse", **options)
            recorder_cls = MonitorRecorder
            where = f"PulseAudio null sink {SPEAKER_SINK} (SoundDeviceSpeaker, parec on monitor)"
        else:
            notes.append(f"PulseAudio not available ({reason}): in-memory speaker used")
    if recorder_cls is None:
        from assistant.audio.fake import MemorySpeaker

        speaker = MemorySpeaker()
        where = "MemorySpeaker (times to hand-over, not to sound)"

    # ------------------------------------------------------------------ the voice, cached
    base: Any
    if args.fake_voice:
        from assistant.voice.fake import FakeVoice

        base = FakeVoice()
    else:
        try:
            from assistant.voice import open_voice

            base = open_voice(Settings(), cache=False)
        except Exception as exc:  # no voice model here: say so, use the fake
            from assistant.voice.fake import FakeVoice

            notes.append(f"Piper voice not available ({exc}): FakeVoice used")
            base = FakeVoice()
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-buttons-"))
    voice = CachedVoice(base, cache_dir)
    chunks = list(voice.synthesize(PROMPT))  # warm the cache, as for a prompt said before
    loud_at = np.flatnonzero(np.abs(chunks[0]) > THRESHOLD)
    lead_s = float(loud_at[0]) / voice.sample_rate if len(loud_at) else 0.0
    """The prompt's own quiet start: the first sample is this long before the first sound."""

    # ------------------------------------------------------------------ buttons and the shell
    factory = MockFactory(pin_class=MockPWMPin)
    stream = InputStream()
    stop_called: list[float] = []

    def barge_in() -> None:
        speaker.stop()
        stop_called.append(time.time())

    stream.set_barge_in(barge_in)
    buttons = GpioButtons(ButtonSettings(), stream, pin_factory=factory)
    yes_pin = factory.pin(17)
    answered = threading.Event()
    first_ids: list[int] = []
    quit_flag = threading.Event()

    def shell() -> None:
        while not quit_flag.is_set():
            event = stream.get(timeout=0.2)
            if isinstance(event, ButtonPressed) and not event.while_speaking:
                for n, chunk in enumerate(voice.synthesize(PROMPT)):
                    if n == 0 and hasattr(speaker, "play_id"):
                        first_ids.append(speaker.play_id(chunk, voice.sample_rate))
                    else:
                        speaker.play(chunk, voice.sample_rate)
                answered.set()

    worker = threading.Thread(target=shell, daemon=True)
    worker.start()

    def press() -> tuple[float, float]:
        t = (time.time(), time.monotonic())
        yes_pin.drive_low()
        return t

    def release() -> None:
        time.sleep(0.05)
        yes_pin.drive_high()

    # warm the output (the device keeps its speaker open); a fresh null sink needs a moment
    from assistant.errors import DeviceLost

    for attempt in range(3):
        try:
            speaker.play(np.zeros(1600, dtype=np.int16), 16_000)
            speaker.wait(5)
            break
        except DeviceLost:
            if attempt == 2:
                raise
            time.sleep(1.0)

    first: list[float] = []
    silence: list[float] = []
    stop_call: list[float] = []
    handover: list[float] = []
    audible: list[float] = []
    discarded = 0
    for _ in range(args.runs):
        # -------- press -> first sample of the cached prompt
        answered.clear()
        plays_before = len(getattr(speaker, "played", []))
        rec = recorder_cls(SPEAKER_SINK).start() if recorder_cls else None
        time.sleep(0.1)
        t0, m0 = press()
        release()
        answered.wait(5)
        time.sleep(0.4)
        speaker.stop()
        time.sleep(0.2)
        if rec is not None:
            audio = rec.stop()
            loud = np.flatnonzero(np.abs(audio) > THRESHOLD)
            before = [i for i in loud if rec.time_of(int(i)) < t0]
            after = [i for i in loud if rec.time_of(int(i)) >= t0]
            if before:
                discarded += 1  # sound before the press: not a clean run
            elif after:
                audible.append(rec.time_of(int(after[0])) - t0)
                first.append(audible[-1] - lead_s)
            handed = speaker.first_sample_at.get(first_ids[-1]) if first_ids else None
            if handed is not None:
                handover.append(handed - t0)
        else:
            played = speaker.played[plays_before]  # the answer's first sentence
            first.append(played.started_at - m0)
            audible.append(first[-1] + lead_s)
        # -------- press while speaking -> silence
        rec = recorder_cls(SPEAKER_SINK).start() if recorder_cls else None
        with stream.prompt():
            speaker.play(tone(3.0, 16_000), 16_000)
            time.sleep(0.6)
            stop_called.clear()
            t1, _ = press()
            release()
        time.sleep(0.5)
        if stop_called:
            stop_call.append(stop_called[0] - t1)
        if rec is not None:
            audio = rec.stop()
            loud = np.flatnonzero(np.abs(audio) > THRESHOLD)
            if len(loud) and rec.time_of(int(loud[-1])) > t1 - 0.05:
                silence.append(rec.time_of(int(loud[-1]) + 1) - t1)
            else:
                discarded += 1  # the tone was not sounding at the press: not a clean run
        elif stop_called:
            silence.append(stop_called[0] - t1)
        stream.drain()
        time.sleep(0.1)

    quit_flag.set()
    worker.join(2)
    buttons.close()
    if recorder_cls is not None:
        from tests.pulse import unload_sink

        speaker.close()
        unload_sink(SPEAKER_SINK)

    results = {
        "speaker": where,
        "voice": f"CachedVoice({getattr(base, 'name', type(base).__name__)}), warm",
        "prompt": PROMPT,
        "runs": args.runs,
        "press_to_first_sample_s": summary(first) if first else None,
        "press_to_first_sound_s": summary(audible) if audible else None,
        "prompt_quiet_start_s": lead_s,
        "press_to_silence_s": summary(silence) if silence else None,
        "press_to_stop_call_s": summary(stop_call) if stop_call else None,
        "press_to_handover_s": summary(handover) if handover else None,
        "discarded_runs": discarded,
        "speaker_buffers_s": {
            "playing": getattr(speaker, "buffer_s", None),
            "silent": getattr(speaker, "idle_lead_s", None),
        },
        "output_underflows": getattr(speaker, "output_underflows", None),
        "idle_underflows": getattr(speaker, "idle_underflows", None),
        "notes": notes,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_1min": os.getloadavg()[0],
        },
    }
    print(f"Speaker: {where}")
    print(f"Voice:   {results['voice']}; the prompt starts with {lead_s * 1000:.0f} ms of quiet")
    for note in notes:
        print(f"Note:    {note}")
    print()
    print(f"{'measure':28} {'median ms':>10} {'p95 ms':>10} {'min ms':>9} {'max ms':>9} {'n':>4}")
    keys = (
        "press_to_first_sample_s",
        "press_to_first_sound_s",
        "press_to_handover_s",
        "press_to_silence_s",
        "press_to_stop_call_s",
    )
    for key in keys:
        s = results[key]
        if not isinstance(s, dict):
            print(f"{key:28} {'-':>10}")
            continue
        print(
            f"{key:28} {s['median'] * 1000:10.1f} {s['p95'] * 1000:10.1f} "
            f"{s['min'] * 1000:9.1f} {s['max'] * 1000:9.1f} {s['n']:4d}"
        )
    if discarded:
        print(f"({discarded} runs discarded: sound before the press, or none at it)")
    if results["output_underflows"] is not None:
        print(
            f"Speaker ran dry {results['output_underflows']} time(s) while playing (heard),"
            f" {results['idle_underflows']} while silent (not heard)"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nWritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
