"""The staff pages in real headless Chromium (Debian's chromium driven by Playwright).

Log in, see the flag first, play a clip, correct a transcript, export, and find all of it in the
audit log. Screenshots go to ``$ASSISTANT_SCREENSHOTS`` (default: the test's tmp folder).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
playwright_sync = pytest.importorskip("playwright.sync_api")

from assistant.hub.service import Hub  # noqa: E402
from assistant.records.model import SessionRecord  # noqa: E402
from assistant.sync.client import push  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    ADMIN,
    ADMIN_PASSWORD,
    BACKENDS,
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

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("web")
    pg_name = None
    if request.param == "postgres":
        why = postgres_available()
        if why:
            pytest.skip(why)
        pg_name = pg_create_db()
    hub: Hub = open_hub(tmp / "hub", pg_url(pg_name) if pg_name else None)
    hub.add_staff(ADMIN, ADMIN_PASSWORD, admin=True)
    store = new_store(tmp / "dev")
    calm = add_session(store, tmp, who="Sam", clips=1)
    worried = add_session(store, tmp, who="Priya", clips=2, flag=True)
    with ThreadHub(hub) as th:
        enrol_device(hub, th.url, tmp / "dev", store)
        push(store, tmp / "dev")
        yield {"url": th.url, "hub": hub, "calm": calm, "worried": worried, "tmp": tmp}
    hub.close()
    if pg_name:
        pg_drop_db(pg_name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(site: dict[str, Any]) -> Path:
    folder = Path(os.environ.get("ASSISTANT_SCREENSHOTS", site["tmp"] / "shots"))
    if site["hub"].engine.dialect.name != "sqlite":
        folder = folder / site["hub"].engine.dialect.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page: Any, url: str, password: str = ADMIN_PASSWORD) -> None:
    page.goto(f"{url}/")
    assert page.url.endswith("/login")
    page.fill("#name", ADMIN)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_staff_flow(site: dict[str, Any], browser: Any, shots: Path) -> None:
    url = site["url"]
    worried: SessionRecord = site["worried"]
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()

    log_in(page, url, password="wrong password!")
    assert page.locator(".error").inner_text() == "That name or password is not right."
    page.screenshot(path=str(shots / "1-login-error.png"), full_page=True)

    log_in(page, url)
    assert page.url == f"{url}/"
    page.screenshot(path=str(shots / "2-home.png"), full_page=True)
    # the flag comes first, above people and sessions
    headings = page.locator("main h1, main h2").all_inner_texts()
    assert headings[0] == "Needs attention"
    first = page.locator("li.flag").first
    assert "Priya" in first.inner_text() and "not feeling good" in first.inner_text()
    flag_top = first.bounding_box()["y"]
    assert flag_top < page.locator("#people-h").bounding_box()["y"]

    # open the flagged session; the audio plays
    first.locator("a", has_text="Open the session").click()
    assert page.url == f"{url}/sessions/{worried.id}"
    assert page.locator("main h1").inner_text().startswith("Daily check-in ·")  # not a file name
    footer = page.locator("main p.small").last.inner_text()
    assert "from pi" in footer and "device" not in footer  # the device's name, not its id
    audio = page.locator("audio").first
    played = audio.evaluate(
        """a => new Promise(done => {
            a.muted = true;
            a.play().then(() => setTimeout(() => done(a.currentTime), 400))
                    .catch(e => done('error: ' + e));
        })"""
    )
    assert isinstance(played, (int, float)) and played > 0, played
    clip_url = audio.get_attribute("src")
    r = page.request.get(f"{url}{clip_url}")
    assert r.status == 200 and r.headers["content-type"] == "audio/wav"
    assert r.body()[:4] == b"RIFF"
    page.screenshot(path=str(shots / "3-session.png"), full_page=True)

    # correct a transcript: a new version with who and when; the original kept
    answer = next(a for a in worried.answers if a.audio_clip)
    block = page.locator(f"#answer-{answer.id}")
    block.locator("details.correct summary").click()
    block.locator("textarea").fill("I watered the tomatoes today")
    block.locator("button", has_text="Save correction").click()
    block = page.locator(f"#answer-{answer.id}")
    assert "I watered the tomatoes today" in block.locator(".said").inner_text()
    block.locator("details.versions summary").click()
    versions = block.locator("details.versions").inner_text()
    assert f"Original from the device: “{answer.transcript}”" in versions
    assert f"Changed by {ADMIN}" in versions
    page.screenshot(path=str(shots / "4-corrected.png"), full_page=True)

    # the person's page: plan, check-ins, their words (corrected)
    page.locator(".facts a", has_text="Priya").click()
    assert "/people/" in page.url
    body = page.locator("main").inner_text()
    assert "Water the tomatoes" in body and "A little help" in body
    assert "I watered the tomatoes today" in body
    assert "feeling not good" in body
    page.screenshot(path=str(shots / "5-person.png"), full_page=True)

    # exports carry the correction and the original
    r = page.request.get(f"{url}/export.csv")
    rows = list(csv.DictReader(io.StringIO(r.text())))
    fixed = next(
        row
        for row in rows
        if row["session_id"] == worried.id and row["original_transcript"] == answer.transcript
    )
    assert fixed["transcript"] == "I watered the tomatoes today" and fixed["corrected_by"] == ADMIN
    doc = page.request.get(f"{url}/export.json").json()
    assert {s["id"] for s in doc["sessions"]} == {worried.id, site["calm"].id}

    # forms without the CSRF token are refused
    r = page.request.post(
        f"{url}/sessions/{worried.id}/answers/{answer.id}/transcript",
        form={"text": "sneaky", "csrf": "wrong"},
    )
    assert r.status == 403

    # mark the flag as dealt with
    page.goto(f"{url}/")
    page.locator("li.flag button").first.click()
    assert "Nothing needs attention right now." in page.locator("#flags").inner_text()

    # the audit log shows who viewed and changed what
    page.click("text=Audit log")
    page.screenshot(path=str(shots / "6-audit.png"), full_page=True)
    log = page.locator("table.audit").inner_text()
    for action in [
        "logged in",
        "failed log in",
        "viewed session",
        "played audio",
        "corrected transcript",
        "viewed person",
        "exported",
        "resolved flag",
    ]:
        assert action in log, action
    assert "I watered the tomatoes today" in log
    assert "device pi" in log and "device:" not in log  # the device by its name, not its id
    context.close()

    # audio and pages are for logged-in staff only
    stranger = browser.new_context()
    p2 = stranger.new_page()
    r = p2.request.get(f"{url}{clip_url}", max_redirects=0)
    assert r.status == 303 and r.headers["location"] == "/login"
    p2.goto(f"{url}/sessions/{worried.id}")
    assert p2.url.endswith("/login")
    stranger.close()
    if os.environ.get("ASSISTANT_SCREENSHOTS") is None:
        shutil.rmtree(shots, ignore_errors=True)


def test_admin_makes_a_code_and_revokes_a_device(
    site: dict[str, Any], browser: Any, shots: Path, tmp_path: Path
) -> None:
    from assistant.errors import EnrolmentError
    from assistant.sync.client import enrol

    url = site["url"]
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    log_in(page, url)
    page.click("text=Devices")
    page.click("button:has-text('Make an enrolment code')")
    code = page.locator(".code").inner_text()
    page.screenshot(path=str(shots / "7-devices.png"), full_page=True)
    store = new_store(tmp_path / "dev2")
    enrolment = enrol(url, code, tmp_path / "dev2", device_id=store.device_id(), name="garden pi")
    add_session(store, tmp_path, clips=0)
    page.reload()  # the code is shown once only
    assert page.locator(".code").count() == 0
    row = page.locator("tr", has_text="garden pi")
    row.locator("button", has_text="Revoke").click()
    assert "Revoked" in page.locator("tr", has_text="garden pi").inner_text()
    with pytest.raises(EnrolmentError, match="revoked"):
        push(store, tmp_path / "dev2", enrolment=enrolment)
    context.close()
