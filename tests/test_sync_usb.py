"""No network: export sealed bundles to a stick, import them on the hub (twice adds nothing)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from assistant.hub.service import Hub  # noqa: E402
from assistant.sync.client import push  # noqa: E402
from tests.test_sync_support import (  # noqa: E402,F401
    PASSPHRASE,
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


@pytest.fixture
def hub(tmp_path: Path, db_url: str | None) -> Iterator[Hub]:  # noqa: F811
    h = open_hub(tmp_path / "hub", db_url)
    yield h
    h.close()


def hub_import(hub: Hub, config: Path, stick: Path) -> subprocess.CompletedProcess[str]:
    args = ["hub", "import", str(stick), "--home", str(hub.home)]
    if not hub.db_url.startswith("sqlite"):
        args += ["--db", hub.db_url]
    return run_cli(config, *args, env={"ASSISTANT_HUB_PASSPHRASE": PASSPHRASE})


def test_export_import_twice_adds_nothing_and_push_later_duplicates_nothing(
    tmp_path: Path, hub: Hub
) -> None:
    data = tmp_path / "dev"
    store = new_store(data)
    made = [add_session(store, tmp_path, clips=2, flag=i == 0) for i in range(3)]
    config = device_config(tmp_path / "config.toml", data)
    with ThreadHub(hub) as th:
        enrolment = enrol_device(hub, th.url, data, store)
    stick = tmp_path / "stick"
    stick.mkdir()
    store.close()

    r = run_cli(config, "sync", "export", str(stick))
    assert r.returncode == 0 and "Wrote 3 new sessions and 6 clips" in r.stdout, r
    folder = stick / f"assistant-{enrolment.device_id}"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["files"]) == 9
    for file in folder.rglob("*.bundle"):  # nothing readable on the stick
        raw = file.read_bytes()
        # The plaintext's own forms (a bare b"Sam" turns up by chance in random ciphertext).
        assert b'"name":"Sam"' not in raw and b"tomatos" not in raw and b"RIFF" not in raw

    r = run_cli(config, "sync", "export", str(stick))
    assert "Wrote 0 new sessions and 0 clips" in r.stdout, r

    r = hub_import(hub, config, stick)
    assert r.returncode == 0, r
    assert "Imported 3 sessions and 6 clips; 0 were here already." in r.stdout
    r = hub_import(hub, config, stick)
    assert r.returncode == 0, r
    assert "Imported 0 sessions and 0 clips; 9 were here already." in r.stdout
    assert sorted(hub_contents(hub).sessions) == sorted(m.id for m in made)

    # the device still counts them as waiting (no acknowledgement came by stick) ...
    r = run_cli(config, "sync", "status")
    assert "Waiting to send: 3 sessions." in r.stdout and "also on a USB stick" in r.stdout
    # ... and a later push is answered "already here": marked sent, nothing doubled
    store = new_store(data)
    with ThreadHub(hub, port=int(enrolment.hub_url.rsplit(":", 1)[1])):
        report = push(store, data)
    assert sorted(report.sent) == sorted(m.id for m in made)
    contents = hub_contents(hub)
    assert set(contents.per.values()) == {1} and len(contents.sessions) == 3
    assert {s.state for s in store.sessions()} == {"sent"}


def test_altered_and_unsafe_files_are_refused_and_the_rest_imported(
    tmp_path: Path, hub: Hub
) -> None:
    data = tmp_path / "dev"
    store = new_store(data)
    made = [add_session(store, tmp_path, clips=1) for _ in range(4)]
    config = device_config(tmp_path / "config.toml", data)
    with ThreadHub(hub) as th:
        enrolment = enrol_device(hub, th.url, data, store)
    stick = tmp_path / "stick"
    stick.mkdir()
    store.close()
    assert run_cli(config, "sync", "export", str(stick)).returncode == 0
    folder = stick / f"assistant-{enrolment.device_id}"
    manifest = json.loads((folder / "manifest.json").read_text())

    # 1: a byte changed on the stick
    damaged = folder / "sessions" / f"{made[0].id}.bundle"
    raw = bytearray(damaged.read_bytes())
    raw[-10] ^= 0x55
    damaged.write_bytes(bytes(raw))
    # 2: changed, and the manifest "fixed" to match (the signature still catches it)
    import hashlib

    forged = folder / "sessions" / f"{made[1].id}.bundle"
    raw = bytearray(forged.read_bytes())
    raw[-10] ^= 0x55
    forged.write_bytes(bytes(raw))
    for entry in manifest["files"]:
        if entry["name"] == f"sessions/{made[1].id}.bundle":
            entry["sha256"] = hashlib.sha256(bytes(raw)).hexdigest()
    # 3: names that try to leave the folder
    secret = tmp_path / "secret.bundle"
    secret.write_bytes(b"not for you")
    manifest["files"] += [
        {"name": "../../secret.bundle", "kind": "session", "sha256": "0" * 64},
        {"name": f"sessions/../../../{secret.name}", "kind": "session", "sha256": "0" * 64},
        {"name": "/etc/passwd", "kind": "clip", "sha256": "0" * 64},
    ]
    (folder / "manifest.json").write_text(json.dumps(manifest))

    r = hub_import(hub, config, stick)
    assert r.returncode == 1
    assert "Imported 2 sessions and 4 clips" in r.stdout
    assert f"sessions/{made[0].id}.bundle: it was changed or damaged after export" in r.stderr
    assert f"sessions/{made[1].id}.bundle" in r.stderr and "signature" in r.stderr
    assert r.stderr.count("not a bundle name this hub accepts") == 3
    assert sorted(hub_contents(hub).sessions) == sorted(m.id for m in made[2:])


def test_device_killed_during_export_then_export_again(tmp_path: Path, hub: Hub) -> None:
    data = tmp_path / "dev"
    store = new_store(data)
    made = [add_session(store, tmp_path, clips=1) for _ in range(3)]
    config = device_config(tmp_path / "config.toml", data)
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, data, store)
    store.close()
    stick = tmp_path / "stick"
    stick.mkdir()
    r = run_cli(config, "sync", "export", str(stick), env={"ASSISTANT_FAULT": "after_export_file"})
    assert r.returncode == -9
    assert run_cli(config, "sync", "export", str(stick)).returncode == 0
    r = hub_import(hub, config, stick)
    assert r.returncode == 0 and "Imported 3 sessions and 3 clips" in r.stdout, r
    assert sorted(hub_contents(hub).sessions) == sorted(m.id for m in made)
