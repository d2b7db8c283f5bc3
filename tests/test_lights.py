"""Lights follow SetLights: button LEDs and the RGB status light on MockFactory pins."""

from __future__ import annotations

import io
import logging
import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from assistant.buttons.lights import ConsoleLights, GpioLights, open_lights
from assistant.config import ButtonSettings
from assistant.dialogue.events import SetLights
from assistant.errors import ButtonError

LED_PINS = {"yes": 5, "no": 6, "next": 13, "help": 19, "repeat": 26}


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


def lit(factory):
    return {name for name, pin in LED_PINS.items() if factory.pin(pin).state}


def rgb(factory):
    return tuple(round(float(factory.pin(p).state), 2) for p in (16, 20, 21))


def test_only_the_buttons_that_mean_something_are_lit(factory):
    lights = GpioLights(ButtonSettings(), pin_factory=factory)
    try:
        assert lit(factory) == set()
        lights.apply(SetLights(frozenset({"yes", "no"}), "listening"))
        assert lit(factory) == {"yes", "no"}
        lights.apply(SetLights(frozenset({"next", "help", "repeat"}), "speaking"))
        assert lit(factory) == {"next", "help", "repeat"}
        lights.apply(SetLights())
        assert lit(factory) == set()
    finally:
        lights.close()


@pytest.mark.parametrize(
    ("status", "colour"),
    [
        ("listening", (0.0, 1.0, 0.0)),
        ("speaking", (0.0, 0.0, 1.0)),
        ("error", (1.0, 0.0, 0.0)),
        ("idle", (0.0, 0.0, 0.0)),
    ],
)
def test_status_colours(factory, status, colour):
    lights = GpioLights(ButtonSettings(), pin_factory=factory)
    try:
        lights.apply(SetLights(status="thinking"))  # start elsewhere so each is a change
        lights.apply(SetLights(status=status))
        assert rgb(factory) == colour
    finally:
        lights.close()


def test_thinking_pulses_amber(factory):
    lights = GpioLights(ButtonSettings(), pin_factory=factory)
    try:
        assert lights.pwm
        lights.apply(SetLights(status="thinking"))
        seen = set()
        for _ in range(30):
            seen.add(rgb(factory))
            time.sleep(0.04)
        reds = {r for r, _, _ in seen}
        assert len(reds) > 3  # it changes: pulsing
        assert all(abs(g - r / 2) < 0.05 and b == 0 for r, g, b in seen)  # amber: green = red/2
        lights.apply(SetLights(status="listening"))
        time.sleep(0.05)
        assert rgb(factory) == (0.0, 1.0, 0.0)  # the pulse stopped
    finally:
        lights.close()


def test_without_pwm_amber_is_steady_yellow():
    factory = MockFactory()  # plain pins: no PWM
    try:
        lights = GpioLights(ButtonSettings(), pin_factory=factory)
        assert not lights.pwm
        lights.apply(SetLights(status="thinking"))
        assert rgb(factory) == (1.0, 1.0, 0.0)
        lights.close()
    finally:
        factory.reset()


def test_no_status_light_configured(factory):
    lights = GpioLights(ButtonSettings(status_led_pins=None), pin_factory=factory)
    lights.apply(SetLights(frozenset({"yes"}), "listening"))
    assert lit(factory) == {"yes"}
    lights.close()


def test_led_pin_clash(factory):
    with pytest.raises(ButtonError, match="GPIO 17"):
        GpioLights(ButtonSettings(yes_led_pin=17), pin_factory=factory)


def test_console_lights_print_changes_only(caplog):
    caplog.set_level(logging.INFO)
    out = io.StringIO()
    lights = ConsoleLights(out)
    lights.apply(SetLights(frozenset({"no", "yes"}), "listening"))
    lights.apply(SetLights(frozenset({"no", "yes"}), "listening"))
    lights.apply(SetLights(status="error"))
    assert out.getvalue().splitlines() == [
        "[buttons lit: yes no; status: listening (green)]",
        "[buttons lit: none; status: error (red)]",
    ]
    assert "lights: buttons lit: yes no" in caplog.text


def test_open_lights_matches_the_buttons(factory):
    assert isinstance(open_lights(ButtonSettings(), "keyboard"), ConsoleLights)
    assert isinstance(open_lights(ButtonSettings(), "none"), ConsoleLights)
    lights = open_lights(ButtonSettings(), "gpio:MockFactory", pin_factory=factory)
    assert isinstance(lights, GpioLights)
    lights.close()


def test_open_lights_auto_follows_the_board(factory, monkeypatch):
    monkeypatch.setattr("assistant.buttons.select.pi_model", lambda: None)
    assert isinstance(open_lights(ButtonSettings(), "auto"), ConsoleLights)
    monkeypatch.setattr("assistant.buttons.select.pi_model", lambda: "Raspberry Pi 5 Model B")
    lights = open_lights(ButtonSettings(), "auto", pin_factory=factory)
    assert isinstance(lights, GpioLights)
    lights.close()
    mock = open_lights(ButtonSettings(backend="mock"))
    assert isinstance(mock, GpioLights)
    mock.close()


def test_an_open_flag_blinks_purple_slowly_then_the_light_goes_back(factory):
    lights = GpioLights(ButtonSettings(), pin_factory=factory)
    try:
        lights.apply(SetLights(frozenset({"yes"}), "flagged"))
        seen = set()
        for _ in range(40):  # 3.2 s: at least one whole blink (1 s on, 2 s off)
            seen.add(rgb(factory))
            time.sleep(0.08)
        # purple, then off: blinking (three pins are read one by one, so a read can fall
        # between two of them as the light changes)
        assert {(0.6, 0.0, 1.0), (0.0, 0.0, 0.0)} <= seen
        assert all(g == 0.0 and r in (0.0, 0.6) and b in (0.0, 1.0) for r, g, b in seen)
        lights.apply(SetLights(frozenset({"yes"}), "idle"))
        time.sleep(0.1)
        assert rgb(factory) == (0.0, 0.0, 0.0)
        time.sleep(1.2)
        assert rgb(factory) == (0.0, 0.0, 0.0)  # the blinking stopped
    finally:
        lights.close()
