"""Load, bounded and on loopback: several devices push many sessions with audio at once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from assistant.records.model import SessionRecord  # noqa: E402
from assistant.records.store import RecordStore  # noqa: E402
from assistant.sync.client import PushReport, push  # noqa: E402
from tests.test_sync_support import (  # noqa: E402,F401
    ProcessHub,
    add_session,
    db_url,
    enrol_device,
    hub_contents,
    new_store,
    open_hub,
)

DEVICES = 4
SESSIONS = 12
CLIPS = 2
TIME_LIMIT_S = 120


def test_many_devices_at_once(tmp_path: Path, db_url: str | None) -> None:  # noqa: F811
    hub = open_hub(tmp_path / "hub", db_url)
    server = ProcessHub(hub.home, db_url).start()
    devices: list[tuple[Path, RecordStore, list[SessionRecord]]] = []
    try:
        for d in range(DEVICES):
            data = tmp_path / f"dev{d}"
            store = new_store(data)
            made = [
                add_session(store, tmp_path, who=f"Person {d}-{i % 3}", clips=CLIPS, seconds=0.5)
                for i in range(SESSIONS)
            ]
            enrol_device(hub, server.url, data, store, name=f"device {d}")
            devices.append((data, store, made))

        def run(device: tuple[Path, RecordStore, list[SessionRecord]]) -> PushReport:
            return push(device[1], device[0], max_attempts=6, timeout_s=30)

        started = time.monotonic()
        with ThreadPoolExecutor(DEVICES) as pool:
            reports = list(pool.map(run, devices))
        took = time.monotonic() - started
    finally:
        server.stop()
    assert took < TIME_LIMIT_S
    total = DEVICES * SESSIONS
    assert sum(len(r.sent) for r in reports) == total
    contents = hub_contents(hub)
    assert len(contents.sessions) == total and set(contents.per.values()) == {1}
    assert len(contents.clips) == total * CLIPS
    for _data, store, made in devices:
        assert {s.state for s in store.sessions()} == {"sent"}
        assert {r.id for r in made} <= set(contents.sessions)
    print(f"\n{total} sessions with {total * CLIPS} clips from {DEVICES} devices in {took:.1f} s")
    hub.close()
