"""The hub's device API, against SQLite and PostgreSQL: tokens, hashes, sizes, idempotency."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, inspect, select  # noqa: E402

from assistant.hub import db  # noqa: E402
from assistant.hub.app import create_app  # noqa: E402
from assistant.hub.service import Hub  # noqa: E402
from assistant.records.model import Answer, Person, SessionRecord  # noqa: E402
from assistant.sync import bundle  # noqa: E402
from assistant.sync.device import b64  # noqa: E402
from tests.test_sync_support import db_url, open_hub  # noqa: E402,F401

CAP = 200_000


@dataclass
class Dev:
    id: str
    token: str
    key: nacl.signing.SigningKey
    hub_key: bytes

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def seal(self, kind: bundle.BundleKind, ident: str, payload: bytes) -> bytes:
        return bundle.seal(
            kind,
            ident,
            payload,
            device_id=self.id,
            hub_public_key=self.hub_key,
            signing_key=bytes(self.key),
        )


@pytest.fixture
def hub(tmp_path: Path, db_url: str | None) -> Iterator[Hub]:  # noqa: F811
    h = open_hub(tmp_path / "hub", db_url, max_upload_bytes=CAP)
    yield h
    h.close()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub)) as c:
        yield c


def enrol(client: TestClient, hub: Hub, name: str = "pi") -> Dev:
    key = nacl.signing.SigningKey.generate()
    device_id = str(uuid.uuid4())
    r = client.post(
        "/v1/enrol",
        json={
            "code": hub.new_code("test"),
            "device_id": device_id,
            "name": name,
            "verify_key": b64(bytes(key.verify_key)),
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    from assistant.sync.device import unb64

    return Dev(device_id, body["token"], key, unb64(body["hub_public_key"]))


def session_with_clip(clip: bytes) -> SessionRecord:
    sam = Person(name="Sam")
    return SessionRecord(
        script="daily_checkin",
        people=[sam],
        answers=[
            Answer(
                person_id=sam.id,
                step_id="note",
                question="What went well?",
                transcript="the garden",
                audio_clip=bundle.sha256_hex(clip),
            )
        ],
    )


def test_the_schema_is_made_by_alembic_and_a_restart_keeps_data(
    tmp_path: Path,
    db_url: str | None,  # noqa: F811
) -> None:
    hub = open_hub(tmp_path / "h", db_url)
    hub.add_staff("Jo", "a long password")
    hub.close()
    again = open_hub(tmp_path / "h", db_url)  # migrations run again: nothing to do
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with again.engine.connect() as conn:  # the migrations make exactly what the models say
        assert compare_metadata(MigrationContext.configure(conn), db.Base.metadata) == []
    names = set(inspect(again.engine).get_table_names())
    assert {"alembic_version", "sessions", "blobs", "devices", "audit", "staff"} <= names
    assert again.check_login("Jo", "a long password") is not None
    assert again.check_login("Jo", "wrong password") is None
    with again.tx() as s:
        stored = s.scalar(select(db.Staff.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    again.close()


def test_enrolment_codes_work_once(client: TestClient, hub: Hub) -> None:
    code = hub.new_code("test")
    key = b64(bytes(nacl.signing.SigningKey.generate().verify_key))
    body = {"code": code, "device_id": str(uuid.uuid4()), "verify_key": key}
    assert client.post("/v1/enrol", json=body).status_code == 200
    body["device_id"] = str(uuid.uuid4())
    assert client.post("/v1/enrol", json=body).status_code == 401
    body["code"] = "AAAA-BBBB-CCCC"
    assert client.post("/v1/enrol", json=body).status_code == 401


def test_bad_and_revoked_tokens_are_refused(client: TestClient, hub: Hub) -> None:
    dev = enrol(client, hub)
    assert client.get("/v1/ping", headers=dev.auth).status_code == 200
    assert client.get("/v1/ping").status_code == 401
    assert client.get("/v1/ping", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (
        client.get("/v1/ping", headers={"Authorization": f"Basic {dev.token}"}).status_code == 401
    )
    hub.revoke(dev.id[:8], by="test")
    assert client.get("/v1/ping", headers=dev.auth).status_code == 403
    clip = b"RIFF clip"
    r = client.put(
        f"/v1/blobs/{bundle.sha256_hex(clip)}",
        content=dev.seal("clip", bundle.sha256_hex(clip), clip),
        headers=dev.auth,
    )
    assert r.status_code == 403
    assert not hub.has_blob(bundle.sha256_hex(clip))


def test_clips_by_hash_are_idempotent_and_checked(client: TestClient, hub: Hub) -> None:
    dev = enrol(client, hub)
    clip = b"RIFF....WAVE" + bytes(range(256)) * 10
    sha = bundle.sha256_hex(clip)
    sealed = dev.seal("clip", sha, clip)
    assert client.head(f"/v1/blobs/{sha}", headers=dev.auth).status_code == 404
    assert client.put(f"/v1/blobs/{sha}", content=sealed, headers=dev.auth).status_code == 201
    assert client.put(f"/v1/blobs/{sha}", content=sealed, headers=dev.auth).status_code == 200
    assert client.head(f"/v1/blobs/{sha}", headers=dev.auth).status_code == 200
    assert hub.blob_path(sha).read_bytes() == clip
    assert hub.blob_path(sha).stat().st_mode & 0o077 == 0  # decrypted audio: owner only
    # the right bundle under the wrong name
    other = "0" * 64
    r = client.put(f"/v1/blobs/{other}", content=sealed, headers=dev.auth)
    assert r.status_code == 422
    assert not hub.has_blob(other)
    with hub.tx() as s:
        assert s.scalar(select(func.count()).select_from(db.Blob)) == 1


def test_wrong_hashes_altered_bundles_and_bad_names_are_refused(
    client: TestClient, hub: Hub
) -> None:
    dev = enrol(client, hub)
    clip = b"some audio bytes"
    sha = bundle.sha256_hex(clip)
    sealed = bytearray(dev.seal("clip", sha, clip))
    sealed[-3] ^= 0xFF
    r = client.put(f"/v1/blobs/{sha}", content=bytes(sealed), headers=dev.auth)
    assert r.status_code == 422
    assert "altered" in r.json()["detail"] or "opened" in r.json()["detail"]
    for name in ["..%2F..%2Fetc%2Fpasswd", "ABC", "0" * 63 + "g", "%2e%2e"]:
        r = client.put(f"/v1/blobs/{name}", content=b"x", headers=dev.auth)
        assert r.status_code in (400, 404, 405), name
    r = client.put("/v1/sessions/..%2F..%2Fx", content=b"x", headers=dev.auth)
    assert r.status_code in (400, 404)
    assert not any((hub.home.parent).glob("**/passwd"))


def test_oversize_uploads_get_413(client: TestClient, hub: Hub) -> None:
    dev = enrol(client, hub)
    clip = b"\x01" * (CAP + 10)
    sha = bundle.sha256_hex(clip)
    r = client.put(f"/v1/blobs/{sha}", content=dev.seal("clip", sha, clip), headers=dev.auth)
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(CAP // 1000 + 5):
            yield b"\x00" * 1000

    r = client.put(f"/v1/blobs/{sha}", content=chunks(), headers=dev.auth)
    assert r.status_code == 413
    assert not hub.has_blob(sha)


def test_sessions_exactly_once_same_content_ok_different_content_409(
    client: TestClient, hub: Hub
) -> None:
    dev = enrol(client, hub)
    clip = b"a voice note"
    sha = bundle.sha256_hex(clip)
    record = session_with_clip(clip)
    sealed = dev.seal("session", record.id, bundle.record_payload(record))
    r = client.put(f"/v1/sessions/{record.id}", content=sealed, headers=dev.auth)
    assert r.status_code == 424
    assert r.json()["missing"] == [sha]
    client.put(f"/v1/blobs/{sha}", content=dev.seal("clip", sha, clip), headers=dev.auth)
    assert (
        client.put(f"/v1/sessions/{record.id}", content=sealed, headers=dev.auth).status_code == 201
    )
    assert (
        client.put(f"/v1/sessions/{record.id}", content=sealed, headers=dev.auth).status_code == 200
    )
    # the same content sealed again (a new key, new bytes) is still the same record
    again = dev.seal("session", record.id, bundle.record_payload(record))
    assert (
        client.put(f"/v1/sessions/{record.id}", content=again, headers=dev.auth).status_code == 200
    )
    changed = record.model_copy(update={"place": "somewhere else"})
    r = client.put(
        f"/v1/sessions/{record.id}",
        content=dev.seal("session", record.id, bundle.record_payload(changed)),
        headers=dev.auth,
    )
    assert r.status_code == 409
    # an altered replay: one byte of the old bundle changed
    altered = bytearray(sealed)
    altered[len(altered) // 2] ^= 0x10
    r = client.put(f"/v1/sessions/{record.id}", content=bytes(altered), headers=dev.auth)
    assert r.status_code == 422
    # a replay under another session's name
    r = client.put(f"/v1/sessions/{uuid.uuid4()}", content=sealed, headers=dev.auth)
    assert r.status_code == 422
    with hub.tx() as s:
        assert s.scalar(select(func.count()).select_from(db.Session)) == 1
        assert s.scalar(select(db.Session.record_json)) == bundle.record_payload(record).decode()


def test_a_device_cannot_send_another_devices_bundle(client: TestClient, hub: Hub) -> None:
    a = enrol(client, hub, "a")
    b = enrol(client, hub, "b")
    record = SessionRecord(script="s")
    sealed = a.seal("session", record.id, bundle.record_payload(record))
    r = client.put(f"/v1/sessions/{record.id}", content=sealed, headers=b.auth)
    assert r.status_code == 422
    forged = bundle.seal(
        "session",
        record.id,
        bundle.record_payload(record),
        device_id=a.id,
        hub_public_key=a.hub_key,
        signing_key=bytes(b.key),  # b pretends to be a
    )
    r = client.put(f"/v1/sessions/{record.id}", content=forged, headers=a.auth)
    assert r.status_code == 422


def test_staff_pages_need_a_login(client: TestClient, hub: Hub) -> None:
    for path in ["/", "/audit", "/export.csv", "/export.json", f"/audio/{'a' * 64}"]:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path


def _login(client: TestClient, name: str, password: str) -> int:
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf},
        follow_redirects=False,
    )
    return r.status_code


def test_log_in_needs_csrf_and_wrong_tries_are_limited(client: TestClient, hub: Hub) -> None:
    hub.add_staff("Kim", "kim's long password")
    r = client.post("/login", data={"name": "Kim", "password": "kim's long password"})
    assert r.status_code == 403  # no CSRF token
    for _ in range(5):
        assert _login(client, "Kim", "not it at all") == 200
    assert _login(client, "Kim", "kim's long password") == 200  # blocked for now
    with hub.tx() as s:
        actions = list(s.scalars(select(db.Audit.action).where(db.Audit.actor == "Kim")))
    assert actions.count("failed log in") == 5 and "log in blocked" in actions
    assert _login(client, "Jo", "whatever it is") == 200  # others are not blocked
    hub.add_staff("Lee", "lee's long password")
    assert _login(client, "Lee", "lee's long password") == 303
    assert client.get("/audit").status_code == 403  # not an admin
    assert client.get("/").status_code == 200


def test_hostile_transcripts_are_escaped_in_pages_and_csv(client: TestClient, hub: Hub) -> None:
    dev = enrol(client, hub)
    sam = Person(name="<b>Sam</b>")
    record = SessionRecord(
        script="daily_checkin",
        people=[sam],
        answers=[
            Answer(person_id=sam.id, step_id="a", question="q", transcript='=HYPERLINK("x")'),
            Answer(person_id=sam.id, step_id="b", question="q", transcript="<script>x()</script>"),
        ],
    )
    sealed = dev.seal("session", record.id, bundle.record_payload(record))
    r = client.put(f"/v1/sessions/{record.id}", content=sealed, headers=dev.auth)
    assert r.status_code == 201
    hub.add_staff("Kim", "kim's long password", role="admin")  # only admins export
    assert _login(client, "Kim", "kim's long password") == 303
    page = client.get(f"/sessions/{record.id}").text
    assert "<script>x()</script>" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "<b>Sam</b>" not in page
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(client.get("/export.csv").text)))
    assert {row["transcript"] for row in rows} == {'\'=HYPERLINK("x")', "<script>x()</script>"}


def test_times_without_a_zone_are_taken_as_utc(client: TestClient, hub: Hub) -> None:
    from datetime import datetime

    dev = enrol(client, hub)
    sam = Person(name="Sam")
    for started in (datetime(2026, 3, 1, 10, 0).astimezone(), datetime(2026, 3, 2, 10, 0)):
        record = SessionRecord(script="s", people=[sam], started_at=started)
        sealed = dev.seal("session", record.id, bundle.record_payload(record))
        r = client.put(f"/v1/sessions/{record.id}", content=sealed, headers=dev.auth)
        assert r.status_code == 201, r.text
