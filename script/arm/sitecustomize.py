"""Loaded only under script/arm-check's emulation (it is on PYTHONPATH there, nowhere else).

ctypes.util.find_library finds a library by running ``ldconfig -p`` (or gcc, or ld). Under
qemu-user without a binfmt_misc handler no arm64 program can be started from an emulated one,
so it finds nothing and sounddevice says "PortAudio library not found". On a Raspberry Pi
ldconfig runs. This stand-in does what ldconfig's cache would answer, from the library folders,
only where the real lookup found nothing.
"""

from __future__ import annotations

import ctypes.util
import glob
import os

_real = ctypes.util.find_library
_DIRS = ("/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib", "/lib")


def _find_library(name: str) -> str | None:
    found = _real(name)
    if found is not None:
        return found
    for folder in _DIRS:
        hits = sorted(glob.glob(os.path.join(folder, f"lib{name}.so.*")))
        if hits:
            return os.path.basename(hits[0])
    return None


ctypes.util.find_library = _find_library
