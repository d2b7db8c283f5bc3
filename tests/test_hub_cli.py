"""``assistant hub ...`` and ``assistant sync enrol`` as a member of staff would type them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from assistant.errors import SyncError  # noqa: E402
from assistant.hub.keys import KeyLocked, unlock  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    PASSPHRASE,
    ThreadHub,
    device_config,
    new_store,
    open_hub,
    run_cli,
)


def test_hub_init_code_enrol_staff_revoke(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    config = device_config(tmp_path / "config.toml", tmp_path / "dev")
    env = {"ASSISTANT_HUB_PASSPHRASE": PASSPHRASE, "ASSISTANT_HUB_ADMIN_PASSWORD": "admin pass 123"}
    h = ["--home", str(home)]

    r = run_cli(config, "hub", "init", *h, "--admin", "Morgan", "--kdf", "minimum", env=env)
    assert r.returncode == 0 and "Added staff member Morgan (admin)." in r.stdout, r
    key_file = home / "hub.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    doc = json.loads(key_file.read_text())
    assert doc["kdf"] == "argon2id" and "private_key_locked" in doc
    with pytest.raises(KeyLocked):
        unlock(home, "not the passphrase")
    assert unlock(home, PASSPHRASE).private_key
    r = run_cli(config, "hub", "init", *h, env=env)  # twice: the key is never replaced
    assert r.returncode == 0 and "already has a key" in r.stdout

    r = run_cli(config, "hub", "code", *h)
    assert r.returncode == 0
    code = r.stdout.strip()
    assert len(code) == 14 and code.count("-") == 2

    staff_env = {"ASSISTANT_HUB_STAFF_PASSWORD": "jo's password"}
    r = run_cli(config, "hub", "staff", "add", "Jo", *h, env=staff_env)
    assert r.returncode == 0, r

    hub = open_hub(home, None)
    assert hub.check_login("Jo", "jo's password") is not None
    with pytest.raises(SyncError, match="at least 10 characters"):
        hub.add_staff("Kim", "short")
    store = new_store(tmp_path / "dev")
    device_id = store.device_id()
    store.close()
    with ThreadHub(hub) as th:
        r = run_cli(config, "sync", "enrol", th.url, code.lower(), "--name", "kitchen pi")
        assert r.returncode == 0 and f"as device {device_id}" in r.stdout, r
        r = run_cli(config, "sync", "enrol", th.url, code)  # used up
        assert r.returncode == 2 and "refused the code" in r.stderr
        r = run_cli(config, "sync", "push")
        assert r.returncode == 0 and "Nothing to send." in r.stdout

    r = run_cli(config, "hub", "revoke", "kitchen pi", *h)
    assert r.returncode == 0 and f"Revoked device {device_id}" in r.stdout
    r = run_cli(config, "hub", "devices", *h)
    assert "kitchen pi  revoked" in r.stdout
    r = run_cli(config, "hub", "revoke", "no such device", *h)
    assert r.returncode == 2
    assert r.stderr.strip() == "assistant: No device matches 'no such device'."

    r = run_cli(
        config, "hub", "import", str(tmp_path), *h, env={"ASSISTANT_HUB_PASSPHRASE": "wrong one!"}
    )
    assert r.returncode == 2
    assert r.stderr.strip() == "assistant: The passphrase does not unlock the hub's key."
    hub.close()


def test_bad_database_url_is_one_clear_line(tmp_path: Path) -> None:
    config = device_config(tmp_path / "config.toml", tmp_path / "dev")
    r = run_cli(config, "hub", "code", "--home", str(tmp_path), "--db", "nosuchdb://x")
    assert r.returncode == 2
    assert r.stderr.startswith("assistant: Cannot open the hub's database")
    assert len(r.stderr.strip().splitlines()) == 1
