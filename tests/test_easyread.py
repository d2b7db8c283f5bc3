"""Easy-read summaries: self-contained, large text, symbols, own words, audio only with consent."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_records_support import group_session, make_wav, roster

from assistant.records.easyread import render_summary
from assistant.records.model import Answer, CheckIn, Consent, SessionRecord
from assistant.records.store import RecordStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[tuple[RecordStore, SessionRecord]]:
    store = RecordStore(tmp_path / "data", min_free_mb=0)
    people = roster(store)  # Sam, Priya (no consent), Dev, Aisha
    rec = group_session(people)
    rec.answers[0].transcript = 'to see my friends <script>alert("x")</script>'
    store.save_session(rec)
    for i, a in enumerate(rec.answers):
        if a.kind == "free":
            store.keep_audio(rec.id, a.id, make_wav(tmp_path / "w.wav", 0.2, 300 + 11 * i))
    yield store, store.get_session(rec.id)
    store.close()


def person_id(rec: SessionRecord, name: str) -> str:
    return next(p.id for p in rec.people if p.name == name)


EXTERNAL = re.compile(
    r"""(https?:|ftp:|//[a-z0-9.-]+\.[a-z]{2,}|<link\b|<script\b[^>]*\bsrc=|@import|url\(\s*['"]?(?!data:))""",
    re.IGNORECASE,
)


def test_no_external_fetches(kept: tuple[RecordStore, SessionRecord]) -> None:
    store, rec = kept
    html = render_summary(store, rec)
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    for src in re.findall(r'\bsrc="([^"]*)"', html):
        assert src.startswith(("data:audio/wav;base64,", "data:image/svg+xml;base64,"))
        if src.startswith("data:image/svg+xml"):  # the pictures fetch nothing either
            svg = base64.b64decode(src.split(",", 1)[1]).decode()
            assert "href" not in svg and "<image" not in svg and "url(" not in svg
    assert "<script>" not in html  # the person's words are escaped, never run
    assert "&lt;script&gt;" in html


def test_audio_only_where_consent_allows(kept: tuple[RecordStore, SessionRecord]) -> None:
    store, rec = kept
    html = render_summary(store, rec)
    consenting_clips = sum(1 for a in rec.answers if a.audio_clip)
    assert consenting_clips == 7
    assert html.count("<audio") == consenting_clips
    priya = render_summary(store, rec, person_id=person_id(rec, "Priya"))
    assert "<audio" not in priya
    assert "I want to learn to cook" in priya  # her words are there, quoted
    assert "to see my friends" not in priya  # and nobody else's
    sam = render_summary(store, rec, person_id=person_id(rec, "Sam"))
    assert sam.count("<audio") == 3
    assert render_summary(store, rec, include_audio=False).count("<audio") == 0


def test_recordings_as_files_beside_the_page(
    kept: tuple[RecordStore, SessionRecord], tmp_path: Path
) -> None:
    store, rec = kept
    folder = tmp_path / "out" / "sam-audio"
    sam = person_id(rec, "Sam")
    html = render_summary(store, rec, person_id=sam, audio_files_dir=folder)
    srcs = re.findall(r'<audio[^>]*\bsrc="([^"]*)"', html)
    assert len(srcs) == 3 and "data:audio" not in html
    assert not EXTERNAL.search(html)
    for src in srcs:
        assert src.startswith("sam-audio/") and (folder.parent / src).is_file()
    assert len(list(folder.iterdir())) == 3  # only Sam's recordings were copied
    priya = render_summary(store, rec, person_id=person_id(rec, "Priya"), audio_files_dir=folder)
    assert "<audio" not in priya and len(list(folder.iterdir())) == 3


def test_consent_now_decides_not_consent_then(kept: tuple[RecordStore, SessionRecord]) -> None:
    store, rec = kept
    dev = person_id(rec, "Dev")
    store.set_consent(dev, Consent(audio=False))  # clips kept, but no longer played
    assert "<audio" not in render_summary(store, rec, person_id=dev)
    aisha = person_id(rec, "Aisha")
    store.withdraw_consent(aisha, by="Kate")
    html = render_summary(store, store.get_session(rec.id), person_id=aisha)
    assert "<audio" not in html and "to get out of the house" in html


