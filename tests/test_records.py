"""The record store: people, consent, sessions, clips, jobs, flags, retention, faults."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from unittest.mock import ANY

import pytest
from test_records_support import GROUP, T0, FakeClock, group_session, make_wav, roster

from assistant.errors import BadAudioFile, ConsentError, DiskFull, RecordError
from assistant.records import clips as clips_mod
from assistant.records.db import Database
from assistant.records.encrypt import connect_raw
from assistant.records.model import (
    Answer,
    CheckIn,
    Consent,
    Flag,
    Job,
    JobEvent,
    SessionRecord,
)
from assistant.records.store import RecordStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[RecordStore]:
    s = RecordStore(tmp_path / "data", min_free_mb=0, clock=clock)
    yield s
    s.close()


def clip_files(store: RecordStore) -> list[Path]:
    return sorted(p for p in store.clips_dir.iterdir() if p.suffix == ".sealed")


def one_answer_session(store: RecordStore, consent: bool) -> tuple[SessionRecord, Answer]:
    person = store.add_person("Sam", consent=Consent(audio=consent))
    answer = Answer(person_id=person.id, step_id="why", question="Why?", transcript="friends")
    rec = SessionRecord(script="coproduction", people=[person], answers=[answer])
    store.save_session(rec)
    return rec, answer


# ---------------------------------------------------------------- opening


def test_database_settings_and_device_id(tmp_path: Path) -> None:
    s = RecordStore(tmp_path, min_free_mb=0)
    mode = s._db.execute("PRAGMA journal_mode").fetchone()[0]
    sync = s._db.execute("PRAGMA synchronous").fetchone()[0]
    fks = s._db.execute("PRAGMA foreign_keys").fetchone()[0]
    assert (mode, sync, fks) == ("wal", 2, 1)  # 2 = FULL
    device = s.device_id()
    s.close()
    assert (tmp_path / "records.sqlite").stat().st_mode & 0o077 == 0
    again = RecordStore(tmp_path, min_free_mb=0)
    assert again.device_id() == device
    assert len(device) == 36
    again.close()


def test_corrupt_database_is_reported_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "records.sqlite"
    junk = b"this is not a database, it is a shopping list\n" * 200
    db.write_bytes(junk)
    with pytest.raises(RecordError) as err:
        RecordStore(tmp_path, min_free_mb=0)
    assert str(db) in str(err.value)
    assert "damaged" in str(err.value)
    assert db.read_bytes() == junk  # never silently recreated


def test_damaged_page_is_reported(tmp_path: Path) -> None:
    s = RecordStore(tmp_path, min_free_mb=0)
    for i in range(300):
        s.add_person(f"Person {i}")
    s._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()
    db = tmp_path / "records.sqlite"
    data = bytearray(db.read_bytes())
    assert len(data) > 8 * 4096
    data[4096 * 3 : 4096 * 6] = b"\xa5" * (4096 * 3)  # scribble over pages 4 to 6
    db.write_bytes(bytes(data))
    with pytest.raises(RecordError, match="damaged"):
        RecordStore(tmp_path, min_free_mb=0)


def test_newer_database_is_refused(tmp_path: Path) -> None:
    RecordStore(tmp_path, min_free_mb=0).close()
    conn = connect_raw(tmp_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(RecordError, match="newer"):
        RecordStore(tmp_path, min_free_mb=0)


# ---------------------------------------------------------------- people and consent


def test_people_roster(store: RecordStore) -> None:
    sam = store.add_person("  Sam  ", consent=Consent(audio=True, witnessed_by="Kate"))
    jo = store.add_person("Jo", communication_needs="Makaton signs")
    assert sam.name == "Sam"
    assert [p.name for p in store.people()] == ["Sam", "Jo"]
    assert store.find_person("sam") == sam
    assert store.get_person(jo.id).communication_needs == "Makaton signs"
    assert store.get_person(sam.id).consent is not None
    assert store.get_person(jo.id).consent is None
    with pytest.raises(RecordError, match="already someone called Sam"):
        store.add_person("SAM")
    with pytest.raises(RecordError, match="needs a name"):
        store.add_person("   ")
    store.remove_person(jo.id)
    assert [p.name for p in store.people()] == ["Sam"]
    assert store.find_person("Jo") is None
    assert store.get_person(jo.id).name == "Jo"  # still there for past answers
    assert len(store.people(include_removed=True)) == 2
    store.add_person("Jo")  # the name is free again
    with pytest.raises(RecordError, match="no person"):
        store.get_person("nobody")


def test_keep_audio_with_consent(store: RecordStore, tmp_path: Path) -> None:
    rec, answer = one_answer_session(store, consent=True)
    wav = make_wav(tmp_path / "turn.wav")
    expected = hashlib.sha256(wav.read_bytes()).hexdigest()
    sha = store.keep_audio(rec.id, answer.id, wav)
    assert sha == expected
    assert not wav.exists()  # the temporary WAV is gone
    assert store.clip_path(sha).read_bytes() and clip_files(store) == [store.clip_path(sha)]
    assert hashlib.sha256(store.clip_bytes(sha)).hexdigest() == sha
    assert store.get_session(rec.id).answers[0].audio_clip == sha
    # The shell saves its own copy again (audio_clip None there): the clip stays.
    store.save_session(rec)
    assert store.get_session(rec.id).answers[0].audio_clip == sha
    assert not list(store.clips_dir.glob(".incoming-*"))


def test_no_consent_keeps_no_audio(store: RecordStore, tmp_path: Path) -> None:
    rec, answer = one_answer_session(store, consent=False)
    wav = make_wav(tmp_path / "turn.wav")
    assert store.keep_audio(rec.id, answer.id, wav) is None
    assert not wav.exists()
    assert clip_files(store) == []
    assert store.get_session(rec.id).answers[0].audio_clip is None
    wav = make_wav(tmp_path / "turn2.wav")
    with pytest.raises(ConsentError):
        store.add_clip(rec.id, answer.id, wav)  # the lower-level call refuses outright
    assert wav.exists() and clip_files(store) == []
    # A record claiming a clip does not make one.
    rec.answers[0].audio_clip = "a" * 64
    store.save_session(rec)
    assert store.get_session(rec.id).answers[0].audio_clip is None


def test_never_asked_means_no_audio(store: RecordStore, tmp_path: Path) -> None:
    person = store.add_person("Jo")
    answer = Answer(person_id=person.id, step_id="why", question="Why?", transcript="hi")
    rec = SessionRecord(script="s", people=[person], answers=[answer])
    store.save_session(rec)
    assert store.keep_audio(rec.id, answer.id, make_wav(tmp_path / "w.wav")) is None
    assert clip_files(store) == []


def test_group_answer_needs_everyone(store: RecordStore, tmp_path: Path) -> None:
    a = store.add_person("Ann", consent=Consent(audio=True))
    b = store.add_person("Ben", consent=Consent(audio=False))
    group = Answer(person_id=None, step_id="agree", question="Agreed?", value="yes")
    rec = SessionRecord(script="s", people=[a, b], answers=[group])
    store.save_session(rec)
    assert store.keep_audio(rec.id, group.id, make_wav(tmp_path / "g.wav")) is None
    store.set_consent(b.id, Consent(audio=True))
    assert store.keep_audio(rec.id, group.id, make_wav(tmp_path / "g.wav")) is not None


def test_keep_audio_before_save_is_an_error(store: RecordStore, tmp_path: Path) -> None:
    rec, _ = one_answer_session(store, consent=True)
    wav = make_wav(tmp_path / "w.wav")
    with pytest.raises(RecordError, match="save the session first"):
        store.keep_audio(rec.id, "not-saved", wav)
    assert wav.exists()


def test_bad_wav_is_refused(store: RecordStore, tmp_path: Path) -> None:
    rec, answer = one_answer_session(store, consent=True)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    with pytest.raises(BadAudioFile):
        store.keep_audio(rec.id, answer.id, bad)
    with pytest.raises(BadAudioFile, match="not there"):
        store.keep_audio(rec.id, answer.id, tmp_path / "missing.wav")
    assert clip_files(store) == []


def test_consent_given_in_the_session_record_counts(store: RecordStore, tmp_path: Path) -> None:
    person = store.add_person("Sam")
    snap = person.model_copy(deep=True)
    snap.consent = Consent(audio=True, method="voice", at=T0 + timedelta(minutes=1))
    answer = Answer(person_id=person.id, step_id="why", question="Why?", transcript="x")
    rec = SessionRecord(script="s", people=[snap], answers=[answer])
    store.save_session(rec)
    assert store.get_person(person.id).consent.method == "voice"  # type: ignore[union-attr]
    assert store.keep_audio(rec.id, answer.id, make_wav(tmp_path / "w.wav"))
    store.save_session(rec)
    store.save_session(rec)
    assert len(store.consent_history(person.id)) == 1  # recorded once, not per save


def test_withdrawal_deletes_clips_and_is_recorded(
    store: RecordStore, tmp_path: Path, clock: FakeClock
) -> None:
    people = roster(store)
    rec = group_session(people)
    store.save_session(rec)
    sam, dev = people[0], people[2]
    kept = {}
    for i, a in enumerate(rec.answers):
        if a.transcript:
            sha = store.keep_audio(rec.id, a.id, make_wav(tmp_path / "w.wav", freq=200 + 10 * i))
            kept[a.id] = (a.person_id, sha)
    sam_shas = {sha for pid, sha in kept.values() if pid == sam.id}
    assert len(sam_shas) == 3  # two answers and the celebration
    assert None not in {sha for pid, sha in kept.values() if pid != people[1].id}
    clock.advance(days=1)
    assert store.withdraw_consent(sam.id, by="Kate") == 3
    on_disk = {p.stem for p in clip_files(store)}
    assert on_disk.isdisjoint(sam_shas)
    dev_shas = {sha for pid, sha in kept.values() if pid == dev.id}
    assert dev_shas <= on_disk  # other people's clips untouched
    after = store.get_session(rec.id)
    assert all(a.audio_clip is None for a in after.answers if a.person_id == sam.id)
    assert all(a.transcript for a in after.answers if a.person_id == sam.id and a.kind == "free")
    history = store.consent_history(sam.id)
    assert history[-1]["withdrawal"] == 1 and history[-1]["clips_deleted"] == 3
    gone = store.withdrawn_clips()
    assert {g["sha256"] for g in gone} == sam_shas
    assert {g["session_id"] for g in gone} == {rec.id} and {g["person_id"] for g in gone} == {
        sam.id
    }
    assert history[-1]["witnessed_by"] == "Kate"
    consent = store.get_person(sam.id).consent
    assert consent is not None and consent.withdrawn and not consent.audio
    # The shell's stale copy of the record (consent yes, from the start) does not bring it back.
    store.save_session(rec)
    assert store.get_person(sam.id).consent.withdrawn  # type: ignore[union-attr]
    late = Answer(person_id=sam.id, step_id="more", question="More?", transcript="again")
    rec.answers.append(late)
    store.save_session(rec)
    assert store.keep_audio(rec.id, late.id, make_wav(tmp_path / "w.wav")) is None
    with pytest.raises(ConsentError):
        store.add_clip(rec.id, late.id, make_wav(tmp_path / "w.wav"))
    # Consent given again later (a new decision) allows audio again.
    clock.advance(days=1)
    store.set_consent(sam.id, Consent(audio=True, at=clock.now, witnessed_by="Kate"))
    assert store.keep_audio(rec.id, late.id, make_wav(tmp_path / "w.wav")) is not None


def test_name_recordings_follow_consent(store: RecordStore, tmp_path: Path) -> None:
    sam = store.add_person("Sam", consent=Consent(audio=True))
    jo = store.add_person("Jo", consent=Consent(audio=False))
    wav = make_wav(tmp_path / "name.wav", freq=700)
    sha = store.keep_name_clip(sam.id, wav)
    assert sha and not wav.exists() and store.clip_path(sha).exists()
    assert store.get_person(sam.id).name_clip == sha
    wav = make_wav(tmp_path / "name.wav", freq=710)
    assert store.keep_name_clip(jo.id, wav) is None and not wav.exists()
    assert store.get_person(jo.id).name_clip is None
    # In a session record the name recording is the one kept now.
    rec = SessionRecord(script="s", people=[store.get_person(sam.id), jo])
    rec.people[1].name_clip = "e" * 64  # claimed, never kept: ignored
    store.save_session(rec)
    assert [p.name_clip for p in store.get_session(rec.id).people] == [sha, None]
    # A new recording replaces the old file.
    newer = store.keep_name_clip(sam.id, make_wav(tmp_path / "n2.wav", freq=720))
    assert newer != sha and not store.clip_path(str(sha)).exists()
    assert store.withdraw_consent(sam.id) == 1
    assert not store.clip_path(str(newer)).exists()
    assert store.withdrawn_clips() == [
        {"sha256": newer, "person_id": sam.id, "session_id": None, "deleted_at": ANY}
    ]
    assert store.get_person(sam.id).name_clip is None
    assert store.get_session(rec.id).people[0].name_clip is None
    assert clip_files(store) == []


def test_saying_no_keeps_past_clips(store: RecordStore, tmp_path: Path) -> None:
    rec, answer = one_answer_session(store, consent=True)
    sha = store.keep_audio(rec.id, answer.id, make_wav(tmp_path / "w.wav"))
    store.set_consent(rec.people[0].id, Consent(audio=False))
    assert store.get_session(rec.id).answers[0].audio_clip == sha
    assert store.clip_path(sha).exists()  # type: ignore[arg-type]


# ---------------------------------------------------------------- sessions


def test_save_is_idempotent_and_state_moves_forward(store: RecordStore) -> None:
    rec, _ = one_answer_session(store, consent=False)
    first = store.get_session(rec.id)
    store.save_session(rec)
    store.save_session(rec)
    assert store.get_session(rec.id) == first
    assert first.state == "draft" and first.device_id == store.device_id()
    assert store.unfinished_session() == first
    with pytest.raises(RecordError, match="not finished"):
        store.mark_sent(rec.id)
    store.finish_session(rec.id)
    store.finish_session(rec.id)  # again: nothing changes
    assert store.get_session(rec.id).state == "finalised"
    assert store.unfinished_session() is None
    store.save_session(rec)  # the same content again is accepted
    rec.answers.append(Answer(step_id="x", question="?", transcript="changed"))
    with pytest.raises(RecordError, match="finalised and cannot be changed"):
        store.save_session(rec)
    store.mark_sent(rec.id)
    store.mark_sent(rec.id)
    store.finish_session(rec.id)  # never back
    assert store.get_session(rec.id).state == "sent"
    assert [s.id for s in store.sessions("sent")] == [rec.id]
    assert store.sessions("draft") == []
    with pytest.raises(RecordError, match="no session"):
        store.finish_session("missing")


def test_saving_a_finalised_record_finishes_it(store: RecordStore) -> None:
    rec, _ = one_answer_session(store, consent=False)
    rec.state = "finalised"
    store.save_session(rec)
    assert store.session_state(rec.id) == "finalised"
    rec.state = "sent"
    with pytest.raises(RecordError, match="mark_sent"):
        store.save_session(rec)


def test_unfinished_is_the_latest_draft(store: RecordStore, clock: FakeClock) -> None:
    a = SessionRecord(script="one")
    b = SessionRecord(script="two")
    store.save_session(a)
    clock.advance(minutes=5)
    store.save_session(b)
    assert store.unfinished_session().id == b.id  # type: ignore[union-attr]
    clock.advance(minutes=5)
    store.save_session(a.model_copy(update={"next_meeting": "Monday"}))
    assert store.unfinished_session().id == a.id  # type: ignore[union-attr]


def test_full_group_session_round_trip(tmp_path: Path, clock: FakeClock) -> None:
    s = RecordStore(tmp_path, min_free_mb=0, clock=clock)
    people = roster(s)
    rec = group_session(people)
    # Saved after every answer, as the shell does.
    answers = list(rec.answers)
    rec.answers = []
    for a in answers:
        rec.answers.append(a)
        s.save_session(rec)
    consenting = {p.id for p, (_, ok) in zip(people, GROUP, strict=True) if ok}
    for i, a in enumerate(rec.answers):
        if a.kind == "free":
            s.keep_audio(rec.id, a.id, make_wav(tmp_path / "w.wav", freq=300 + 7 * i))
    s.finish_session(rec.id)
    s.close()

    again = RecordStore(tmp_path, min_free_mb=0)
    back = again.get_session(rec.id)
    assert back.state == "finalised"
    assert len(back.answers) == len(answers) == 1 + 4 * 2 + 4 * 4 + 1
    names = {p.id: p.name for p in back.people}
    for orig, got in zip(answers, back.answers, strict=True):
        assert got.id == orig.id
        assert got.person_id == orig.person_id
        assert (got.question, got.transcript, got.value) == (
            orig.question,
            orig.transcript,
            orig.value,
        )
        assert got.confirmed_by == orig.confirmed_by and got.confidence == orig.confidence
        has_clip = got.audio_clip is not None
        assert has_clip == (got.kind == "free" and got.person_id in consenting)
    for person in people:
        mine = back.answers_for(person.id)
        assert len(mine) == 2 + 4 + (1 if person.name == "Sam" else 0)
        assert {a.transcript for a in mine if a.step_id == "why"} <= {
            t
            for t in (
                "to see my friends",
                "I want to learn to cook",
                "help with my money",
                "to get out of the house",
            )
        }
        assert names[person.id] == person.name
    assert back.answers_for(people[1].id)[0].transcript == "I want to learn to cook"
    assert back.ideas[0].ratings == rec.ideas[0].ratings
    assert [j.person_id for j in back.jobs] == [p.id for p in people]
    assert back.goals[0].agreed and back.next_meeting == rec.next_meeting
    idx = again._db.execute(
        "SELECT count(*), count(DISTINCT person_id) FROM answers WHERE session_id = ?", (rec.id,)
    ).fetchone()
    assert idx == (len(answers), 4)
    again.close()


def test_answer_ids_must_be_unique(store: RecordStore) -> None:
    a = Answer(step_id="x", question="?")
    with pytest.raises(RecordError, match="same id"):
        store.save_session(SessionRecord(script="s", answers=[a, a]))
    store.save_session(SessionRecord(script="s", answers=[a]))
    with pytest.raises(RecordError, match="already belongs"):
        store.save_session(SessionRecord(script="t", answers=[a]))


def test_a_dropped_answer_takes_its_clip(store: RecordStore, tmp_path: Path) -> None:
    rec, answer = one_answer_session(store, consent=True)
    sha = store.keep_audio(rec.id, answer.id, make_wav(tmp_path / "w.wav"))
    rec.answers = []
    store.save_session(rec)
    assert store.get_session(rec.id).answers == []
    assert sha and clip_files(store) == []


# ---------------------------------------------------------------- jobs and flags


def test_jobs_across_sessions_keep_their_history(store: RecordStore, clock: FakeClock) -> None:
    sam = store.add_person("Sam")
    jo = store.add_person("Jo")
    j1 = Job(
        person_id=sam.id,
        what="find train times",
        support="a_little_help",
        history=[JobEvent(status="planned", at=T0)],
    )
    j2 = Job(person_id=jo.id, what="bring a map", history=[JobEvent(status="planned", at=T0)])
    plan = SessionRecord(script="coproduction", people=[sam, jo], jobs=[j1, j2])
    store.save_session(plan)
    store.finish_session(plan.id)
    assert {j.id for j in store.open_jobs()} == {j1.id, j2.id}

    clock.advance(days=1)
    checkin = SessionRecord(script="daily_checkin", people=[sam])
    checkin.checkins.append(
        CheckIn(person_id=sam.id, mood="good", jobs={j1.id: "partly"}, at=T0 + timedelta(days=1))
    )
    store.save_session(checkin)
    assert [j.status for j in store.jobs_for(sam.id)] == ["partly"]
    clock.advance(days=1)
    j1_later = store.jobs_for(sam.id)[0]
    j1_later.history.append(
        JobEvent(status="done", at=T0 + timedelta(days=2), help_needed="myself")
    )
    second = SessionRecord(script="daily_checkin", people=[sam], jobs=[j1_later])
    store.save_session(second)
    store.save_session(second)  # no duplicate events
    history = store.jobs_for(sam.id)[0].history
    assert [e.status for e in history] == ["planned", "partly", "done"]
    assert history[-1].help_needed == "myself"
    assert store.jobs_for(sam.id)[0].what == "find train times"
    assert [j.id for j in store.open_jobs()] == [j2.id]


def test_flags(store: RecordStore) -> None:
    f1 = Flag(kind="mood_not_good", reason="Sam said not good", at=T0)
    f2 = Flag(kind="asked_for_help", reason="Jo held help", at=T0 + timedelta(minutes=1))
    rec = SessionRecord(script="s", flags=[f1, f2])
    store.save_session(rec)
    assert [f.id for f in store.flags()] == [f1.id, f2.id]
    store.resolve_flag(f1.id, by="Kate")
    assert [f.id for f in store.flags()] == [f2.id]
    store.save_session(rec.model_copy(update={"next_meeting": "Monday"}))  # stale copy
    assert [f.id for f in store.flags()] == [f2.id]
    assert [f.resolved for f in store.flags(unresolved_only=False)] == [True, False]
    assert store.get_session(rec.id).flags[0].resolved
    with pytest.raises(RecordError):
        store.resolve_flag("nope", by="Kate")


# ---------------------------------------------------------------- retention


def test_retention_never_deletes_unsynced_audio(
    store: RecordStore, tmp_path: Path, clock: FakeClock
) -> None:
    store.add_person("Sam", consent=Consent(audio=True))
    sam = store.find_person("Sam")
    assert sam is not None
    ids = {}
    for n, state in enumerate(("draft", "finalised", "sent", "sent_recent")):
        if state == "sent_recent":
            clock.advance(days=89)
        a = Answer(person_id=sam.id, step_id="s", question="?", transcript=state)
        rec = SessionRecord(script="s", people=[sam], answers=[a])
        store.save_session(rec)
        sha = store.keep_audio(rec.id, a.id, make_wav(tmp_path / "w.wav", freq=500 + 50 * n))
        if state != "draft":
            store.finish_session(rec.id)
        if state.startswith("sent"):
            store.mark_sent(rec.id)
        ids[state] = (rec.id, sha)
    now = T0 + timedelta(days=91)
    assert store.apply_retention(now, keep_days=90) == 1
    for state, (sid, sha) in ids.items():
        kept = store.get_session(sid).answers[0].audio_clip
        gone = state == "sent"
        assert (kept is None) == gone, state
        assert store.clip_path(str(sha)).exists() != gone, state
    assert store.apply_retention(now, keep_days=90) == 0
    # Even with zero days, drafts and finalised sessions keep their audio.
    assert store.apply_retention(now + timedelta(days=999), keep_days=0) == 1
    assert store.get_session(ids["draft"][0]).answers[0].audio_clip is not None
    assert store.get_session(ids["finalised"][0]).answers[0].audio_clip is not None


# ---------------------------------------------------------------- full disk


def test_full_disk_refuses_audio_and_keeps_what_was_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = RecordStore(tmp_path / "d", min_free_mb=100)
    rec, answer = one_answer_session(s, consent=True)
    monkeypatch.setattr(Database, "free_bytes", lambda self: 50 * 1024 * 1024)
    wav = make_wav(tmp_path / "w.wav")
    with pytest.raises(DiskFull) as err:
        s.keep_audio(rec.id, answer.id, wav)
    message = str(err.value)
    assert "50 MB free" in message and message.count(".") == 1  # one sentence
    assert wav.exists()  # nothing lost: the caller still has it
    assert clip_files(s) == []
    # The words are still saved while there is more than the record floor.
    rec.answers.append(
        Answer(person_id=answer.person_id, step_id="b", question="?", transcript="second")
    )
    s.save_session(rec)
    monkeypatch.setattr(Database, "free_bytes", lambda self: 1024 * 1024)
    rec.answers.append(Answer(step_id="c", question="?", transcript="third"))
    with pytest.raises(DiskFull):
        s.save_session(rec)
    assert [a.transcript for a in s.get_session(rec.id).answers] == ["friends", "second"]
    s.close()


def test_sqlite_full_is_disk_full_and_loses_nothing(store: RecordStore) -> None:
    rec = SessionRecord(script="s")
    rec.answers.append(Answer(step_id="a", question="?", transcript="kept"))
    store.save_session(rec)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    rec.answers.extend(
        Answer(step_id=f"s{i}", question="?", transcript="x" * 4000) for i in range(20)
    )
    with pytest.raises(DiskFull, match="disk is full"):
        store.save_session(rec)
    store._db.execute("PRAGMA max_page_count = 1073741823")
    back = store.get_session(rec.id)
    assert [a.transcript for a in back.answers] == ["kept"]
    assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_enospc_while_writing_a_clip(
    store: RecordStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, answer = one_answer_session(store, consent=True)

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(clips_mod.os, "fsync", full)
    wav = make_wav(tmp_path / "w.wav")
    with pytest.raises(DiskFull, match="filled up"):
        store.keep_audio(rec.id, answer.id, wav)
    monkeypatch.undo()
    assert wav.exists()
    assert list(store.clips_dir.iterdir()) == []  # no temporary file left behind
    assert store.get_session(rec.id).answers[0].audio_clip is None


# ---------------------------------------------------------------- tidying after a crash


def test_sweep_removes_leftovers_after_the_grace_period(tmp_path: Path) -> None:
    import os
    import time

    s = RecordStore(tmp_path, min_free_mb=0)
    s._db.execute("UPDATE meta SET value = ? WHERE key = 'created_at'", (str(time.time() - 7200),))
    old = time.time() - 3600
    part = s.clips_dir / ".incoming-abc.part"
    part.write_bytes(b"half")
    orphan = s.clips_dir / ("b" * 64 + ".sealed")
    orphan.write_bytes(b"renamed but never committed")
    fresh = s.clips_dir / ("c" * 64 + ".sealed")
    fresh.write_bytes(b"another process is about to commit this")
    for p in (part, orphan):
        os.utime(p, (old, old))
    s.close()
    RecordStore(tmp_path, min_free_mb=0).close()
    assert not part.exists() and not orphan.exists()
    assert fresh.exists()


def test_sweep_spares_clips_older_than_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database moved aside (damaged) and a new one started: the old clips are not orphans."""
    import os
    import time

    RecordStore(tmp_path, min_free_mb=0).close()  # the device's key and its note stay
    for f in tmp_path.glob("records.sqlite*"):
        f.rename(tmp_path / "moved-aside" if f.name == "records.sqlite" else f.with_suffix(".x"))
    clips = tmp_path / "clips"
    old_clip = clips / ("d" * 64 + ".sealed")
    old_clip.write_bytes(b"kept by the database that was moved aside")
    old = time.time() - 7 * 86400
    os.utime(old_clip, (old, old))
    RecordStore(tmp_path, min_free_mb=0).close()
    RecordStore(tmp_path, min_free_mb=0).close()
    assert old_clip.exists()
    assert "older than the records database" in caplog.text


