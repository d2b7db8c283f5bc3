"""Taught words travel with the person (docs/sync.md "Taught words", assistant/sync/words.py).

A real hub process (SQLite, and PostgreSQL when it runs) and devices A, B and C, each with its
own data folder. Sam teaches yes and no on A (hums: a sound can stand for a word); after A's
sync the hub holds the examples; staff give Sam to B, and after B's sync B understands Sam's
hums from the examples alone. C, which does not hold Sam, receives nothing and cannot fetch an
example. Sam withdraws on B: the hub deletes the examples at once, A at its next sync. A device
that had not heard of the withdrawal and kept another example cannot bring them back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

pytest.importorskip("fastapi")

import speech_samples as ss  # noqa: E402

from assistant.cli import main  # noqa: E402
from assistant.errors import BundleError  # noqa: E402
from assistant.hub import db as hubdb  # noqa: E402
from assistant.records.store import RecordStore  # noqa: E402
from assistant.sync import words as sync_words  # noqa: E402
from assistant.sync.client import HubClient  # noqa: E402
from assistant.sync.device import Enrolment  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    PASSPHRASE,
    ProcessHub,
    add_session,
    db_url,  # noqa: F401  (a fixture: SQLite, PostgreSQL)
    device_config,
    enrol_device,
    new_store,
    open_hub,
    run_cli,
)


def hum(rise: bool, i: int) -> np.ndarray:
    """A hummed yes (rising) or no (falling), each time a little different."""
    rng = np.random.default_rng(i)
    n = int(rng.uniform(0.45, 0.6) * ss.RATE)
    f0 = (
        150
        * rng.uniform(0.95, 1.05)
        * (np.linspace(1.0, 1.5, n) if rise else np.linspace(1.4, 0.8, n))
    )
    ph = np.cumsum(2 * np.pi * f0 / ss.RATE)
    x = sum(np.sin(h * ph) / h for h in range(1, 8)) * 6000
    return ss.mix_noise(ss.pad(np.asarray(x).astype(np.int16)), 30, seed=i)


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


def hub_examples(setup: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The examples the hub's database names, and the audio files in its words folder."""
    with setup["hub"].tx() as s:
        rows = set(s.scalars(select(hubdb.HubWordExample.sha256)))
    files = {p.stem for p in (setup["hub"].home / "words").rglob("*.wav")}
    return rows, files


def teach(setup: dict[str, Any], name: str, who: str, capsys: Any, first: int = 0) -> None:
    tmp = setup["tmp"]
    code, out = device(
        setup, name, "people", "words-consent", who, "yes", "--by", "Kate", capsys=capsys
    )
    assert code == 0, out
    for word, rise in (("yes", True), ("no", False)):
        files = [
            str(ss.write_wav(tmp / f"{name}-{word}{i}.wav", hum(rise, i)))
            for i in range(first, first + 3)
        ]
        code, out = device(setup, name, "people", "teach", who, word, *files, capsys=capsys)
        assert code == 0, out


