"""A session record holds only the jobs that belong to it: Priya's check-in never holds Sam's.

The engine starts every session with all the device's open jobs (it does not know who is there
before the roll call); what is saved, summarised and sent holds only the jobs of the people who
took part (and any job the session changed). Records saved before this rule are cleaned by the
device's migration 4 and the hub's Alembic revision.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from dialogue_driver import Conversation, by_buttons
from test_records_support import T0

from assistant.records.belongs import jobs_that_belong
from assistant.records.easyread import render_summary
from assistant.records.migrate import latest_version, migrate
from assistant.records.model import CheckIn, Job, JobEvent, Person, SessionRecord
from assistant.records.store import RecordStore


def _priya_checks_in(store: RecordStore) -> SessionRecord:
    sam = store.add_person("Sam")
    priya = store.add_person("Priya")
    plan = SessionRecord(
        script="coproduction",
        started_at=T0,
        people=[sam, priya],
        jobs=[
            Job(person_id=sam.id, what="water the plants"),
            Job(person_id=sam.id, what="sweep the yard"),
            Job(person_id=priya.id, what="feed the hens"),
        ],
    )
    store.save_session(plan)
    store.finish_session(plan.id)
    talk = Conversation("daily-checkin", [sam, priya], jobs=store.open_jobs())  # as cli.py does
    talk.settle()
    assert "Sam" in talk.last_said
    talk.press("no")  # not Sam
    talk.settle()
    assert "Priya" in talk.last_said
    talk.press("yes")
    talk.complete(by_buttons)
    for save in talk.saves:  # what the shell's StoreSink does with each Save
        store.save_session(save.record)
        if save.finished:
            store.finish_session(save.record.id)
    return store.get_session(talk.record.id)


def test_a_checkin_record_holds_only_that_persons_jobs(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, min_free_mb=0)
    rec = _priya_checks_in(store)
    assert [p.name for p in rec.people] == ["Priya"]
    assert [j.what for j in rec.jobs] == ["feed the hens"]
    assert [c.person_id for c in rec.checkins] == [rec.people[0].id]
    html = render_summary(store, rec)
    assert "Feed the hens" in html
    assert "water the plants" not in html.lower() and "sweep the yard" not in html.lower()
    assert "Someone" not in html and "Sam" not in html
    # Sam's jobs are still the device's: nothing was lost, they are just not in her record.
    sam = store.find_person("Sam")
    assert sam is not None and len(store.jobs_for(sam.id)) == 2
    store.close()


def test_a_job_the_session_changed_stays_even_if_its_person_was_away() -> None:
    ann, ben = Person(name="Ann"), Person(name="Ben")
    away = Job(person_id=ben.id, what="bake bread", history=[JobEvent(status="planned", at=T0)])
    talked_about = Job(
        person_id=ben.id,
        what="tidy",
        history=[JobEvent(status="going_well", at=T0 + timedelta(hours=2))],
    )
    checked = Job(person_id=ben.id, what="paint")
    own = Job(person_id=ann.id, what="sing")
    rec = SessionRecord(
        script="review",
        started_at=T0 + timedelta(hours=1),
        people=[ann],
        jobs=[away, talked_about, checked, own],
        checkins=[CheckIn(person_id=ann.id, jobs={checked.id: "done"})],
    )
    assert [j.what for j in jobs_that_belong(rec)] == ["tidy", "paint", "sing"]
    # Before the roll call nobody is in the record yet: every job is kept for the session.
    rec.people = []
    assert len(jobs_that_belong(rec)) == 4


def _old_checkin(start_offset: timedelta = timedelta(0)) -> tuple[SessionRecord, Person, Person]:
    sam, priya = Person(name="Sam"), Person(name="Priya")
    mine = Job(person_id=priya.id, what="feed the hens")
    rec = SessionRecord(
        script="daily-checkin",
        started_at=T0 + start_offset,
        people=[priya],
        jobs=[
            Job(person_id=sam.id, what="water the plants", history=[JobEvent(status="planned")]),
            mine,
            Job(person_id=sam.id, what="sweep the yard"),
        ],
        checkins=[CheckIn(person_id=priya.id, mood="good", jobs={mine.id: "done"})],
    )
    rec.jobs[0].history[0].at = T0 - timedelta(days=1)
    return rec, sam, priya


def test_device_migration_cleans_records_saved_before(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, path, target=3) == [1, 2, 3]
    rec, _sam, _priya = _old_checkin()
    nobody_yet = SessionRecord(script="daily-checkin", started_at=T0, jobs=rec.jobs)
    for r, state in ((rec, "finalised"), (nobody_yet, "draft")):
        conn.execute(
            "INSERT INTO sessions (id, state, script, started_at, saved_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (r.id, state, r.script, T0.isoformat(), T0.isoformat(), r.model_dump_json()),
        )
    assert migrate(conn, path) == list(range(4, latest_version() + 1))
    conn.close()
    store = RecordStore(tmp_path, min_free_mb=0)
    back = store.get_session(rec.id)
    assert [j.what for j in back.jobs] == ["feed the hens"]
    assert back.checkins == rec.checkins and back.answers == rec.answers
    assert back.model_dump(exclude={"jobs", "state"}) == rec.model_dump(exclude={"jobs", "state"})
    assert len(store.get_session(nobody_yet.id).jobs) == 3  # a draft before the roll call
    store.close()


def test_device_migration_agrees_with_the_rule(tmp_path: Path) -> None:
    """The SQL of migration 4 and ``jobs_that_belong`` keep the same jobs, times included."""
    path = tmp_path / "records.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=3)
    ann, ben = Person(name="Ann"), Person(name="Ben")
    start = T0.replace(microsecond=500_000)
    jobs = [
        Job(person_id=ben.id, what="before", history=[JobEvent(status="done", at=T0)]),
        Job(person_id=ben.id, what="during", history=[JobEvent(status="done", at=start)]),
        Job(
            person_id=ben.id,
            what="after",
            history=[JobEvent(status="done", at=start + timedelta(seconds=1))],
        ),
        Job(person_id=ann.id, what="own"),
    ]
    rec = SessionRecord(script="review", started_at=start, people=[ann], jobs=jobs)
    conn.execute(
        "INSERT INTO sessions (id, state, script, started_at, saved_at, data) "
        "VALUES (?, 'sent', ?, ?, ?, ?)",
        (rec.id, rec.script, start.isoformat(), start.isoformat(), rec.model_dump_json()),
    )
    migrate(conn, path)
    data = json.loads(conn.execute("SELECT data FROM sessions").fetchone()[0])
    conn.close()
    assert [j["what"] for j in data["jobs"]] == [j.what for j in jobs_that_belong(rec)]
    assert [j["what"] for j in data["jobs"]] == ["during", "after", "own"]


def test_hub_migration_cleans_records_received_before(tmp_path: Path) -> None:
    pytest.importorskip("alembic")
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from assistant.hub import db
    from assistant.hub.service import Hub, _same_own_jobs
    from tests.test_sync_support import PASSPHRASE, make_hub_home

    home = make_hub_home(tmp_path / "hub")
    engine = db.make_engine(f"sqlite:///{home / 'hub.sqlite'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")  # the hub as first released
    rec, _sam, _priya = _old_checkin()
    sent = rec.model_dump_json()
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO sessions (id, device_id, content_sha256, script, started_at, "
                "received_at, via, record_json) VALUES (:id, 'dev', 'x', :script, :at, :at, "
                "'push', :data)"
            ),
            {"id": rec.id, "script": rec.script, "at": T0, "data": sent},
        )
    engine.dispose()
    hub = Hub(home, passphrase=PASSPHRASE)  # migrates to the newest revision
    with hub.tx() as s:
        row = s.get(db.Session, rec.id)
        assert row is not None
        back = SessionRecord.model_validate_json(row.record_json)
    assert [j.what for j in back.jobs] == ["feed the hens"]
    assert back.model_dump(exclude={"jobs"}) == rec.model_dump(exclude={"jobs"})
    # The device's cleaned copy of the same record, sent again, is the same session.
    cleaned = rec.model_copy(deep=True)
    cleaned.jobs = jobs_that_belong(rec)
    assert _same_own_jobs(row.record_json, cleaned) and _same_own_jobs(sent, cleaned)
    changed = cleaned.model_copy(update={"place": "somewhere else"})
    assert not _same_own_jobs(row.record_json, changed)
    hub.close()
