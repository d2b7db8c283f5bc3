"""Issue 17's probe, as tests: each one failed on the hub and device before the fixes.

Against SQLite and PostgreSQL where the hub is involved, and in a real ``assistant hub serve``
process where the behaviour depends on it (memory, restarts, proxy headers).
"""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import nacl.signing
import pytest

pytest.importorskip("fastapi")

import contextlib

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from assistant.errors import BundleError, EnrolmentError, HubFailed, SyncError  # noqa: E402
from assistant.hub import db  # noqa: E402
from assistant.hub.app import create_app  # noqa: E402
from assistant.hub.service import Hub  # noqa: E402
from assistant.hub.stick import import_folder, read_regular  # noqa: E402
from assistant.records.model import Answer, Person, SessionRecord  # noqa: E402
from assistant.sync import bundle  # noqa: E402
from assistant.sync.device import b64, unb64, write_atomic  # noqa: E402
from tests.test_hub_api import Dev  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    PASSPHRASE,
    ProcessHub,
    db_url,  # noqa: F401
    device_config,
    make_hub_home,
    open_hub,
    run_cli,
)

CAP = 200_000
UUID = "0b5c3a1e-2f4d-4c6b-8a9e-1d2c3b4a5f60"


@pytest.fixture
def hub(tmp_path: Path, db_url: str | None) -> Iterator[Hub]:  # noqa: F811
    h = open_hub(tmp_path / "hub", db_url, max_upload_bytes=CAP)
    yield h
    h.close()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub)) as c:
        yield c


def _enrol_body(code: str, device_id: str, key: nacl.signing.SigningKey) -> dict[str, str]:
    return {
        "code": code,
        "device_id": device_id,
        "name": "pi",
        "verify_key": b64(bytes(key.verify_key)),
    }


def enrol(client: TestClient, hub: Hub, device_id: str | None = None) -> Dev:
    key = nacl.signing.SigningKey.generate()
    device_id = device_id or str(uuid.uuid4())
    r = client.post("/v1/enrol", json=_enrol_body(hub.new_code("test"), device_id, key))
    assert r.status_code == 200, r.text
    return Dev(device_id, r.json()["token"], key, unb64(r.json()["hub_public_key"]))


# -- 1. bodies are capped before anything reads them (a real hub process, its memory) ----------


