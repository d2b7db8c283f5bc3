"""The long-running device service: ``assistant service`` (run by systemd, see ``systemd/``).

It tells systemd when it is ready (``READY=1``), what it is doing (``STATUS=...``) and that it is
still alive (``WATCHDOG=1``, every half of ``WatchdogSec``). The pings come from the main thread,
and only while the session loop is alive:

* if the session loop's thread dies of a bug, the pings stop and the service exits non-zero,
  so systemd restarts it;
* if the loop shows no sign of life for ``SESSION_STALE_S`` (five minutes: longer than any
  prompt or answer), the pings stop and systemd restarts it. Signs of life: waiting on the
  input stream (about every second, see :func:`assistant.buttons.base.set_alive_hook`),
  starting or ending a session, and :func:`beat`.

The session loop is ``assistant run``'s, one session after another; a session that cannot
start for a reason the program knows (say, no microphone: an
:class:`~assistant.errors.AssistantError`) is logged and tried again after
``RETRY_S`` seconds, without restarting the service. The session is
:func:`assistant.app.run_device`'s, on the device the one builder makes. With ``--idle`` it
runs an idle loop instead: buttons and lights only, each press logged, for testing the hardware.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from assistant.config import Settings

log = logging.getLogger(__name__)

DEFAULT_PING_S = 10.0
"""Ping interval when systemd gives no WATCHDOG_USEC (harmless: the pings go nowhere)."""
SESSION_STALE_S = 300.0
"""No sign of life from the session loop for this long means it is stuck."""
RETRY_S = 10.0
"""Wait before trying again when a session could not start (no microphone, say)."""
NOTIFY_TIMEOUT_S = 0.5
"""Longest a message to systemd may wait for room on its socket; then it is dropped.
A unix datagram socket holds only a few unread messages (``net.unix.max_dgram_qlen``, 10 by
default) and sdnotify's socket blocks when they are full, which would freeze the main thread:
no more pings, and a SIGTERM that is never acted on. (systemd itself reads them at once.)"""


class Notifier(Protocol):
    def notify(self, state: str) -> None: ...


def systemd_notifier() -> Notifier:
    """sdnotify's notifier (it does nothing when NOTIFY_SOCKET is not set), whose sends give
    up after :data:`NOTIFY_TIMEOUT_S` rather than block the service."""
    import sdnotify

    notifier = sdnotify.SystemdNotifier()  # (its notify() swallows a failed send)
    if notifier.socket is not None:
        notifier.socket.settimeout(NOTIFY_TIMEOUT_S)
    result: Notifier = notifier
    return result


def watchdog_interval() -> float | None:
    """Half the systemd watchdog timeout, or None when there is no watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(0.01, int(usec) / 1_000_000 / 2)
    except ValueError:
        return None


class Heartbeat:
    """The session loop's sign of life. Until the first beat, a live thread counts as alive."""

    def __init__(self, stale_after_s: float) -> None:
        self.stale_after_s = stale_after_s
        self._last: float | None = None
        self._lock = threading.Lock()

    def beat(self) -> None:
        with self._lock:
            self._last = time.monotonic()

    def fresh(self) -> bool:
        with self._lock:
            return self._last is None or time.monotonic() - self._last < self.stale_after_s


_current: Heartbeat | None = None
_current_service: Service | None = None


def beat() -> None:
    """Say the session loop is alive (any part of the program may call this; cheap)."""
    if _current is not None:
        _current.beat()


SessionLoop = Callable[[threading.Event], None]
"""Runs until the event is set (or forever); raises on a fault."""


def _run_one_session() -> Callable[[Settings, str | None], None]:
    """ "Run one session on this device": the device builder's (imported lazily)."""
    from assistant.app import run_device

    return run_device


def device_session_loop(settings: Settings, script: str | None = None) -> SessionLoop:
    """``assistant run``'s loop: one session after another until told to stop."""
    from assistant.errors import AssistantError

    run_session = _run_one_session()

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            beat()
            try:
                run_session(settings, script)
            except AssistantError as exc:
                log.error("a session could not run: %s (trying again in %g s)", exc, RETRY_S)
                _status_hook(f"waiting: {exc}")
                deadline = time.monotonic() + RETRY_S
                while time.monotonic() < deadline and not stop.wait(min(1.0, RETRY_S)):
                    beat()
                continue
            beat()
            if not stop.wait(1.0):
                log.info("session over; ready for the next")

    return loop


