"""Buttons on gpiozero MockFactory pins: real Button objects, mock pins driven low and high."""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from assistant.buttons import InputStream, open_buttons
from assistant.buttons.gpio import GpioButtons
from assistant.buttons.keyboard import KeyboardButtons, NoButtons
from assistant.config import ButtonSettings
from assistant.dialogue.events import ButtonPressed, SpeechHeard
from assistant.errors import ButtonError, DeviceFallback
from assistant.stt.base import Transcript


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


def make(factory, stream=None, **settings):
    defaults = {"bounce_time_s": 0.05, "hold_time_s": 0.3, "chatter_limit": 5}
    defaults.update(settings)
    extra = {k: defaults.pop(k) for k in ("stuck_after_s", "quiet_s") if k in defaults}
    s = ButtonSettings(**defaults)
    stream = stream or InputStream()
    return GpioButtons(s, stream, pin_factory=factory, **extra), stream


def press(factory, pin, hold=0.0):
    p = factory.pin(pin)
    p.drive_low()
    if hold:
        time.sleep(hold)
    p.drive_high()


def events(stream, wait=0.0):
    time.sleep(wait)
    return stream.drain()


def test_tap_buttons_deliver_on_press_down(factory):
    buttons, stream = make(factory)
    with buttons:
        factory.pin(17).drive_low()
        assert stream.get(timeout=1) == ButtonPressed("yes")
        factory.pin(17).drive_high()
        factory.pin(27).drive_low()
        assert stream.get(timeout=1) == ButtonPressed("no")
        assert buttons.buttons == {"yes", "no", "next", "help", "repeat"}
        assert buttons.name == "gpio:MockFactory"


def test_debounce_bounces_give_one_press(factory):
    buttons, stream = make(factory, bounce_time_s=0.05)
    with buttons:
        pin = factory.pin(17)
        for _ in range(4):  # contact bounce, a few milliseconds
            pin.drive_low()
            pin.drive_high()
        pin.drive_low()
        time.sleep(0.15)
        pin.drive_high()
        assert events(stream, 0.15) == [ButtonPressed("yes")]
        # a second real press after the bounce time counts again
        time.sleep(0.06)
        press(factory, 17)
        assert events(stream, 0.1) == [ButtonPressed("yes")]


def test_without_debounce_each_bounce_counts(factory):
    """The debounce test above can fail: with no bounce time each edge is a press."""
    buttons, stream = make(factory, bounce_time_s=0.0)
    with buttons:
        for _ in range(3):
            press(factory, 17)
        assert len(events(stream, 0.05)) == 3


def test_short_tap_inside_bounce_time_is_released(factory):
    buttons, stream = make(factory, bounce_time_s=0.05)
    with buttons:
        press(factory, 22)  # next: delivered on release, the release is inside the bounce time
        assert stream.get(timeout=1) == ButtonPressed("next")
        assert not buttons.logic["next"].down


def test_hold_next_is_held_after_hold_time(factory):
    buttons, stream = make(factory, hold_time_s=0.3)
    with buttons:
        pin = factory.pin(22)
        pin.drive_low()
        assert stream.get(timeout=0.2) is None  # not yet: it might become a hold
        assert stream.get(timeout=1) == ButtonPressed("next", held=True)
        pin.drive_high()
        assert events(stream, 0.1) == []  # the release after a hold adds nothing
        press(factory, 22, hold=0.1)
        assert stream.get(timeout=1) == ButtonPressed("next", held=False)


def test_hold_help_flags(factory):
    buttons, stream = make(factory, hold_time_s=0.2)
    with buttons:
        press(factory, 23, hold=0.35)
        assert events(stream, 0.05) == [ButtonPressed("help", held=True)]


def test_two_buttons_at_once(factory):
    buttons, stream = make(factory)
    with buttons:
        factory.pin(17).drive_low()
        factory.pin(22).drive_low()
        factory.pin(17).drive_high()
        factory.pin(22).drive_high()
        assert events(stream, 0.1) == [ButtonPressed("yes"), ButtonPressed("next")]