def test_taught_on_a_understood_on_b_withdrawn_on_b_gone_everywhere(setup, capsys):
    tmp = setup["tmp"]
    a = store_of(setup, "a")
    sam = a.add_person("Sam")
    add_session(a, tmp, who="Sam", clips=0)  # the hub learns of Sam from A
    a.close()
    teach(setup, "a", "Sam", capsys)
    code, out = device(setup, "a", "sync", capsys=capsys)
    assert code == 0, out
    assert "Sent the taught words of 1 person(s)." in out
    rows, files = hub_examples(setup)
    assert len(rows) == 6 and rows == files

    # nothing changed: nothing is sent again
    code, out = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "taught words" not in out, out

    # staff give Sam to B; B's sync brings Sam and their words
    assert hub_cli(setup, "people", "assign", "Sam", "device b").returncode == 0
    code, out = device(setup, "b", "sync", capsys=capsys)
    assert code == 0, out
    assert "1 person(s) had their taught words changed on another device." in out
    b = store_of(setup, "b")
    sam_b = b.find_person("Sam")
    assert sam_b is not None and sam_b.id == sam.id
    assert b.words.counts(sam.id) == {"yes": 3, "no": 3}
    assert b.words.consent(sam.id) is True
    matcher, problems = b.words.matcher(sam.id)
    assert matcher is not None and problems == []
    # understood from the examples alone, on a device that never heard Sam teach them
    assert [matcher.match(hum(True, i)).answer for i in (7, 8)] == ["yes", "yes"]
    assert [matcher.match(hum(False, i)).answer for i in (7, 8)] == ["no", "no"]
    b.close()
    code, out = device(setup, "b", "sync", capsys=capsys)  # what came down is not sent back
    assert code == 0 and "taught words" not in out, out

    # C does not hold Sam: it receives nothing, and cannot fetch an example
    code, out = device(setup, "c", "sync", capsys=capsys)
    assert code == 0, out
    c = store_of(setup, "c")
    assert c.find_person("Sam") is None
    assert not list((setup["devices"]["c"]["data"] / "words").glob("*.wav"))
    c.close()
    enrolment = Enrolment.load(setup["devices"]["c"]["data"])
    client = HubClient(setup["server"].url, enrolment.token, max_attempts=1)
    try:
        assert client.request("GET", f"/v1/words/{next(iter(rows))}").status_code == 404
    finally:
        client.close()

    # Sam withdraws on B: B deletes its examples at once, the hub at B's sync, A at its own
    code, out = device(setup, "b", "people", "words-consent", "Sam", "no", capsys=capsys)
    assert code == 0, out
    assert not list((setup["devices"]["b"]["data"] / "words").glob("*.wav"))
    code, out = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "Sent the taught words of 1 person(s)." in out, out
    assert hub_examples(setup) == (set(), set())
    code, out = device(setup, "a", "sync", capsys=capsys)
    assert code == 0, out
    assert "6 example(s) of taught words deleted" in out
    a = store_of(setup, "a")
    assert a.words.counts(sam.id) == {}
    assert a.words.consent(sam.id) is False
    assert not list((setup["devices"]["a"]["data"] / "words").glob("*.wav"))
    a.close()

    # Sam agrees again on A and teaches again: the new examples reach B
    teach(setup, "a", "Sam", capsys, first=20)
    code, out = device(setup, "a", "sync", capsys=capsys)
    assert code == 0, out
    code, out = device(setup, "b", "sync", capsys=capsys)
    assert code == 0, out
    b = store_of(setup, "b")
    assert b.words.counts(sam.id) == {"yes": 3, "no": 3}
    assert b.words.consent(sam.id) is True
    b.close()
    rows, files = hub_examples(setup)
    assert len(rows) == 6 and rows == files


def test_a_device_that_missed_the_withdrawal_cannot_bring_the_words_back(setup, capsys):
    tmp = setup["tmp"]
    a = store_of(setup, "a")
    sam = a.add_person("Sam")
    add_session(a, tmp, who="Sam", clips=0)
    a.close()
    teach(setup, "a", "Sam", capsys)
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    assert hub_cli(setup, "people", "assign", "Sam", "device b").returncode == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0

    # withdrawn on B and sent; A has not heard, and keeps one more example after it
    assert device(setup, "b", "people", "words-consent", "Sam", "no", capsys=capsys)[0] == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    a = store_of(setup, "a")
    a.words.add_example(sam.id, "yes", ss.write_wav(tmp / "late.wav", hum(True, 40)), "confirmed")
    a.close()
    # A's change is later, but made under the consent the withdrawal ended: nothing comes back
    code, out = device(setup, "a", "sync", capsys=capsys)
    assert code == 0, out
    assert hub_examples(setup) == (set(), set())
    a = store_of(setup, "a")
    assert a.words.counts(sam.id) == {} and a.words.consent(sam.id) is False
    a.close()
    b = store_of(setup, "b")
    assert b.words.counts(sam.id) == {}
    b.close()


