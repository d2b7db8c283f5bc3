"""Published scripts: staff publish on the hub, devices receive them signed, check them at every
load, run them (the record keeps the version), refuse tampered or unsigned ones (the built-in
is used), and drop them when withdrawn. A real hub process (``assistant hub serve``), real
record stores in separate data folders, the real engine."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
import yaml

pytest.importorskip("fastapi")

from assistant.cli import main  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.dialogue.published import (  # noqa: E402
    PublicationRefused,
    PublishedScripts,
    load_device_script,
    publication_document,
    sign,
    yaml_sha256,
)
from assistant.dialogue.script import builtin_dir  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    PASSPHRASE,
    ProcessHub,
    db_url,  # noqa: E402, F401  (a fixture: SQLite, PostgreSQL)
    device_config,
    enrol_device,
    new_store,
    open_hub,
    run_cli,
)

BUILTIN = (builtin_dir() / "daily-checkin.yaml").read_text()
GREETING = "Hello. It's time for your daily check-in."
NEW_GREETING = "Good morning. It's time for your daily check-in."
PUBLISHED = BUILTIN.replace(GREETING, NEW_GREETING)

CHECKIN = {
    "script": "daily-checkin",
    "roster": [{"name": "Sam", "consent": False}],
    "jobs": [],
    "turns": [
        {"press": "yes", "step": "who"},
        {"press": "no", "step": "consent"},
        {"press": "yes", "step": "mood"},
        {"press": "next", "times": 6, "step": "news"},
    ],
    "expect": {"finished": True},
}


# -- the device's folder, with an injected hub key (no network) ---------------------------------


def signed_publication(key: nacl.signing.SigningKey, text: str, version: int = 1) -> dict[str, Any]:
    doc = publication_document(
        name="daily-checkin",
        version=version,
        yaml_text=text,
        targets="all",
        published_at="2026-12-03T15:00:00+00:00",
        published_by="Jo",
    )
    return {"publication": doc, "signature": sign(doc, key)}


def settings_in(data: Path) -> Settings:
    return Settings.model_validate({"records": {"data_dir": str(data)}})


def test_a_good_publication_is_used_and_every_alteration_is_refused(tmp_path, caplog):
    hub_key = nacl.signing.SigningKey.generate()
    settings = settings_in(tmp_path / "dev")
    folder = PublishedScripts(settings.published_scripts_dir, bytes(hub_key.verify_key))
    folder.install(signed_publication(hub_key, PUBLISHED, version=3))
    script = load_device_script("daily-checkin", settings, folder)
    assert script.publication == 3 and script.sha256 == yaml_sha256(PUBLISHED)
    assert script.steps[0].text == NEW_GREETING  # type: ignore[attr-defined]

    path = folder.path("daily-checkin")
    good = path.read_text()

    def refused(text: str) -> str:
        path.write_text(text)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            fallback = load_device_script("daily-checkin", settings, folder)
        assert fallback.publication is None and fallback.steps[0].text == GREETING  # type: ignore[attr-defined]
        assert "is used instead" in caplog.text
        return folder.problems()["daily-checkin"]

    data = json.loads(good)
    data["publication"]["yaml"] = PUBLISHED.replace("Good morning", "Good evening")
    assert "signature does not match" in refused(json.dumps(data))
    data = json.loads(good)
    data["signature"] = ""
    assert "not signed by the hub" in refused(json.dumps(data))
    other = nacl.signing.SigningKey.generate()  # signed, but not by this device's hub
    assert "signature does not match" in refused(json.dumps(signed_publication(other, PUBLISHED)))
    assert "damaged" in refused(good[: len(good) // 2])
    assert "not a published script" in refused(json.dumps({"name": "daily-checkin"}))

    path.write_text(good)
    assert load_device_script("daily-checkin", settings, folder).publication == 3
    no_key = PublishedScripts(settings.published_scripts_dir, None)  # a device not enrolled
    assert load_device_script("daily-checkin", settings, no_key).publication is None
    with pytest.raises(PublicationRefused, match="does not know its hub's signing key"):
        no_key.check("daily-checkin")


def test_a_publication_for_other_devices_is_refused(tmp_path):
    hub_key = nacl.signing.SigningKey.generate()
    mine = PublishedScripts(tmp_path / "published", bytes(hub_key.verify_key), "device-b")
    signed = signed_publication(hub_key, PUBLISHED)
    signed["publication"]["targets"] = ["device-a"]
    signed["signature"] = sign(signed["publication"], hub_key)
    with pytest.raises(PublicationRefused, match="published for other devices"):
        mine.install(signed)  # genuinely signed, but copied from device A
    PublishedScripts(tmp_path / "published", bytes(hub_key.verify_key), "device-a").install(signed)
    assert "published for other devices" in mine.problems()["daily-checkin"]


def test_a_publication_that_does_not_load_is_never_kept(tmp_path):
    hub_key = nacl.signing.SigningKey.generate()
    folder = PublishedScripts(tmp_path / "published", bytes(hub_key.verify_key))
    wrong_name = PUBLISHED.replace("name: daily-checkin", "name: garden")
    with pytest.raises(PublicationRefused, match="called 'garden'"):
        folder.install(signed_publication(hub_key, wrong_name))
    assert folder.names() == []


# -- a real hub process and two devices ---------------------------------------------------------


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[dict[str, Any]]:
    hub = open_hub(tmp_path / "hub", None)
    server = ProcessHub(hub.home, None).start()
    devices = {}
    for name in ("a", "b"):
        data = tmp_path / name
        store = new_store(data)
        enrolment = enrol_device(hub, server.url, data, store, name=f"device {name}")
        store.close()
        devices[name] = {
            "data": data,
            "config": device_config(tmp_path / f"{name}.toml", data),
            "id": enrolment.device_id,
        }
    try:
        yield {"hub": hub, "server": server, "devices": devices, "tmp": tmp_path}
    finally:
        server.stop()
        hub.close()


def hub_cli(setup: dict[str, Any], *args: str) -> Any:
    config = setup["devices"]["a"]["config"]
    env = {"ASSISTANT_HUB_PASSPHRASE": PASSPHRASE}
    return run_cli(config, "hub", *args, "--home", str(setup["hub"].home), env=env)


def device(setup: dict[str, Any], name: str, *args: str, capsys: Any) -> tuple[int, str]:
    code = main(["--config", str(setup["devices"][name]["config"]), *args])
    got = capsys.readouterr()
    return code, " ".join((got.out + got.err).split())


def checkin(setup: dict[str, Any], name: str, capsys: Any) -> tuple[dict[str, Any], str]:
    tmp = setup["tmp"]
    scenario = tmp / "checkin.yaml"
    scenario.write_text(yaml.safe_dump(CHECKIN))
    out = tmp / f"{name}-record.json"
    code, said = device(
        setup,
        name,
        "simulate",
        str(scenario),
        "--fake-speech",
        "--save",
        "-o",
        str(out),
        capsys=capsys,
    )
    assert code == 0, said
    return json.loads(out.read_text()), said


def test_publish_receive_run_tamper_withdraw(setup, capsys):
    tmp = setup["tmp"]
    a, b = setup["devices"]["a"], setup["devices"]["b"]
    script = tmp / "daily-checkin.yaml"
    script.write_text(PUBLISHED)

    done = hub_cli(setup, "scripts", "publish", str(script), "--to", a["id"][:8], "--by", "Jo")
    assert done.returncode == 0, done.stderr
    assert "Published daily-checkin version 1" in done.stdout

    # A receives it by network and runs it; the record keeps the version and sha256
    code, said = device(setup, "a", "sync", "push", capsys=capsys)
    assert code == 0 and "Received the published script daily-checkin v1." in said
    record, said = checkin(setup, "a", capsys)
    assert NEW_GREETING in said
    assert record["script"] == "daily-checkin" and record["script_publication"] == 1
    assert record["script_sha256"] == yaml_sha256(PUBLISHED)
    code, shown = device(setup, "a", "records", "show", record["id"][:8], capsys=capsys)
    assert code == 0 and f"published version 1, sha256 {yaml_sha256(PUBLISHED)[:12]}" in shown
    code, listed = device(setup, "a", "scripts", "list", capsys=capsys)
    assert "Daily check-in (published version 1)" in listed

    # B is not a target: it receives nothing and runs the built-in
    code, said = device(setup, "b", "sync", "push", capsys=capsys)
    assert code == 0 and "Received" not in said
    assert not list((b["data"] / "published" / "scripts").glob("*"))
    record, said = checkin(setup, "b", capsys)
    assert GREETING in said and record["script_publication"] is None

    # a tampered publication on A is refused: the built-in runs, check and list say so
    path = a["data"] / "published" / "scripts" / "daily-checkin.json"
    data = json.loads(path.read_text())
    data["publication"]["yaml"] = PUBLISHED.replace("Good morning", "Hi there")
    path.write_text(json.dumps(data))
    record, said = checkin(setup, "a", capsys)
    assert GREETING in said and "Hi there" not in said
    assert record["script_publication"] is None
    code, listed = device(setup, "a", "scripts", "list", capsys=capsys)
    assert "cannot be used" in listed and "signature does not match" in listed
    # ... and the next contact puts the good one back
    code, said = device(setup, "a", "sync", "push", capsys=capsys)
    assert "Received the published script daily-checkin v1." in said
    assert checkin(setup, "a", capsys)[0]["script_publication"] == 1

    # an unsigned file dropped into the folder is never run, and goes at the next contact
    review = (builtin_dir() / "review.yaml").read_text()
    doc = publication_document(
        name="review",
        version=9,
        yaml_text=review,
        targets="all",
        published_at="2026-12-03T15:00:00+00:00",
        published_by="someone",
    )
    dropped = path.with_name("review.json")
    dropped.write_text(json.dumps({"publication": doc, "signature": "00" * 64}))
    assert load_device_script("review", settings_in(a["data"])).publication is None
    code, said = device(setup, "a", "sync", "push", capsys=capsys)
    assert "Removed the published script review" in said and not dropped.exists()

    # a new version to every device; then withdrawn: removed at the next contact
    done = hub_cli(setup, "scripts", "publish", str(script), "--all")
    assert done.returncode == 0 and "version 2" in done.stdout, done.stderr
    code, said = device(setup, "b", "sync", "push", capsys=capsys)
    assert "Received the published script daily-checkin v2." in said
    assert checkin(setup, "b", capsys)[0]["script_publication"] == 2
    listed_hub = hub_cli(setup, "scripts", "list")
    assert "v2" in listed_hub.stdout and "all devices" in listed_hub.stdout
    done = hub_cli(setup, "scripts", "withdraw", "daily-checkin", "--by", "Jo")
    assert done.returncode == 0 and "Withdrew daily-checkin" in done.stdout
    for name in ("a", "b"):
        code, said = device(setup, name, "sync", "push", capsys=capsys)
        assert "Removed the published script daily-checkin" in said
        record, said = checkin(setup, name, capsys)
        assert GREETING in said and record["script_publication"] is None
    assert "withdrawn" in hub_cli(setup, "scripts", "list").stdout


def test_the_hub_refuses_a_script_with_the_same_words_as_scripts_check(setup, capsys):
    tmp = setup["tmp"]
    (tmp / "good.yaml").write_text(PUBLISHED)
    bad = tmp / "bad.yaml"
    bad.write_text(PUBLISHED.replace("type: who_is_here", "type: who_is_there"))
    checked = run_cli(setup["devices"]["a"]["config"], "scripts", "check", str(bad))
    assert checked.returncode == 2
    refused = hub_cli(setup, "scripts", "publish", str(bad), "--all")
    assert refused.returncode != 0
    assert checked.stderr.strip() and checked.stderr.strip() in refused.stderr
    wordy = tmp / "wordy.yaml"
    wordy.write_text(
        PUBLISHED.replace(NEW_GREETING, "Good morning. When you are ready, press the green button.")
    )
    checked = run_cli(setup["devices"]["a"]["config"], "scripts", "check", str(wordy))
    assert checked.returncode == 1
    refused = hub_cli(setup, "scripts", "publish", str(wordy), "--all")
    assert refused.returncode != 0 and checked.stdout.strip() in refused.stderr
    assert "not published" in refused.stderr
    nowhere = hub_cli(setup, "scripts", "publish", str(tmp / "missing.yaml"), "--all")
    assert "does not exist" in nowhere.stderr
    no_targets = hub_cli(setup, "scripts", "publish", str(tmp / "good.yaml"))
    assert no_targets.returncode != 0 and "Say which devices" in no_targets.stderr
    assert "No scripts are published." in hub_cli(setup, "scripts", "list").stdout


def test_versions_targets_and_withdrawal_on_each_database(tmp_path, db_url):  # noqa: F811
    import uuid

    from assistant.hub.publish import NotPublished, for_device, publications, publish, withdraw
    from assistant.sync.device import b64

    hub = open_hub(tmp_path / "hub", db_url)
    try:
        ids = []
        for name in ("a", "b"):
            device_id = str(uuid.uuid4())
            key = b64(bytes(nacl.signing.SigningKey.generate().verify_key))
            hub.enrol(hub.new_code("test"), device_id, f"device {name}", key)
            ids.append(device_id)
        first = publish(hub, PUBLISHED, to=["device a"], everyone=False, by="Jo")
        second = publish(hub, PUBLISHED + "\n", to=[], everyone=True, by="Jo")
        assert (first.version, second.version) == (1, 2) and first.sha256 != second.sha256
        assert for_device(hub, ids[0])["daily-checkin"]["publication"]["version"] == 2
        third = publish(hub, PUBLISHED, to=[ids[0][:8]], everyone=False, by="Jo")
        assert for_device(hub, ids[0])["daily-checkin"]["publication"]["version"] == 3
        assert for_device(hub, ids[1])["daily-checkin"]["publication"]["version"] == 2
        assert third.targets == [ids[0]]
        assert withdraw(hub, "daily-checkin", by="Jo") == [1, 2, 3]
        assert for_device(hub, ids[0]) == {} and for_device(hub, ids[1]) == {}
        with pytest.raises(NotPublished):
            withdraw(hub, "daily-checkin", by="Jo")
        assert [r.version for r in publications(hub)] == [3, 2, 1]
        with pytest.raises(Exception, match="either --all or --to"):
            publish(hub, PUBLISHED, to=["device a"], everyone=True, by="Jo")
    finally:
        hub.close()


# -- the staff page ------------------------------------------------------------------------------


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _log_in(client: Any, name: str, password: str) -> None:
    r = client.post(
        "/login",
        data={"name": name, "password": password, "csrf": _csrf(client.get("/login").text)},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_the_staff_page_lists_publishes_and_withdraws_by_role(tmp_path):
    from fastapi.testclient import TestClient

    from assistant.hub.app import create_app
    from assistant.hub.publish import for_device, publications

    hub = open_hub(tmp_path / "hub", None)
    hub.add_staff("Jo", "jo's long password", role="staff")
    hub.add_staff("Ray", "ray's long password", role="read-only")
    try:
        with TestClient(create_app(hub)) as jo, TestClient(create_app(hub)) as ray:
            _log_in(jo, "Jo", "jo's long password")
            page = jo.get("/scripts")
            assert page.status_code == 200 and "No scripts are published yet." in page.text
            bad = jo.post(
                "/scripts/publish",
                data={"yaml_text": "name: [", "everyone": "1", "csrf": _csrf(page.text)},
            )
            assert "Not published." in bad.text and "YAML" in bad.text
            done = jo.post(
                "/scripts/publish",
                data={"yaml_text": PUBLISHED, "everyone": "1", "csrf": _csrf(page.text)},
            )
            assert "Published daily-checkin version 1 to all devices" in done.text
            assert "Live" in done.text and "Withdraw</button>" in done.text
            (row,) = publications(hub)
            assert row.published_by == "Jo" and row.sha256 == yaml_sha256(PUBLISHED)
            assert set(for_device(hub, "any-device")) == {"daily-checkin"}

            _log_in(ray, "Ray", "ray's long password")
            seen = ray.get("/scripts")
            assert seen.status_code == 200 and "daily-checkin" in seen.text
            assert "Publish</button>" not in seen.text and "Withdraw</button>" not in seen.text
            refused = ray.post(
                "/scripts/daily-checkin/withdraw",
                data={"csrf": _csrf(seen.text)},
                follow_redirects=False,
            )
            assert refused.status_code == 403

            gone = jo.post("/scripts/daily-checkin/withdraw", data={"csrf": _csrf(page.text)})
            assert "Withdrew daily-checkin (version 1)" in gone.text
            assert for_device(hub, "any-device") == {}
        with hub.tx() as s:
            from sqlalchemy import select

            from assistant.hub import db

            actions = set(s.scalars(select(db.Audit.action)))
        assert {"published script", "withdrew script", "viewed published scripts"} <= actions
    finally:
        hub.close()
