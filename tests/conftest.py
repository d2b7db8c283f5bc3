"""Shared test set-up (keep it small): `tests.*` importable, and the PulseAudio fixtures.

PulseAudio fixtures and helpers (``pulse``, ``pulse_env``, ``MonitorRecorder``, ``play_into``,
``unload_sink``/``reload_sink``) live in ``tests/pulse.py``.

In CI everything the tests need is installed and started by .ci/run (PulseAudio, PostgreSQL,
chromium, espeak-ng, the real models), so a skip there means a missing install step or a
service that did not start: it fails the run instead of passing quietly. Set
ASSISTANT_ALLOW_SKIPS=1 to let skips through (for example on a CI machine without audio).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.pulse import pulse, pulse_env  # noqa: E402,F401  (fixtures for every test)

_STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes") and not os.environ.get(
    "ASSISTANT_ALLOW_SKIPS"
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any]:
    outcome = yield
    report = outcome.get_result()
    if _STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing should be missing: {reason}"
