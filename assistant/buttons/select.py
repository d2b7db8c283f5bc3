"""Choose the button back-end: GPIO on a Pi, else the keyboard on a terminal, else none.

``settings.buttons.backend`` can force one (``gpio``, ``keyboard``, ``mock``, ``none``). With
``auto``, a fallback is announced with a :class:`~assistant.errors.DeviceFallback` warning and a
log line saying which back-end is used and why, so ``assistant check`` and the log show it.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.buttons.base import ButtonInput, InputStream
from assistant.config import ButtonSettings
from assistant.errors import ButtonError, DeviceFallback

log = logging.getLogger(__name__)

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def pi_model(path: Path = DEVICE_TREE_MODEL) -> str | None:
    """The Raspberry Pi model name, or None when this is not a Pi."""
    try:
        model = path.read_bytes().decode("ascii", errors="ignore").strip("\x00\n ")
    except OSError:
        return None
    return model if "Raspberry Pi" in model else None


def _stdin_is_tty() -> bool:
    try:
        return os.isatty(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def open_buttons(
    settings: ButtonSettings,
    stream: InputStream,
    *,
    pin_factory: Any = None,
    on_shutdown: Callable[[], None] | None = None,
    is_pi: bool | None = None,
    keyboard_fd: int | None = None,
) -> ButtonInput:
    """The buttons the settings ask for, feeding *stream*."""
    from assistant.buttons.gpio import GpioButtons
    from assistant.buttons.keyboard import KeyboardButtons, NoButtons

    backend = settings.backend
    if backend == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        factory = pin_factory or MockFactory(pin_class=MockPWMPin)
        return GpioButtons(settings, stream, pin_factory=factory, on_shutdown=on_shutdown)
    if backend == "gpio":
        return GpioButtons(settings, stream, pin_factory=pin_factory, on_shutdown=on_shutdown)
    if backend == "keyboard":
        fd = keyboard_fd if keyboard_fd is not None else sys.stdin.fileno()
        return KeyboardButtons(stream, fd)
    if backend == "none":
        log.info("buttons: none (the config says so)")
        return NoButtons()

    # auto
    model = pi_model() if is_pi is None else ("Raspberry Pi" if is_pi else None)
    why: str
    if model is not None:
        try:
            buttons = GpioButtons(
                settings, stream, pin_factory=pin_factory, on_shutdown=on_shutdown
            )
            log.info("buttons: GPIO on %s (%s)", model, buttons.name)
            return buttons
        except ButtonError as exc:
            why = f"the GPIO buttons on this {model} could not be set up ({exc})"
    else:
        why = "this is not a Raspberry Pi"
    tty = keyboard_fd is not None or _stdin_is_tty()
    if tty:
        message = f"Using the keyboard as buttons, because {why}."
        warnings.warn(DeviceFallback(message), stacklevel=2)
        log.warning("buttons: keyboard, because %s", why)
        fd = keyboard_fd if keyboard_fd is not None else sys.stdin.fileno()
        return KeyboardButtons(stream, fd)
    message = f"No buttons, because {why} and there is no terminal for the keyboard."
    warnings.warn(DeviceFallback(message), stacklevel=2)
    log.warning("buttons: none, because %s and there is no terminal", why)
    return NoButtons()
