"""Staff keep people on the hub's pages: add, rename, give to a device, stop sending, merge.

The same functions as ``assistant hub people ...`` (tests/test_people_merge.py), through the
staff pages (FastAPI's TestClient, a real hub on SQLite): each form needs the ``change`` right
and the log-in's CSRF token, says what it did in plain words, and is in the audit log.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import nacl.signing
import pytest

pytest.importorskip("fastapi")

from sqlalchemy import select  # noqa: E402

from assistant.hub import db  # noqa: E402
from assistant.hub.people import payload_for  # noqa: E402
from assistant.sync.device import b64  # noqa: E402
from tests.test_published_scripts import _csrf, _log_in  # noqa: E402
from tests.test_sync_support import open_hub  # noqa: E402


def _device(hub: object, name: str) -> str:
    device_id = str(uuid.uuid4())
    key = nacl.signing.SigningKey.generate().verify_key
    hub.enrol(hub.new_code("test"), device_id, name, b64(bytes(key)))  # type: ignore[attr-defined]
    return device_id


def test_staff_add_rename_assign_and_merge_people_on_the_pages(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from assistant.hub.app import create_app

    hub = open_hub(tmp_path / "hub", None)
    hub.add_staff("Jo", "jo's long password", role="staff")
    hub.add_staff("Ray", "ray's long password", role="read-only")
    house, workshop = _device(hub, "house 2"), _device(hub, "workshop")
    try:
        with TestClient(create_app(hub)) as jo, TestClient(create_app(hub)) as ray:
            _log_in(jo, "Jo", "jo's long password")
            page = jo.get("/people")
            assert page.status_code == 200 and "No people yet." in page.text
            token = _csrf(page.text)
            done = jo.post("/people/add", data={"name": "Sam", "to": [house], "csrf": token})
            assert "Added Sam and gave them to 1 device(s)" in done.text
            again = jo.post("/people/add", data={"name": "sam", "csrf": token})
            assert "Not changed." in again.text and "Sam" in again.text
            jo.post("/people/add", data={"name": "Samuel", "csrf": token})
            with hub.tx() as s:
                ids = {p.name: p.id for p in s.scalars(select(db.Person))}
            assert set(ids) == {"Sam", "Samuel"}
            assert [p["name"] for p in payload_for(hub, house)["people"]] == ["Sam"]

            sam = ids["Sam"]
            shown = jo.get(f"/people/{sam}")
            assert "Stop sending to house 2" in shown.text and "Give them to" in shown.text
            assert "<title>Sam" in shown.text and shown.text.count('id="manage-h"') == 1
            jo.post(f"/people/{sam}/assign", data={"device": workshop, "csrf": token})
            assert [p["name"] for p in payload_for(hub, workshop)["people"]] == ["Sam"]
            stopped = jo.post(
                f"/people/{sam}/assign", data={"device": house, "undo": "1", "csrf": token}
            )
            assert "Sam is no longer sent to house 2" in stopped.text
            assert payload_for(hub, house)["people"] == []

            renamed = jo.post(f"/people/{sam}/rename", data={"name": "Sam Jones", "csrf": token})
            assert "Sam is now called Sam Jones on every device" in renamed.text
            merged = jo.post(f"/people/{sam}/merge", data={"other": ids["Samuel"], "csrf": token})
            assert "Merged Samuel into Sam Jones" in merged.text
            assert "Samuel" not in jo.get("/people").text
            self_merge = jo.post(f"/people/{sam}/merge", data={"other": sam, "csrf": token})
            assert "Not changed. Choose another record" in self_merge.text

            # read-only staff see people but cannot change them; a form without the token fails
            _log_in(ray, "Ray", "ray's long password")
            seen = ray.get(f"/people/{sam}")
            assert seen.status_code == 200 and "Rename</button>" not in seen.text
            refused = ray.post(
                f"/people/{sam}/rename",
                data={"name": "X", "csrf": _csrf(seen.text)},
                follow_redirects=False,
            )
            assert refused.status_code == 403
            forged = jo.post(
                f"/people/{sam}/rename", data={"name": "X", "csrf": "no"}, follow_redirects=False
            )
            assert forged.status_code in (400, 403)
        with hub.tx() as s:
            assert s.get(db.Person, sam).name == "Sam Jones"
            actions = set(s.scalars(select(db.Audit.action)))
        assert {"merged people", "assigned person", "unassigned person", "viewed people"} <= actions
    finally:
        hub.close()