def test_easy_read_content(kept: tuple[RecordStore, SessionRecord]) -> None:
    store, rec = kept
    html = render_summary(store, rec, person_id=person_id(rec, "Sam"))
    assert re.search(r"html\s*{\s*font-size:\s*24px", html)  # body text at least 24px
    assert "@page { size: A4" in html
    assert html.count('class="pic head"') >= 6  # a picture for each step
    for heading in (
        "Who was there",
        "What you said",
        "Our goal",
        "What you will do",
        "Well done",
        "Next meeting",
    ):
        assert f"<h2>{heading}</h2>" in html or heading in html
    assert "<blockquote>" in html  # own words, quoted
    assert "Find train times" in html and "With a little help" in html
    assert "A trip to the seaside in the summer" in html
    assert "I like this" in html  # ratings in words beside their faces
    assert "Tuesday 7 April" in html
    assert "Monday 2 March 2026" in html


def test_passed_and_superseded_answers(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, min_free_mb=0)
    sam = store.add_person("Sam")
    first = Answer(person_id=sam.id, step_id="why", question="Why?", transcript="dunno")
    second = Answer(
        person_id=sam.id, step_id="why", question="Why?", transcript="to cook", supersedes=first.id
    )
    passed = Answer(person_id=sam.id, step_id="want", question="What?", passed=True)
    rec = SessionRecord(script="daily_checkin", people=[sam], answers=[first, second, passed])
    html = render_summary(store, rec)
    assert "to cook" in html and "dunno" not in html
    assert "Chose to pass" in html
    assert "My check-in" in html
    store.close()


def test_checkin_names_jobs_from_earlier_sessions(
    kept: tuple[RecordStore, SessionRecord],
) -> None:
    store, plan = kept
    store.finish_session(plan.id)
    sam = person_id(plan, "Sam")
    job = store.jobs_for(sam)[0]
    note = Answer(
        person_id=sam,
        step_id="celebrate",
        question="Sam, what went well today?",
        transcript="I found the train times",
    )
    checkin = SessionRecord(
        script="daily-checkin",
        people=[p for p in plan.people if p.id == sam],
        answers=[note],
        celebrations=[note.id],
        checkins=[CheckIn(person_id=sam, mood="good", jobs={job.id: "done"}, notes=[note.id])],
    )
    store.save_session(checkin)
    html = render_summary(store, store.get_session(checkin.id), person_id=sam)
    assert "My check-in: Sam" in html
    assert "Find train times" in html and "A job" not in html
    assert html.index("How I am doing") < html.index("Well done")  # one person: "I"
    assert "Feeling: Good" in html
    assert store.jobs_for(sam)[0].status == "done"


BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(page: Path, *args: str) -> None:
    """Run headless Chromium on *page* with a new empty profile (``--print-to-pdf=...`` etc.)."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [str(CHROMIUM), *BROWSER_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            check=True,
            capture_output=True,
            timeout=120,
        )


def pdf_pages(html: str, folder: Path, name: str = "summary") -> tuple[int, bytes]:
    page = folder / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    pdf = folder / f"{name}.pdf"
    chromium(page, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    return len(re.findall(rb"/Type\s*/Page\b", data)), data


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_renders_in_headless_chromium(
    kept: tuple[RecordStore, SessionRecord], tmp_path: Path
) -> None:
    store, rec = kept
    html = render_summary(store, rec)
    pages, data = pdf_pages(html, tmp_path)
    assert len(data) > 20_000
    assert 1 <= pages <= 2  # a whole group's plan on one or two A4 pages
    assert b"/MediaBox [0 0 594.95" in data or b"/MediaBox [0 0 595" in data  # A4 portrait
    png = tmp_path / "out.png"
    chromium(tmp_path / "summary.html", f"--screenshot={png}", "--window-size=1000,1400")
    shot = png.read_bytes()
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
    pil = pytest.importorskip("PIL.Image")
    with pil.open(png) as img:
        assert img.size == (1000, 1400)
        hist = img.convert("L").histogram()
        inked = sum(hist[:200]) / (1000 * 1400)
        assert 0.02 < inked < 0.6, inked  # text and symbols drawn: not blank, not all dark
        colours = img.convert("RGB").getcolors(1000 * 1400) or []
        assert len(colours) > 200  # the pictures are drawn in colour, not left out


def test_what_was_celebrated_is_shown(tmp_path: Path) -> None:
    from assistant.records.model import Celebration

    store = RecordStore(tmp_path / "data", min_free_mb=0)
    rec = group_session(roster(store))
    rec.celebrated.append(
        Celebration(kind="plan_made", text="Well done, everyone. We made a plan together.")
    )
    store.save_session(rec)
    html = render_summary(store, store.get_session(rec.id))
    store.close()
    assert "Well done, everyone. We made a plan together." in html
    assert "<h2>Well done</h2>" in html
