"""Keep C libraries' own complaints off the screen: the command line speaks plain sentences.

ALSA's library writes lines such as ``ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred``
straight to stderr, under PortAudio, whatever Python does. :func:`quiet_alsa` gives it an error
handler that sends them to the log at debug level instead (``--debug`` shows them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

log = logging.getLogger("assistant.audio.alsa")

# void handler(const char *file, int line, const char *function, int err, const char *fmt, ...)
# The variadic tail is not read: the format alone says what went wrong.
_HANDLER = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)
_installed: list[Any] = []  # the C callback must outlive every call into ALSA


def _to_log(file: bytes, line: int, function: bytes, err: int, fmt: bytes) -> None:
    log.debug(
        "ALSA %s:%d (%s): %s",
        (file or b"").decode(errors="replace"),
        line,
        (function or b"").decode(errors="replace"),
        (fmt or b"").decode(errors="replace"),
    )


def quiet_alsa() -> bool:
    """Route ALSA's messages to the log; False when there is no ALSA library here."""
    if _installed:
        return True
    name = ctypes.util.find_library("asound")
    if name is None:
        return False
    try:
        lib = ctypes.CDLL(name)
        handler = _HANDLER(_to_log)
        lib.snd_lib_error_set_handler(handler)
    except (OSError, AttributeError):
        return False
    _installed.append(handler)
    return True
