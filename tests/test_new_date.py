"""A new date after "not yet" (issue 14, failure is part of the process): a check-in's "not yet"
asks "When will you try again?"; the new when and due are kept on the job and with its latest
status update, so the date travels with the status history (merged across devices by union,
the latest dated update wins). Passing keeps the old date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dialogue_driver import Conversation, make_people

from assistant.core.record import Job, JobEvent
from assistant.dialogue.script import ScriptError, parse_script
from assistant.records.model import SessionRecord
from assistant.records.store import RecordStore

NOT_YET = ["yes", "yes", "yes", "no"]  # Sam, consent, mood good; the job: not yet


def to_new_date(when: str, due: date) -> Conversation:
    sam = make_people(["Sam"], True)
    job = Job(person_id=sam[0].id, what="water the plants", when=when, due=due)
    talk = Conversation("daily-checkin", sam, jobs=[job])
    talk.run(NOT_YET)
    talk.run(["next", "next"])  # help: the middle point, then pass (no help asked for)
    assert talk.listen is not None and talk.listen.step_id.startswith("new_date"), talk.said[-3:]
    return talk


def test_a_pass_keeps_the_old_date_and_the_update_carries_none() -> None:
    talk = to_new_date("monday", date(2030, 1, 7))
    # yellow past every choice, then yellow again to pass
    for _ in range(10):
        assert talk.listen is not None
        if not talk.listen.step_id.startswith("new_date"):
            break
        talk.run(["next"])
    assert talk.said[-3] == "That's fine. Let's move on."  # passed: no new date
    (kept,) = talk.record.jobs
    assert (kept.when, kept.due) == ("monday", date(2030, 1, 7))
    assert kept.status == "not_yet" and kept.history[-1].when is None
    assert talk.listen is not None and talk.listen.step_id == "news"


def test_another_time_keeps_the_persons_words_and_no_date() -> None:
    talk = to_new_date("monday", date(2030, 1, 7))
    talk.run(["next", "next", "next", "yes"])  # another time
    assert "Say a day or a date." in talk.last_said
    talk.run(["say: after my holiday", "yes"])
    (kept,) = talk.record.jobs
    assert (kept.when, kept.due) == ("after my holiday", None)
    assert (kept.history[-1].when, kept.history[-1].due) == ("after my holiday", None)


def test_new_date_outside_a_review_of_jobs_is_refused_naming_file_and_step() -> None:
    text = """
name: lone
title: Lone date
kind: checkin
steps:
  - id: when_again
    type: new_date
    text: "When will you try again?"
"""
    with pytest.raises(ScriptError) as err:
        parse_script(text, "mine.yaml")
    words = str(err.value)
    assert "mine.yaml" in words and "when_again" in words and "inside a review of jobs" in words


def test_the_latest_dated_update_wins_and_a_date_added_later_is_kept(tmp_path: Path) -> None:
    t0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
    store = RecordStore(tmp_path, min_free_mb=0)
    sam = store.add_person("Sam")
    job = Job(person_id=sam.id, what="sweep the yard", when="today", due=date(2030, 1, 1))
    rec = SessionRecord(script="my-goals", started_at=t0, people=[sam], jobs=[job])
    job.history = [JobEvent(status="not_yet", at=t0 + timedelta(days=1))]
    store.save_session(rec)  # saved before the new date was given (a session saved as it goes)
    assert store.get_job(job.id).when == "today"
    job.history[-1].when, job.history[-1].due = "next week", date(2030, 1, 9)
    store.save_session(rec)
    job.history.append(JobEvent(status="partly", at=t0 + timedelta(days=3)))  # no new date
    store.save_session(rec)
    got = store.get_job(job.id)
    assert (got.when, got.due) == ("next week", date(2030, 1, 9))
    assert [(e.status, e.when) for e in got.history] == [
        ("not_yet", "next week"),
        ("partly", None),
    ]
    job.history.append(
        JobEvent(status="not_yet", at=t0 + timedelta(days=9), when="friday", due=date(2030, 1, 11))
    )
    store.save_session(rec)
    assert (store.get_job(job.id).when, store.get_job(job.id).due) == ("friday", date(2030, 1, 11))
    store.close()


def test_a_job_from_a_newer_device_is_taken_without_the_fields_this_version_does_not_know(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from assistant.sync.updates import job_from_hub

    job = Job(person_id="0" * 8 + "-0000-4000-8000-" + "0" * 12, what="sweep the yard")
    data = job.model_dump(mode="json")
    data["colour"] = "blue"  # a field a later version added
    data["history"] = [
        {"status": "not_yet", "at": "2030-01-02T10:00:00+00:00", "when": "friday",
         "due": "2030-01-04", "mood": "fine"},
    ]  # fmt: skip
    with caplog.at_level("INFO"):
        got = job_from_hub(data)
    assert got.what == "sweep the yard" and got.history[0].when == "friday"
    assert got.history[0].due == date(2030, 1, 4)
    assert "colour" in caplog.text and "mood" in caplog.text
    data["history"][0]["status"] = "lost"  # a known field with a wrong value is still refused
    with pytest.raises(ValueError):
        job_from_hub(data)
