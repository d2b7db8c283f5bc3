"""The keyboard as buttons, for development and the interactive demo.

Keys (read one at a time, no Enter needed: the terminal is put in cbreak mode and restored):

=========  ==================  ==========================
key        button              capital letter (= held)
=========  ==================  ==========================
``y``      yes                 ``Y``
``n``      no                  ``N``
space/x    next                ``X`` (hear the question again)
``h``      help                ``H`` (flag for staff)
``r``      repeat              ``R``
=========  ==================  ==========================

A terminal cannot tell a long key-press from a short one, so a capital letter stands for a
held button.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
from typing import Any

from assistant.buttons.base import BUTTONS, Buttons, InputStream, PressLogic
from assistant.dialogue.events import Button
from assistant.errors import ButtonError

log = logging.getLogger(__name__)

KEYS: dict[str, tuple[Button, bool]] = {
    "y": ("yes", False),
    "Y": ("yes", True),
    "n": ("no", False),
    "N": ("no", True),
    " ": ("next", False),
    "x": ("next", False),
    "X": ("next", True),
    "h": ("help", False),
    "H": ("help", True),
    "r": ("repeat", False),
    "R": ("repeat", True),
}

HELP_TEXT = "Keys: y = yes, n = no, space = next, h = help, r = repeat (capital letter = hold)."


class KeyboardButtons(Buttons):
    """Buttons read from a terminal (or any file descriptor, for tests)."""

    def __init__(self, stream: InputStream, fd: int | None = None) -> None:
        self.stream = stream
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.name = "keyboard"
        self.buttons: frozenset[Button] = frozenset(BUTTONS)
        self.logic: dict[Button, PressLogic] = {b: PressLogic(b, stream) for b in BUTTONS}
        self._saved: Any = None
        self._stop = threading.Event()
        if os.isatty(self.fd):
            import termios
            import tty

            try:
                self._saved = termios.tcgetattr(self.fd)
                tty.setcbreak(self.fd)
            except termios.error as exc:
                raise ButtonError(
                    f"The terminal could not be set up for key presses: {exc}."
                ) from exc
        self._thread = threading.Thread(target=self._run, name="keyboard-buttons", daemon=True)
        self._thread.start()
        log.info("buttons on the keyboard (%s)", HELP_TEXT)

    def feed(self, text: str) -> None:
        """Handle typed characters (the reader thread calls this; tests may too)."""
        for char in text:
            hit = KEYS.get(char)
            if hit is None:
                if char not in "\r\n":
                    log.debug("key %r is not a button", char)
                continue
            button, held = hit
            self.logic[button].tap(held=held)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(self.fd, 64)
            except OSError:
                return
            if not data:  # end of input
                return
            self.feed(data.decode("utf-8", errors="ignore"))

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)
        if self._saved is not None:
            import termios

            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def __enter__(self) -> KeyboardButtons:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NoButtons(Buttons):
    """No buttons at all (no Pi and no terminal): speech only, and said so in the log."""

    name = "none"
    buttons: frozenset[Button] = frozenset()

    def close(self) -> None:
        pass
