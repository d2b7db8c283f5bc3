"""Big buttons (yes / no / next, help, repeat) and their lights.

One input stream for the whole program::

    from assistant.buttons import InputStream, open_buttons, open_lights

    stream = InputStream()
    stream.set_barge_in(speaker.stop)
    buttons = open_buttons(settings.buttons, stream)
    lights = open_lights(settings.buttons, buttons.name)

Back-ends: :class:`~assistant.buttons.gpio.GpioButtons` (gpiozero, any pin factory including
MockFactory), :class:`~assistant.buttons.keyboard.KeyboardButtons`, and
:class:`~assistant.buttons.keyboard.NoButtons`.
"""

from __future__ import annotations

from assistant.buttons.base import (
    BUTTONS,
    HOLD_ACTIONS,
    ButtonInput,
    Buttons,
    InputStream,
    PressLogic,
)
from assistant.buttons.lights import ConsoleLights, GpioLights, Lights, open_lights
from assistant.buttons.select import open_buttons

__all__ = [
    "BUTTONS",
    "HOLD_ACTIONS",
    "ButtonInput",
    "Buttons",
    "ConsoleLights",
    "GpioLights",
    "Lights",
    "InputStream",
    "PressLogic",
    "open_buttons",
    "open_lights",
]
