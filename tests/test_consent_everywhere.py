"""Consent withdrawn anywhere wins everywhere (docs/sync.md, assistant/sync/withdrawals.py).

A real hub process (SQLite, and PostgreSQL when it runs) and devices A, B and C, each with its
own data folder. Sam's voice is kept on A (sent, and not yet sent) and on the hub; Sam withdraws
on B, which never held a clip of theirs. After B's sync the hub has deleted every clip of Sam's;
after A's, A has too, including the session it had not sent yet (its clip is not uploaded, or is
deleted on arrival), while Sam's words stay everywhere. C, which does not hold Sam, receives
nothing. A later agreement on A keeps the clips recorded after it. The same by stick, and a
withdrawal staff record on the hub.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

pytest.importorskip("fastapi")

from assistant.cli import main  # noqa: E402
from assistant.hub import db as hubdb  # noqa: E402
from assistant.records.model import Answer, Consent, Person, SessionRecord, new_id  # noqa: E402
from assistant.records.store import RecordStore  # noqa: E402
from assistant.sync import withdrawals  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    PASSPHRASE,
    ProcessHub,
    add_session,
    db_url,  # noqa: E402, F401  (a fixture: SQLite, PostgreSQL)
    device_config,
    enrol_device,
    hub_contents,
    make_wav,
    new_store,
    open_hub,
    run_cli,
)


@pytest.fixture
def setup(tmp_path: Path, db_url: str | None) -> Iterator[dict[str, Any]]:  # noqa: F811
    hub = open_hub(tmp_path / "hub", db_url)
    server = ProcessHub(hub.home, db_url).start()
    devices = {}
    for name in ("a", "b", "c"):
        data = tmp_path / name
        store = new_store(data)
        enrolment = enrol_device(hub, server.url, data, store, name=f"device {name}")
        store.close()
        config = device_config(tmp_path / f"{name}.toml", data)
        # A keeps the audio of sent sessions for a month, so there is something to delete
        config.write_text(
            config.read_text().replace("[records]\n", "[records]\nkeep_synced_audio_days = 30\n")
        )
        devices[name] = {"data": data, "config": config, "id": enrolment.device_id}
    try:
        yield {"hub": hub, "server": server, "devices": devices, "tmp": tmp_path, "db": db_url}
    finally:
        server.stop()
        hub.close()


def device(setup: dict[str, Any], name: str, *args: str, capsys: Any) -> tuple[int, str]:
    code = main(["--config", str(setup["devices"][name]["config"]), *args])
    got = capsys.readouterr()
    return code, " ".join((got.out + got.err).split())


def store_of(setup: dict[str, Any], name: str) -> RecordStore:
    return RecordStore(setup["devices"][name]["data"], min_free_mb=0)


def hub_cli(setup: dict[str, Any], *args: str) -> Any:
    db = ["--db", setup["db"]] if setup["db"] else []
    return run_cli(
        setup["devices"]["a"]["config"],
        "hub",
        *args,
        "--home",
        str(setup["hub"].home),
        *db,
        env={"ASSISTANT_HUB_PASSPHRASE": PASSPHRASE},
    )


def blob_files(setup: dict[str, Any]) -> set[str]:
    return {p.stem for p in (setup["hub"].home / "blobs").rglob("*.wav")}


def clip_files(setup: dict[str, Any], name: str) -> int:
    return len(list((setup["devices"][name]["data"] / "clips").rglob("*.wav*")))


def agreed_session(store: RecordStore, tmp: Path, person_id: str, at: datetime) -> SessionRecord:
    """A session in which Sam agreed again (at *at*) and a voice answer was kept."""
    sam = store.get_person(person_id)
    consent = Consent(audio=True, at=at, method="button")
    store.set_consent(sam.id, consent)
    answer = Answer(person_id=sam.id, step_id="why", question="Why are you here?", at=at)
    record = SessionRecord(
        script="daily_checkin",
        started_at=at,
        ended_at=at + timedelta(minutes=3),
        people=[Person(id=sam.id, name=sam.name, consent=consent)],
        answers=[answer.model_copy(update={"transcript": "to see my friends"})],
    )
    store.save_session(record)
    assert store.keep_audio(record.id, answer.id, make_wav(tmp / "again.wav", seed=7))
    store.finish_session(record.id)
    return store.get_session(record.id)


def test_withdrawn_on_b_deletes_sams_clips_on_the_hub_and_on_a(setup, capsys):
    tmp, hub = setup["tmp"], setup["hub"]

    # A: two sessions with Sam's voice; the first is sent, the second waits
    with store_of(setup, "a") as store:
        first = add_session(store, tmp, who="Sam", clips=2)
        sam = store.find_person("Sam")
        assert sam is not None
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 session." in said, said
    sent_clips = {a.audio_clip for a in first.answers if a.audio_clip}
    assert len(sent_clips) == 2 and sent_clips <= hub_contents(hub).clips
    assert sent_clips <= blob_files(setup)
    with store_of(setup, "a") as store:
        waiting = add_session(store, tmp, who="Sam", clips=1)
        assert len(store.clips_for(sam.id)) == 3  # kept after sending (30 days here)

    # staff assign Sam to B; B receives them, then Sam withdraws on B (no clips there)
    assert hub_cli(setup, "people", "assign", "Sam", "device b").returncode == 0
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "1 people added" in said, said
    code, said = device(setup, "b", "people", "withdraw", "Sam", "--by", "Kate", capsys=capsys)
    assert code == 0 and "0 recording(s) deleted" in said, said
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 withdrawal(s) of consent." in said, said

    # the hub: every clip of Sam's is gone (rows and files), remembered as deleted
    assert not (sent_clips & hub_contents(hub).clips)
    assert not (sent_clips & blob_files(setup))
    with hub.tx() as s:
        (row,) = s.scalars(select(hubdb.ConsentWithdrawal))
        assert row.person_id == sam.id and row.clips_deleted == 2 and row.witnessed_by == "Kate"
        assert set(s.scalars(select(hubdb.DeletedBlob.sha256))) == sent_clips
        person = s.get(hubdb.Person, sam.id)
        assert person is not None and '"withdrawn":true' in (person.consent_json or "")
        record = SessionRecord.model_validate_json(s.get(hubdb.Session, first.id).record_json)
        assert [a.transcript for a in record.answers][:2] == [
            "i watered the tomatos 0",
            "i watered the tomatos 1",
        ]  # the words stay
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "Nothing to send." in said, said  # sent once

    # A syncs: its waiting session goes (its clip deleted on arrival), then the withdrawal
    # comes down and A deletes every clip of Sam's it held, sent or not
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 session." in said, said
    assert "1 withdrawal(s) of consent made elsewhere" in said, said
    waiting_clip = next(a.audio_clip for a in waiting.answers if a.audio_clip)
    assert waiting.id in hub_contents(hub).sessions
    assert waiting_clip not in hub_contents(hub).clips and waiting_clip not in blob_files(setup)
    with store_of(setup, "a") as store:
        assert store.clips_for(sam.id) == []
        assert store.get_person(sam.id).consent is not None
        assert store.get_person(sam.id).consent.withdrawn
        assert {a.audio_clip for a in store.get_session(first.id).answers} == {None}
        assert store.get_session(first.id).answers[0].transcript == "i watered the tomatos 0"
        assert not store.unsent_withdrawals()  # received, never sent back
    assert clip_files(setup, "a") == 0

    # applying it again changes nothing; C (not holding Sam) received nothing
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "withdrawal" not in said, said
    code, said = device(setup, "c", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "c") as store:
        assert store.people() == []

    # Sam agrees again on A later: clips after that are kept, on A and on the hub
    with store_of(setup, "a") as store:
        again = agreed_session(store, tmp, sam.id, datetime.now(UTC) + timedelta(seconds=1))
        new_clip = again.answers[0].audio_clip
        assert new_clip is not None
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 session." in said, said
    assert new_clip in hub_contents(hub).clips and new_clip in blob_files(setup)
    with store_of(setup, "a") as store:
        assert store.clips_for(sam.id) == [new_clip]
        consent = store.get_person(sam.id).consent
        assert consent is not None and consent.audio


def test_a_withdrawal_travels_on_a_stick_and_staff_can_record_one_on_the_hub(setup, capsys):
    tmp, hub = setup["tmp"], setup["hub"]
    with store_of(setup, "a") as store:
        first = add_session(store, tmp, who="Sam", clips=1)
        add_session(store, tmp, who="Priya", clips=1)
        sam, priya = store.find_person("Sam"), store.find_person("Priya")
        assert sam is not None and priya is not None
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "Sent 2 sessions." in said, said
    sams = {a.audio_clip for a in first.answers if a.audio_clip}

    # Sam withdraws on A; A has no network: the withdrawal goes on a stick
    code, said = device(setup, "a", "people", "withdraw", "Sam", capsys=capsys)
    assert code == 0 and "1 recording(s) deleted" in said, said
    stick = tmp / "stick"
    stick.mkdir()
    code, said = device(setup, "a", "sync", "export", str(stick), capsys=capsys)
    assert code == 0 and "Wrote 1 withdrawal(s) of consent too." in said, said
    (bundle_file,) = stick.glob("assistant-*/consent/*.bundle")
    assert b"Sam" not in bundle_file.read_bytes()  # sealed: nothing readable on the stick
    imported = hub_cli(setup, "import", str(stick))
    assert imported.returncode == 0, imported.stderr
    assert "1 withdrawal(s) of consent applied." in imported.stdout
    assert not (sams & hub_contents(hub).clips) and not (sams & blob_files(setup))
    again = hub_cli(setup, "import", str(stick))
    assert "withdrawal" not in again.stdout  # once only
    with store_of(setup, "a") as store:
        assert len(store.unsent_withdrawals()) == 1  # marked sent only over the network
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 withdrawal(s) of consent." in said, said  # "already here"
    with hub.tx() as s:
        assert len(list(s.scalars(select(hubdb.ConsentWithdrawal)))) == 1

    # Priya tells staff in the office: recorded on the hub, then on A at its next sync
    priyas = hub_contents(hub).clips
    assert priyas
    done = hub_cli(setup, "people", "withdraw", "Priya", "--by", "Jo")
    assert done.returncode == 0, done.stderr
    assert "Priya withdrew consent; 1 recording(s) deleted on the hub" in done.stdout
    assert hub_contents(hub).clips == set() and blob_files(setup) == set()
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "1 withdrawal(s) of consent made elsewhere" in said, said
    with store_of(setup, "a") as store:
        assert store.clips_for(priya.id) == []
        consent = store.get_person(priya.id).consent
        assert consent is not None and consent.withdrawn and consent.witnessed_by == "Jo"
        assert not store.unsent_withdrawals()


def test_a_withdrawal_is_refused_for_a_person_of_another_device(setup, capsys):
    """B may not withdraw for A's person by naming A's id (the people rule of docs/sync.md),
    and a tampered withdrawal is refused."""
    import httpx

    from assistant.sync.device import Enrolment

    tmp, hub = setup["tmp"], setup["hub"]
    with store_of(setup, "a") as store:
        add_session(store, tmp, who="Sam", clips=1)
        sam = store.find_person("Sam")
        assert sam is not None
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    clips = hub_contents(hub).clips
    enrolment = Enrolment.load(setup["devices"]["b"]["data"])
    forged = {"id": new_id(), "person_id": sam.id, "at": datetime.now(UTC)}
    url = setup["server"].url
    headers = {"Authorization": f"Bearer {enrolment.token}"}
    answer = httpx.put(
        f"{url}/v1/consent/{forged['id']}",
        content=withdrawals.seal(forged, enrolment),
        headers=headers,
    )
    assert answer.status_code == 422 and "another device" in answer.json()["detail"]
    sealed = bytearray(withdrawals.seal({**forged, "id": new_id()}, enrolment))
    sealed[-3] ^= 0x01
    header_id = sealed.split(b'"id":"')[1][:36].decode()
    answer = httpx.put(f"{url}/v1/consent/{header_id}", content=bytes(sealed), headers=headers)
    assert answer.status_code == 422
    assert hub_contents(hub).clips == clips
