"""Fault injection: the hub killed mid-upload, the network cut, the device killed at each step.

Afterwards every session is on the hub exactly once, with all its clips, and marked sent on the
device. Each test runs against SQLite and against PostgreSQL (``db_url``).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")

from assistant.errors import HubUnreachable  # noqa: E402
from assistant.faults import SYNC_POINTS as STEPS  # noqa: E402
from assistant.hub.service import Hub  # noqa: E402
from assistant.records.model import SessionRecord  # noqa: E402
from assistant.records.store import RecordStore  # noqa: E402
from assistant.sync.client import push  # noqa: E402
from tests.test_sync_support import (  # noqa: E402,F401
    ProcessHub,
    ThreadHub,
    add_session,
    db_url,
    device_config,
    enrol_device,
    hub_contents,
    new_store,
    open_hub,
    run_cli,
)

PUSH_STEPS = [s for s in STEPS if s != "after_export_file"]


def make_device(tmp: Path, sessions: int = 3) -> tuple[RecordStore, list[SessionRecord]]:
    store = new_store(tmp / "dev")
    made = [add_session(store, tmp, clips=2, flag=i == 0) for i in range(sessions)]
    made.append(add_session(store, tmp, who="Priya", clips=0))
    return store, made


def assert_all_on_hub_once(hub: Hub, store: RecordStore, made: list[SessionRecord]) -> None:
    got = hub_contents(hub)
    assert sorted(got.sessions) == sorted(r.id for r in made)
    assert set(got.per.values()) == {1}
    clips = {a.audio_clip for r in made for a in r.answers if a.audio_clip}
    assert clips and got.clips == clips
    for sha in clips:  # the bytes the device recorded (it may have let its copy go since)
        assert hashlib.sha256(hub.blob_path(sha).read_bytes()).hexdigest() == sha
    assert {s.state for s in store.sessions()} == {"sent"}


@pytest.fixture
def hub(tmp_path: Path, db_url: str | None) -> Iterator[Hub]:  # noqa: F811
    h = open_hub(tmp_path / "hub", db_url)
    yield h
    h.close()


def test_device_killed_at_each_step(tmp_path: Path, hub: Hub) -> None:
    """One device killed (SIGKILL) at every step of a push in turn, then left to finish."""
    store, made = make_device(tmp_path)
    config = device_config(tmp_path / "config.toml", tmp_path / "dev")
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, tmp_path / "dev", store)
        store.close()
        for step in PUSH_STEPS:  # each run gets further, then dies at the next step
            killed = run_cli(config, "sync", "push", env={"ASSISTANT_FAULT": step})
            assert killed.returncode == -9, (step, killed)
        status = run_cli(config, "sync", "status")
        assert status.returncode == 0, status
        waiting = re.search(r"Waiting to send: (\d+) session", status.stdout)
        assert waiting and int(waiting[1]) >= 1, status.stdout
        assert "stopped part way" in status.stdout
        again = run_cli(config, "sync", "push")
        assert again.returncode == 0, again
        sent = re.search(r"Sent (\d+) session", again.stdout)
        assert sent and sent[1] == waiting[1], again.stdout
        last = run_cli(config, "sync", "push")
        assert last.returncode == 0 and last.stdout.strip() == "Nothing to send.", last
    store = new_store(tmp_path / "dev")
    assert_all_on_hub_once(hub, store, made)


class KillingTransport(httpx.HTTPTransport):
    """Kills the hub (SIGKILL) half-way through the body of the uploads numbered *at*
    (counting uploads that got an answer)."""

    def __init__(self, server: ProcessHub, at: set[int]) -> None:
        super().__init__()
        self.server = server
        self.at = set(at)
        self.answered = 0
        self.kills = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        is_put = request.method == "PUT"
        if is_put and self.answered + 1 in self.at:
            self.at.discard(self.answered + 1)
            body = request.read()
            self.kills += 1
            server = self.server

            def halves() -> Iterator[bytes]:
                yield body[: len(body) // 2]
                server.kill()
                yield body[len(body) // 2 :]

            request = httpx.Request(
                request.method,
                request.url,
                headers=[(k, v) for k, v in request.headers.items() if k != "content-length"],
                content=halves(),
            )
        response = super().handle_request(request)
        self.answered += int(is_put)
        return response


def restart_when_dead(server: ProcessHub, stop: threading.Event) -> threading.Thread:
    """Start the hub again (without any crash point) each time it dies."""

    def watch() -> None:
        while not stop.is_set():
            if server.proc is not None and server.proc.poll() is not None:
                time.sleep(0.3)
                server.extra_env = {}
                server.restarts += 1
                try:
                    server.start()
                except RuntimeError:
                    # Killed again while starting (the killing transport can reach the new
                    # hub before start() has seen it answer): the next pass restarts it.
                    continue
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def quick(seconds: float) -> None:
    time.sleep(min(seconds, 0.25))


def test_hub_killed_mid_upload(tmp_path: Path, hub: Hub, db_url: str | None) -> None:  # noqa: F811
    store, made = make_device(tmp_path)
    server = ProcessHub(hub.home, db_url).start()
    stop = threading.Event()
    try:
        enrol_device(hub, server.url, tmp_path / "dev", store)
        transport = KillingTransport(server, at={2, 8})  # during a clip, then a session
        restart_when_dead(server, stop)
        report = push(
            store, tmp_path / "dev", transport=transport, max_attempts=60, timeout_s=10, sleep=quick
        )
        assert transport.kills == 2 and server.restarts == 2
        assert len(report.sent) == len(made)
    finally:
        stop.set()
        server.stop()
    assert_all_on_hub_once(hub, store, made)


def test_hub_killed_after_storing_before_answering(
    tmp_path: Path,
    hub: Hub,
    db_url: str | None,  # noqa: F811
) -> None:
    """The hub commits a session, then dies before the device hears: no duplicate later."""
    store, made = make_device(tmp_path)
    server = ProcessHub(hub.home, db_url, ASSISTANT_FAULT="hub_after_session_commit")
    server.start()
    stop = threading.Event()
    try:
        enrol_device(hub, server.url, tmp_path / "dev", store)
        restart_when_dead(server, stop)  # restarted without the crash point
        report = push(store, tmp_path / "dev", max_attempts=60, timeout_s=10, sleep=quick)
        assert server.restarts == 1  # it did die once, after storing the first session
        assert len(report.sent) == len(made)
    finally:
        stop.set()
        server.stop()
    assert_all_on_hub_once(hub, store, made)


class CuttingTransport(httpx.HTTPTransport):
    """Stops the hub (the network goes away) just before the *nth* request."""

    def __init__(self, server: ProcessHub, nth: int) -> None:
        super().__init__()
        self.server = server
        self.nth = nth
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == self.nth:
            self.server.stop()
        return super().handle_request(request)


def test_network_cut_then_back(tmp_path: Path, hub: Hub, db_url: str | None) -> None:  # noqa: F811
    store, made = make_device(tmp_path)
    server = ProcessHub(hub.home, db_url).start()
    try:
        enrol_device(hub, server.url, tmp_path / "dev", store)
        with pytest.raises(HubUnreachable):
            push(
                store,
                tmp_path / "dev",
                transport=CuttingTransport(server, 8),
                max_attempts=3,
                sleep=lambda s: None,
            )
        part = hub_contents(hub)
        sent = {s.id for s in store.sessions() if s.state == "sent"}
        assert sent == set(part.sessions)
        assert len(sent) < len(made)
        server.start()  # the network is back
        report = push(store, tmp_path / "dev")
        assert set(report.sent) == {r.id for r in made} - sent
    finally:
        server.stop()
    assert_all_on_hub_once(hub, store, made)
