"""Going back one question (issue 13, "back, pass, pause, stop"): help, help again (a break),
then yellow. The latest answer is taken back and everything made from it is undone (a job, a
status, a mood and its flag); the answer taken back stays in the record, marked so, and is
never an idea, goal or job; the question is asked again. On the device, the draft's saved job,
status update and flag go too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dialogue_driver import Conversation, by_voice, make_people

from assistant.core.record import Job
from assistant.dialogue import prompts as P
from assistant.records.cli import _show
from assistant.records.model import SessionRecord
from assistant.records.store import RecordStore

BACK = ["help", "help", "next"]


def mood_not_good_then_at_the_job() -> Conversation:
    sam = make_people(["Sam"], True)
    talk = Conversation("daily-checkin", sam, jobs=[Job(person_id=sam[0].id, what="sweep up")])
    talk.run(["yes", "yes", "no", "yes"])  # Sam; consent; not good; "You said: not good." yes
    assert talk.listen is not None and talk.listen.step_id.startswith("job_status")
    assert [f.kind for f in talk.record.flags] == ["mood_not_good"]
    return talk


def test_the_help_and_the_break_say_how_to_go_back() -> None:
    talk = mood_not_good_then_at_the_job()
    talk.run(["help"])
    assert "To go back, or for a break, press help again." in " ".join(talk.said[-3:])
    talk.run(["help"])
    assert talk.last_said == P.BREAK and P.YELLOW_BACK in P.BREAK
    assert len(P.BREAK.split()) <= P.MAX_UTTERANCE_WORDS


def test_going_back_undoes_the_mood_and_its_flag_and_asks_again() -> None:
    talk = mood_not_good_then_at_the_job()
    talk.run(BACK)
    assert talk.said[-2:] == [P.GOING_BACK, talk.said[-1]] or talk.last_said.startswith(
        P.GOING_BACK
    )
    assert "How are you feeling today?" in talk.last_said
    assert talk.listen is not None and talk.listen.step_id == "mood"
    assert talk.record.flags == []  # the flag came from the answer taken back
    assert all(c.mood is None for c in talk.record.checkins)
    (old,) = [a for a in talk.record.answers if a.step_id == "mood"]
    assert old.withdrawn and old.rejected and old.value == "not_good"
    talk.run(["yes"])  # good, this time
    assert "That's great to hear." in talk.said
    assert talk.record.checkins[0].mood == "good"
    assert talk.listen is not None and talk.listen.step_id.startswith("job_status")
    talk.complete(lambda t: "next" if t.listen and t.listen.role == "free" else "yes")
    moods = [(a.value, a.withdrawn) for a in talk.record.answers if a.step_id == "mood"]
    assert moods == [("not_good", True), ("good", False)]
    assert talk.record.flags == [] and talk.record.checkins[0].mood == "good"


def test_nothing_is_said_again_on_the_way_back() -> None:
    talk = mood_not_good_then_at_the_job()
    before = len(talk.said)
    talk.run(BACK)
    after = talk.said[before:]
    # the help, the question again, the break; then only "going back" and the mood question
    going = [s for s in after if P.GOING_BACK in s]
    assert len(going) == 1
    tail = after[after.index(going[0]) :]
    assert len(tail) <= 2 and "How are you feeling today?" in tail[-1], tail
    assert not any("It's time for your daily check-in" in s for s in after)


def test_at_the_first_question_there_is_nothing_to_go_back_to() -> None:
    talk = Conversation("daily-checkin", ["Sam"])
    talk.settle()
    assert talk.listen is not None and talk.listen.step_id == "who"
    answers = list(talk.record.answers)
    talk.run(BACK)
    assert (
        talk.last_said.startswith(P.NOTHING_TO_GO_BACK_TO)
        or P.NOTHING_TO_GO_BACK_TO in (talk.said[-2])
    )
    assert talk.listen is not None and talk.listen.step_id == "who"
    assert talk.record.answers == answers


def test_going_back_twice_goes_back_two_questions() -> None:
    talk = mood_not_good_then_at_the_job()
    talk.run(BACK)
    assert talk.listen is not None and talk.listen.step_id == "mood"
    talk.run(BACK)  # back again: to the consent question
    assert talk.listen is not None and talk.listen.step_id == "consent", talk.said[-2:]
    assert "recording of your voice" in talk.last_said
    assert [a.step_id for a in talk.record.answers if not a.withdrawn] == ["who"]
    talk.run(["no"])  # no recording this time
    assert talk.record.people[0].consent is not None
    assert talk.record.people[0].consent.audio is False


def test_a_held_help_flag_stays_when_going_back() -> None:
    talk = mood_not_good_then_at_the_job()
    talk.run(["hold help"])
    talk.run(BACK)
    assert [f.kind for f in talk.record.flags] == ["needs_a_person"]


def group_until_a_job() -> Conversation:
    talk = Conversation("coproduction-group", ["Sam", "Priya"])
    for _ in range(500):
        talk.settle()
        if talk.record.jobs and talk.listen is not None:
            return talk
        talk.do(by_voice(talk))
    raise AssertionError("no job was made")


def test_in_a_group_going_back_undoes_the_job_and_it_never_comes_back() -> None:
    talk = group_until_a_job()
    (job,) = talk.record.jobs
    who = talk.name_of(job.person_id)
    talk.run(BACK)
    assert talk.record.jobs == []
    said = " ".join(talk.said[-2:])
    assert P.GOING_BACK in said and f"{who}, what job will you do" in talk.last_said
    taken_back = [a for a in talk.record.answers if a.withdrawn]
    assert [a.transcript for a in taken_back] == [job.what]
    talk.complete(by_voice)
    assert talk.ended
    made = [j.what for j in talk.record.jobs]
    assert job.what not in made and len(made) == 2
    assert all(job.what != i.text for i in talk.record.ideas)
    assert all(job.what != g.text for g in talk.record.goals)
    shown = "\n".join(_show(talk.record))
    assert f'"{job.what}" (taken back: the person went back to answer again)' in shown


def test_on_the_device_the_draft_loses_what_was_undone(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, min_free_mb=0)
    sam = store.add_person("Sam")
    job = Job(person_id=sam.id, what="sweep up")
    earlier = SessionRecord(
        script="my-goals", started_at=datetime(2030, 1, 1, tzinfo=UTC), people=[sam], jobs=[job]
    )
    store.save_session(earlier)
    store.finish_session(earlier.id)
    talk = Conversation("daily-checkin", [sam], jobs=[store.get_job(job.id)])
    talk.run(["yes", "yes", "no", "yes", "yes"])  # ...; not good (a flag); the job: done
    for save in talk.saves:
        store.save_session(save.record)
    assert store.get_job(job.id).status == "done"
    assert [f.kind for f in store.flags()] == ["mood_not_good"]
    saved = len(talk.saves)
    talk.run(BACK)  # back to the job's question: its "done" is undone
    talk.run(BACK)  # and back to the mood: its flag is undone
    for save in talk.saves[saved:]:
        store.save_session(save.record)
    assert store.get_job(job.id).history == []
    assert store.flags() == []
    talk.run(["yes", "no"])  # good; the job: not yet
    for save in talk.saves:
        store.save_session(save.record)
    assert [e.status for e in store.get_job(job.id).history] == ["not_yet"]
    store.close()


def at_news_after_a_read_back() -> Conversation:
    """The daily check-in up to "Is there anything you want to tell me?" (no jobs)."""
    talk = Conversation("daily-checkin", make_people(["Sam"], True))
    talk.run(["yes", "yes", "yes"])  # Sam; consent; feeling good
    assert talk.listen is not None and talk.listen.step_id == "news"
    return talk


def test_going_back_from_a_second_try_asks_the_question_again() -> None:
    """A try not caught, or said to be wrong, is the same question still: going back from the
    next try's read-back asks the question again (it is never skipped, and never ends it)."""
    for first_try in (["mumble"], ["say: the bus", "no"]):
        talk = at_news_after_a_read_back()
        talk.run([*first_try, "say: the cat"])
        assert talk.last_said.startswith("I heard: the cat.")
        talk.run(BACK)
        assert not talk.ended
        assert "Is there anything you want to tell me?" in talk.last_said
        assert talk.listen is not None and talk.listen.step_id == "news"
        news = [a for a in talk.record.answers if a.step_id == "news"]
        assert news and all(a.withdrawn for a in news), first_try
        talk.run(["say: the dog", "yes"])
        standing = [a.transcript for a in talk.record.answers if a.step_id == "news"]
        assert standing[-1] == "the dog" and not talk.record.answers[-1].withdrawn


