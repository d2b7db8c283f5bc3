"""Two-way sync: people of the charity with one identity, and jobs that follow the person.

A real hub process (``assistant hub serve``, on SQLite and on PostgreSQL when it is there),
devices A, B and C each with its own data folder and record store, the real engine (fake
speech). A group saved on A makes a job for Sam; staff assign Sam to B; after ``assistant sync``
on A and on B, a daily check-in on B (no ``roster:`` or ``jobs:``) asks Sam about that job, and
its status update reaches the hub and A. A rename of Sam in a session from A does not change B's
Sam; a tampered update is refused; C, not assigned Sam, never receives them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytest.importorskip("fastapi")

from assistant.cli import main  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.records.store import RecordStore  # noqa: E402
from assistant.sync.device import Enrolment  # noqa: E402
from assistant.sync.updates import last_pull, pull_updates  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    PASSPHRASE,
    ProcessHub,
    add_session,
    db_url,  # noqa: E402, F401  (a fixture: SQLite, PostgreSQL)
    device_config,
    enrol_device,
    new_store,
    open_hub,
    run_cli,
)

ROOT = Path(__file__).resolve().parent.parent
GROUP = ROOT / "tests" / "scenarios" / "coproduction-group-mixed.yaml"

# one person on the device (Sam): no "You are Sam. Is that right?" round
CHECKIN_ONE = {
    "script": "daily-checkin",
    "turns": [
        {"press": "yes", "step": "who"},
        {"press": "yes", "who": "Sam", "step": "consent"},
        {"press": "yes", "who": "Sam", "step": "mood"},
        {"press": "yes", "who": "Sam", "step": "job_status"},
        {"press": "next", "times": 6, "who": "Sam", "step": "news"},
    ],
    "expect": {"finished": True, "people": ["Sam"]},
}


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
        devices[name] = {
            "data": data,
            "config": device_config(tmp_path / f"{name}.toml", data),
            "id": enrolment.device_id,
        }
    try:
        yield {"hub": hub, "server": server, "devices": devices, "tmp": tmp_path, "db": db_url}
    finally:
        server.stop()
        hub.close()


def hub_cli(setup: dict[str, Any], *args: str) -> Any:
    config = setup["devices"]["a"]["config"]
    db = ["--db", setup["db"]] if setup["db"] else []
    env = {"ASSISTANT_HUB_PASSPHRASE": PASSPHRASE}
    return run_cli(config, "hub", *args, "--home", str(setup["hub"].home), *db, env=env)


def device(setup: dict[str, Any], name: str, *args: str, capsys: Any) -> tuple[int, str]:
    code = main(["--config", str(setup["devices"][name]["config"]), *args])
    got = capsys.readouterr()
    return code, " ".join((got.out + got.err).split())


def store_of(setup: dict[str, Any], name: str) -> RecordStore:
    return RecordStore(setup["devices"][name]["data"], min_free_mb=0)


def settings_of(setup: dict[str, Any], name: str) -> Settings:
    data = setup["devices"][name]["data"]
    return Settings.model_validate(
        {"records": {"data_dir": str(data), "min_free_mb": 0}, "sync": {"max_attempts": 2}}
    )


class Tampering(httpx.BaseTransport):
    """The real network, but one byte of every update from the hub is flipped."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path != "/v1/updates":
            return response
        body = bytearray(response.read())
        body[-1] ^= 0x01
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body))


