"""Staff keep the charity's people on the hub: add, rename, and merge two records of one person.

A real hub process (SQLite, and PostgreSQL when it is there) and devices A and B, each with its
own data folder. The group on A names Sam; staff add the same person on the hub as "Samuel" and
give them to A and B, so A holds two records of one person and the hub two. Staff merge them:
every record follows (the hub's sessions, jobs, flags and person page; A's own job and consent),
A merges its two records into one at its next sync, and B's check-in then asks Samuel about the
job agreed on A. A withdrawal of consent made under either record covers both.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("fastapi")

from assistant.errors import SyncError  # noqa: E402
from assistant.hub import db as hub_db  # noqa: E402
from assistant.hub.merge import add_person, merge  # noqa: E402
from assistant.hub.people import find_person  # noqa: E402
from tests.test_sync_support import db_url  # noqa: E402, F401  (a fixture)
from tests.test_sync_two_way import (  # noqa: E402
    checkin_on,
    device,
    group_on_a,
    hub_cli,
    setup,  # noqa: F401, F811  (a fixture)
    store_of,
)

FIRST_CHECKIN = {  # Samuel on B, before anything is merged: no jobs yet
    "script": "daily-checkin",
    "turns": [
        {"press": "yes", "step": "who"},
        {"press": "yes", "who": "Samuel", "step": "consent"},
        {"press": "yes", "who": "Samuel", "step": "mood"},
        {"press": "next", "times": 6, "who": "Samuel", "step": "news"},
    ],
    "expect": {"finished": True, "people": ["Samuel"]},
}

CHECKIN_WITH_JOB = {
    "script": "daily-checkin",
    "turns": [
        {"press": "yes", "step": "who"},
        {"press": "yes", "who": "Samuel", "step": "consent"},
        {"press": "yes", "who": "Samuel", "step": "mood"},
        {"press": "yes", "who": "Samuel", "step": "job_status"},
        {"press": "next", "times": 6, "who": "Samuel", "step": "news"},
    ],
    "expect": {"finished": True, "people": ["Samuel"]},
}


def test_staff_merge_a_person_added_on_a_device_and_on_the_hub(setup: Any, capsys: Any) -> None:  # noqa: F811
    from assistant.hub.web import _person_view

    hub = setup["hub"]
    job = group_on_a(setup, capsys)  # Sam (A's own id) has the posters job; A synced
    with store_of(setup, "a") as store:
        sam = store.find_person("Sam")
        assert sam is not None and job.person_id == sam.id

    # staff add the same person on the hub, not knowing A has them, and give them to A and B
    added = hub_cli(
        setup, "people", "add", "Samuel", "--to", "device a", "--to", "device b", "--by", "Jo"
    )
    assert added.returncode == 0 and "Added Samuel" in added.stdout, added.stderr
    samuel = find_person(hub, "Samuel")
    assert samuel.id != sam.id and samuel.device_id is None
    listed = hub_cli(setup, "people", "list").stdout
    assert "first seen on staff (on the hub)" in listed
    with pytest.raises(SyncError, match="already has someone called Samuel"):
        add_person(hub, "  samuel ".title(), "Jo")

    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    with store_of(setup, "a") as store:
        assert sorted(p.name for p in store.people()) == ["Priya", "Sam", "Samuel"]
    # a check-in on B under the hub's record, sent up
    checkin_on(setup, "b", FIRST_CHECKIN, capsys, "--save")
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 session." in said, said

    # staff merge A's Sam into the hub's Samuel
    done = hub_cli(setup, "people", "merge", "Samuel", sam.id[:8], "--by", "Jo")
    assert done.returncode == 0, done.stderr
    assert "Merged Sam into Samuel: 1 session(s), 1 job(s) and 1 device link(s)" in done.stdout
    with hub.tx() as s:
        assert s.get(hub_db.Person, sam.id) is None
        assert s.get(hub_db.HubJob, job.id).person_id == samuel.id
        link = s.get(hub_db.PersonLink, (setup["devices"]["a"]["id"], sam.id))
        assert link.person_id == samuel.id  # A's old and unsent sessions still map to them
        audit = [a.action for a in s.query(hub_db.Audit).filter_by(target=samuel.id)]
        assert "merged people" in audit and "added person" in audit
    view = _person_view(hub, samuel.id)
    assert view is not None
    assert len(view["sessions"]) == 2  # the group on A and the check-in on B
    assert [j.id for j in view["jobs"]] == [job.id]
    assert view["answers"], "the answers Sam gave on A show on Samuel's page"
    listed = hub_cli(setup, "people", "list").stdout
    assert listed.count("Samuel") == 1 and " Sam " not in listed, listed
    assert "first seen on device a" in listed  # the merged record's first device
    merged_again = hub_cli(setup, "people", "merge", "Samuel", "Samuel")
    assert merged_again.returncode != 0 and "same record" in merged_again.stderr

    # A merges its two records of the person at its next sync; its job follows
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0, said
    assert "1 person record(s) here merged into another" in said, said
    with store_of(setup, "a") as store:
        assert sorted(p.name for p in store.people()) == ["Priya", "Samuel"]
        assert [j.id for j in store.jobs_for(samuel.id)] == [job.id]
        assert store.jobs_for(sam.id) == []
        kept = store.get_person(samuel.id)
        assert kept.consent is not None and kept.consent.audio  # Sam's yes on A follows
    code, said = device(setup, "a", "sync", capsys=capsys)
    assert code == 0 and "merged" not in said  # once

    # B now holds the job agreed on A, and its check-in asks Samuel about it
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    said = checkin_on(setup, "b", CHECKIN_WITH_JOB, capsys)
    assert f"Your job: {job.what}." in said, said

    # renaming on the hub decides the name every device uses
    renamed = hub_cli(setup, "people", "rename", "Samuel", "Sam Jones", "--by", "Jo")
    assert renamed.returncode == 0 and "Samuel is now Sam Jones" in renamed.stdout
    for name in "ab":
        assert device(setup, name, "sync", capsys=capsys)[0] == 0
        with store_of(setup, name) as store:
            assert store.get_person(samuel.id).name == "Sam Jones"


def test_a_withdrawal_under_either_record_covers_both_after_a_merge(setup: Any, capsys: Any):  # noqa: F811
    """Sam withdrew consent on A (their own record) before staff knew the hub's Samuel was the
    same person: once merged, the withdrawal covers Samuel's sessions on the hub too, and B, which
    holds only Samuel, receives it."""
    from datetime import UTC, datetime

    from assistant.records.model import Consent
    from tests.test_sync_support import add_session

    hub = setup["hub"]
    group_on_a(setup, capsys)
    with store_of(setup, "a") as store:
        sam = store.find_person("Sam")
        assert sam is not None
    assert hub_cli(setup, "people", "add", "Samuel", "--to", "device b").returncode == 0
    samuel = find_person(hub, "Samuel")
    assert device(setup, "b", "sync", capsys=capsys)[0] == 0
    with store_of(setup, "b") as store:
        store.people_repo.set_consent(
            samuel.id, Consent(audio=True, at=datetime.now(UTC), method="button")
        )
        add_session(store, setup["tmp"], who="Samuel", clips=2)  # Samuel's voice kept on B
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "Sent 1 session." in said, said
    with hub.tx() as s:
        before = s.query(hub_db.Blob).count()
    assert before >= 2
    with store_of(setup, "a") as store:
        store.people_repo.withdraw_consent(sam.id, by="Jo")
    assert device(setup, "a", "sync", capsys=capsys)[0] == 0
    with hub.tx() as s:
        assert s.query(hub_db.Blob).count() == before  # Samuel's clips: not known to be Sam's

    _, _, moved = merge(hub, samuel.id, sam.id, "Jo")
    assert moved["clips_deleted"] >= 2
    with hub.tx() as s:
        assert s.query(hub_db.Blob).count() == before - moved["clips_deleted"]
    code, said = device(setup, "b", "sync", capsys=capsys)
    assert code == 0 and "withdrawal(s) of consent made elsewhere" in said, said
    with store_of(setup, "b") as store:
        history = store.people_repo.consent_history(samuel.id)
        assert any(e["withdrawal"] and e["from_hub"] for e in history)
        left = store.database.read("SELECT count(*) FROM clips WHERE deleted_at IS NULL")
        assert left[0][0] == 0


def test_a_merge_moves_who_shares_a_job(tmp_path: Any, db_url: str | None) -> None:  # noqa: F811
    """Sam's job shared with Priya and with Pri (the same person, twice on the hub): after the
    merge Priya shares it once; a job of Pri's shared with Priya is then Priya's alone."""
    import json

    from tests.test_sync_support import open_hub

    hub = open_hub(tmp_path / "hub", db_url)
    try:
        sam, priya, pri = (add_person(hub, n, by="Jo") for n in ("Sam", "Priya", "Pri"))
        with hub.tx() as s:
            for job_id, owner, sharers in (
                ("j1", sam.id, [priya.id, pri.id]),
                ("j2", pri.id, [priya.id]),
            ):
                s.add(
                    hub_db.HubJob(
                        id=job_id,
                        person_id=owner,
                        device_id="d",
                        session_id="s",
                        data=json.dumps({"id": job_id, "what": "sweep"}),
                        status="planned",
                    )
                )
                for p in sharers:
                    s.add(hub_db.HubJobSharer(job_id=job_id, person_id=p))
        merge(hub, "Priya", "Pri", by="Jo")
        with hub.tx() as s:
            rows = s.query(hub_db.HubJobSharer).order_by(hub_db.HubJobSharer.job_id).all()
            assert [(r.job_id, r.person_id) for r in rows] == [("j1", priya.id)]
            assert s.get(hub_db.HubJob, "j2").person_id == priya.id
    finally:
        hub.close()
