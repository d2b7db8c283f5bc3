"""The one input stream, and the press logic every button back-end shares.

Every press (and every speech event the shell adds) goes into one :class:`InputStream`, so the
rest of the program has one place to read inputs::

    stream = InputStream()
    stream.set_barge_in(speaker.stop)        # called at once, from the button thread
    buttons = open_buttons(settings.buttons, stream)
    with stream.prompt():                    # the device is talking: a press stops it
        speaker.play(pcm, rate)
        speaker.wait()
    event = stream.get(timeout=10)           # ButtonPressed, SpeechHeard, ... or None

What a press means (the same on every back-end):

* **yes, no, repeat** are delivered the moment the button goes down.
* **next and help** have a hold action, so they are delivered when the button comes up
  (``held=False``), or once it has been held for ``hold_time_s`` (``held=True``): hold next to
  hear the question again, hold help to flag the moment for staff.
* A press while the device is talking calls the barge-in callback at once (on the way down),
  and the delivered event says ``while_speaking=True``.
* Bounces within ``bounce_time_s`` of an accepted edge are ignored (the first edge counts, so
  debouncing adds no delay).
* A button pressed more than ``chatter_limit`` times in one second, or held down for longer
  than ``stuck_after_s``, is ignored and logged; it is used again once it has been quiet for
  ``quiet_s`` (chatter) or is let go (stuck).
* Holding yes and no together for ``shutdown_hold_s`` (5 s) calls the shutdown callback, if one
  is registered (the device service asks for a safe shutdown).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from assistant.dialogue.events import Button, ButtonPressed, Event, SetLights

log = logging.getLogger(__name__)

BUTTONS: tuple[Button, ...] = ("yes", "no", "next", "help", "repeat")
HOLD_ACTIONS: frozenset[Button] = frozenset({"next", "help"})
"""Buttons whose hold means something different, so their press is delivered on release."""

STUCK_AFTER_S = 30.0
QUIET_S = 2.0
SHUTDOWN_HOLD_S = 5.0


ALIVE_EVERY_S = 1.0
_alive_hook: Callable[[], None] | None = None


def set_alive_hook(hook: Callable[[], None] | None) -> None:
    """Called (about every second) while anything waits on an InputStream: a sign of life."""
    global _alive_hook
    _alive_hook = hook


class InputStream:
    """One thread-safe queue of input events: button presses and speech, in arrival order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Event] = queue.Queue()
        self._speaking = threading.Event()
        self._barge_in: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self.barge_ins = 0
        """How many prompts a press has cut short (for logs and benchmarks)."""

    # ------------------------------------------------------------------ inputs

    def put(self, event: Event) -> None:
        """Add an event (any thread)."""
        self._queue.put(event)

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None if none came within *timeout* seconds.

        While it waits it tells the alive hook (the device service's watchdog) every second
        that the program is alive and waiting for input, not stuck.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            hook = _alive_hook
            if hook is not None:
                hook()
            step = ALIVE_EVERY_S
            if deadline is not None:
                step = min(step, deadline - time.monotonic())
                if step <= 0:
                    return None
            try:
                return self._queue.get(timeout=step)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    return None

    def drain(self) -> list[Event]:
        """Every event waiting now, oldest first, without blocking."""
        out: list[Event] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def empty(self) -> bool:
        return self._queue.empty()

    # ------------------------------------------------------------------ barge-in

    def set_barge_in(self, callback: Callable[[], None] | None) -> None:
        """Register what to call (from the button thread) when a press interrupts speech."""
        with self._lock:
            self._barge_in = callback

    @property
    def speaking(self) -> bool:
        """True while the device is saying an interruptible prompt."""
        return self._speaking.is_set()

    @speaking.setter
    def speaking(self, value: bool) -> None:
        if value:
            self._speaking.set()
        else:
            self._speaking.clear()

    @contextmanager
    def prompt(self, interruptible: bool = True) -> Iterator[None]:
        """Mark the device as talking for the duration of the block."""
        self.speaking = interruptible
        try:
            yield
        finally:
            self.speaking = False

    def interrupt(self) -> bool:
        """A button went down: if the device is talking, stop it now. True if it was talking."""
        with self._lock:
            if not self._speaking.is_set():
                return False
            self._speaking.clear()
            callback = self._barge_in
            self.barge_ins += 1
        if callback is not None:
            try:
                callback()
            except Exception:  # a failing speaker must never break the buttons
                log.exception("barge-in callback failed")
        return True


class Buttons:
    """The base class of every set of buttons (GPIO, keyboard, none), as gpiozero's ``Pin``.

    A back-end feeds the :class:`InputStream` it was given, from its own thread, through a
    :class:`PressLogic` per button (so a press means the same everywhere).

    Must provide: :attr:`name` (which back-end, e.g. ``gpio:LGPIOFactory`` or ``keyboard``)
    and :attr:`buttons` (the buttons it has).

    May provide: :meth:`close`, to let go of pins or the terminal; nothing by default.
    """

    name: str = "buttons"
    buttons: frozenset[Button] = frozenset()

    def close(self) -> None:
        """Let go of the hardware; nothing to do by default."""


ButtonInput = Buttons
"""The old name of :class:`Buttons`."""


class Lights:
    """The base class of the button lights and the status light (GPIO LEDs, or text).

    Must provide: :attr:`name` and :meth:`apply` (show which buttons mean something now, and
    the status, from :class:`~assistant.dialogue.events.SetLights`).

    May provide: :meth:`close`, to turn everything off and let go of the pins; nothing by
    default.
    """

    name: str = "lights"

    def apply(self, lights: SetLights) -> None:
        """Show which buttons mean something now, and the status."""
        raise NotImplementedError

    def close(self) -> None:
        """Turn off and let go; nothing to do by default."""


class PressLogic:
    """Turns raw edges (down/up, any thread) into ButtonPressed events for one button.

    Back-ends call :meth:`edge` with the button's new state; all timing is here, so every
    back-end debounces, holds and ignores chatter in the same way.
    """

    def __init__(
        self,
        button: Button,
        stream: InputStream,
        *,
        bounce_time_s: float = 0.05,
        hold_time_s: float = 2.0,
        chatter_limit: int = 10,
        stuck_after_s: float = STUCK_AFTER_S,
        quiet_s: float = QUIET_S,
        is_down: Callable[[], bool] | None = None,
        on_change: Callable[[PressLogic], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.button = button
        self.stream = stream
        self.bounce_time_s = bounce_time_s
        self.hold_time_s = hold_time_s
        self.chatter_limit = chatter_limit
        self.stuck_after_s = stuck_after_s
        self.quiet_s = quiet_s
        self._is_down = is_down
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.RLock()
        self.down = False
        """The debounced state."""
        self._last_edge = -1e9
        self._last_raw = -1e9
        self._press_id = 0
        self._interrupted = False
        self._delivered = False
        self._recent: deque[float] = deque()
        self.chattering = False
        self.stuck = False
        self._timers: list[threading.Timer] = []
        self._press_timers: list[threading.Timer] = []
        self.accepted = 0
        self.ignored = 0

    @property
    def enabled(self) -> bool:
        return not (self.chattering or self.stuck)

    # ------------------------------------------------------------------ edges

    def edge(self, down: bool) -> None:
        """The pin changed (from the back-end's callback thread)."""
        now = self._clock()
        with self._lock:
            quiet_for = now - self._last_raw
            self._last_raw = now
            if self.chattering and quiet_for >= self.quiet_s:
                self.chattering = False
                self._recent.clear()
                log.warning("button %s is quiet again and is used again", self.button)
            if down == self.down:
                return
            if now - self._last_edge < self.bounce_time_s:
                # a bounce: check the settled state once the bounce time is over
                self._schedule(self.bounce_time_s - (now - self._last_edge) + 0.001, self._settle)
                return
            self._accept(down, now)

    def _settle(self) -> None:
        if self._is_down is None:
            return
        actual = bool(self._is_down())
        with self._lock:
            if actual != self.down and self._clock() - self._last_edge >= self.bounce_time_s:
                self._accept(actual, self._clock())

    def _accept(self, down: bool, now: float) -> None:
        self.down = down
        self._last_edge = now
        if down:
            self._pressed(now)
        else:
            self._released()
        if self._on_change is not None:
            self._on_change(self)

    def _pressed(self, now: float) -> None:
        self._press_id += 1
        self._recent.append(now)
        while self._recent and now - self._recent[0] > 1.0:
            self._recent.popleft()
        if not self.chattering and len(self._recent) > self.chatter_limit:
            self.chattering = True
            log.warning(
                "button %s pressed %d times in one second: ignoring it until it is quiet "
                "for %g s (a loose wire or a chattering switch?)",
                self.button,
                len(self._recent),
                self.quiet_s,
            )
        if not self.enabled:
            self.ignored += 1
            self._delivered = True
            return
        self._delivered = False
        self._interrupted = self.stream.interrupt()
        press_id = self._press_id
        if self.button in HOLD_ACTIONS:
            self._press_timers.append(
                self._schedule(self.hold_time_s, lambda: self._held(press_id))
            )
        else:
            self._deliver(held=False)
        self._press_timers.append(
            self._schedule(self.stuck_after_s, lambda: self._check_stuck(press_id))
        )

    def _released(self) -> None:
        for timer in self._press_timers:  # this press's hold and stuck timers
            timer.cancel()
        self._press_timers.clear()
        if self.stuck:
            self.stuck = False
            self._delivered = True
            log.warning("button %s was let go and is used again", self.button)
            return
        if not self._delivered and self.enabled:
            self._deliver(held=False)

    def _held(self, press_id: int) -> None:
        with self._lock:
            if press_id == self._press_id and self.down and not self._delivered and self.enabled:
                self._deliver(held=True)

    def _check_stuck(self, press_id: int) -> None:
        with self._lock:
            if press_id == self._press_id and self.down and not self.stuck:
                self.stuck = True
                log.warning(
                    "button %s held down for over %g s: ignoring it until it is let go "
                    "(stuck switch, or something resting on it?)",
                    self.button,
                    self.stuck_after_s,
                )

    def _deliver(self, held: bool) -> None:
        self._delivered = True
        self.accepted += 1
        self.stream.put(
            ButtonPressed(button=self.button, held=held, while_speaking=self._interrupted)
        )

    def tap(self, held: bool = False) -> None:
        """A whole press at once (keyboard back-end): barge-in, then the event."""
        with self._lock:
            self._interrupted = self.stream.interrupt()
            self._deliver(held=held)

    # ------------------------------------------------------------------ timers

    def _schedule(self, delay: float, fn: Callable[[], None]) -> threading.Timer:
        timer = threading.Timer(max(0.0, delay), fn)
        timer.daemon = True
        self._timers = [t for t in self._timers if t.is_alive()]
        self._timers.append(timer)
        timer.start()
        return timer

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


_shutdown_handler: Callable[[], None] | None = None


def set_shutdown_handler(handler: Callable[[], None] | None) -> None:
    """What holding yes and no together does, for buttons opened without ``on_shutdown``.

    The device service sets this (power off safely), so the chord works whoever opens the
    buttons; elsewhere (development, tests) it stays unset and the chord does nothing.
    """
    global _shutdown_handler
    _shutdown_handler = handler


def shutdown_handler() -> Callable[[], None] | None:
    return _shutdown_handler


class ShutdownChord:
    """Calls *callback* once when yes and no are both held down for *hold_s* seconds."""

    def __init__(self, callback: Callable[[], None], hold_s: float = SHUTDOWN_HOLD_S) -> None:
        self.callback = callback
        self.hold_s = hold_s
        self._lock = threading.Lock()
        self._down: set[Button] = set()
        self._generation = 0
        self._timer: threading.Timer | None = None

    def change(self, logic: PressLogic) -> None:
        with self._lock:
            if logic.down:
                self._down.add(logic.button)
            else:
                self._down.discard(logic.button)
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if {"yes", "no"} <= self._down:
                generation = self._generation
                self._timer = threading.Timer(self.hold_s, lambda: self._fire(generation))
                self._timer.daemon = True
                self._timer.start()

    def _fire(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation or not {"yes", "no"} <= self._down:
                return
        log.warning("yes and no held together for %g s: safe shutdown requested", self.hold_s)
        self.callback()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