def test_a_job_agreed_on_a_comes_up_at_a_checkin_on_b_and_flows_back(setup, capsys):
    tmp = setup["tmp"]
    a, b, c = (setup["devices"][n] for n in "abc")

    # A: the group agrees Sam's job; A syncs (its people and jobs reach the hub)
    code, said = device(
        setup, "a", "simulate", str(GROUP), "--fake-speech", "-q", "--save", capsys=capsys
    )
    assert code == 0, said
    with store_of(setup, "a") as store:
        sam = store.find_person("Sam")
        assert sam is not None
        (job,) = store.jobs_for(sam.id)
        assert "posters" in job.what and job.status == "planned"
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 session." in said, said

    # staff see Sam on the hub and assign them to B
    listed = hub_cli(setup, "people", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Sam" in listed.stdout and "first seen on device a" in listed.stdout
    done = hub_cli(setup, "people", "assign", "Sam", "device b", "--by", "Jo")
    assert done.returncode == 0 and "Assigned Sam to device b" in done.stdout, done.stderr

    # B syncs: it receives Sam (A's id, one identity) and the job, nobody else
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "From the hub: 1 people added" in said, said
    with store_of(setup, "b") as store:
        assert [(p.id, p.name) for p in store.people()] == [(sam.id, "Sam")]
        got = store.get_person(sam.id)
        assert got.consent is not None and got.consent.audio  # Sam said yes on A
        (held,) = store.open_jobs()
        assert held.id == job.id and held.what == job.what and held.person_id == sam.id
        assert held.status == "planned" and held.support == job.support
    code, shown = device(setup, "b", "sync", "status", capsys=capsys)
    assert "Last received from the hub:" in shown and "1 people, 1 jobs" in shown

    # B: a daily check-in without roster: or jobs: asks Sam about the job from A
    scenario = tmp / "checkin.yaml"
    scenario.write_text(yaml.safe_dump(CHECKIN_ONE))
    out = tmp / "b-checkin.json"
    code, said = device(
        setup,
        "b",
        "simulate",
        str(scenario),
        "--fake-speech",
        "--save",
        "-o",
        str(out),
        capsys=capsys,
    )
    assert code == 0, said
    assert "Your job: I will make the posters." in said
    record = json.loads(out.read_text())
    assert [p["id"] for p in record["people"]] == [sam.id]
    with store_of(setup, "b") as store:
        assert [j.id for j in store.jobs_for(sam.id)] == [job.id]  # held once, not twice
        assert store.get_job(job.id).status == "done"

    # B's session carries the update to the hub; A receives it at its next pull
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 session." in said, said
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "a") as store:
        assert [j.id for j in store.jobs_for(sam.id)] == [job.id]
        assert store.get_job(job.id).status == "done"
        assert len(store.people()) == 2  # Sam and Priya, no second Sam
    again = hub_cli(setup, "people", "list").stdout
    assert "assigned to device b" in again

    # a session from A renames Sam: B's Sam keeps the name; staff see the conflict
    with store_of(setup, "a") as store, store.database.tx() as db:
        db.execute(
            "UPDATE people SET name = 'Samuel', data = json_set(data, '$.name', 'Samuel') "
            "WHERE id = ?",
            (sam.id,),
        )
    with store_of(setup, "a") as store:
        renamed = add_session(store, tmp, who="Samuel", clips=0, started=datetime.now(UTC))
        assert renamed.people[0].id == sam.id
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 session." in said, said
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "b") as store:
        assert [p.name for p in store.people()] == ["Sam"]
    with store_of(setup, "a") as store:
        assert store.get_person(sam.id).name == "Samuel"  # A keeps its own name for Sam
    listed = hub_cli(setup, "people", "list").stdout
    assert "conflict: device a calls them 'Samuel'" in listed

    # a tampered update is refused and changes nothing
    with store_of(setup, "b") as store:
        before = last_pull(store)
        got = pull_updates(settings_of(setup, "b"), store, transport=Tampering())
        assert got.problems and "not used" in got.problems[0]
        assert "not signed by this device's hub, or was altered" in got.problems[0]
        assert last_pull(store) == before

    # C, never assigned Sam, receives nobody
    code, said = device(setup, "c", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "c") as store:
        assert store.people() == [] and store.open_jobs() == []

    # a revoked device gets 403 and nothing
    assert hub_cli(setup, "revoke", c["id"][:8]).returncode == 0
    token = Enrolment.load(c["data"]).token
    answer = httpx.get(
        f"{setup['server'].url}/v1/updates", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 403 and not answer.content.startswith(b"ASSISTANT-UPDATE")
    assert b["id"] != c["id"] and a["id"] != c["id"]


CHECKIN_NOT_YET = {
    "script": "daily-checkin",
    "turns": [
        {"press": "yes", "step": "who"},
        {"press": "yes", "who": "Sam", "step": "consent"},
        {"press": "yes", "who": "Sam", "step": "mood"},
        {"press": "no", "who": "Sam", "step": "job_status"},  # not yet
        {"press": "next", "who": "Sam", "step": "help_wanted"},  # the middle point
        {"press": "next", "who": "Sam", "step": "help_wanted"},  # pass: no help asked for
        {"press": "next", "who": "Sam", "step": "new_date"},  # today: the next one
        {"press": "next", "who": "Sam", "step": "new_date"},  # this week: the next one
        {"press": "yes", "who": "Sam", "step": "new_date"},  # next week
        {"press": "next", "times": 6, "who": "Sam", "step": "news"},
    ],
    "expect": {"finished": True, "people": ["Sam"]},
}


def group_on_a(setup: dict[str, Any], capsys: Any) -> Any:
    """The group scenario saved on device A, then A syncs: Sam's one job."""
    code, said = device(
        setup, "a", "simulate", str(GROUP), "--fake-speech", "-q", "--save", capsys=capsys
    )
    assert code == 0, said
    with store_of(setup, "a") as store:
        sam = store.find_person("Sam")
        assert sam is not None
        (job,) = store.jobs_for(sam.id)
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    return job


def checkin_on(
    setup: dict[str, Any], name: str, scenario: dict[str, Any], capsys: Any, *save: str
) -> str:
    """A check-in scenario simulated on device *name* (``"--save"`` to keep it): what was said."""
    path = setup["tmp"] / f"checkin-{name}.yaml"
    path.write_text(yaml.safe_dump(scenario))
    code, said = device(setup, name, "simulate", str(path), "--fake-speech", *save, capsys=capsys)
    assert code == 0, said
    return said


def test_a_new_date_agreed_at_a_checkin_on_b_reaches_a(setup, capsys):
    """Not yet, and a new day, at a check-in on B: the date travels with the status update
    (the hub's history, then A's); A's own copy of the job says the new when and due."""
    job = group_on_a(setup, capsys)
    assert hub_cli(setup, "people", "assign", "Sam", "device b", "--by", "Jo").returncode == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0

    said = checkin_on(setup, "b", CHECKIN_NOT_YET, capsys, "--save")
    assert "When will you try again?" in said and "You chose: Next week." in said
    with store_of(setup, "b") as store:
        held = store.get_job(job.id)
        assert held.status == "not_yet" and held.when == "next week" and held.due is not None
        due = held.due
    assert job.when != "next week"

    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    from assistant.hub import db as hub_db

    with setup["hub"].tx() as s:  # the hub's own copy of the job follows the new date too
        data = json.loads(s.get(hub_db.HubJob, job.id).data)
        assert (data["when"], data["due"]) == ("next week", due.isoformat())
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "a") as store:
        mine = store.get_job(job.id)
        assert mine.status == "not_yet"
        assert (mine.when, mine.due) == ("next week", due)
        assert [(e.status, e.when) for e in mine.history][-1] == ("not_yet", "next week")


