"""Text to speech benchmark: load time, time to first audio, real-time factor, cached start.

    python bench/bench_tts.py [--voice NAME_OR_PATH] [--models-dir DIR] [--runs N] [--out FILE]

Prints a table and writes JSON (default ``bench/results/tts.json``). Figures:

* ``voice_load_s``: loading the Piper voice (ONNX session), after the libraries are imported;
  ``import_s`` is importing piper and onnxruntime the first time.
* ``calibration_s`` and ``natural_wpm``: measuring the voice's natural rate (done once per voice
  and remembered on disk by the product).
* ``first_audio_s``: from asking for a multi-sentence prompt to its first sentence's audio, the
  moment playback can start (median of the runs).
* ``full_synthesis_s`` and ``rtf``: the whole prompt, and synthesis time / audio duration.
* ``cached_first_audio_s``: the same prompt from the prompt cache on disk, through a fresh
  :class:`CachedVoice` as after a restart (median).
* ``measured_wpm``: the rate the voice actually speaks a passage at, for 120, 150 and 190 asked.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "Hello Sam. It is good to see you today. Shall we start your check in?",
    "What do you want to do this week? Tell me in your own words. Take your time.",
    "You said you want to go to the shop with Priya. Is that right? Press yes or no.",
]
PASSAGE = (
    "Good morning. Let us look at your plan for this week. "
    "On Monday you will go to the shop with Priya. "
    "You said you want to buy some food for the party. "
    "Is that still right? Press yes or no. "
    "If you want to change it, we can do that together."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default="en_US-joe-medium")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tts.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    import onnxruntime  # noqa: F401
    import piper  # noqa: F401

    from assistant.voice.cache import CachedVoice
    from assistant.voice.piper import PiperVoice, words_per_minute

    import_s = time.perf_counter() - started

    work = Path(tempfile.mkdtemp(prefix="bench-tts-"))
    started = time.perf_counter()
    voice = PiperVoice.load(args.voice, args.models_dir, calibration_file=work / "cal.json")
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    natural = voice.calibrate()
    calibration_s = time.perf_counter() - started

    list(voice.synthesize("Warm up."))
    firsts, totals, rtfs = [], [], []
    for _ in range(args.runs):
        for text in PROMPTS:
            started = time.perf_counter()
            stream = voice.synthesize(text)
            chunk = next(stream)
            firsts.append(time.perf_counter() - started)
            n = len(chunk) + sum(len(c) for c in stream)
            total = time.perf_counter() - started
            totals.append(total)
            rtfs.append(total / (n / voice.sample_rate))

    cache_dir = work / "prompts"
    CachedVoice(voice, cache_dir, 100_000_000).warm(PROMPTS)
    cached_firsts = []
    for _ in range(args.runs):
        for text in PROMPTS:
            fresh = CachedVoice(voice, cache_dir, 100_000_000)
            started = time.perf_counter()
            next(iter(fresh.synthesize(text)))
            cached_firsts.append(time.perf_counter() - started)
            assert fresh.hits == 1

    measured = {}
    for wpm in (120, 150, 190):
        voice.words_per_minute = wpm
        n = sum(len(c) for c in voice.synthesize(PASSAGE))
        measured[str(wpm)] = round(words_per_minute(PASSAGE, n, voice.sample_rate), 1)
    voice.words_per_minute = 150.0

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results = {
        "voice": voice.name,
        "voice_file": str(voice.files.model),
        "sample_rate": voice.sample_rate,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "runs": args.runs * len(PROMPTS),
        "import_s": round(import_s, 3),
        "voice_load_s": round(load_s, 3),
        "calibration_s": round(calibration_s, 3),
        "natural_wpm": round(natural, 1),
        "first_audio_s": round(statistics.median(firsts), 3),
        "first_audio_max_s": round(max(firsts), 3),
        "full_synthesis_s": round(statistics.median(totals), 3),
        "rtf": round(statistics.median(rtfs), 3),
        "cached_first_audio_s": round(statistics.median(cached_firsts), 5),
        "cached_first_audio_max_s": round(max(cached_firsts), 5),
        "measured_wpm": measured,
        "peak_rss_mb": round(peak_mb, 1),
    }

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Text to speech: {voice.name}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("import piper + onnxruntime", f"{import_s:.2f} s"),
        ("voice load", f"{load_s:.2f} s"),
        ("rate calibration (once per voice)", f"{calibration_s:.2f} s"),
        ("natural rate", f"{natural:.0f} words/min"),
        ("time to first audio (median / max)", f"{results['first_audio_s']:.3f} / "
         f"{results['first_audio_max_s']:.3f} s"),
        ("whole prompt (median)", f"{results['full_synthesis_s']:.3f} s"),
        ("real-time factor (median)", f"{results['rtf']:.3f}"),
        ("cached prompt start (median / max)", f"{results['cached_first_audio_s'] * 1000:.2f} / "
         f"{results['cached_first_audio_max_s'] * 1000:.2f} ms"),
        ("measured rate for 120 / 150 / 190", "/".join(f"{v:.0f}" for v in measured.values())),
        ("peak resident memory", f"{peak_mb:.0f} MB"),
    ]  # fmt: skip
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
