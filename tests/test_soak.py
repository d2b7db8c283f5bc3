"""The soak's CI mode: 100 sessions in one process; nothing may grow beyond its bound.

Memory (resident and the Python heap), open files and threads are sampled through the run and
a straight line is fitted over its second half (``bench/soak.py``, bounds in ``BOUNDS``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_soak_quick_does_not_grow(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--quick", "--check", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    data = json.loads(out.read_text())
    growth = data["growth"]
    summary = {k: (round(g["per_session"], 3), g["bound_per_session"]) for k, g in growth.items()}
    assert proc.returncode == 0, f"{summary}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    assert data["sessions"] >= 100
    assert data["unfinished_sessions"] == 0
    assert data["answers"] > data["sessions"]  # real sessions: people answered
    for key in ("rss_bytes", "heap_bytes", "fds", "threads", "turn_files", "cache_files"):
        assert growth[key]["ok"], (key, growth[key])
    assert len(data["samples"]) >= 20
    buttons = data["buttons"]
    assert buttons["ok"], buttons
    assert buttons["delivered"] == buttons["presses"] >= 30
    assert buttons["barge_ins"] >= buttons["presses"] // 3
    assert out.with_suffix(".png").stat().st_size > 1000


def test_growth_analysis_catches_a_leak() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.soak import analyse

    base = {
        "rss_bytes": 1e8, "heap_bytes": 1e6, "fds": 9, "threads": 1,
        "turn_files": 0, "cache_files": 30,
    }  # fmt: skip
    steady = [{**base, "session": n} for n in range(0, 100, 5)]
    assert all(g["ok"] for g in analyse(steady).values())
    leaking = [{**s, "fds": 9 + s["session"] // 10, "heap_bytes": 1e6 + 50_000 * s["session"]}
               for s in steady]  # fmt: skip
    result = analyse(leaking)
    assert not result["fds"]["ok"] and not result["heap_bytes"]["ok"]
    assert result["fds"]["per_session"] > 0.05
    assert result["rss_bytes"]["ok"]
