"""The lights: LEDs inside the buttons, and one RGB status light.

The engine says which buttons mean something at this step and what the device is doing
(:class:`~assistant.dialogue.events.SetLights`); :meth:`Lights.apply` shows it (the base
class, :class:`~assistant.buttons.base.Lights`, is re-exported here):

* a button's LED is on only when that button does something now;
* the status light: **green** listening, **blue** speaking, **amber, pulsing** thinking,
  **red** error, **off** idle, **purple, blinking slowly** idle with a flag staff have not
  cleared yet (``assistant records clear-flag``).

:class:`GpioLights` drives real LEDs through gpiozero (or MockFactory pins in tests);
:class:`ConsoleLights` logs the state (and prints it, for development and the demo).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

from assistant.buttons.base import BUTTONS, Lights
from assistant.buttons.gpio import check_pins, led_pins
from assistant.config import ButtonSettings
from assistant.dialogue.events import Button, SetLights, Status
from assistant.errors import ButtonError

__all__ = ["COLOURS", "COLOUR_NAMES", "ConsoleLights", "GpioLights", "Lights", "open_lights"]

log = logging.getLogger(__name__)

COLOURS: dict[Status, tuple[float, float, float]] = {
    "idle": (0.0, 0.0, 0.0),
    "listening": (0.0, 1.0, 0.0),
    "speaking": (0.0, 0.0, 1.0),
    "thinking": (1.0, 0.5, 0.0),
    "error": (1.0, 0.0, 0.0),
    "flagged": (0.6, 0.0, 1.0),
}
"""Status colour as (red, green, blue), 0 to 1. Thinking pulses; flagged blinks slowly."""

COLOUR_NAMES: dict[Status, str] = {
    "idle": "off",
    "listening": "green",
    "speaking": "blue",
    "thinking": "amber, pulsing",
    "error": "red",
    "flagged": "purple, blinking slowly (a flag for staff)",
}


def describe(lights: SetLights) -> str:
    lit = " ".join(b for b in BUTTONS if b in lights.buttons) or "none"
    return f"buttons lit: {lit}; status: {lights.status} ({COLOUR_NAMES[lights.status]})"


class GpioLights(Lights):
    """Button LEDs and the RGB status light on GPIO pins."""

    def __init__(self, settings: ButtonSettings, *, pin_factory: Any = None) -> None:
        from gpiozero import LED, RGBLED

        check_pins(settings)
        self.state = SetLights()
        self.leds: dict[Button, Any] = {}
        self.status_led: Any = None
        self.pwm = False
        try:
            for name, pin in led_pins(settings).items():
                self.leds[name] = LED(pin, pin_factory=pin_factory)
            if settings.status_led_pins is not None:
                red, green, blue = settings.status_led_pins
                try:
                    self.status_led = RGBLED(red, green, blue, pwm=True, pin_factory=pin_factory)
                    self.pwm = True
                except Exception:  # no PWM on these pins: full colours only
                    log.info("no PWM for the status light: amber shows as yellow, no pulsing")
                    self.status_led = RGBLED(red, green, blue, pwm=False, pin_factory=pin_factory)
        except Exception as exc:
            self.close()
            if isinstance(exc, ButtonError):
                raise
            raise ButtonError(f"The lights could not be set up on the GPIO pins: {exc}.") from exc
        self.name = "gpio"

    def apply(self, lights: SetLights) -> None:
        for name, led in self.leds.items():
            if name in lights.buttons:
                led.on()
            else:
                led.off()
        if self.status_led is not None and lights.status != self.state.status:
            self._status(lights.status)
        self.state = lights
        log.debug("lights: %s", describe(lights))

    def _status(self, status: Status) -> None:
        colour = COLOURS[status]
        led = self.status_led
        if not self.pwm:
            colour = (float(colour[0] > 0), float(colour[1] > 0), float(colour[2] > 0))
        if status == "thinking" and self.pwm:
            led.pulse(fade_in_time=0.6, fade_out_time=0.6, on_color=colour, off_color=(0, 0, 0))
        elif status == "flagged":
            # slow and distinct from the thinking pulse; with or without PWM
            led.blink(on_time=1.0, off_time=2.0, on_color=colour, off_color=(0, 0, 0))
        else:
            led.color = colour

    def close(self) -> None:
        for led in [*self.leds.values(), self.status_led]:
            if led is not None:
                try:
                    led.close()
                except Exception:
                    log.debug("closing %r failed", led, exc_info=True)
        self.leds.clear()
        self.status_led = None


class ConsoleLights(Lights):
    """Lights as text: logged, and printed to *out* when they change (development, demo)."""

    name = "console"

    def __init__(self, out: TextIO | None = None, *, printer: Callable[[str], None] | None = None):
        self.out = out
        self.printer = printer
        self.state: SetLights | None = None
        self.history: list[SetLights] = []

    def apply(self, lights: SetLights) -> None:
        if lights == self.state:
            return
        self.state = lights
        self.history.append(lights)
        text = describe(lights)
        log.info("lights: %s", text)
        if self.printer is not None:
            self.printer(text)
        elif self.out is not None:
            print(f"[{text}]", file=self.out, flush=True)

    def close(self) -> None:
        pass


def open_lights(
    settings: ButtonSettings, backend: str | None = None, *, pin_factory: Any = None
) -> Lights:
    """GPIO lights beside GPIO buttons; console lights otherwise.

    *backend* is the buttons' name (``buttons.name``, e.g. ``gpio:LGPIOFactory`` or
    ``keyboard``), or a config value (``auto``, ``gpio``, ...); None means the config's.
    With ``auto``, the lights are on GPIO on a Raspberry Pi; if they cannot be set up there, a
    :class:`~assistant.errors.DeviceFallback` warning says so and the console is used.
    """
    import warnings

    from assistant.buttons.select import pi_model
    from assistant.errors import DeviceFallback

    backend = backend or settings.backend
    if backend == "mock" and pin_factory is None:
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        pin_factory = MockFactory(pin_class=MockPWMPin)
    if backend.startswith("gpio") or backend == "mock":
        return GpioLights(settings, pin_factory=pin_factory)
    if backend == "auto" and (model := pi_model()) is not None:
        try:
            return GpioLights(settings, pin_factory=pin_factory)
        except ButtonError as exc:
            message = f"The lights on this {model} could not be set up ({exc}): shown as text."
            warnings.warn(DeviceFallback(message), stacklevel=2)
            log.warning("%s", message)
    return ConsoleLights(sys.stderr if backend == "keyboard" else None)
