"""The hub's first run: the passphrase rules said before asking, a backup of key, database and
recordings, a restore that reads every record again, friendly titles and device names."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from typer.testing import CliRunner  # noqa: E402

from assistant.hub.cli import hub_app  # noqa: E402
from assistant.hub.keys import KeyLocked, unlock  # noqa: E402
from assistant.hub.names import script_title  # noqa: E402
from assistant.sync.client import push  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    BACKENDS,
    PASSPHRASE,
    ThreadHub,
    add_session,
    enrol_device,
    new_store,
    open_hub,
    pg_create_db,
    pg_drop_db,
    pg_url,
    postgres_available,
)

runner = CliRunner()


def _init(home: Path, typed: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.delenv("ASSISTANT_HUB_PASSPHRASE", raising=False)
    monkeypatch.delenv("ASSISTANT_HUB_ADMIN_PASSWORD", raising=False)
    r = runner.invoke(
        hub_app, ["init", "--home", str(home), "--kdf", "minimum", "--admin", "Morgan"], typed
    )
    return r.exit_code, r.output


def test_init_says_the_rules_first_and_checks_the_first_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "hub"
    typed = "too short\n" + "a long enough phrase\n" * 2 + "admin pass 123\n" * 2
    code, out = _init(home, typed, monkeypatch)
    assert code == 0, out
    rules = out.index("at least 10 characters")
    assert rules < out.index("New hub passphrase")  # said before asking
    first_ask = out.index("New hub passphrase")
    short = out.index("That is 9 characters; the passphrase needs at least 10.")
    assert first_ask < short < out.index("Type it again")  # checked before the second entry
    assert "Write it down" in out and "cannot be reset" in out
    assert "assistant hub backup FOLDER" in out
    assert "Added staff member Morgan (admin)." in out
    assert unlock(home, "a long enough phrase").private_key


def test_init_gives_up_plainly_after_three_tries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _init(tmp_path / "hub", "short\n" * 3, monkeypatch)
    assert code != 0
    assert out.count("the passphrase needs at least 10") == 3
    assert not (tmp_path / "hub" / "hub.key").exists()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> object:
    if request.param == "sqlite":
        yield None
        return
    why = postgres_available()
    if why:
        pytest.skip(why)
    names = [pg_create_db(), pg_create_db()]
    yield [pg_url(n) for n in names]
    for n in names:
        pg_drop_db(n)


def test_backup_wipe_restore_and_read_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: list[str] | None
) -> None:
    first_db, second_db = db_url if db_url else (None, None)
    home = tmp_path / "hub"
    hub = open_hub(home, first_db)
    hub.add_staff("Morgan", "admin pass 123", admin=True)
    store = new_store(tmp_path / "dev")
    sessions = [
        add_session(store, tmp_path, who="Sam", clips=1),
        add_session(store, tmp_path, who="Priya", clips=2, flag=True),
    ]
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, tmp_path / "dev", store, name="kitchen pi")
        push(store, tmp_path / "dev")
    before = hub.counts()
    assert before["sessions"] == 2 and before["clips"] == 3
    hub.close()
    store.close()

    db_opts = ["--db", first_db] if first_db else []
    backup_dir = tmp_path / "stick" / "hub-backup"
    r = runner.invoke(hub_app, ["backup", str(backup_dir), "--home", str(home), *db_opts])
    assert r.exit_code == 0, r.output
    assert "2 sessions" in r.output and "3 recordings" in r.output
    assert "The passphrase is not in the backup" in r.output  # where it must be kept
    assert "apart from the backup" in r.output
    key = backup_dir / "hub.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    manifest = json.loads((backup_dir / "backup.json").read_text())
    assert manifest["counts"]["sessions"] == 2 and manifest["clips"] == 3
    if first_db is None:
        assert (backup_dir / "hub.sqlite").is_file()  # SQLite's own consistent copy
    assert PASSPHRASE not in "".join(
        p.read_text(errors="replace") for p in backup_dir.iterdir() if p.is_file()
    )
    again = runner.invoke(hub_app, ["backup", str(backup_dir), "--home", str(home), *db_opts])
    assert again.exit_code != 0 and "not empty" in str(again.exception or again.output)

    # The hub is lost: a new machine, a new folder, an empty database.
    new_home = tmp_path / "new-hub"
    monkeypatch.setenv("ASSISTANT_HUB_PASSPHRASE", PASSPHRASE)
    new_db = ["--db", second_db] if second_db else []
    r = runner.invoke(hub_app, ["restore", str(backup_dir), "--home", str(new_home), *new_db])
    assert r.exit_code == 0, (r.output, r.exception)
    assert "2 sessions, 1 staff, 1 devices" in r.output
    assert "The passphrase opens the restored key." in r.output
    with pytest.raises(KeyLocked):
        unlock(new_home, "not the passphrase")

    restored = open_hub(new_home, second_db)
    try:
        assert restored.counts() == before
        assert restored.check_login("Morgan", "admin pass 123") is not None
        from assistant.hub import db
        from assistant.records.model import SessionRecord

        with restored.tx() as s:
            for original in sessions:
                row = s.get(db.Session, original.id)
                assert row is not None
                record = SessionRecord.model_validate_json(row.record_json)
                assert [a.transcript for a in record.answers] == [
                    a.transcript for a in original.answers
                ]
                for clip in [a.audio_clip for a in original.answers if a.audio_clip]:
                    assert restored.blob_path(clip).read_bytes().startswith(b"RIFF")
        assert [d.name for d in restored.devices()] == ["kitchen pi"]
        restored.add_staff("Jo", "jo's password 1")  # ids carry on after the restored rows
    finally:
        restored.close()
    # Restoring over a hub that has a key is refused.
    r = runner.invoke(hub_app, ["restore", str(backup_dir), "--home", str(new_home), *new_db])
    assert r.exit_code != 0 and "already has a key" in str(r.exception or r.output)


def test_friendly_titles() -> None:
    assert script_title("daily-checkin") == "Daily check-in"
    assert script_title("daily_checkin") == "Daily check-in"  # as older devices named it
    assert script_title("coproduction-group") != "Coproduction-group"
    assert script_title("our_own-workshop") == "Our own workshop"
    assert script_title("") == ""