def test_a_staff_correction_on_the_hub_corrects_the_job_on_every_device(setup, capsys):
    """Staff correct the answer a job was made from: the hub's job, the maker's own copy and
    another device's copy all say the corrected words, and the next check-in says them."""
    from assistant.hub.web import _correct

    job = group_on_a(setup, capsys)
    with store_of(setup, "a") as store:
        session = next(r for r in store.sessions() if r.jobs)
    made_from = next(a for a in session.answers if a.id == job.from_answer)
    assert made_from.transcript == job.what  # the job names the answer it was made from

    fixed = "I will make the big posters"
    assert _correct(setup["hub"], "Kim", session.id, made_from.id, fixed)
    # A has a check-in with the job before it hears of the correction (sync pushes first):
    # the hub keeps the corrected words all the same
    both = dict(CHECKIN_NOT_YET, turns=[{"press": "yes", "step": "who"}, *CHECKIN_NOT_YET["turns"]])
    said = checkin_on(setup, "a", both, capsys, "--save")
    assert f"Your job: {job.what}." in said, said
    assert hub_cli(setup, "people", "assign", "Sam", "device b", "--by", "Jo").returncode == 0
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 session." in said, said
    assert "1 job(s) made here were corrected by staff." in said, said
    from assistant.hub import db as hub_db

    with setup["hub"].tx() as s:
        assert json.loads(s.get(hub_db.HubJob, job.id).data)["what"] == fixed
    with store_of(setup, "a") as store:
        assert store.get_job(job.id).what == fixed
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "b") as store:
        assert store.get_job(job.id).what == fixed
    said = checkin_on(setup, "b", CHECKIN_ONE, capsys)
    assert f"Your job: {fixed}." in said, said


