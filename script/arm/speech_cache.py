"""pytest plugin for script/arm-check: tests/speech_samples.py keeps its clips in one folder
($ASSISTANT_SPEECH_CACHE), so clips that need a host program (espeak-ng) are made on the host
first and read back under emulation, where no host program can be started."""

from __future__ import annotations

import os
from pathlib import Path


def pytest_configure(config: object) -> None:
    folder = os.environ.get("ASSISTANT_SPEECH_CACHE")
    if folder:
        import speech_samples

        speech_samples.set_cache_dir(Path(folder))