def warm_missing_prompts(settings: Settings) -> threading.Thread | None:
    """At start, on a board whose profile says so (every Raspberry Pi), synthesise into the
    prompt cache the installed scripts' prompts not there yet (a script published since
    install), on a lowest-priority thread that waits while a session is under way
    (``assistant/voice/warm.py``); None when the cache is off or the voice cannot be opened
    (the session says why)."""
    from assistant.app import SESSION_UNDER_WAY
    from assistant.errors import AssistantError
    from assistant.pi import profile_in_force
    from assistant.voice import open_voice
    from assistant.voice.warm import installed_prompts, warm_in_background

    if settings.voice.cache_max_mb == 0 or not profile_in_force(settings)[0].warm_prompt_cache:
        return None  # (``assistant models warm`` fills it on any board)
    try:
        voice = open_voice(settings)
    except AssistantError as exc:
        log.warning("The prompt cache is not warmed: %s", exc)
        return None
    return warm_in_background(voice, lambda: installed_prompts(settings), SESSION_UNDER_WAY.is_set)


def _status_hook(text: str) -> None:
    if _current_service is not None:
        _current_service.status(text)


def idle_loop(settings: Settings) -> SessionLoop:
    """Buttons and lights only: each press is logged and lights its button for a moment."""

    def loop(stop: threading.Event) -> None:
        from assistant.app import build_device
        from assistant.dialogue.events import SetLights

        device = build_device(settings, speech="none", audio="none", store=False)
        buttons, lights, stream = device.buttons, device.lights, device.inputs
        assert lights is not None  # the builder always gives lights with buttons
        try:
            lights.apply(SetLights(buttons.buttons, "idle"))
            while not stop.is_set():
                beat()
                event = stream.get(timeout=1.0)
                if event is not None:
                    log.warning("input: %s", event)
        finally:
            lights.apply(SetLights())
            device.close()

    return loop


def request_shutdown() -> None:
    """Yes and no held together: power the device off safely (a polkit rule allows it)."""
    log.warning("safe shutdown requested from the buttons")
    try:
        subprocess.run(["systemctl", "poweroff"], check=False, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        log.error("could not power off: %s", exc)


class Service:
    """Runs a session loop in a thread and keeps systemd informed."""

    def __init__(
        self,
        loop: SessionLoop,
        *,
        notifier: Notifier | None = None,
        ping_s: float | None = None,
        stale_after_s: float | None = None,
        name: str = "session loop",
    ) -> None:
        self.loop = loop
        self.notifier = notifier if notifier is not None else systemd_notifier()
        interval = watchdog_interval()
        self.watchdog = interval is not None
        self.ping_s = ping_s or interval or DEFAULT_PING_S
        self.heartbeat = Heartbeat(stale_after_s or SESSION_STALE_S)
        self.name = name
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.pings = 0

    def status(self, text: str) -> None:
        """A STATUS= line for ``systemctl status``."""
        log.info("status: %s", text)
        self.notifier.notify(f"STATUS={text}")

    def _target(self) -> None:
        try:
            self.loop(self.stop)
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def run(self) -> int:
        """Run until stopped (0) or the loop fails (1)."""
        global _current, _current_service
        from assistant.buttons.base import set_alive_hook

        _current, _current_service = self.heartbeat, self
        set_alive_hook(self.heartbeat.beat)
        worker = threading.Thread(target=self._target, name="session-loop", daemon=True)
        worker.start()
        self.status(f"running the {self.name}")
        self.notifier.notify("READY=1")
        try:
            while not self.stop.is_set():
                if not worker.is_alive():
                    break
                if self.heartbeat.fresh():
                    self.notifier.notify("WATCHDOG=1")
                    self.pings += 1
                else:
                    log.error("the %s has not beaten for a while: no watchdog ping", self.name)
                    self.status(f"the {self.name} seems stuck")
                self.stop.wait(self.ping_s)
        finally:
            _current, _current_service = None, None
            set_alive_hook(None)
        if self.stop.is_set():
            self.notifier.notify("STOPPING=1")
            self.status("stopped")
            worker.join(timeout=5)
            return 0
        if self.error is not None:
            log.error("the %s failed: %s", self.name, self.error, exc_info=self.error)
            self.status(f"failed: {self.error}")
            return 1
        self.status(f"the {self.name} ended")
        return 0


def run_service(settings: Settings, *, idle: bool = False, script: str | None = None) -> int:
    """The ``assistant service`` entry: pick the loop, handle SIGTERM, run."""
    loop: SessionLoop
    name = "session loop"
    if idle:
        loop, name = idle_loop(settings), "idle loop (buttons only)"
    else:
        loop = device_session_loop(settings, script)
        warm_missing_prompts(settings)  # in the background, waiting while a session runs
    from assistant.buttons.base import set_shutdown_handler

    set_shutdown_handler(request_shutdown)  # yes + no held 5 s, whoever opens the buttons
    service = Service(loop, name=name)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        service.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return service.run()
