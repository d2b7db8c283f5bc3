"""Give freed memory back to the operating system, so the device's peak stays low.

The engines allocate large short-lived buffers: Piper's activations for a sentence (tens of MB,
more for a long one), Whisper's encoder on a 30 s window (about 100 MB for a moment). When they
are freed, glibc's allocator keeps much of that memory in its heaps for reuse, so the resident
size stays near the last peak and the next engine's buffers land on top of it. In
``bench/bench_e2e.py`` (``child_ready``) the process kept 35-50 MB it no longer used after one
synthesis and after one recognition.

:func:`release_memory` asks glibc to return the free pages (``malloc_trim(0)``): a few
milliseconds, so it is called where the device is not waiting on it (after a synthesis has
produced its last sentence, after a model has loaded, when listening starts), never between the
end of someone's answer and the reply. On a C library without ``malloc_trim`` it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_libc: Any = None
_checked = False
_lock = threading.Lock()


def _trim_function() -> Any:
    global _libc, _checked
    with _lock:
        if not _checked:
            _checked = True
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                trim = libc.malloc_trim
            except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
                log.debug("malloc_trim is not available; freed memory stays with the allocator")
            else:
                trim.argtypes = [ctypes.c_size_t]
                trim.restype = ctypes.c_int
                _libc = trim
        return _libc


def release_memory() -> bool:
    """Return the allocator's free memory to the operating system; True if any was returned.

    Safe from any thread (glibc locks each heap while it trims it).
    """
    trim = _trim_function()
    if trim is None:
        return False
    return bool(trim(0))