def test_a_job_shared_on_a_comes_up_for_the_sharer_on_b_and_flows_back(setup, capsys):
    """Sam's job on A, shared with Priya; staff assign only Priya to B. B receives the job (its
    owner stays the hub's Sam, whom B does not hold), Priya's check-in on B asks about it, and
    her answer reaches the hub and A."""
    from assistant.hub import db as hub_db
    from assistant.records.model import Job as RecordJob
    from assistant.records.model import Person, SessionRecord

    with store_of(setup, "a") as store:
        sam, priya = store.add_person("Sam"), store.add_person("Priya")
        job = RecordJob(person_id=sam.id, what="water the plants", shared_with=[priya.id])
        record = SessionRecord(
            script="coproduction-group",
            started_at=datetime.now(UTC),
            people=[Person(id=sam.id, name="Sam"), Person(id=priya.id, name="Priya")],
            jobs=[job],
        )
        store.save_session(record)
        store.finish_session(record.id)
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    with setup["hub"].tx() as s:  # the hub keeps who shares it, in hub ids
        sharers = s.query(hub_db.HubJobSharer).filter_by(job_id=job.id).all()
        assert [x.person_id for x in sharers] == [priya.id]
    assert hub_cli(setup, "people", "assign", "Priya", "device b", "--by", "Jo").returncode == 0
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "1 jobs received" in said, said
    with store_of(setup, "b") as store:
        assert store.find_person("Sam") is None  # not assigned to B: not sent
        here = store.find_person("Priya")
        assert here is not None
        assert [j.what for j in store.jobs_for(here.id)] == ["water the plants"]

    scenario = json.loads(json.dumps(CHECKIN_ONE).replace('"Sam"', '"Priya"'))
    said = checkin_on(setup, "b", scenario, capsys, "--save")
    assert "water the plants" in said
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    with setup["hub"].tx() as s:
        assert s.get(hub_db.HubJob, job.id).status == "done"
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    with store_of(setup, "a") as store:
        assert store.get_job(job.id).status == "done"
    # C holds neither of them: it receives nothing
    assert device(setup, "c", "sync", capsys=capsys)[0] == 0
    with store_of(setup, "c") as store:
        assert store.open_jobs() == []


