"""End-of-turn benchmark: the energy detector against Silero VAD, on speech in quiet and noise.

    python bench/bench_endpoint.py [--out FILE] [--quick]

Each turn is 1.5 s of room sound, an answer (Piper and espeak-ng voices; short answers, and
free answers with pauses of 0.6 to 1.0 s inside them, as people pause and stutter), then 3 s of
room sound. The room is near-silent, or pink noise (a fan, a room) at 20, 10 and 5 dB SNR.
Noise-only turns (10 s) check for false starts. For each detector it reports:

* ``started``: share of turns where speech was found; ``false_start``: found > 0.1 s before
  the first word (or at all in noise-only turns);
* ``start_error_ms``: median |found start - true start|;
* ``cut_short``: turns ended (by trailing silence) before the answer was over;
* ``end_late_ms``: median (end - (true end + trailing silence)); near 0 is right;
* ``us_per_s``: compute per second of audio.

Prints a table and writes JSON (default ``bench/results/endpoint.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.audio.endpoint import (  # noqa: E402
    EndpointDetector,
    EnergyDetector,
    SileroDetector,
    SpeechDetector,
)
from tests.speech_samples import mix_noise, noise, sound_bounds, speak  # noqa: E402

R = 16_000
SHORT = ["yes", "no thanks", "next", "again", "help me"]
FREE = [
    ["I want to", "go swimming on Friday"],
    ["I", "I would like to", "cook my own dinner"],
    ["my goal is to get a job", "in a cafe"],
]
VOICES = ["piper", "espeak:en-gb:150", "espeak:en-us:120", "espeak:en-gb-x-rp:175"]
ROOMS: list[float | None] = [None, 20.0, 10.0, 5.0]


def bounds(clean: np.ndarray) -> tuple[float, float]:
    first, last = sound_bounds(clean)
    return first / R, last / R


def make_turn(parts: list[str], voice: str, pauses: list[float]) -> np.ndarray:
    out: list[np.ndarray] = []
    for i, text in enumerate(parts):
        if i:
            out.append(np.zeros(int(pauses[(i - 1) % len(pauses)] * R), np.int16))
        out.append(speak(text, voice))
    return np.concatenate(out)


def detectors() -> dict[str, SpeechDetector]:
    return {"energy": EnergyDetector(), "silero": SileroDetector()}


def run_one(
    det: SpeechDetector, pcm: np.ndarray, trailing: float, wait: float = 10.0
) -> tuple[EndpointDetector, float]:
    det.reset()
    ep = EndpointDetector(
        wait_for_speech_s=wait, trailing_silence_s=trailing, max_answer_s=60, detector=det
    )
    t0 = time.perf_counter()
    for i in range(0, len(pcm), 480):
        if ep.feed(pcm[i : i + 480]).ended_by:
            break
    return ep, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "endpoint.json")
    ap.add_argument("--quick", action="store_true", help="two voices only")
    args = ap.parse_args()
    voices = VOICES[:2] if args.quick else VOICES
    dets = detectors()
    rows: dict[str, dict[str, Any]] = {}
    cases: list[tuple[str, np.ndarray, float, float, float]] = []
    for voice in voices:
        for room in ROOMS:
            for k, text in enumerate(SHORT):
                clean = speak(text, voice)
                cases.append((f"short/{voice}/{room}", clean, 0.7, room or -1, k))
            for k, parts in enumerate(FREE):
                clean = make_turn(parts, voice, [0.6, 1.0])
                cases.append((f"free/{voice}/{room}", clean, 1.5, room or -1, k))
    results: dict[str, dict[str, list[float]]] = {
        name: {
            "started": [], "false_start": [], "start_err": [], "cut": [], "end_late": [],
            "cost": [], "noise_false": [],
        }
        for name in dets
    }  # fmt: skip
    for label, clean, trailing, snr, seed in cases:
        t_start, t_end = bounds(clean)
        lead, tail = 1.5, 3.0
        turn = np.concatenate([np.zeros(int(lead * R), np.int16), clean,
                               np.zeros(int(tail * R), np.int16)])  # fmt: skip
        if snr > 0:
            # noise level set from the speech, then applied to the whole turn
            turn = mix_noise(turn, snr, seed=int(seed))
        else:
            rng = np.random.default_rng(int(seed))
            turn = np.clip(turn + rng.normal(0, 10, len(turn)), -32768, 32767).astype(np.int16)
        for name, det in dets.items():
            ep, cost = run_one(det, turn, trailing)
            r = results[name]
            r["cost"].append(cost / (len(turn) / R))
            r["started"].append(float(ep.speech_started))
            if ep.speech_start_s is None:
                continue
            r["false_start"].append(float(ep.speech_start_s < lead + t_start - 0.1))
            r["start_err"].append(abs(ep.speech_start_s - (lead + t_start)) * 1000)
            ended = ep.ended_at_s if ep.ended_by == "silence" else None
            r["cut"].append(float(ended is not None and ended < lead + t_end))
            if ended is not None and ended >= lead + t_end:
                r["end_late"].append((ended - (lead + t_end + trailing)) * 1000)
        del label
    # noise-only turns: a room, a fan at several levels, a knock
    for rms in (30, 300, 1500):
        for seed in range(3):
            bg = noise(10.0, rms=rms, seed=seed)
            knock = bg.copy()
            knock[3 * R : 3 * R + 400] = 20_000
            for pcm in (bg, knock):
                for name, det in dets.items():
                    ep, _ = run_one(det, pcm, 1.5, wait=9.9)
                    results[name]["noise_false"].append(float(ep.speech_started))

    def med(xs: list[float]) -> float:
        return float(statistics.median(xs)) if xs else float("nan")

    for name, r in results.items():
        rows[name] = {
            "turns": len(cases),
            "started": float(np.mean(r["started"])),
            "false_start": float(np.mean(r["false_start"])) if r["false_start"] else 0.0,
            "start_error_ms": med(r["start_err"]),
            "cut_short": float(np.mean(r["cut"])) if r["cut"] else 0.0,
            "end_late_ms": med(r["end_late"]),
            "end_late_p90_ms": float(np.percentile(r["end_late"], 90)) if r["end_late"] else 0,
            "noise_only_false_start": float(np.mean(r["noise_false"])),
            "us_per_s": med(r["cost"]) * 1e6,
        }
    head = (
        f"{'detector':8} {'started':>8} {'false st':>8} {'start err':>9} {'cut short':>9}"
        f" {'end late':>9} {'p90':>6} {'noise FA':>8} {'us/s':>7}"
    )
    print(f"End of turn over {len(cases)} turns ({', '.join(voices)}; rooms {ROOMS})")
    print(head)
    for name, row in rows.items():
        print(
            f"{name:8} {row['started']:8.1%} {row['false_start']:8.1%}"
            f" {row['start_error_ms']:7.0f}ms {row['cut_short']:9.1%}"
            f" {row['end_late_ms']:7.0f}ms {row['end_late_p90_ms']:4.0f}ms"
            f" {row['noise_only_false_start']:8.1%} {row['us_per_s']:7.0f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"machine": platform.machine(), "voices": voices, "results": rows}, indent=2)
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