def test_agreed_again_the_examples_from_before_the_withdrawal_stay_gone(setup, capsys):
    tmp = setup["tmp"]
    a = store_of(setup, "a")
    sam = a.add_person("Sam")
    add_session(a, tmp, who="Sam", clips=0)
    a.close()
    teach(setup, "a", "Sam", capsys)
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    assert hub_cli(setup, "people", "assign", "Sam", "device b").returncode == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    # on B: withdrawn, then agreed again (nothing taught); A hears of neither, and keeps one
    # more example after both: A's set is the latest change, but only its new example stands
    assert device(setup, "b", "people", "words-consent", "Sam", "no", capsys=capsys)[0] == 0
    assert device(setup, "b", "people", "words-consent", "Sam", "yes", capsys=capsys)[0] == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    a = store_of(setup, "a")
    late = a.words.add_example(
        sam.id, "yes", ss.write_wav(tmp / "late.wav", hum(True, 40)), "confirmed"
    )
    a.close()
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    assert hub_examples(setup) == ({late}, {late})
    for name in ("a", "b"):
        assert device(setup, name, "sync", capsys=capsys)[0] == 0
        store = store_of(setup, name)
        assert [e["sha256"] for e in store.words.examples(sam.id)] == [late], name
        assert store.words.consent(sam.id) is True
        store.close()


def test_taught_words_go_by_stick_both_ways(setup, capsys):
    tmp = setup["tmp"]
    stick = tmp / "stick"
    stick.mkdir()
    a = store_of(setup, "a")
    sam = a.add_person("Sam")
    add_session(a, tmp, who="Sam", clips=0)
    a.close()
    teach(setup, "a", "Sam", capsys)
    code, out = device(setup, "a", "sync", "export", str(stick), capsys=capsys)
    assert code == 0, out
    folder = stick / f"assistant-{setup['devices']['a']['id']}"
    assert (folder / "words" / f"{sam.id}.bundle").is_file()
    done = hub_cli(setup, "import", str(stick))
    assert done.returncode == 0, done.stdout + done.stderr
    rows, files = hub_examples(setup)
    assert len(rows) == 6 and rows == files
    assert hub_cli(setup, "people", "assign", "Sam", "device b").returncode == 0
    done = hub_cli(setup, "export", str(stick), "--to", "device b")
    assert done.returncode == 0, done.stdout + done.stderr
    to_b = stick / f"assistant-{setup['devices']['b']['id']}" / "from-hub" / "words"
    assert {p.stem for p in to_b.glob("*.update")} == rows
    # one example altered on the stick: refused, named, and Sam's words wait; the rest is used
    victim = sorted(to_b.glob("*.update"))[0]
    good = victim.read_bytes()
    victim.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    code, out = device(setup, "b", "sync", "import", str(stick), capsys=capsys)
    assert victim.name in out and "taught words wait" in out, out
    b = store_of(setup, "b")
    assert b.find_person("Sam") is not None and b.words.counts(sam.id) == {}
    b.close()
    victim.write_bytes(good)
    code, out = device(setup, "b", "sync", "import", str(stick), capsys=capsys)
    assert code == 0, out
    b = store_of(setup, "b")
    assert b.words.counts(sam.id) == {"yes": 3, "no": 3}
    matcher, _ = b.words.matcher(sam.id)
    assert matcher is not None and matcher.match(hum(False, 9)).answer == "no"
    b.close()


def test_withdrawn_on_the_hub_by_staff_reaches_every_device(setup, capsys):
    from assistant.hub.web import words_line

    tmp = setup["tmp"]
    a = store_of(setup, "a")
    sam = a.add_person("Sam")
    add_session(a, tmp, who="Sam", clips=0)
    a.close()
    teach(setup, "a", "Sam", capsys)
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    assert hub_cli(setup, "people", "assign", "Sam", "device b").returncode == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    with setup["hub"].tx() as s:
        assert (
            words_line(s, sam.id)
            == "Examples kept: no 3, yes 3. Every device that holds them uses these."
        )
    done = hub_cli(setup, "people", "words-withdraw", "Sam", "--by", "Jo")
    assert done.returncode == 0, done.stderr
    assert "6 example(s) deleted on the hub" in done.stdout
    assert hub_examples(setup) == (set(), set())
    with setup["hub"].tx() as s:
        assert "no longer agree" in (words_line(s, sam.id) or "")
    for name in ("a", "b"):
        code, out = device(setup, name, "sync", capsys=capsys)
        assert code == 0 and "6 example(s) of taught words deleted" in out, (name, out)
        store = store_of(setup, name)
        assert store.words.counts(sam.id) == {} and store.words.consent(sam.id) is False
        store.close()