def test_a_persons_own_settings_follow_them_and_the_latest_change_wins(setup, capsys):
    """Sam answers with the buttons only: set on A, it reaches B with Sam. A slower rate set
    later on B reaches A, and A keeps buttons only (the latest change of the whole set wins)."""
    group_on_a(setup, capsys)
    code, said = device(setup, "a", "people", "set", "Sam", "--buttons-only", capsys=capsys)
    assert code == 0, said
    on_a = {**CHECKIN_ONE, "turns": [CHECKIN_ONE["turns"][0], *CHECKIN_ONE["turns"]]}
    checkin_on(setup, "a", on_a, capsys, "--save")  # a session carries them up ("You are Sam?")
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    assert hub_cli(setup, "people", "assign", "Sam", "device b", "--by", "Jo").returncode == 0
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "b") as store:
        sam = store.find_person("Sam")
        assert sam is not None and sam.buttons_only and sam.words_per_minute is None

    code, said = device(setup, "b", "people", "set", "Sam", "--rate", "120", capsys=capsys)
    assert code == 0, said
    checkin_on(setup, "b", CHECKIN_ONE, capsys, "--save")
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "had their own settings changed on another device" in said, said
    with store_of(setup, "a") as store:
        sam = store.find_person("Sam")
        assert sam is not None and sam.buttons_only and sam.words_per_minute == 120
    from fastapi.testclient import TestClient

    from assistant.hub.app import create_app
    from tests.test_published_scripts import _log_in

    hub = setup["hub"]
    hub.add_staff("Jo", "jo's long password", role="staff")
    with hub.tx() as s:
        from assistant.hub import db as hub_db

        sam_id = s.query(hub_db.Person).filter_by(name="Sam").one().id
    with TestClient(create_app(hub)) as jo:
        _log_in(jo, "Jo", "jo's long password")
        page = jo.get(f"/people/{sam_id}").text
        assert "Their own settings" in page and "120 words a minute" in page
        assert "the buttons only (microphone closed)" in page
    # nothing newer anywhere: the next sync changes nothing
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert "settings changed" not in said


def test_a_device_keeps_only_the_people_of_its_place(setup, capsys):
    """Staff stop sending Sam to B: at B's next sync Sam and the job received for Sam leave B
    (A, where Sam was first seen, keeps them); given to B again, Sam comes back."""
    job = group_on_a(setup, capsys)
    assert hub_cli(setup, "people", "assign", "Sam", "device b", "--by", "Jo").returncode == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    with store_of(setup, "b") as store:
        assert store.find_person("Sam") is not None and len(store.open_jobs()) == 1

    assert hub_cli(setup, "people", "unassign", "Sam", "device b").returncode == 0
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "1 person(s) are no longer given to this device" in said, said
    with store_of(setup, "b") as store:
        assert store.find_person("Sam") is None and store.open_jobs() == []
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    with store_of(setup, "a") as store:
        assert store.find_person("Sam") is not None and store.get_job(job.id)

    assert hub_cli(setup, "people", "assign", "Sam", "device b").returncode == 0
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "1 people added" in said, said
    with store_of(setup, "b") as store:
        assert store.find_person("Sam") is not None and len(store.open_jobs()) == 1


# the review on B, from B's store: two people (Priya, Sam), their two jobs from A, the goal
REVIEW_GOAL_DONE = {
    "script": "review",
    "turns": [
        {"press": "yes", "step": "who"},
        {"press": "yes", "step": "who"},
        {"press": "yes", "step": "who"},
        {"press": "yes", "step": "who"},
        {"press": "no", "step": "who"},
        {"press": "yes", "step": "consent"},
        {"press": "yes", "step": "consent"},
        {"press": "yes", "step": "how_going"},
        {"press": "next", "times": 6, "step": "helped"},
        {"press": "yes", "step": "how_going"},
        {"press": "next", "times": 6, "step": "helped"},
        {"press": "next", "step": "goal_review"},
        {"press": "next", "step": "goal_review"},
        {"press": "yes", "step": "goal_review"},
    ],
    "expect": {"finished": True},
}


