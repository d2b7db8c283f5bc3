"""The end-to-end benchmark's quick mode runs and writes complete, well-formed results.

It checks the shape and sanity of the JSON (every measure present, medians and 95th
percentiles in range, the targets judged, the plot written), not the numbers against the
targets: those depend on the machine (see docs/performance.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.pulse import ensure_pulse

ROOT = Path(__file__).resolve().parents[1]

LIVE = (
    "turn_gap_short_s",
    "turn_gap_short_to_speech_s",
    "window_short_s",
    "gap_minus_window_short_s",
    "turn_gap_free_s",
    "turn_gap_free_to_speech_s",
    "window_free_s",
    "gap_minus_window_free_s",
    "compute_after_decision_s",
    "output_path_s",
    "press_to_reply_s",
    "press_to_handover_s",
    "press_to_prompt_s",
    "barge_in_silence_s",
)
NAIVE = ("naive_turn_gap_short_s", "naive_turn_gap_free_s")
MUST_MEASURE = (
    "turn_gap_short_s",
    "window_short_s",
    "turn_gap_free_s",
    "window_free_s",
    "compute_after_decision_s",
    "press_to_reply_s",
    *NAIVE,
)


def check_summary(name: str, s: Any, *, lo: float = 0.0, hi: float = 30.0) -> None:
    assert isinstance(s, dict), name
    assert set(s) == {"median", "p95", "min", "max", "n"}, name
    assert isinstance(s["n"], int) and s["n"] >= 0, name
    if s["n"] == 0:
        assert s["median"] is None and s["p95"] is None, name
        return
    for key in ("median", "p95", "min", "max"):
        assert isinstance(s[key], float), (name, key)
        assert lo <= s[key] <= hi, (name, key, s[key])
    assert s["min"] <= s["median"] <= s["p95"] <= s["max"], name


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str | None]:
    out = tmp_path_factory.mktemp("e2e") / "e2e.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_e2e.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "target" in proc.stdout and "turn_gap_short" in proc.stdout
    return json.loads(out.read_text()), out, ensure_pulse()


@pytest.mark.slow
@pytest.mark.audio
def test_quick_results_are_complete(quick: tuple[dict[str, Any], Path, str | None]) -> None:
    data, out, no_pulse = quick
    assert data["quick"] is True
    for key in (*LIVE, *NAIVE):
        if key.startswith("gap_minus_window_"):
            # A sure yes/no ends the turn before the set window (the recogniser's partial
            # result), so the gap minus the set window can be below zero, never below -window.
            check_summary(key, data[key], lo=-2.0)
        elif key == "output_path_s":
            # Timed at the monitor by a separate recorder whose first-byte time is only good to
            # a few tens of milliseconds.
            check_summary(key, data[key], lo=-0.1)
        else:
            check_summary(key, data[key])
    if no_pulse is None:
        for key in MUST_MEASURE:
            assert data[key]["n"] >= 1, f"{key} was not measured"
        # barge-ins were made, and each is measured or counted apart as overlapped (its
        # prompt said again already sounding when the old one stopped: about one in three)
        barges = data["live"]["barge_details"]
        measured = data["barge_in_silence_s"]["n"]
        overlapped = data["live"]["barge_ins_overlapped"]
        assert barges and 1 <= measured + overlapped <= len(barges), (measured, overlapped)
        assert data["turn_gap_short_s"]["median"] > data["window_short_s"]["median"] > 0.2
        assert data["turn_gap_free_s"]["median"] > data["window_free_s"]["median"] > 0.5
        assert data["naive_ratio_short"] is not None and data["naive_ratio_short"] > 0
        assert isinstance(data["live"]["engines"]["short"], str)
        assert data["live"]["turns"], "the turns are logged"
    else:
        assert any("skipped" in n or "no virtual" in n for n in data["notes"])


@pytest.mark.slow
def test_ready_and_memory_are_measured(quick: tuple[dict[str, Any], Path, str | None]) -> None:
    data, _, _ = quick
    ready = data["ready"]["default"]
    assert 0.1 < ready["ready_s"] < 120
    assert 20 < ready["rss_ready_mb"] <= ready["peak_rss_mb"] < 8000
    assert data["peak_rss_mb_default"] == ready["peak_rss_mb"]
    ko = data["ready"]["vosk-ko"]
    if "skipped" not in ko:
        assert ko["engines"]["short"].startswith("vosk:")
        assert ko["peak_rss_mb"] > 20


@pytest.mark.slow
def test_processor_time_per_turn_is_measured(
    quick: tuple[dict[str, Any], Path, str | None],
) -> None:
    data, _, _ = quick
    cpu = data["cpu"]
    assert "skipped" not in cpu, cpu
    for key in ("cpu_short_s", "cpu_free_s", "cpu_prompt_s"):
        check_summary(key, data[key], hi=60.0)
        assert data[key]["n"] >= 2, key
        assert data[key]["median"] > 0.005, key  # a decoding or a synthesis costs something
    idle = data["cpu_idle_listening_per_s"]
    assert idle is not None and 0 < idle < 2.0  # at most both cores, all the time
    # a quiet second of listening costs far less than deciding one answer
    assert idle < data["cpu_short_s"]["median"]
    assert any(h.startswith("yes -> yes") for h in cpu["heard"]), cpu["heard"]


@pytest.mark.slow
def test_targets_are_judged_and_plot_written(
    quick: tuple[dict[str, Any], Path, str | None],
) -> None:
    data, out, _ = quick
    targets = data["targets"]
    assert set(targets) == {
        "press_to_prompt_audio",
        "yes_no_turn_gap",
        "compute_after_decision",
        "peak_memory_default",
        "ready",
        "naive_ratio_short",
    }
    for name, t in targets.items():
        assert t["op"] in ("<=", ">="), name
        assert t["met"] in (True, False, None), name
        assert (t["value"] is None) == (t["met"] is None), name
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5000
    assert data["machine"]["cpus"] >= 1


def test_summary_and_judging_helpers() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.bench_e2e import judge
    from bench.common import summary

    s = summary([0.1, 0.2, 0.3, 0.4, 5.0])
    assert s["median"] == pytest.approx(0.3)
    assert s["min"] == pytest.approx(0.1) and s["max"] == pytest.approx(5.0)
    assert s["median"] < s["p95"] < 5.0
    assert summary([])["n"] == 0
    verdicts = judge(
        {
            "press_to_reply_s": summary([0.02, 0.025]),
            "turn_gap_short_s": summary([0.5]),
            "compute_after_decision_s": summary([]),
            "peak_rss_mb_default": 390.0,
            "ready_s_default": None,
            "naive_ratio_short": 6.0,
        }
    )
    assert verdicts["press_to_prompt_audio"]["met"] is True
    assert verdicts["yes_no_turn_gap"]["met"] is False
    assert verdicts["compute_after_decision"]["met"] is None
    assert verdicts["peak_memory_default"]["met"] is True
    assert verdicts["ready"]["met"] is None
    assert verdicts["naive_ratio_short"]["met"] is True


def test_monitor_samples_are_timed_by_the_reads_just_after_them() -> None:
    """A monitor recording's reads come late by a varying amount, never early; a late first
    read, drift and lost samples must not skew the time of a sample much later."""
    import numpy as np

    from tests.pulse import sample_time

    rate, start = 16_000, 1000.0
    rng = np.random.default_rng(1)
    arrivals: list[tuple[int, float]] = []
    count = 0
    lost = 0
    for k in range(1, 3001):  # 30 s of 10 ms reads
        count += 160
        if k == 1500:
            lost = 800  # 50 ms of samples lost: later samples are 50 ms later than they look
            count -= lost
        true_end = start + (count + lost) / rate
        late = 0.030 if k == 1 else float(rng.exponential(0.004))  # scheduling, never early
        arrivals.append((count, true_end + 0.002 + late))  # 2 ms of pipe, always
    first_read = arrivals[0][1] - arrivals[0][0] / rate
    for sample in (16_000, 200_000):  # before the loss, and after it
        true = start + (sample + (lost if sample > 1500 * 160 - lost else 0)) / rate
        assert abs(sample_time(arrivals, sample, rate, first_read) - (true + 0.002)) < 0.001
    # the first read alone was 30 ms late (and knows nothing of the loss)
    assert first_read + 200_000 / rate - (start + (200_000 + lost) / rate) < -0.01
