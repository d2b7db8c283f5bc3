"""Enrol and push from a real record store to a real hub on loopback."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")

from assistant.errors import EnrolmentError, HubUnreachable  # noqa: E402
from assistant.hub.service import Hub  # noqa: E402
from assistant.sync.client import HubClient, enrol, push  # noqa: E402
from assistant.sync.device import Enrolment  # noqa: E402
from assistant.sync.outbox import Outbox  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    ThreadHub,
    add_session,
    device_config,
    enrol_device,
    free_port,
    hub_contents,
    new_store,
    open_hub,
    run_cli,
)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = open_hub(tmp_path / "hub", None)
    yield h
    h.close()


class FlakyTransport(httpx.HTTPTransport):
    """A real transport that breaks like a dropped connection for *fail* requests in a row,
    after the first (so the network goes down once the push has started)."""

    def __init__(self, fail: int) -> None:
        super().__init__()
        self.fail = fail
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if 2 <= self.calls <= self.fail + 1:
            raise httpx.ConnectError("network is down", request=request)
        return super().handle_request(request)


def test_enrol_stores_token_and_hub_key_owner_only(tmp_path: Path, hub: Hub) -> None:
    store = new_store(tmp_path / "dev")
    with ThreadHub(hub) as th:
        with pytest.raises(EnrolmentError, match="refused the code"):
            enrol(
                th.url, "WRONG-CODE-1234", tmp_path / "dev", device_id=store.device_id(), name="x"
            )
        e = enrol_device(hub, th.url, tmp_path / "dev", store)
    path = tmp_path / "dev" / "sync" / "device.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert Enrolment.load(tmp_path / "dev") == e
    assert e.hub_key == hub.public_key
    assert e.device_id == store.device_id()
    assert "private" not in path.read_text().lower()


def test_push_sends_each_session_once_and_marks_it_sent(tmp_path: Path, hub: Hub) -> None:
    store = new_store(tmp_path / "dev")
    made = [add_session(store, tmp_path, clips=2, flag=i == 0) for i in range(3)]
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, tmp_path / "dev", store)
        report = push(store, tmp_path / "dev")
        assert sorted(report.sent) == sorted(r.id for r in made)
        again = push(store, tmp_path / "dev")
        assert again.nothing_to_send
    got = hub_contents(hub)
    assert sorted(got.sessions) == sorted(r.id for r in made)
    assert got.clips == {a.audio_clip for r in made for a in r.answers if a.audio_clip}
    assert all(s.state == "sent" for s in store.sessions())
    for r in made:
        for a in r.answers:
            if a.audio_clip:
                assert hub.blob_path(a.audio_clip).read_bytes() == store.clip_bytes(a.audio_clip)
    # what the daily check-in needs stays readable on the device
    assert store.jobs_for(made[0].people[0].id)


def test_retries_back_off_and_resume(tmp_path: Path, hub: Hub) -> None:
    store = new_store(tmp_path / "dev")
    add_session(store, tmp_path, clips=2)
    slept: list[float] = []
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, tmp_path / "dev", store)
        flaky = FlakyTransport(fail=4)
        report = push(store, tmp_path / "dev", sleep=slept.append, transport=flaky, max_attempts=8)
    assert len(report.sent) == 1
    assert len(slept) == 4
    assert all(b > a for a, b in zip(slept, slept[1:], strict=False))  # waits grow
    assert slept[0] < 1.0


def test_backoff_is_bounded(tmp_path: Path) -> None:
    slept: list[float] = []
    client = HubClient(
        f"http://127.0.0.1:{free_port()}", max_attempts=12, sleep=slept.append, timeout_s=1
    )
    with pytest.raises(HubUnreachable, match="12 tries"):
        client.request("GET", "/v1/ping")
    assert len(slept) == 11 and max(slept) <= 36


def test_a_clip_the_hub_lost_is_sent_again(tmp_path: Path, hub: Hub) -> None:
    """The hub answers 424 for a session whose clip it lacks; the device sends the clip."""
    store = new_store(tmp_path / "dev")
    first = add_session(store, tmp_path, clips=1)
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, tmp_path / "dev", store)
        push(store, tmp_path / "dev")
        # the hub loses that clip (restored from an old backup, say) ...
        from sqlalchemy import delete

        from assistant.hub import db

        sha = next(a.audio_clip for a in first.answers if a.audio_clip)
        assert sha
        with hub.tx() as s:
            s.execute(delete(db.Blob))
        # ... and a new session refers to the same clip (a person's name, say)
        second = add_session(store, tmp_path, clips=0)
        with Outbox(tmp_path / "dev") as outbox:
            assert outbox.blob_uploaded(sha)
        import assistant.sync.bundle as bundle_mod

        original = bundle_mod.clips_of
        bundle_mod.clips_of = lambda r: [sha] if r.id == second.id else original(r)  # type: ignore[assignment]
        try:
            report = push(store, tmp_path / "dev")
        finally:
            bundle_mod.clips_of = original
    assert report.sent == [second.id]
    assert hub.has_blob(sha)


def test_revoked_device_is_told_clearly(tmp_path: Path, hub: Hub) -> None:
    store = new_store(tmp_path / "dev")
    add_session(store, tmp_path, clips=0)
    with ThreadHub(hub) as th:
        e = enrol_device(hub, th.url, tmp_path / "dev", store)
        hub.revoke(e.device_id, by="test")
        with pytest.raises(EnrolmentError, match="revoked"):
            push(store, tmp_path / "dev")
    assert all(s.state == "finalised" for s in store.sessions())


def test_cli_nothing_to_send_no_network_and_status(tmp_path: Path, hub: Hub) -> None:
    data = tmp_path / "dev"
    store = new_store(data)
    config = device_config(tmp_path / "config.toml", data, max_attempts=2, timeout_s=2)
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, data, store)
        r = run_cli(config, "sync", "push")
        assert r.returncode == 0 and r.stdout.strip() == "Nothing to send.", r
    made = add_session(store, tmp_path, clips=1)
    store.close()
    r = run_cli(config, "sync", "push")  # the hub is gone: no network
    assert r.returncode == 3, r
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("No network")
    r = run_cli(config, "sync", "status")
    assert r.returncode == 0
    assert "Waiting to send: 1 session." in r.stdout
    assert "Last error:" in r.stdout and "did not answer" in r.stdout
    assert ": no network, sent 0." in r.stdout
    port = int(Enrolment.load(data).hub_url.rsplit(":", 1)[1])
    with ThreadHub(hub, port=port):
        r = run_cli(config, "sync", "push")
    assert r.returncode == 0 and "Sent 1 session." in r.stdout, r
    assert hub_contents(hub).sessions == [made.id]
    r = run_cli(config, "sync", "status")
    assert "Waiting to send: 0 sessions." in r.stdout and "Sent so far: 1." in r.stdout


def test_enrolling_with_another_hub_keeps_sealed_sessions_safe(tmp_path: Path, hub: Hub) -> None:
    """Bundles sealed for one hub cannot be opened by another: say so rather than strand them."""
    store = new_store(tmp_path / "dev")
    add_session(store, tmp_path, clips=1)
    other = open_hub(tmp_path / "other-hub", None)
    with ThreadHub(hub) as th:
        first = enrol_device(hub, th.url, tmp_path / "dev", store)
        with Outbox(tmp_path / "dev") as outbox:
            outbox.prepare(store, first)
    with (
        ThreadHub(other) as th2,
        pytest.raises(EnrolmentError, match="1 sessions are sealed for the old hub"),
    ):
        enrol_device(other, th2.url, tmp_path / "dev", store)
    assert Enrolment.load(tmp_path / "dev") == first
    other.close()


BLOCK_HUB_EXTRA = """
import sys, importlib.abc
HUB = {"fastapi", "sqlalchemy", "alembic", "uvicorn", "argon2", "psycopg", "starlette",
       "itsdangerous", "multipart"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in HUB:
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
import assistant.cli
from assistant.sync import bundle, cli, client, export, outbox, source
print("sync ok")
sys.exit(assistant.cli.main(sys.argv[1:]))
"""


def test_the_device_needs_no_hub_packages(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.test_sync_support import ROOT

    config = device_config(tmp_path / "config.toml", tmp_path / "dev")
    cmd = [sys.executable, "-c", BLOCK_HUB_EXTRA, "--config", str(config)]
    r = subprocess.run([*cmd, "sync", "status"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("sync ok"), r
    assert "Hub: not enrolled yet" in r.stdout
    r = subprocess.run([*cmd, "hub", "code"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "assistant: The hub needs its extra packages: pip install 'assistant[hub]'."
    )


def test_sent_bundles_are_swept(tmp_path: Path, hub: Hub) -> None:
    """The outbox keeps no second copy of a clip once the hub has it (the store's retention
    rules stay the only copy rules); rows stay. Sealing a swept clip again when the hub asks
    for it is covered by test_a_clip_the_hub_lost_is_sent_again."""
    store = new_store(tmp_path / "dev")
    add_session(store, tmp_path, clips=2)
    waiting = add_session(store, tmp_path, clips=1)
    outbox_dir = tmp_path / "dev" / "sync" / "outbox"
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, tmp_path / "dev", store)
        with Outbox(tmp_path / "dev") as outbox:
            outbox.prepare(store, Enrolment.load(tmp_path / "dev"))
        assert len(list(outbox_dir.rglob("*.bundle"))) == 5
        push(store, tmp_path / "dev")
    assert not list(outbox_dir.rglob("*.bundle"))
    with Outbox(tmp_path / "dev") as outbox:
        assert len(outbox.all_items()) == 2 and not outbox.pending()
    assert waiting.id in hub_contents(hub).sessions


def test_one_push_at_a_time(tmp_path: Path, hub: Hub) -> None:
    from assistant.sync.client import push_lock

    store = new_store(tmp_path / "dev")
    add_session(store, tmp_path, clips=0)
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, tmp_path / "dev", store)
        with push_lock(tmp_path / "dev") as mine:
            assert mine
            assert push(store, tmp_path / "dev").busy
        report = push(store, tmp_path / "dev")
    assert not report.busy and len(report.sent) == 1