def test_a_goal_agreed_on_a_is_reviewed_on_b_in_corrected_words_and_is_done_everywhere(
    setup, capsys
):
    """The group agrees its goal on A; staff correct the answer it came from; the review on B
    (people, jobs and goal from B's store) looks at the goal in the corrected words and marks
    it done; after both sync, neither device has a goal left to review, and C never had it."""
    from assistant.hub import db as hub_db
    from assistant.hub.web import _correct

    group_on_a(setup, capsys)
    with store_of(setup, "a") as store:
        (goal,) = store.current_goals()
        session = next(r for r in store.sessions() if r.goals)
    idea = next(i for i in session.ideas if i.id == goal.from_idea)
    fixed = "go to the big bowling alley"
    assert _correct(setup["hub"], "Kim", session.id, idea.from_answer, fixed)
    for who in ("Sam", "Priya"):
        assert hub_cli(setup, "people", "assign", who, "device b", "--by", "Jo").returncode == 0
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0, said
    with store_of(setup, "b") as store:
        assert [(g.id, g.text) for g in store.current_goals()] == [(goal.id, fixed)]

    path = setup["tmp"] / "review-b.yaml"
    path.write_text(yaml.safe_dump(REVIEW_GOAL_DONE))
    code, said = device(setup, "b", "simulate", str(path), "--fake-speech", "--save", capsys=capsys)
    assert code == 0, said
    assert f"Let's look at our goal: {fixed}. How is it going?" in said, said
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    with setup["hub"].tx() as s:
        assert json.loads(s.get(hub_db.HubGoal, goal.id).data)["status"] == "done"
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    for name in ("a", "b"):
        with store_of(setup, name) as store:
            assert store.current_goals() == [], name
    assert device(setup, "c", "sync", capsys=capsys)[0] == 0
    with store_of(setup, "c") as store:
        assert store.database.read("SELECT 1 FROM received_goals") == []


def session_with_sam(setup: dict[str, Any], name: str) -> None:
    """A finished session on device *name* with Sam as the store holds them (settings too)."""
    session_with(setup, name, "Sam")


def session_with(setup: dict[str, Any], name: str, who: str) -> None:
    """A finished session on device *name* with *who* as the store holds them (settings too)."""
    from datetime import UTC, datetime, timedelta

    from assistant.records.model import SessionRecord

    with store_of(setup, name) as store:
        person = store.find_person(who)
        assert person is not None
        now = datetime.now(UTC)
        record = SessionRecord(
            script="daily-checkin", started_at=now, ended_at=now + timedelta(minutes=2),
            people=[person],
        )  # fmt: skip
        store.save_session(record)
        store.finish_session(record.id)


def test_settings_changed_on_two_devices_offline_the_later_wins_and_the_other_is_shown(
    setup, capsys
):
    """Rates set on A and, later, on B, each before hearing of the other: B's stands on both
    devices, and A's is kept as a conflict staff see (hub people list); a device that only has
    not heard of a change yet is no conflict."""
    group_on_a(setup, capsys)
    assert hub_cli(setup, "people", "assign", "Sam", "device b", "--by", "Jo").returncode == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    assert device(setup, "a", "people", "set", "Sam", "--rate", "140", capsys=capsys)[0] == 0
    assert device(setup, "b", "people", "set", "Sam", "--rate", "120", capsys=capsys)[0] == 0
    checkin_on(setup, "b", CHECKIN_ONE, capsys, "--save")
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    listed = hub_cli(setup, "people", "list")
    assert "not used" not in listed.stdout, listed.stdout
    session_with_sam(setup, "a")  # carries A's change up
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "had their own settings changed on another device" in said, said
    with store_of(setup, "a") as store:
        sam = store.find_person("Sam")
        assert sam is not None and sam.words_per_minute == 120
    listed = hub_cli(setup, "people", "list")
    out = " ".join(listed.stdout.split())
    assert "conflict: their own settings changed on device a" in out, out
    assert "140 words a minute" in out, out
    # A's next session carries B's settings: nothing new is lost
    session_with_sam(setup, "a")
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    assert hub_cli(setup, "people", "list").stdout.count("not used") == 1