def test_taught_on_two_devices_offline_the_later_wins_and_the_other_is_shown(setup, capsys):
    tmp = setup["tmp"]
    a = store_of(setup, "a")
    sam = a.add_person("Sam")
    add_session(a, tmp, who="Sam", clips=0)
    a.close()
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    assert hub_cli(setup, "people", "assign", "Sam", "device b").returncode == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    teach(setup, "a", "Sam", capsys)  # neither has heard of the other's
    teach(setup, "b", "Sam", capsys, first=30)
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    b = store_of(setup, "b")
    theirs = {e["sha256"] for e in b.words.examples(sam.id)}
    b.close()
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0  # takes B's, the later change
    a = store_of(setup, "a")
    assert {e["sha256"] for e in a.words.examples(sam.id)} == theirs
    a.close()
    assert hub_examples(setup)[0] == theirs
    listed = " ".join(hub_cli(setup, "people", "list").stdout.split())
    assert "conflict: their taught words changed on device a" in listed, listed
    assert "examples: no 3, yes 3" in listed


def test_a_words_bundle_is_checked(tmp_path: Path) -> None:
    good = {
        "format": 1,
        "person_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12,
        "changed_at": "2026-12-06T10:00:00+00:00",
        "consent": [{"uid": "a" * 32, "allowed": True, "at": "2026-12-06T09:00:00+00:00"}],
        "examples": [],
        "audio": {},
    }
    import json

    pid = good["person_id"]
    assert sync_words.parse(json.dumps(good).encode(), pid)["changed_at"].startswith("2026")
    wav = ss.write_wav(tmp_path / "x.wav", hum(True, 1)).read_bytes()
    sha = sync_words.bundle.sha256_hex(wav)
    bad_cases = [
        (good | {"person_id": "1" * 8 + pid[8:]}, "different person"),
        (good | {"examples": [{"word": "maybe", "sha256": sha, "kept_at": good["changed_at"]}]},
         "not one of the five words"),
        (good | {"audio": {sha: __import__("base64").b64encode(wav[:-1]).decode()}},
         "does not match its name"),
        (good | {"consent": [{"uid": "../x", "allowed": True, "at": good["changed_at"]}]},
         "bad id"),
        (good | {"changed_at": "yesterday"}, "not readable"),
    ]  # fmt: skip
    for doc, why in bad_cases:
        with pytest.raises(BundleError, match=why):
            sync_words.parse(json.dumps(doc).encode(), pid)


def test_one_consent_rule_for_hub_pages_and_devices() -> None:
    """The latest decision is in force, a no wins a tie, and only examples kept after the
    latest no stand (assistant.sync.words.consent_in_force, used by all three)."""
    from assistant.sync.words import consent_in_force, example_stands

    assert consent_in_force([]) == (False, None)
    t1, t2, t3 = "2026-12-01T10:00:00+00:00", "2026-12-02T10:00:00+00:00", "2026-12-03T10:00:00Z"
    allowed, cutoff = consent_in_force([(t1, True), (t2, False), (t3, True)])
    assert allowed and cutoff == "2026-12-02T10:00:00.000000+00:00"
    assert not example_stands("2026-12-01T12:00:00+00:00", allowed, cutoff)  # kept before the no
    assert example_stands("2026-12-03T11:00:00+00:00", allowed, cutoff)
    assert consent_in_force([(t3, True), (t3, False)])[0] is False  # the same time: the no
    assert consent_in_force([(t2, False), (t3, True)])[0] is True
