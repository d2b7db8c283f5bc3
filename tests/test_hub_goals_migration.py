"""Hub migration 0011: the goals of sessions the hub already holds are kept, as new ones are."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("alembic")


def test_goals_of_sessions_received_before_are_kept(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from assistant.hub import db
    from assistant.hub.service import Hub
    from assistant.records.model import Goal, Person, SessionRecord
    from tests.test_sync_support import PASSPHRASE, make_hub_home

    home = make_hub_home(tmp_path / "hub")
    engine = db.make_engine(f"sqlite:///{home / 'hub.sqlite'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0010_taught_words")  # the hub before goals travelled
    sam = Person(name="Sam")
    at = datetime(2026, 11, 2, 10, tzinfo=UTC)
    group = Goal(text="go bowling", agreed=True)
    own = Goal(text="learn to swim", person_id=sam.id)
    stranger = Goal(text="not ours", person_id=Person(name="Kim").id)  # no link: left out
    rec = SessionRecord(
        script="coproduction-group", started_at=at, people=[sam], goals=[group, own, stranger]
    )
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO sessions (id, device_id, content_sha256, script, started_at, "
                "received_at, via, record_json) VALUES (:id, 'dev', 'x', :script, :at, :at, "
                "'push', :data)"
            ),
            {"id": rec.id, "script": rec.script, "at": at, "data": rec.model_dump_json()},
        )
        connection.execute(
            sa.text(
                "INSERT INTO person_links (device_id, local_id, person_id) VALUES ('dev', :p, :p)"
            ),
            {"p": sam.id},
        )
    engine.dispose()
    hub = Hub(home, passphrase=PASSPHRASE)  # migrates to the newest revision
    with hub.tx() as s:
        goals = {g.id: g for g in s.scalars(sa.select(db.HubGoal))}
        concerns = {(p.goal_id, p.person_id) for p in s.scalars(sa.select(db.HubGoalPerson))}
    hub.close()
    assert set(goals) == {group.id, own.id}
    assert goals[own.id].person_id == sam.id and goals[group.id].person_id is None
    assert concerns == {(group.id, sam.id), (own.id, sam.id)}