def _rss(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


def _send_raw(port: int, head: str, total: int, *, chunked: bool, limit_s: float = 20) -> str:
    """Send a request whose body is *total* bytes of zeros; the status line of the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    block = b"\0" * 65536
    deadline = time.monotonic() + limit_s
    try:
        sock.sendall(head.encode())
        sent = 0
        while sent < total and time.monotonic() < deadline:
            piece = block[: min(len(block), total - sent)]
            data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            try:
                sock.sendall(data)
            except OSError:  # the hub answered and closed: it read no more
                break
            sent += len(piece)
        if chunked and sent >= total:
            with contextlib.suppress(OSError):
                sock.sendall(b"0\r\n\r\n")
        try:
            answer = sock.recv(200).decode("latin-1")
        except OSError:
            answer = ""
        return answer.split("\r\n", 1)[0]
    finally:
        sock.close()


def test_oversize_unauthenticated_bodies_leave_the_hubs_memory_bounded(tmp_path: Path) -> None:
    make_hub_home(tmp_path / "hub")  # the cap comes before the database: SQLite is enough
    hub = ProcessHub(tmp_path / "hub", None).start()
    assert hub.proc is not None
    try:
        for _ in range(3):  # warm up every route once
            httpx.post(f"{hub.url}/v1/enrol", json={}, timeout=5)
            httpx.get(f"{hub.url}/login", timeout=5)
        idle = _rss(hub.proc.pid)
        peak = idle
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _rss(hub.proc.pid))  # type: ignore[union-attr]
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        big = 200 * 1024 * 1024
        routes = [
            ("POST", "/v1/enrol", "application/json"),
            ("POST", "/login", "application/x-www-form-urlencoded"),
            ("POST", "/logout", "application/x-www-form-urlencoded"),
            ("PUT", f"/v1/blobs/{'a' * 64}", "application/octet-stream"),
            ("PUT", f"/v1/sessions/{UUID}", "application/octet-stream"),
            ("POST", "/devices/code", "application/x-www-form-urlencoded"),
            ("GET", "/", "text/plain"),
        ]
        statuses = []
        for method, path, ctype in routes:
            for chunked in (True, False):
                length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {big}"
                head = (
                    f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                    f"{length}\r\n\r\n"
                )
                statuses.append((path, chunked, _send_raw(hub.port, head, big, chunked=chunked)))
        # four at once, as in the probe
        head = (
            "POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        threads = [
            threading.Thread(target=_send_raw, args=(hub.port, head, big), kwargs={"chunked": True})
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        time.sleep(0.3)
        stop.set()
        watcher.join(5)
        after = _rss(hub.proc.pid)
        assert httpx.get(f"{hub.url}/login", timeout=5).status_code == 200  # still serving
    finally:
        hub.stop()
    mb = 1024 * 1024
    print(f"hub RSS: idle {idle / mb:.1f} MB, peak {peak / mb:.1f} MB, after {after / mb:.1f} MB")
    print(statuses)
    assert peak - idle < 50 * mb, f"idle {idle // mb} MB, peak {peak // mb} MB"
    assert after - idle < 50 * mb
    enrol_answers = [s for p, _c, s in statuses if p == "/v1/enrol"]
    assert all(" 413 " in s + " " for s in enrol_answers), statuses
    unauthenticated_puts = [s for p, _c, s in statuses if p.startswith("/v1/") and "enrol" not in p]
    assert all(" 401 " in s + " " or " 413 " in s + " " for s in unauthenticated_puts), statuses


def test_enrolment_bodies_are_capped_in_the_app(client: TestClient) -> None:
    r = client.post("/v1/enrol", content=b"{" + b" " * 10_000 + b"}")
    assert r.status_code == 413 and "larger than the hub accepts" in r.json()["detail"]


# -- 2. enrolment never rebinds an enrolled device id ---------------------------------------------


def test_enrolling_over_an_existing_device_id_is_refused(client: TestClient, hub: Hub) -> None:
    real = enrol(client, hub)
    intruder = nacl.signing.SigningKey.generate()
    r = client.post("/v1/enrol", json=_enrol_body(hub.new_code("test"), real.id, intruder))
    assert r.status_code == 409 and "already enrolled" in r.json()["detail"]
    assert client.get("/v1/ping", headers=real.auth).status_code == 200  # still works
    with hub.tx() as s:
        device = s.get(db.Device, real.id)
        assert device is not None and unb64(device.verify_key) == bytes(real.key.verify_key)

    # staff replace the lost device on purpose: its id is re-keyed and the old token ends
    code = hub.new_code("Morgan", replaces=real.id)
    new_key = nacl.signing.SigningKey.generate()
    r = client.post("/v1/enrol", json=_enrol_body(code, real.id, new_key))
    assert r.status_code == 200, r.text
    assert client.get("/v1/ping", headers=real.auth).status_code == 401
    new_auth = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/v1/ping", headers=new_auth).status_code == 200


def test_a_replacement_code_for_a_new_id_revokes_the_old_device(
    client: TestClient, hub: Hub
) -> None:
    old = enrol(client, hub)
    code = hub.new_code("Morgan", replaces=old.id)
    fresh = str(uuid.uuid4())
    r = client.post("/v1/enrol", json=_enrol_body(code, fresh, nacl.signing.SigningKey.generate()))
    assert r.status_code == 200
    assert client.get("/v1/ping", headers=old.auth).status_code == 403  # revoked


def test_enrolment_codes_can_be_tried_only_a_few_times(client: TestClient, hub: Hub) -> None:
    key = nacl.signing.SigningKey.generate()
    for _ in range(10):
        r = client.post("/v1/enrol", json=_enrol_body("AAAA-BBBB-CCCC", str(uuid.uuid4()), key))
        assert r.status_code == 401
    good = hub.new_code("test")
    r = client.post("/v1/enrol", json=_enrol_body(good, str(uuid.uuid4()), key))
    assert r.status_code == 429 and "wait 15 minutes" in r.json()["detail"]
    with hub.tx() as s:  # and the count is in the database, for every hub process to see
        assert len(list(s.scalars(select(db.FailedTry).where(db.FailedTry.kind == "enrol")))) == 10


# -- 3. a device writes only about its own people and clips ---------------------------------------


def _put_session(client: TestClient, dev: Dev, record: SessionRecord) -> int:
    sealed = dev.seal("session", record.id, bundle.record_payload(record))
    return client.put(f"/v1/sessions/{record.id}", content=sealed, headers=dev.auth).status_code


def test_a_session_from_one_device_cannot_rename_another_devices_person(
    client: TestClient, hub: Hub
) -> None:
    a, b = enrol(client, hub), enrol(client, hub)
    sam = Person(name="Sam")
    assert _put_session(client, a, SessionRecord(script="daily_checkin", people=[sam])) == 201
    renamed = Person(id=sam.id, name="Someone else")
    record = SessionRecord(script="daily_checkin", people=[renamed])
    sealed = b.seal("session", record.id, bundle.record_payload(record))
    r = client.put(f"/v1/sessions/{record.id}", content=sealed, headers=b.auth)
    assert r.status_code == 422 and "belongs to another device" in r.json()["detail"]
    with hub.tx() as s:
        row = s.get(db.Person, sam.id)
        assert row is not None and row.name == "Sam" and row.device_id == a.id
        assert s.get(db.Session, record.id) is None
    # its own later session may rename them
    again = SessionRecord(script="daily_checkin", people=[Person(id=sam.id, name="Sammy")])
    assert _put_session(client, a, again) == 201


def test_a_session_cannot_name_another_devices_clip(client: TestClient, hub: Hub) -> None:
    a, b = enrol(client, hub), enrol(client, hub)
    clip = os.urandom(500)
    sha = bundle.sha256_hex(clip)
    assert (
        client.put(
            f"/v1/blobs/{sha}", content=a.seal("clip", sha, clip), headers=a.auth
        ).status_code
        == 201
    )
    assert client.head(f"/v1/blobs/{sha}", headers=a.auth).status_code == 200
    assert client.head(f"/v1/blobs/{sha}", headers=b.auth).status_code == 404  # not B's
    sam = Person(name="Sam")
    record = SessionRecord(
        script="daily_checkin",
        people=[sam],
        answers=[Answer(person_id=sam.id, step_id="a", question="q", audio_clip=sha)],
    )
    sealed = b.seal("session", record.id, bundle.record_payload(record))
    r = client.put(f"/v1/sessions/{record.id}", content=sealed, headers=b.auth)
    assert r.status_code == 424 and r.json()["missing"] == [sha]
    assert _put_session(client, a, record) == 201  # A sent the clip, so A may name it


# -- 5. the hub's home is private whatever the umask --------------------------------------------


def test_the_hubs_files_are_private_under_umask_022(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    config = device_config(tmp_path / "config.toml", tmp_path / "dev")
    env = {
        "ASSISTANT_HUB_PASSPHRASE": PASSPHRASE,
        "ASSISTANT_HUB_ADMIN_PASSWORD": "admin pass 123",
    }
    r = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$@"', "sh", *_cli(config, "hub", "init", "--home",
         str(home), "--kdf", "minimum")],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "0700 and every file in it 0600" in r.stdout
    hub = ProcessHub(home, None)
    hub.proc = None
    args = _cli(config, "hub", "serve", "--home", str(home), "--port", str(hub.port))
    proc = subprocess.Popen(
        ["sh", "-c", 'umask 022 && exec "$@"', "sh", *args],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_up(hub.url)
        with httpx.Client(base_url=hub.url) as c:  # a log-in writes to the database
            _web_login(c, "admin", "admin pass 123")
    finally:
        proc.terminate()
        proc.wait(10)
    loose = []
    for folder, dirs, files in os.walk(home):
        for name in [folder, *(os.path.join(folder, d) for d in dirs)]:
            if stat.S_IMODE(os.stat(name).st_mode) != 0o700:
                loose.append(name)
        for f in files:
            if stat.S_IMODE(os.stat(os.path.join(folder, f)).st_mode) != 0o600:
                loose.append(f)
    assert (home / "hub.sqlite").exists() and not loose, loose


def test_hub_init_makes_loose_files_private_and_says_so(tmp_path: Path) -> None:
    home = make_hub_home(tmp_path / "hub")
    (home / "stray.txt").write_text("x")
    os.chmod(home / "stray.txt", 0o644)
    os.chmod(home, 0o755)
    config = device_config(tmp_path / "config.toml", tmp_path / "dev")
    env = {"ASSISTANT_HUB_PASSPHRASE": PASSPHRASE, "ASSISTANT_HUB_ADMIN_PASSWORD": "admin pass 1"}
    r = run_cli(config, "hub", "init", "--home", str(home), env=env)
    assert r.returncode == 0 and "private to this user" in r.stdout, r
    assert stat.S_IMODE((home / "stray.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def _cli(config: Path, *args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "assistant", "--config", str(config), *args]


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the hub did not start")


# -- 6. staff sessions live on the server: log-out and disabling end them -------------------------


def _csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def _web_login(
    c: httpx.Client | TestClient, name: str, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    csrf = _csrf_of(c.get("/login").text)
    return c.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf},
        headers=headers or {},
        follow_redirects=False,
    )


def test_a_copied_staff_cookie_is_refused_after_log_out(client: TestClient, hub: Hub) -> None:
    hub.add_staff("Kim", "kim's long password", role="admin")
    assert _web_login(client, "Kim", "kim's long password").status_code == 303
    copied = dict(client.cookies)
    page = client.get("/")
    assert page.status_code == 200
    r = client.post("/logout", data={"csrf": _csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    with TestClient(create_app(hub), cookies=copied) as thief:
        r = thief.get("/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert thief.get("/export.csv", follow_redirects=False).status_code == 303


def test_disabling_a_member_ends_their_sessions_at_once(client: TestClient, hub: Hub) -> None:
    hub.add_staff("Morgan", "morgan's long password", role="admin")
    hub.add_staff("Kim", "kim's long password")
    assert _web_login(client, "Kim", "kim's long password").status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200
    hub.set_disabled("Kim", True, by="Morgan")
    assert client.get("/", follow_redirects=False).status_code == 303
    assert _web_login(client, "Kim", "kim's long password").status_code == 200  # refused
    hub.set_disabled("Kim", False, by="Morgan")
    assert _web_login(client, "Kim", "kim's long password").status_code == 303
    hub.set_password("Kim", "a brand new password", by="Morgan")
    assert client.get("/", follow_redirects=False).status_code == 303
    with pytest.raises(SyncError, match="only admin"):
        hub.set_disabled("Morgan", True, by="Morgan")


def test_roles_limit_exports_and_changes_and_exports_are_audited(
    client: TestClient, hub: Hub
) -> None:
    hub.add_staff("Reader", "reader's long password", role="read-only")
    hub.add_staff("Kim", "kim's long password")
    hub.add_staff("Morgan", "morgan's long password", role="admin")
    for name, password, export, audit in [
        ("Reader", "reader's long password", 403, 403),
        ("Kim", "kim's long password", 403, 403),
        ("Morgan", "morgan's long password", 200, 200),
    ]:
        client.cookies.clear()
        assert _web_login(client, name, password).status_code == 303
        assert client.get("/").status_code == 200
        assert client.get("/export.csv").status_code == export
        assert client.get("/export.json").status_code == export
        assert client.get("/audit").status_code == audit
    client.cookies.clear()
    assert _web_login(client, "Reader", "reader's long password").status_code == 303
    page = client.get("/")
    r = client.post(f"/flags/{UUID}/resolve", data={"csrf": _csrf_of(page.text)})
    assert r.status_code == 403 and "read-only" in r.text
    with hub.tx() as s:
        exports = list(s.scalars(select(db.Audit).where(db.Audit.action == "exported")))
    assert [(e.actor, e.detail) for e in exports] == [("Morgan", "csv"), ("Morgan", "json")]


def test_admins_manage_staff_on_the_staff_page(client: TestClient, hub: Hub) -> None:
    hub.add_staff("Morgan", "morgan's long password", role="admin")
    hub.add_staff("Kim", "kim's long password")
    assert _web_login(client, "Morgan", "morgan's long password").status_code == 303
    page = client.get("/staff")
    assert page.status_code == 200 and "Kim" in page.text
    csrf = _csrf_of(page.text)
    r = client.post("/staff/disable", data={"name": "Kim", "csrf": csrf})
    assert r.status_code == 200 and "Disabled Kim" in r.text
    assert hub.check_login("Kim", "kim's long password") is None
    client.post("/staff/enable", data={"name": "Kim", "csrf": csrf})
    client.post("/staff/role", data={"name": "Kim", "role": "read-only", "csrf": csrf})
    client.post(
        "/staff/password", data={"name": "Kim", "password": "kim's new pass!", "csrf": csrf}
    )
    r = client.post(
        "/staff/add", data={"name": "Lee", "password": "lee's long password", "role": "staff",
                            "csrf": csrf},
    )  # fmt: skip
    assert "Added Lee" in r.text
    staff = {m.name: m for m in hub.staff_list()}
    assert staff["Kim"].role == "read-only" and not staff["Kim"].disabled
    assert hub.check_login("Kim", "kim's new pass!") is not None
    assert staff["Lee"].role == "staff"


def test_staff_commands_list_disable_enable_password(tmp_path: Path) -> None:
    home = make_hub_home(tmp_path / "hub")
    hub = open_hub(home, None)
    hub.add_staff("Morgan", "morgan's long password", role="admin")
    hub.add_staff("Jo", "jo's long password")
    token, _ = hub.start_session(hub.check_login("Jo", "jo's long password"))  # type: ignore[arg-type]
    hub.close()
    config = device_config(tmp_path / "config.toml", tmp_path / "dev")
    h = ["--home", str(home)]
    r = run_cli(config, "hub", "staff", "list", *h)
    assert r.returncode == 0 and "Jo  staff  active" in r.stdout and "Morgan  admin" in r.stdout
    r = run_cli(config, "hub", "staff", "disable", "Jo", *h)
    assert r.returncode == 0 and "logged out everywhere" in r.stdout
    hub = open_hub(home, None)
    assert hub.session_of(token) is None
    hub.close()
    assert "Jo  staff  disabled" in run_cli(config, "hub", "staff", "list", *h).stdout
    assert run_cli(config, "hub", "staff", "enable", "Jo", *h).returncode == 0
    r = run_cli(
        config, "hub", "staff", "password", "Jo", *h,
        env={"ASSISTANT_HUB_STAFF_PASSWORD": "jo's new password"},
    )  # fmt: skip
    assert r.returncode == 0, r
    r = run_cli(config, "hub", "staff", "role", "Jo", "read-only", *h)
    assert r.returncode == 0 and "Jo is now read-only." in r.stdout
    hub = open_hub(home, None)
    jo = hub.check_login("Jo", "jo's new password")
    assert jo is not None and jo.role == "read-only"
    hub.close()
    r = run_cli(config, "hub", "staff", "disable", "Nobody", *h)
    assert r.returncode != 0 and "no staff member called 'Nobody'" in r.stderr


# -- 7. the log-in limit is in the database and believes X-Forwarded-For only from a proxy --------


def test_the_log_in_limit_holds_across_a_restart_and_a_rotated_forwarded_for(
    tmp_path: Path,
    db_url: str | None,  # noqa: F811
) -> None:
    home = tmp_path / "hub"
    hub = open_hub(home, db_url)
    hub.add_staff("Kim", "kim's long password")
    for i in (20, 21):  # the others tried below need not exist: a wrong name counts too
        hub.add_staff(f"member{i}", "a long password 123")
    hub.close()
    proc = ProcessHub(home, db_url).start()
    try:
        with httpx.Client(base_url=proc.url) as c:
            for i in range(5):
                r = _web_login(c, "Kim", "wrong password", {"X-Forwarded-For": f"10.0.0.{i}"})
                assert "not right" in r.text
        proc.stop()
        proc.start()  # the count survives a restart
        with httpx.Client(base_url=proc.url) as c:
            r = _web_login(c, "Kim", "kim's long password", {"X-Forwarded-For": "10.9.9.9"})
            assert r.status_code == 200 and "Too many wrong tries" in r.text
            # and many names from one address, each with a new forwarded-for, run out too
            for i in range(15):
                r = _web_login(c, f"member{i}", "wrong", {"X-Forwarded-For": f"10.1.{i}.1"})
                assert "not right" in r.text
            r = _web_login(c, "member20", "a long password 123", {"X-Forwarded-For": "10.2.0.1"})
            assert "Too many wrong tries" in r.text
    finally:
        proc.stop()
    # behind a trusted proxy, the forwarded address is the client's: others are not blocked
    proc = ProcessHub(home, db_url, args=["--trusted-proxy", "127.0.0.1"]).start()
    try:
        with httpx.Client(base_url=proc.url) as c:
            r = _web_login(c, "member21", "a long password 123", {"X-Forwarded-For": "10.3.0.1"})
            assert r.status_code == 303, r.text
    finally:
        proc.stop()


# -- 8. a hostile stick is refused in one line -----------------------------------------------


def test_a_dev_zero_manifest_a_fifo_and_a_huge_one_are_refused_in_one_line(
    tmp_path: Path,
) -> None:
    home = make_hub_home(tmp_path / "hub")
    config = device_config(tmp_path / "config.toml", tmp_path / "dev")
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "manifest.json").symlink_to("/dev/zero")
    r = run_cli(
        config, "hub", "import", str(stick), "--home", str(home),
        env={"ASSISTANT_HUB_PASSPHRASE": PASSPHRASE}, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "is a link, not a file" in lines[0], r.stderr
    (stick / "manifest.json").unlink()
    os.mkfifo(stick / "manifest.json")
    hub = open_hub(home, None)
    try:
        report = import_folder(hub, stick)
        assert len(report.refused) == 1 and "not a regular file" in report.refused[0]
        (stick / "manifest.json").unlink()
        with open(stick / "manifest.json", "wb") as fh:
            fh.truncate(700 * 1024 * 1024)  # sparse: no disk used
        report = import_folder(hub, stick)
        assert len(report.refused) == 1 and "larger than this hub accepts" in report.refused[0]
        (stick / "manifest.json").unlink()
        dev = stick / f"assistant-{UUID}"
        (dev / "clips").mkdir(parents=True)
        (dev / "clips" / f"{'b' * 64}.bundle").symlink_to("/dev/zero")
        (dev / "manifest.json").write_text(
            '{"files": [{"name": "clips/' + "b" * 64 + '.bundle", "sha256": "x"}]}'
        )
        report = import_folder(hub, stick)
        assert len(report.refused) == 1 and "is a link" in report.refused[0]
    finally:
        hub.close()
    with pytest.raises(SyncError, match="not a regular file"):
        read_regular(Path("/dev/null"), 100)


# -- 9. ids are whole-string matches everywhere --------------------------------------------------


def test_ids_with_a_trailing_newline_are_refused(client: TestClient, hub: Hub) -> None:
    dev = enrol(client, hub)
    assert not bundle.is_uuid(UUID + "\n") and not bundle.is_sha256("a" * 64 + "\n")
    record = SessionRecord(id=UUID, script="daily_checkin")
    sealed = dev.seal("session", UUID, bundle.record_payload(record))
    r = client.put(f"/v1/sessions/{UUID}%0A", content=sealed, headers=dev.auth)
    assert r.status_code == 400
    with pytest.raises(BundleError):
        hub.put_session(UUID + "\n", sealed, device_id=dev.id, via="push")
    with pytest.raises(ValueError):
        Person(id=UUID + "\n", name="Sam")
    with pytest.raises(ValueError):
        Answer(id="not-a-uuid", step_id="a", question="q")
    # a record whose inner ids were never checked (built without validation) is refused
    bad = SessionRecord.model_construct(
        **{**SessionRecord(id=str(uuid.uuid4()), script="x").__dict__,
           "people": [Person.model_construct(id=UUID + "\n", name="Sam", name_clip=None)]},
    )  # fmt: skip
    payload = bundle._canonical(bad.model_dump(mode="json"))
    with pytest.raises(BundleError):
        bundle.parse_record(payload, bad.id)
    with hub.tx() as s:
        assert list(s.scalars(select(db.Session.id))) == []


# -- 10. the smaller ones -----------------------------------------------------------------------


def test_deep_yaml_toml_and_json_get_one_sentence(tmp_path: Path) -> None:
    from assistant.config import load_settings
    from assistant.dialogue.script import parse_script
    from assistant.errors import ConfigError, ScriptError

    with pytest.raises(ScriptError, match="nested too deeply"):
        parse_script("a: " + "[" * 5000 + "]" * 5000, "deep.yaml")
    config = tmp_path / "deep.toml"
    config.write_text("a = " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_settings(config)
    script = tmp_path / "deep.yaml"
    script.write_text("a: " + "[" * 5000 + "]" * 5000)
    r = run_cli(device_config(tmp_path / "c.toml", tmp_path / "d"), "scripts", "check", str(script))
    assert "Traceback" not in r.stderr and "nested too deeply" in r.stdout + r.stderr, r


def test_write_atomic_removes_its_temporary_file_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        write_atomic(target, b"new" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"] and target.read_bytes() == b"old"


def test_a_hub_answering_500_or_507_is_not_called_no_network() -> None:
    from assistant.sync.client import HubClient, hub_failure

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="Internal Server Error")

    client = HubClient(
        "http://hub", max_attempts=2, sleep=lambda s: None, transport=httpx.MockTransport(broken)
    )
    with pytest.raises(HubFailed, match="could not store it: it answered 500"):
        client.request("PUT", "/v1/blobs/x")
    full = httpx.Response(507, json={"detail": "The hub could not store it: its disk may be full."})
    assert "disk may be full" in hub_failure(full)


def test_sync_enrol_refuses_plain_http_except_loopback_or_insecure(tmp_path: Path) -> None:
    from assistant.sync.client import enrol as device_enrol

    with pytest.raises(EnrolmentError, match="plain http://"):
        device_enrol("http://192.0.2.1:9/", "CODE", tmp_path, device_id=UUID, name="pi")
    for url, insecure in [("http://127.0.0.1:9/", False), ("http://192.0.2.1:9/", True)]:
        with pytest.raises(EnrolmentError, match="Cannot reach the hub"):
            device_enrol(
                url, "CODE", tmp_path, device_id=UUID, name="pi", timeout_s=0.5, insecure=insecure
            )
    r = run_cli(
        device_config(tmp_path / "c.toml", tmp_path / "d"),
        "sync", "enrol", "http://192.0.2.1:9/", "CODE",
    )  # fmt: skip
    assert r.returncode != 0 and "plain http://" in r.stderr and "--insecure" in r.stderr


# -- 4. the device keeps only what it needs once the hub has a session -----------------------------


def test_clips_go_at_once_and_transcripts_after_n_days_once_the_hub_confirmed(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime, timedelta

    from assistant.config import Settings
    from assistant.sync.retention import forget_sent
    from tests.test_sync_support import add_session, new_store

    store = new_store(tmp_path / "dev")
    try:
        sent = add_session(store, tmp_path, clips=2)
        waiting = add_session(store, tmp_path, clips=1)
        store.mark_sent(sent.id)
        sent_clips = [store.clip_path(a.audio_clip) for a in sent.answers if a.audio_clip]
        waiting_clips = [store.clip_path(a.audio_clip) for a in waiting.answers if a.audio_clip]
        assert len(sent_clips) == 2 and all(p.exists() for p in sent_clips)
        settings = Settings()
        assert settings.records.keep_synced_audio_days == 0
        done = forget_sent(store, settings)
        assert done.clips == 2 and done.transcripts == 0
        assert not any(p.exists() for p in sent_clips) and all(p.exists() for p in waiting_clips)
        assert any(a.transcript for a in store.get_session(sent.id).answers)
        later = datetime.now(UTC) + timedelta(days=settings.records.keep_sent_transcripts_days + 1)
        assert forget_sent(store, settings, later).transcripts == 1
        assert not any(a.transcript for a in store.get_session(sent.id).answers)
        assert any(a.transcript for a in store.get_session(waiting.id).answers)  # not sent
    finally:
        store.close()
