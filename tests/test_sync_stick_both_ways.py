"""The USB stick both ways: a device that has no network receives its people, their jobs and
the published scripts by stick, and its check-ins go back the same way.

A real hub process (SQLite, and PostgreSQL when it is there) and the real CLI on both sides.
Device A has network; device C (enrolled once, then never on the network) exchanges only by
stick: ``assistant sync export`` on C, ``assistant hub import`` on the hub (which writes C's
updates back), ``assistant sync import`` (or ``export`` again) on C. A job agreed on A comes up
at a check-in on C; C's answer reaches the hub and A; the script published to C runs there.
An altered, misdirected, older or linked file on the stick changes nothing; a revoked device
gets nothing.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("fastapi")

from assistant.dialogue.published import yaml_sha256  # noqa: E402
from assistant.dialogue.script import builtin_dir  # noqa: E402
from tests.test_published_scripts import CHECKIN  # noqa: E402  (Sam, no consent, no jobs)
from tests.test_sync_two_way import (  # noqa: E402
    CHECKIN_ONE,
    checkin_on,
    db_url,  # noqa: F401  (a fixture: SQLite, PostgreSQL)
    device,
    group_on_a,
    hub_cli,
    setup,  # noqa: F401  (a fixture: a hub process and devices a, b, c)
    store_of,
)

GREETING = "Hello. It's time for your daily check-in."
NEW_GREETING = "Good morning. It's time for your daily check-in."
PUBLISHED = (builtin_dir() / "daily-checkin.yaml").read_text().replace(GREETING, NEW_GREETING)


def from_hub(setup: dict[str, Any], stick: Path, name: str) -> Path:  # noqa: F811
    return stick / f"assistant-{setup['devices'][name]['id']}" / "from-hub"


def round_trip(setup: dict[str, Any], stick: Path, capsys: Any) -> tuple[str, str]:  # noqa: F811
    """C writes to the stick, the hub imports it and writes C's updates back, C takes them in:
    what C said at export, and at import."""
    code, out = device(setup, "c", "sync", "export", str(stick), capsys=capsys)
    assert code == 0, out
    done = hub_cli(setup, "import", str(stick))
    assert done.returncode == 0, done.stderr
    assert "Wrote the hub's updates for device c to the stick" in done.stdout
    code, said = device(setup, "c", "sync", "import", str(stick), capsys=capsys)
    assert code == 0, said
    return out, said


def test_a_device_without_network_gets_people_jobs_and_scripts_by_stick(setup, capsys, tmp_path):  # noqa: F811
    stick = tmp_path / "stick"
    stick.mkdir()
    job = group_on_a(setup, capsys)  # agreed on A, which syncs over the network
    assert hub_cli(setup, "people", "assign", "Sam", "device c", "--by", "Jo").returncode == 0
    script = tmp_path / "daily-checkin.yaml"
    script.write_text(PUBLISHED)
    c_id = setup["devices"]["c"]["id"]
    done = hub_cli(setup, "scripts", "publish", str(script), "--to", c_id[:8], "--by", "Jo")
    assert done.returncode == 0, done.stderr

    # nothing from the hub on the stick yet: C says so, and changes nothing
    code, said = device(setup, "c", "sync", "import", str(stick), capsys=capsys)
    assert code == 0 and "Nothing from the hub for this device on the stick." in said

    _out, said = round_trip(setup, stick, capsys)
    assert "Received the published script daily-checkin v1." in said
    assert "From the hub: 1 people added" in said and "1 jobs received" in said
    with store_of(setup, "c") as store:
        sam = store.find_person("Sam")
        assert sam is not None
        assert [j.id for j in store.jobs_for(sam.id)] == [job.id]
    code, status = device(setup, "c", "sync", "status", capsys=capsys)
    assert "Last received from the hub (by USB stick):" in status and "1 people, 1 jobs" in status

    # the same stick again: nothing new, nothing twice
    code, said = device(setup, "c", "sync", "import", str(stick), capsys=capsys)
    assert code == 0 and "nothing new from the hub" in said
    with store_of(setup, "c") as store:
        assert len(store.jobs_for(sam.id)) == 1

    # the check-in on C asks Sam about the job agreed on A, with the published greeting
    said = checkin_on(setup, "c", CHECKIN_ONE, capsys, "--save")
    assert NEW_GREETING in said and job.what in said
    with store_of(setup, "c") as store:
        (record,) = [r for r in store.sessions() if r.checkins]
        assert record.script_publication == 1 and record.script_sha256 == yaml_sha256(PUBLISHED)
        assert record.checkins[0].jobs == {job.id: "done"}

    # ... and goes back by stick: the hub, then A (by network), have C's answer
    out, said = round_trip(setup, stick, capsys)
    assert "Wrote 1 new sessions" in out
    from assistant.hub import db as hub_db

    with setup["hub"].tx() as s:
        events = [e.status for e in s.query(hub_db.HubJobEvent).filter_by(job_id=job.id).all()]
        assert "done" in events
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "a") as store:
        assert store.get_job(job.id).status == "done"


def test_the_stick_refuses_altered_misdirected_older_and_linked_updates(setup, capsys, tmp_path):  # noqa: F811
    stick = tmp_path / "stick"
    stick.mkdir()
    group_on_a(setup, capsys)
    for name in ("b", "c"):
        assert hub_cli(setup, "people", "assign", "Sam", f"device {name}").returncode == 0
    done = hub_cli(setup, "export", str(stick), "--to", "device c")
    assert done.returncode == 0, done.stderr
    people = from_hub(setup, stick, "c") / "people.update"
    older = people.read_bytes()

    # one byte changed: refused, nothing applied
    people.write_bytes(older[:-1] + bytes([older[-1] ^ 1]))
    code, said = device(setup, "c", "sync", "import", str(stick), capsys=capsys)
    assert code != 0 and "people.update" in said and "not signed by this device's hub" in said
    with store_of(setup, "c") as store:
        assert store.find_person("Sam") is None

    # C's update, put where B looks: B cannot use it (sealed for another device)
    b_folder = from_hub(setup, stick, "b")
    b_folder.mkdir(parents=True)
    (b_folder / "people.update").write_bytes(older)
    code, said = device(setup, "b", "sync", "import", str(stick), capsys=capsys)
    assert code != 0 and "sealed for another device" in said
    with store_of(setup, "b") as store:
        assert store.find_person("Sam") is None

    # the good one: applied; then staff rename Sam, C gets it by network, and the older
    # stick (still saying "Sam") is not used
    people.write_bytes(older)
    code, said = device(setup, "c", "sync", "import", str(stick), capsys=capsys)
    assert code == 0 and "1 people added" in said, said
    assert hub_cli(setup, "people", "rename", "Sam", "Sam Jones").returncode == 0
    time.sleep(1.1)  # the hub's updates are stamped to the second
    code, said = device(setup, "c", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "c") as store:
        assert store.find_person("Sam Jones") is not None
    code, said = device(setup, "c", "sync", "import", str(stick), capsys=capsys)
    assert code != 0 and "before what this device already has" in said
    with store_of(setup, "c") as store:
        assert store.find_person("Sam Jones") is not None and store.find_person("Sam") is None

    # a link where the hub's folder should be is not followed
    shutil.rmtree(from_hub(setup, stick, "c"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, from_hub(setup, stick, "c"))
    code, said = device(setup, "c", "sync", "import", str(stick), capsys=capsys)
    assert code != 0 and "is not a plain folder" in said

    # a revoked device gets nothing written for it
    assert hub_cli(setup, "revoke", "device b").returncode == 0
    done = hub_cli(setup, "export", str(stick), "--to", "device b")
    assert done.returncode != 0 and "device b: revoked, so it gets nothing" in done.stderr


def test_enrolment_by_stick_needs_no_network(setup, capsys, tmp_path):  # noqa: F811
    """A device D that never had network: the hub writes an offer, D enrols from it and puts a
    session on the stick at once, the hub's import enrols D and takes the session, D takes its
    token from the stick and can then use the network too."""
    from assistant.cli import main
    from assistant.sync.device import Enrolment
    from tests.test_sync_support import device_config, new_store

    stick = tmp_path / "stick"
    stick.mkdir()
    data = tmp_path / "d"
    new_store(data).close()
    config = device_config(tmp_path / "d.toml", data)

    def on_d(*args: str) -> tuple[int, str]:
        code = main(["--config", str(config), *args])
        got = capsys.readouterr()
        return code, " ".join((got.out + got.err).split())

    code, said = on_d("sync", "enrol", "--stick", str(stick))
    assert code != 0 and "There is no enrolment offer on the stick" in said
    done = hub_cli(setup, "code", "--stick", str(stick), "--url", setup["server"].url)
    assert done.returncode == 0 and "Wrote a one-time enrolment offer" in done.stdout
    code, said = on_d("sync", "enrol", "--stick", str(stick), "--name", "garden")
    assert code == 0 and "left its request on the stick" in said, said
    assert not (stick / "assistant-enrol" / "offer.json").exists()  # one offer, one device
    assert Enrolment.load(data).token == ""

    scenario = tmp_path / "checkin-d.yaml"
    scenario.write_text(yaml.safe_dump(CHECKIN))
    code, said = on_d("simulate", str(scenario), "--fake-speech", "--save")
    assert code == 0, said
    code, said = on_d("sync")
    assert code == 3 and "has not come back yet" in said
    code, said = on_d("sync", "export", str(stick))
    assert code == 0 and "Wrote 1 new sessions" in said, said

    done = hub_cli(setup, "import", str(stick))
    assert done.returncode == 0, done.stderr
    assert "Enrolled garden from the stick" in done.stdout
    assert "Imported 1 sessions" in done.stdout
    assert "Wrote the hub's updates for garden to the stick" in done.stdout
    again = hub_cli(setup, "import", str(stick))
    assert again.returncode == 0 and "Enrolled" not in again.stdout, again.stderr
    assert "Imported 0 sessions" in again.stdout

    code, said = on_d("sync", "import", str(stick))
    assert code == 0 and "The hub has enrolled this device" in said, said
    assert Enrolment.load(data).token
    code, said = on_d("sync")  # the network now works too; the session is marked sent
    assert code == 0, said
    code, status = on_d("sync", "status")
    assert "Waiting to send: 0 sessions." in status

    # a second device finds no offer left on the stick
    other = tmp_path / "e"
    new_store(other).close()
    code = main(
        [
            "--config",
            str(device_config(tmp_path / "e.toml", other)),
            "sync",
            "enrol",
            "--stick",
            str(stick),
        ]
    )
    assert code != 0 and "There is no enrolment offer" in capsys.readouterr().err
