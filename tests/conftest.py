"""Shared test set-up (keep it small): `tests.*` importable, and the PulseAudio fixtures.

PulseAudio fixtures and helpers (``pulse``, ``pulse_env``, ``MonitorRecorder``, ``play_into``,
``unload_sink``/``reload_sink``) live in ``tests/pulse.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.pulse import pulse, pulse_env  # noqa: E402,F401  (fixtures for every test)
