"""Schema migrations: from the first schema on, atomic, and released files never edited."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from test_records_support import T0, make_wav

from assistant.errors import RecordError
from assistant.records import migrate as migrate_mod
from assistant.records.encrypt import connect_raw
from assistant.records.migrate import Migration, latest_version, migrate, migrations
from assistant.records.model import Answer, Consent, Person, SessionRecord
from assistant.records.store import RecordStore

# A released migration is never edited: add a new numbered file instead. When a new migration
# is released, add its checksum here.
RELEASED = {
    1: "212174e9f2af4fbd5f84e0490c465b4a89d85063f5f0cd5915c61cd7abdadf31",
    2: "879c9616add1367518f33f6c60c6f7db1a617757c4baa76a0ac86936a2a6eae3",
    3: "217fed6cbe4b160b8500fc92067de29e449d156c7acc5aaa169cc0a00970baab",
    4: "710e512c198dc415c6354c7ae93c3bd5df26a7f14884ce31200c4a31c40edec2",
    5: "6a442b16153cd071880fab36b041bcfc469ee4496d3d69e592f5a521c8472aa4",
    6: "ce81b5b1fe770f8bb4aea2ae2a6d0c3fb48d899d493bf11c40e9d62596c399a8",
    7: "8f0215a56b1fd850f100fefd6d6effee013cddf8bac5c97b0061fe2b1b3f304a",
}


def test_released_migrations_are_unchanged() -> None:
    found = {m.version: hashlib.sha256(m.sql.encode()).hexdigest() for m in migrations()}
    for version, digest in RELEASED.items():
        assert found[version] == digest, f"migration {version:04d} was edited after release"
    assert latest_version() == max(found) >= max(RELEASED)


def test_statements_split_whole() -> None:
    mig = Migration(
        9,
        "x",
        "-- a comment; with a semicolon\nCREATE TABLE a (x TEXT DEFAULT ';');\n"
        "CREATE TABLE b (y);\n-- trailing comment\n",
    )
    assert mig.statements() == [
        "-- a comment; with a semicolon\nCREATE TABLE a (x TEXT DEFAULT ';');",
        "CREATE TABLE b (y);",
    ]
    with pytest.raises(RecordError, match="mid-statement"):
        Migration(9, "x", "CREATE TABLE c (z").statements()


def _version_1_database(path: Path) -> tuple[SessionRecord, str]:
    """A database made by the first release, filled the way that release filled it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    assert migrate(conn, path, target=1) == [1]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    sam = Person(name="Sam")
    answer = Answer(
        person_id=sam.id,
        step_id="why",
        question="Why are you here?",
        transcript="to see my friends",
        confirmed_by="button",
        at=T0,
    )
    rec = SessionRecord(
        script="coproduction", started_at=T0, people=[sam], answers=[answer], device_id="dev-1"
    )
    sha = "ab" * 32
    stamp = T0.isoformat()
    conn.executescript(
        "BEGIN;"
        "INSERT INTO meta VALUES ('device_id', 'dev-1');"
        f"INSERT INTO people (id, name, data, added_at) VALUES ('{sam.id}', 'Sam', "
        f"'{sam.model_dump_json(exclude={'consent'})}', '{stamp}');"
        "INSERT INTO consent_events (person_id, audio, at, method, recorded_at) "
        f"VALUES ('{sam.id}', 1, '{stamp}', 'button', '{stamp}');"
        f"INSERT INTO sessions (id, state, script, started_at, saved_at, finalised_at, data) "
        f"VALUES ('{rec.id}', 'finalised', 'coproduction', '{stamp}', '{stamp}', '{stamp}', "
        f"'{rec.model_dump_json()}');"
        f"INSERT INTO session_people VALUES ('{rec.id}', '{sam.id}');"
        "INSERT INTO answers (id, session_id, seq, person_id, step_id, at, transcript) "
        f"VALUES ('{answer.id}', '{rec.id}', 0, '{sam.id}', 'why', '{stamp}', "
        "'to see my friends');"
        "INSERT INTO clips (answer_id, sha256, session_id, person_id, bytes, kept_at) "
        f"VALUES ('{answer.id}', '{sha}', '{rec.id}', '{sam.id}', 100, '{stamp}');"
        "COMMIT;"
    )
    conn.close()
    return rec, sha


def test_upgrade_from_the_first_schema_keeps_everything(tmp_path: Path) -> None:
    rec, sha = _version_1_database(tmp_path / "records.sqlite")
    (tmp_path / "clips").mkdir()
    make_wav(tmp_path / "clips" / f"{sha}.wav")
    store = RecordStore(tmp_path, min_free_mb=0)
    assert store.schema_version() == latest_version() == 12
    assert store.device_id() == "dev-1"
    back = store.get_session(rec.id)
    assert back.state == "finalised"
    assert back.answers[0].transcript == "to see my friends"
    assert back.answers[0].audio_clip == sha
    assert store.people()[0].name == "Sam"
    consent = store.get_person(rec.people[0].id).consent
    assert consent is not None and consent.audio
    # What version 2 added works on the upgraded data.
    store.log_access("show", rec.id, who="kate")
    assert store.access_log()[0]["session_id"] == rec.id
    idx = store._db.execute(
        "SELECT name FROM sqlite_master WHERE name = 'answers_person'"
    ).fetchone()
    assert idx is not None
    # And the store carries on writing to it.
    store.set_consent(rec.people[0].id, Consent(audio=False))
    store.mark_sent(rec.id)
    assert store.get_session(rec.id).state == "sent"
    store.close()
    conn = connect_raw(tmp_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_a_failing_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "records.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=1)
    broken = Migration(
        2, "broken", "CREATE TABLE half_done (x);\nINSERT INTO nowhere VALUES (1);\n"
    )
    real = migrations()
    monkeypatch.setattr(migrate_mod, "migrations", lambda: [real[0], broken])
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert (
        conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    )
    assert not conn.in_transaction
    conn.close()


def test_store_reports_a_failed_upgrade_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    RecordStore(tmp_path, min_free_mb=0).close()
    real = migrations()
    bad = Migration(len(real) + 1, "bad", "ALTER TABLE nowhere ADD COLUMN x;\n")
    monkeypatch.setattr(migrate_mod, "migrations", lambda: [*real, bad])
    with pytest.raises(RecordError, match="records.sqlite"):
        RecordStore(tmp_path, min_free_mb=0)
    conn = connect_raw(tmp_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(real)
    conn.close()