def test_nothing_to_go_back_to_keeps_the_way_back_for_later() -> None:
    """At the roll call there is nothing to go back to; after the first answers, going back
    starts the roll call again (who is here is asked again, never skipped)."""
    talk = Conversation("teach-my-words", make_people(["Sam"], True))
    talk.run(BACK)
    assert P.NOTHING_TO_GO_BACK_TO in " ".join(talk.said[-2:])
    talk.run(["yes", "yes"])  # Sam; keep recordings of the words
    assert "Please say yes, your own way." in talk.last_said
    talk.run(BACK)
    assert not talk.ended
    assert "If you are Sam, press green." in talk.last_said
    talk.run(["yes"])
    assert "shall I keep recordings of how you say them?" in talk.last_said  # taught again


def test_the_voice_of_an_answer_taken_back_is_not_kept(tmp_path: Path) -> None:
    """Going back keeps the answer taken back as a try (its words), never the person's voice:
    it is not their answer, and going back may have undone the consent it was kept under."""
    from test_records_support import make_wav

    from assistant.records.model import Consent

    store = RecordStore(tmp_path, min_free_mb=0)
    sam = store.add_person("Sam", consent=Consent(audio=True, method="button"))
    talk = Conversation("daily-checkin", [sam])
    talk.run(["yes", "yes", "yes", "say: the cat"])  # Sam; keep my voice; good; the news

    done = {"saves": 0, "kept": 0}

    def saved() -> SessionRecord:  # what the shell does with the engine's actions
        for save in talk.saves[done["saves"] :]:
            store.save_session(save.record)
        for i, kept in enumerate(talk.kept[done["kept"] :]):
            wav = make_wav(tmp_path / f"turn{i}.wav", freq=300 + 20 * i)
            store.keep_audio(talk.record.id, kept.answer_id, wav)
        done.update(saves=len(talk.saves), kept=len(talk.kept))
        return store.get_session(talk.record.id)

    (news,) = [a for a in saved().answers if a.step_id == "news"]
    assert news.audio_clip is not None
    clip = store.folder.clip_path(news.audio_clip)
    assert clip.exists()
    talk.run(BACK)
    (news,) = [a for a in saved().answers if a.step_id == "news"]
    assert news.withdrawn and news.transcript == "the cat" and news.audio_clip is None
    assert not clip.exists()
    store.close()
