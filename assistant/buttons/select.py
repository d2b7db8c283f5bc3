"""Choose the button back-end, as gpiozero chooses its pin factory.

``auto`` tries the back-ends in :data:`BACKEND_ORDER` (GPIO on a Pi, else the keyboard on a
terminal, else none) and takes the first usable one; a fallback is announced with a
:class:`~assistant.errors.DeviceFallback` warning and a log line saying which back-end is used
and why, so ``assistant check`` and the log show it. ``settings.buttons.backend`` can force one
(``gpio``, ``keyboard``, ``mock``, ``none``), and the :data:`ENV_VAR` environment variable
(``ASSISTANT_BUTTONS``) overrides the config. :mod:`assistant.stt.select` has the same shape.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.buttons.base import Buttons, InputStream
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


BACKEND_ORDER: tuple[str, ...] = ("gpio", "keyboard", "none")
"""The order ``auto`` tries: GPIO on a Raspberry Pi, else the keyboard on a terminal, else none.
The first is the preferred one; using any later one is a :class:`DeviceFallback`."""

ENV_VAR = "ASSISTANT_BUTTONS"
"""Overrides ``buttons.backend`` (as ``GPIOZERO_PIN_FACTORY`` does gpiozero's pin factory)."""

BACKENDS = ("auto", "gpio", "keyboard", "mock", "none")


def wanted_backend(settings: ButtonSettings) -> str:
    """The back-end asked for: the environment's (:data:`ENV_VAR`), else the config's."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if not value:
        return settings.backend
    if value not in BACKENDS:
        raise ButtonError(
            f"{ENV_VAR}={value!r} is not a button back-end: use one of {', '.join(BACKENDS)}."
        )
    return value


def open_buttons(
    settings: ButtonSettings,
    stream: InputStream,
    *,
    pin_factory: Any = None,
    on_shutdown: Callable[[], None] | None = None,
    is_pi: bool | None = None,
    keyboard_fd: int | None = None,
) -> Buttons:
    """The buttons the settings (or :data:`ENV_VAR`) ask for, feeding *stream*."""
    from assistant.buttons.gpio import GpioButtons
    from assistant.buttons.keyboard import KeyboardButtons, NoButtons

    backend = wanted_backend(settings)
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

    # auto: the first usable back-end in BACKEND_ORDER; each one passed over says why
    def gpio() -> Buttons | str:
        model = pi_model() if is_pi is None else ("Raspberry Pi" if is_pi else None)
        if model is None:
            return "this is not a Raspberry Pi"
        try:
            buttons = GpioButtons(
                settings, stream, pin_factory=pin_factory, on_shutdown=on_shutdown
            )
        except ButtonError as exc:
            return f"the GPIO buttons on this {model} could not be set up ({exc})"
        log.info("buttons: GPIO on %s (%s)", model, buttons.name)
        return buttons

    def keyboard() -> Buttons | str:
        if keyboard_fd is None and not _stdin_is_tty():
            return "there is no terminal for the keyboard"
        fd = keyboard_fd if keyboard_fd is not None else sys.stdin.fileno()
        return KeyboardButtons(stream, fd)

    def none() -> Buttons | str:
        return NoButtons()

    tries: dict[str, Callable[[], Buttons | str]] = {
        "gpio": gpio,
        "keyboard": keyboard,
        "none": none,
    }
    passed_over: list[str] = []
    for name in BACKEND_ORDER:
        got = tries[name]()
        if isinstance(got, str):
            passed_over.append(got)
            continue
        if passed_over:
            why = " and ".join(passed_over)
            message = (
                f"Using the keyboard as buttons, because {why}."
                if name == "keyboard"
                else f"No buttons, because {why}."
            )
            warnings.warn(DeviceFallback(message), stacklevel=2)
            log.warning("buttons: %s, because %s", name, why)
        return got
    raise ButtonError("No button back-end could be used.")  # pragma: no cover - none always is