def test_clip_path_checks_its_name(store: RecordStore) -> None:
    with pytest.raises(RecordError):
        store.clip_path("../../etc/passwd")
    assert store.clip_path("0" * 64).name == "0" * 64 + ".sealed"


def test_audit_log(store: RecordStore) -> None:
    store.log_access("export json", detail="2 session(s)", who="kate")
    log = store.access_log()
    assert log[0]["who"] == "kate" and log[0]["action"] == "export json"


CONTENDER = r"""
import sys
from pathlib import Path
from assistant.records.model import Answer, SessionRecord
from assistant.records.store import RecordStore

data, person_id, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = RecordStore(data, min_free_mb=0)
rec = SessionRecord(script="service", people=[s.get_person(person_id)])
for i in range(n):
    rec.answers.append(Answer(person_id=person_id, step_id=f"s{i}", question="?",
                              transcript=f"answer {i}"))
    s.save_session(rec)
print(rec.id, flush=True)
"""


def test_two_processes_share_the_store(tmp_path: Path) -> None:
    """The device service saves answers while staff change consent from the command line."""
    import subprocess
    import sys
    import time

    s = RecordStore(tmp_path, min_free_mb=0)
    sam = s.add_person("Sam", consent=Consent(audio=True))
    child = subprocess.Popen(
        [sys.executable, "-c", CONTENDER, str(tmp_path), sam.id, "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    changes = 0
    while child.poll() is None:
        s.set_consent(sam.id, Consent(audio=changes % 2 == 0))
        s.log_access("list", who="kate")
        changes += 1
        time.sleep(0.005)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    rec = s.get_session(out.strip())
    assert [a.transcript for a in rec.answers] == [f"answer {i}" for i in range(60)]
    assert len(s.consent_history(sam.id)) == changes + 1
    assert changes > 3  # they really did overlap
    assert s._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    s.close()
