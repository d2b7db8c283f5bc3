"""A person's own settings travel on their own, not only inside their next session (#16).

A real hub process (SQLite, and PostgreSQL when it is there) and the real CLI on the devices.
Staff set Sam's speaking rate on device A and Sam has no session there: at A's next sync the
hub has it, and at B's next sync B talks to Sam at that rate. What came down is never sent
back; a person the hub does not know yet waits for their first session; a device without
network sends them by stick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from assistant.hub import db as hub_db  # noqa: E402
from tests.test_sync_stick_both_ways import round_trip  # noqa: E402
from tests.test_sync_two_way import (  # noqa: E402
    db_url,  # noqa: F401  (a fixture: SQLite, PostgreSQL)
    device,
    group_on_a,
    hub_cli,
    setup,  # noqa: F401  (a fixture: a hub process and devices a, b, c)
    store_of,
)


def hub_rate(setup: dict[str, Any], name: str = "Sam") -> float | None:  # noqa: F811
    import json

    with setup["hub"].tx() as s:
        person = s.query(hub_db.Person).filter_by(name=name).one()
        return json.loads(person.settings_json or "{}").get("words_per_minute")


def test_settings_set_with_no_session_reach_the_hub_and_the_other_device(setup, capsys):  # noqa: F811
    group_on_a(setup, capsys)  # Sam on A, known to the hub
    assert hub_cli(setup, "people", "assign", "Sam", "device b", "--by", "Jo").returncode == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0

    code, said = device(setup, "a", "people", "set", "Sam", "--rate", "130", capsys=capsys)
    assert code == 0, said
    code, said = device(setup, "a", "sync", capsys=capsys)  # no session since: the bundle
    assert code == 0 and "Sent the own settings of 1 person(s)." in said, said
    assert hub_rate(setup) == 130
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "b") as store:
        sam = store.find_person("Sam")
        assert sam is not None and sam.words_per_minute == 130
    # what came down is not sent back, and what was taken is not sent again
    for name in ("b", "a"):
        code, said = device(setup, name, "sync", capsys=capsys)
        assert code == 0 and "own settings" not in said, (name, said)

    # a later change on B, with no session there either, reaches A
    assert device(setup, "b", "people", "set", "Sam", "--rate", "115", capsys=capsys)[0] == 0
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert "Sent the own settings of 1 person(s)." in said, said
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    with store_of(setup, "a") as store:
        sam = store.find_person("Sam")
        assert sam is not None and sam.words_per_minute == 115
    assert hub_rate(setup) == 115
    listed = hub_cli(setup, "people", "list")
    assert "not used" not in listed.stdout, listed.stdout  # one after the other: no conflict


def test_a_person_the_hub_does_not_know_is_left_to_their_first_session(setup, capsys):  # noqa: F811
    """Ann is added and set on A and has no session yet: the hub does not make her from the
    bundle, the device does not ask again at every sync, and her first session carries them."""
    from tests.test_sync_two_way import session_with

    assert device(setup, "a", "people", "add", "Ann", capsys=capsys)[0] == 0
    assert device(setup, "a", "people", "set", "Ann", "--rate", "125", capsys=capsys)[0] == 0
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "own settings" not in said and "refused" not in said, said
    with setup["hub"].tx() as s:
        assert s.query(hub_db.Person).filter_by(name="Ann").one_or_none() is None
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "Nothing to send." in said, said  # not sent, nor the hub asked, again
    session_with(setup, "a", "Ann")
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    assert hub_rate(setup, "Ann") == 125


def test_a_device_without_network_sends_settings_by_stick(setup, capsys, tmp_path: Path):  # noqa: F811
    stick = tmp_path / "stick"
    stick.mkdir()
    group_on_a(setup, capsys)
    assert hub_cli(setup, "people", "assign", "Sam", "device c", "--by", "Jo").returncode == 0
    round_trip(setup, stick, capsys)  # C receives Sam by stick
    assert device(setup, "c", "people", "set", "Sam", "--rate", "110", capsys=capsys)[0] == 0
    out, _said = round_trip(setup, stick, capsys)
    folder = stick / f"assistant-{setup['devices']['c']['id']}"
    assert list((folder / "settings").glob("*.bundle")), out
    assert hub_rate(setup) == 110
    # the hub's update on the stick holds them: C does not write them again
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "settings").iterdir()}
    code, _out = device(setup, "c", "sync", "export", str(stick), capsys=capsys)
    assert code == 0
    after = {p.name: p.stat().st_mtime_ns for p in (folder / "settings").iterdir()}
    assert before == after
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    with store_of(setup, "a") as store:
        sam = store.find_person("Sam")
        assert sam is not None and sam.words_per_minute == 110


def test_a_tampered_or_misdirected_settings_bundle_is_refused(setup, capsys):  # noqa: F811
    """Only the device that holds the person's link may send their settings, sealed to the hub
    and signed: altered bytes or another device's person change nothing."""
    from assistant.errors import BundleError
    from assistant.hub.errors import NotYours
    from assistant.hub.own_settings import store_settings
    from assistant.sync import own_settings
    from assistant.sync.device import Enrolment

    group_on_a(setup, capsys)
    assert device(setup, "a", "people", "set", "Sam", "--rate", "140", capsys=capsys)[0] == 0
    with store_of(setup, "a") as store:
        (doc,) = own_settings.changed(store)
    hub = setup["hub"]
    a = Enrolment.load(setup["devices"]["a"]["data"])
    c = Enrolment.load(setup["devices"]["c"]["data"])
    sealed = bytearray(own_settings.seal(doc, a))
    sealed[-3] ^= 0x01
    with pytest.raises(BundleError):
        store_settings(hub, doc["person_id"], bytes(sealed), device_id=a.device_id)
    with pytest.raises(NotYours):  # C does not hold Sam
        store_settings(hub, doc["person_id"], own_settings.seal(doc, c), device_id=c.device_id)
    assert hub_rate(setup) is None
    assert store_settings(hub, doc["person_id"], own_settings.seal(doc, a), device_id=a.device_id)
    assert hub_rate(setup) == 140
