"""A no to keeping the voice holds for the whole session (issue 13, consent): a clip kept
earlier in it, under a yes from an earlier session, is deleted on the device when the person
says no; in a group, a no from anyone present deletes the session's clips (one microphone
hears the room). Past sessions' clips stay (withdrawing those is ``people withdraw``)."""

from __future__ import annotations

from pathlib import Path

from dialogue_driver import Conversation
from test_records_support import make_wav

from assistant.records.model import Consent, SessionRecord
from assistant.records.store import RecordStore


class Device:
    """What the shell does with the engine's saves and kept clips, into a real store."""

    def __init__(self, store: RecordStore, talk: Conversation, tmp: Path) -> None:
        self.store, self.talk, self.tmp = store, talk, tmp
        self.saves = self.kept = 0

    def sync(self) -> SessionRecord:
        talk = self.talk
        for save in talk.saves[self.saves :]:
            self.store.save_session(save.record)
        for kept in talk.kept[self.kept :]:
            wav = make_wav(self.tmp / f"turn{self.kept}.wav", freq=300 + 20 * self.kept)
            self.kept += 1
            self.store.keep_audio(talk.record.id, kept.answer_id, wav)
        self.saves, self.kept = len(talk.saves), len(talk.kept)
        return self.store.get_session(talk.record.id)


def test_a_no_today_deletes_todays_clip_kept_before_it(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, min_free_mb=0)
    sam = store.add_person("Sam", consent=Consent(audio=True, method="button"))
    talk = Conversation("daily-checkin", [sam])
    device = Device(store, talk, tmp_path)
    talk.run(["say: yes"])  # "yes" by voice at the roll call: kept under the earlier yes
    (who,) = device.sync().answers
    assert who.audio_clip is not None
    clip = store.folder.clip_path(who.audio_clip)
    assert clip.exists()
    talk.run(["no"])  # not today
    record = device.sync()
    assert all(a.audio_clip is None for a in record.answers)
    assert not clip.exists()
    assert record.answers[0].transcript == "yes"  # the words stay
    store.close()


def test_a_yes_today_keeps_todays_clips(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, min_free_mb=0)
    sam = store.add_person("Sam", consent=Consent(audio=True, method="button"))
    talk = Conversation("daily-checkin", [sam])
    device = Device(store, talk, tmp_path)
    talk.run(["say: yes", "yes"])
    (who, _) = device.sync().answers
    assert who.audio_clip is not None
    assert store.folder.clip_path(who.audio_clip).exists()
    store.close()


def test_in_a_group_a_no_today_deletes_the_sessions_clips(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from assistant.records.model import Answer, Person

    store = RecordStore(tmp_path, min_free_mb=0)
    yes = Consent(audio=True, method="button")
    sam = store.add_person("Sam", consent=yes)
    priya = store.add_person("Priya", consent=yes)
    at = datetime(2030, 1, 1, 10, tzinfo=UTC)
    answer = Answer(person_id=sam.id, step_id="why", question="Why?", transcript="friends", at=at)
    record = SessionRecord(
        script="coproduction-group",
        started_at=at,
        people=[Person(id=sam.id, name="Sam"), Person(id=priya.id, name="Priya")],
        answers=[answer],
    )
    store.save_session(record)
    sha = store.keep_audio(record.id, answer.id, make_wav(tmp_path / "a.wav"))
    assert sha is not None and store.folder.clip_path(sha).exists()
    no = Consent(audio=False, method="button", session_id=record.id, at=at)
    record.people[1] = record.people[1].model_copy(update={"consent": no})
    store.save_session(record)
    assert store.get_session(record.id).answers[0].audio_clip is None
    assert not store.folder.clip_path(sha).exists()
    store.close()