def test_presses_from_many_threads_all_arrive(factory):
    buttons, stream = make(factory)
    with buttons:
        threads = [threading.Thread(target=press, args=(factory, pin)) for pin in (17, 27, 24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = events(stream, 0.1)
        assert sorted(e.button for e in got) == ["no", "repeat", "yes"]


def test_press_while_speaking_calls_barge_in_at_once(factory):
    stopped: list[float] = []
    stream = InputStream()
    stream.set_barge_in(lambda: stopped.append(time.monotonic()))
    buttons, _ = make(factory, stream)
    with buttons:
        with stream.prompt():
            t0 = time.monotonic()
            factory.pin(22).drive_low()  # next: the event waits for the release; barge-in doesn't
            assert len(stopped) == 1
            assert stopped[0] - t0 < 0.05
            assert not stream.speaking
            factory.pin(22).drive_high()
            assert stream.get(timeout=1) == ButtonPressed("next", while_speaking=True)
        # not speaking: no barge-in
        press(factory, 17)
        assert stream.get(timeout=1) == ButtonPressed("yes")
        assert len(stopped) == 1


def test_speech_shares_the_stream(factory):
    buttons, stream = make(factory)
    with buttons:
        press(factory, 17)
        stream.put(SpeechHeard(Transcript("yes please", 0.9, "fake")))
        got = events(stream, 0.05)
        assert [type(e) for e in got] == [ButtonPressed, SpeechHeard]


def test_chattering_button_is_ignored_then_used_again(factory, caplog):
    caplog.set_level(logging.WARNING)
    buttons, stream = make(factory, bounce_time_s=0.0, chatter_limit=5, quiet_s=0.3)
    with buttons:
        for _ in range(12):
            press(factory, 17)
            time.sleep(0.01)
        got = events(stream, 0.05)
        assert len(got) == 5  # the limit, then nothing
        assert buttons.logic["yes"].chattering
        assert "pressed 6 times in one second" in caplog.text
        # other buttons still work
        press(factory, 27)
        assert events(stream, 0.05) == [ButtonPressed("no")]
        time.sleep(0.35)  # quiet for longer than quiet_s
        press(factory, 17)
        assert events(stream, 0.05) == [ButtonPressed("yes")]
        assert "used again" in caplog.text


def test_stuck_button_is_ignored_until_let_go(factory, caplog):
    caplog.set_level(logging.WARNING)
    buttons, stream = make(factory, hold_time_s=0.1, stuck_after_s=0.3)
    with buttons:
        factory.pin(24).drive_low()  # repeat, stuck down
        assert stream.get(timeout=1) == ButtonPressed("repeat")
        time.sleep(0.6)
        assert buttons.logic["repeat"].stuck
        assert "held down for over" in caplog.text
        factory.pin(24).drive_high()
        assert not buttons.logic["repeat"].stuck
        time.sleep(0.06)  # past the bounce time
        press(factory, 24)
        assert events(stream, 0.05) == [ButtonPressed("repeat")]


def test_a_released_press_leaves_no_timers_running(factory):
    buttons, stream = make(factory, chatter_limit=50)
    with buttons:
        before = threading.active_count()
        for _ in range(20):
            press(factory, 22, hold=0.06)  # next: a hold timer and a stuck timer per press
            time.sleep(0.06)
        time.sleep(0.1)
        assert len(events(stream)) == 20
        assert threading.active_count() <= before + 2


def test_shutdown_chord(factory):
    asked = threading.Event()
    s = ButtonSettings()
    stream = InputStream()
    with GpioButtons(s, stream, pin_factory=factory, on_shutdown=asked.set) as buttons:
        assert buttons._chord is not None
        buttons._chord.hold_s = 0.2  # the real 5 s, shortened for the test
        factory.pin(17).drive_low()
        factory.pin(27).drive_low()
        time.sleep(0.1)
        factory.pin(27).drive_high()  # let go too soon: nothing
        assert not asked.wait(0.3)
        factory.pin(27).drive_low()
        assert asked.wait(1)


def test_shutdown_handler_set_globally(factory):
    from assistant.buttons.base import set_shutdown_handler

    asked = threading.Event()
    set_shutdown_handler(asked.set)
    try:
        buttons, _ = make(factory)
    finally:
        set_shutdown_handler(None)
    with buttons:
        assert buttons._chord is not None and buttons._chord.callback == asked.set
    plain, _ = make(factory)
    with plain:
        assert plain._chord is None


def test_pin_clash_is_a_clear_error(factory):
    with pytest.raises(ButtonError, match="both set to GPIO 17"):
        GpioButtons(ButtonSettings(no_pin=17), InputStream(), pin_factory=factory)
    with pytest.raises(ButtonError, match="yes button has no pin"):
        GpioButtons(ButtonSettings(yes_pin=None), InputStream(), pin_factory=factory)


def test_optional_buttons_can_be_left_out(factory):
    buttons, stream = make(factory, help_pin=None, repeat_pin=None)
    with buttons:
        assert buttons.buttons == {"yes", "no", "next"}


# ---------------------------------------------------------------- keyboard


def test_keyboard_through_a_pty():
    master, slave = os.openpty()
    stream = InputStream()
    stopped = []
    stream.set_barge_in(lambda: stopped.append(1))
    try:
        with KeyboardButtons(stream, slave) as kb:
            import termios

            assert not termios.tcgetattr(slave)[3] & termios.ICANON  # cbreak: no Enter needed
            os.write(master, b"yn")
            assert stream.get(timeout=2) == ButtonPressed("yes")
            assert stream.get(timeout=2) == ButtonPressed("no")
            stream.speaking = True
            os.write(master, b" XHq")
            assert stream.get(timeout=2) == ButtonPressed("next", while_speaking=True)
            assert stream.get(timeout=2) == ButtonPressed("next", held=True)
            assert stream.get(timeout=2) == ButtonPressed("help", held=True)
            assert stream.get(timeout=0.2) is None  # q is not a button
            assert stopped == [1]
            assert kb.name == "keyboard"
        assert termios.tcgetattr(slave)[3] & termios.ICANON  # restored
    finally:
        os.close(master)
        os.close(slave)


def test_keyboard_from_a_pipe():
    r, w = os.pipe()
    stream = InputStream()
    try:
        with KeyboardButtons(stream, r):
            os.write(w, b"r\nh")
            assert stream.get(timeout=2) == ButtonPressed("repeat")
            assert stream.get(timeout=2) == ButtonPressed("help")
    finally:
        os.close(w)
        os.close(r)


# ---------------------------------------------------------------- choosing a back-end


def test_auto_off_a_pi_with_a_terminal_falls_back_to_keyboard(caplog):
    caplog.set_level(logging.WARNING)
    master, slave = os.openpty()
    try:
        with pytest.warns(DeviceFallback, match="not a Raspberry Pi"):
            buttons = open_buttons(ButtonSettings(), InputStream(), is_pi=False, keyboard_fd=slave)
        assert isinstance(buttons, KeyboardButtons)
        buttons.close()
        assert "buttons: keyboard, because this is not a Raspberry Pi" in caplog.text
    finally:
        os.close(master)
        os.close(slave)


def test_auto_without_a_terminal_has_no_buttons(monkeypatch):
    monkeypatch.setattr("assistant.buttons.select._stdin_is_tty", lambda: False)
    with pytest.warns(DeviceFallback, match="no terminal"):
        buttons = open_buttons(ButtonSettings(), InputStream(), is_pi=False)
    assert isinstance(buttons, NoButtons)


def test_the_environment_overrides_the_configured_back_end(monkeypatch):
    monkeypatch.setenv("ASSISTANT_BUTTONS", "none")
    buttons = open_buttons(ButtonSettings(backend="keyboard"), InputStream())
    assert isinstance(buttons, NoButtons)
    monkeypatch.setenv("ASSISTANT_BUTTONS", "jelly")
    with pytest.raises(ButtonError, match="ASSISTANT_BUTTONS='jelly' is not a button back-end"):
        open_buttons(ButtonSettings(), InputStream())


def test_auto_on_a_pi_uses_gpio(factory):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeviceFallback)
        buttons = open_buttons(ButtonSettings(), InputStream(), is_pi=True, pin_factory=factory)
    assert isinstance(buttons, GpioButtons)
    buttons.close()


def test_mock_backend():
    stream = InputStream()
    buttons = open_buttons(ButtonSettings(backend="mock"), stream)
    assert buttons.name == "gpio:MockFactory"
    buttons.close()
