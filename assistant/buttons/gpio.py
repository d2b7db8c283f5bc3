"""Big buttons on GPIO pins, through gpiozero.

Each button is a gpiozero :class:`~gpiozero.Button` on a BCM pin with the Pi's internal
pull-up (the switch connects the pin to ground). gpiozero picks the pin factory in its
documented order (lgpio first, which is the one that works on a Raspberry Pi 5) unless
``GPIOZERO_PIN_FACTORY`` says otherwise; tests pass a :class:`~gpiozero.pins.mock.MockFactory`.
Debounce, hold, chatter and barge-in are in :class:`~assistant.buttons.base.PressLogic`, the
same for every back-end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from assistant.buttons.base import (
    BUTTONS,
    Buttons,
    InputStream,
    PressLogic,
    ShutdownChord,
    shutdown_handler,
)
from assistant.config import ButtonSettings
from assistant.dialogue.events import Button
from assistant.errors import ButtonError

log = logging.getLogger(__name__)


def button_pins(settings: ButtonSettings) -> dict[Button, int]:
    """The configured button pins (buttons set to none are left out)."""
    pins: dict[Button, int] = {}
    for name in BUTTONS:
        pin = getattr(settings, f"{name}_pin")
        if pin is not None:
            pins[name] = int(pin)
    return pins


def led_pins(settings: ButtonSettings) -> dict[Button, int]:
    """The configured LED pins inside the buttons."""
    pins: dict[Button, int] = {}
    for name in BUTTONS:
        pin = getattr(settings, f"{name}_led_pin")
        if pin is not None:
            pins[name] = int(pin)
    return pins


def check_pins(settings: ButtonSettings) -> None:
    """Raise ButtonError if two things share a pin."""
    used: dict[int, str] = {}
    items: list[tuple[str, int]] = [(f"{b} button", p) for b, p in button_pins(settings).items()]
    items += [(f"{b} light", p) for b, p in led_pins(settings).items()]
    if settings.status_led_pins is not None:
        items += [
            (f"status light {c}", p)
            for c, p in zip(("red", "green", "blue"), settings.status_led_pins, strict=True)
        ]
    for what, pin in items:
        if pin in used:
            raise ButtonError(f"The {what} and the {used[pin]} are both set to GPIO {pin}.")
        used[pin] = what
    for name in ("yes", "no", "next"):
        if getattr(settings, f"{name}_pin") is None:
            raise ButtonError(
                f"The {name} button has no pin; set buttons.{name}_pin in the config."
            )


def _reader(device: Any) -> Callable[[], bool]:
    return lambda: bool(device.is_pressed)


def _edge(logic: PressLogic, down: bool) -> Callable[[], None]:
    return lambda: logic.edge(down)


class GpioButtons(Buttons):
    """The yes / no / next (and help / repeat) buttons on GPIO pins."""

    def __init__(
        self,
        settings: ButtonSettings,
        stream: InputStream,
        *,
        pin_factory: Any = None,
        on_shutdown: Callable[[], None] | None = None,
        stuck_after_s: float | None = None,
        quiet_s: float | None = None,
    ) -> None:
        try:
            from gpiozero import Button as GpioButton
            from gpiozero import Device
        except ImportError as exc:  # pragma: no cover - gpiozero is a dependency
            raise ButtonError(f"gpiozero is not installed: {exc}.") from exc
        check_pins(settings)
        self.stream = stream
        self.settings = settings
        on_shutdown = on_shutdown or shutdown_handler()
        self._chord = ShutdownChord(on_shutdown) if on_shutdown is not None else None
        self._devices: list[Any] = []
        self.logic: dict[Button, PressLogic] = {}
        extra: dict[str, Any] = {}
        if stuck_after_s is not None:
            extra["stuck_after_s"] = stuck_after_s
        if quiet_s is not None:
            extra["quiet_s"] = quiet_s
        try:
            for name, pin in button_pins(settings).items():
                # Debounce is done in PressLogic (first edge counts, no added delay), so the
                # pin's own bounce filter stays off; the hold timer is there too.
                device = GpioButton(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)
                self._devices.append(device)
                logic = PressLogic(
                    name,
                    stream,
                    bounce_time_s=settings.bounce_time_s,
                    hold_time_s=settings.hold_time_s,
                    chatter_limit=settings.chatter_limit,
                    is_down=_reader(device),
                    on_change=self._chord.change if self._chord is not None else None,
                    **extra,
                )
                self.logic[name] = logic
                device.when_pressed = _edge(logic, True)
                device.when_released = _edge(logic, False)
            factory = pin_factory or Device.pin_factory
        except ButtonError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise ButtonError(f"The buttons could not be set up on the GPIO pins: {exc}.") from exc
        self.name = f"gpio:{type(factory).__name__}"
        self.buttons: frozenset[Button] = frozenset(self.logic)
        log.info(
            "buttons on GPIO (%s): %s",
            type(factory).__name__,
            ", ".join(f"{b}=GPIO{p}" for b, p in button_pins(settings).items()),
        )

    def close(self) -> None:
        for logic in self.logic.values():
            logic.close()
        if self._chord is not None:
            self._chord.close()
        for device in self._devices:
            try:
                device.close()
            except Exception:  # closing must never fail
                log.debug("closing %r failed", device, exc_info=True)
        self._devices.clear()

    def __enter__(self) -> GpioButtons:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
