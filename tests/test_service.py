"""The device service talks to systemd: READY=1, STATUS=, and WATCHDOG=1 only while alive.

A unix datagram socket stands in for systemd's NOTIFY_SOCKET.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from assistant.service import Service, beat, systemd_notifier, watchdog_interval


class NotifySocket:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="sdn", dir="/tmp")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []

    def collect(self, until: float) -> list[str]:
        end = time.monotonic() + until
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data.decode()))
        return self.texts

    def wait_for(self, text: str, count: int = 1, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.texts.count(text) >= count:
                return True
            self.collect(0.1)
        return False

    @property
    def texts(self) -> list[str]:
        return [m for _, m in self.messages]

    def close(self) -> None:
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


@pytest.fixture
def notify(monkeypatch):
    ns = NotifySocket()
    monkeypatch.setenv("NOTIFY_SOCKET", ns.path)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # 0.2 s: a ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield ns
    ns.close()


def run_in_thread(service: Service) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(service.run()), daemon=True)
    thread.start()
    return thread, result


def test_watchdog_interval_is_half_the_timeout(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval() is None


def test_ready_then_repeated_watchdog_pings(notify):
    def loop(stop: threading.Event) -> None:
        while not stop.wait(0.05):
            beat()

    service = Service(loop, notifier=systemd_notifier())
    assert service.ping_s == pytest.approx(0.1)
    thread, result = run_in_thread(service)
    texts = notify.collect(0.8)
    service.stop.set()
    thread.join(5)
    texts = notify.collect(0.2)
    assert result == [0]
    assert "READY=1" in texts
    assert texts.index("READY=1") < texts.index("WATCHDOG=1")
    assert texts.count("WATCHDOG=1") >= 4
    assert any(t.startswith("STATUS=running the session loop") for t in texts)
    assert texts[-2:] == ["STOPPING=1", "STATUS=stopped"]
    pings = [t for t, m in notify.messages if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
    assert statistics.median(gaps) < 0.15  # every ping interval (0.1 s)
    assert max(gaps) < 0.35  # (scheduling on a busy machine can delay one a little)


def test_a_hung_loop_gets_no_pings(notify):
    def loop(stop: threading.Event) -> None:
        beat()
        stop.wait()  # hung: never beats again

    service = Service(loop, notifier=systemd_notifier(), stale_after_s=0.3)
    thread, _ = run_in_thread(service)
    notify.collect(0.8)
    service.stop.set()
    thread.join(5)
    pings = [t for t, m in notify.messages if m == "WATCHDOG=1"]
    assert 1 <= len(pings) <= 4  # pings only for the first ~0.3 s (three intervals)
    assert pings[-1] - notify.messages[0][0] < 0.45
    assert any("seems stuck" in m for m in notify.texts)


def test_waiting_for_input_counts_as_alive(notify):
    """A loop blocked on the input stream (no presses) is alive, not hung."""
    from assistant.buttons import InputStream

    stream = InputStream()

    def loop(stop: threading.Event) -> None:
        beat()
        while not stop.is_set():
            stream.get(timeout=0.6)

    import assistant.buttons.base as base

    service = Service(loop, notifier=systemd_notifier(), stale_after_s=0.3)
    monkey_every = base.ALIVE_EVERY_S
    base.ALIVE_EVERY_S = 0.05
    try:
        thread, _ = run_in_thread(service)
        notify.collect(1.0)
        service.stop.set()
        thread.join(5)
    finally:
        base.ALIVE_EVERY_S = monkey_every
    assert notify.texts.count("WATCHDOG=1") >= 6
    assert not any("seems stuck" in m for m in notify.texts)
    assert base._alive_hook is None  # removed when the service stops


def test_a_session_that_cannot_start_is_retried(notify, monkeypatch):
    import assistant.service as service_mod
    from assistant.config import Settings
    from assistant.errors import DeviceNotFound

    calls: list[float] = []

    def run_session(settings, script):
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise DeviceNotFound("No microphone called 'usb'.")
        time.sleep(0.05)

    monkeypatch.setattr(service_mod, "_run_one_session", lambda: run_session)
    monkeypatch.setattr(service_mod, "RETRY_S", 0.1)
    service = Service(service_mod.device_session_loop(Settings()), notifier=systemd_notifier())
    thread, result = run_in_thread(service)
    notify.collect(0.8)
    service.stop.set()
    thread.join(5)
    assert result == [0]  # never exited: the failures were retried
    assert len(calls) >= 3
    assert "STATUS=waiting: No microphone called 'usb'." in notify.texts


def test_a_failed_loop_stops_pinging_and_exits_non_zero(notify):
    def loop(stop: threading.Event) -> None:
        time.sleep(0.25)
        raise RuntimeError("the speaker went away")

    service = Service(loop, notifier=systemd_notifier())
    assert service.run() == 1
    texts = notify.collect(0.1)
    assert "STATUS=failed: the speaker went away" in texts
    assert texts[-1] == "STATUS=failed: the speaker went away"


def test_a_notify_socket_nobody_reads_does_not_freeze_the_service(notify):
    """A unix datagram socket holds about ten unread messages; sends must not block after."""
    service = Service(lambda stop: stop.wait(), notifier=systemd_notifier())
    thread, result = run_in_thread(service)
    time.sleep(2.0)  # twenty pings at 0.1 s, none read
    service.stop.set()
    thread.join(15)
    assert not thread.is_alive(), "the service froze on a full notify socket"
    assert result == [0]
    queue = int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())  # 10 by default
    assert 5 < len(notify.collect(0.3)) <= queue + 1  # the queue's worth; the rest were dropped


def test_without_systemd_nothing_breaks(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    service = Service(lambda stop: None, notifier=systemd_notifier())
    assert service.run() == 0


def read_until_exit(notify: NotifySocket, proc: subprocess.Popen) -> None:
    while proc.poll() is None:
        notify.collect(0.1)
    notify.collect(0.2)


def test_assistant_service_process(notify, tmp_path: Path):
    """The real entry point as systemd runs it, stopped with SIGTERM."""
    config = tmp_path / "config.toml"
    config.write_text(f'[buttons]\nbackend = "none"\n[records]\ndata_dir = "{tmp_path}"\n')
    env = dict(os.environ, ASSISTANT_CONFIG=str(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "service", "--idle"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert notify.wait_for("READY=1", timeout=30), notify.texts
        assert notify.wait_for("WATCHDOG=1", count=3, timeout=10), notify.texts
        proc.send_signal(signal.SIGTERM)
        reading = threading.Thread(target=read_until_exit, args=(notify, proc), daemon=True)
        reading.start()  # systemd keeps reading while the service stops
        out, err = proc.communicate(timeout=60)  # a hang guard (a loaded machine is slow)
        reading.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "STATUS=running the idle loop (buttons only)" in notify.texts
    assert "STOPPING=1" in notify.texts
