"""Support and shared work (issue 14): who helps and with what, a person with no job helped to
find one, a job of the staff's list that nobody has offered to the group, shared jobs at the
check-in of each person doing them.

Scenarios on the real engine, on the driver's fake clock.
"""

from __future__ import annotations

import pytest
from dialogue_driver import Conversation, by_buttons, make_people

from assistant.core.record import Job
from assistant.dialogue import prompts as P
from assistant.dialogue.script import ScriptError, parse_script

PLAN = """
name: share-test
title: Sharing the work
kind: group
steps:
  - id: job_round
    type: for_each_person
    steps:
      - id: job
        type: plan_item
        what: "{person}, what job will you do?"
        support: "How much help will you need?"
        who_helps: "Who will help you?"
        help_with: "What will they help with?"
  - id: share
    type: share_jobs
    jobs: [make the posters, book the hall]
  - id: plan
    type: read_back
    of: plan
"""


def answer(jobs: dict[str, str], replies: dict[str, str]):
    """A policy: each person's job by voice (or a pass when none), support "a little help"
    by voice, and the replies to the sharing offers by the start of the offer's words."""

    def policy(t: Conversation) -> str:
        listen = t.listen
        said = t.last_said
        if listen is None:
            return "next"
        who = t.name_of(listen.person_id) if listen.person_id else ""
        if listen.role == "free":
            if "what job will you do" in said:
                return f"say: {jobs[who]}" if jobs.get(who) else "pass"
            if "Who will help you?" in said:
                return "say: Jo"
            if "What will they help with?" in said:
                return "say: the colours"
        if "How much help" in said:
            return "say: a little help"
        for start, reply in replies.items():
            if start in said:
                return reply
        return by_buttons(t)

    return policy


def test_who_helps_and_with_what_are_kept_and_read_back() -> None:
    talk = Conversation(parse_script(PLAN), ["Sam"])
    talk.complete(answer({"Sam": "I will make the posters"}, {"Will someone take it?": "no"}))
    (job,) = talk.record.jobs
    assert (job.support, job.helper, job.help_with) == ("a_little_help", "Jo", "the colours")
    line = next(s for s in talk.said if s.startswith("Sam said: I will make the posters."))
    assert "A little help. Help from: Jo. With: the colours." in line
    # the staff's other job was offered to the group, and Sam said no: left for now
    assert "Nobody has this job yet: book the hall. Will someone take it?" in " ".join(talk.said)
    assert P.LEFT_FOR_NOW in talk.said


def test_by_myself_asks_nobody_who_helps() -> None:
    def policy(t: Conversation) -> str:
        said = t.last_said
        if t.listen is not None and t.listen.role == "free":
            return "say: I will make the posters"
        if "How much help" in said:
            return "say: by myself"
        return by_buttons(t)

    talk = Conversation(parse_script(PLAN), ["Sam"])
    talk.complete(policy)
    assert not any("Who will help you?" in s for s in talk.said)
    assert talk.record.jobs[0].helper is None


def test_a_person_with_no_job_is_offered_a_free_job_then_to_share_one() -> None:
    talk = Conversation(parse_script(PLAN), ["Sam", "Priya"])
    replies = {
        "Nobody has this job yet: book the hall. Would you like": "no",
        "Would you like to help Sam": "yes",
    }
    talk.complete(answer({"Sam": "I will make the posters"}, replies))
    said = " ".join(talk.said)
    assert "Priya, you have no job yet. Nobody has this job yet: book the hall." in said
    sam, priya = talk.person("Sam"), talk.person("Priya")
    (job,) = [j for j in talk.record.jobs if j.what == "I will make the posters"]
    assert job.person_id == sam.id and job.shared_with == [priya.id]
    assert job.belongs_to(priya.id) and job.belongs_to(sam.id)
    assert "Thank you, Priya. You will do this with Sam." in talk.said
    line = next(s for s in talk.said if s.startswith("Sam said: I will make the posters."))
    assert "Priya will do it too." in line
    # "make the posters" is Sam's (its words are in his job), so it is never offered as free
    assert "Nobody has this job yet: make the posters" not in said
    # each offer's answer is kept against Priya
    kept = [a for a in talk.record.answers if a.step_id.startswith("share/")]
    assert [(talk.name_of(a.person_id), a.value) for a in kept] == [
        ("Priya", "no"),
        ("Priya", "yes"),
    ]


def test_a_free_job_taken_is_the_persons_own() -> None:
    talk = Conversation(parse_script(PLAN), ["Sam", "Priya"])
    replies = {"Nobody has this job yet: book the hall. Would you like": "yes"}
    talk.complete(answer({"Sam": "I will make the posters"}, replies))
    priya = talk.person("Priya")
    mine = [j for j in talk.record.jobs if j.person_id == priya.id]
    assert [j.what for j in mine] == ["book the hall"]
    assert "Thank you, Priya. Your job is: book the hall." in talk.said
    # nothing is left over, so nothing is offered to the group
    assert "Will someone take it?" not in " ".join(talk.said)


def test_saying_no_to_every_offer_is_fine_and_the_session_goes_on() -> None:
    talk = Conversation(parse_script(PLAN), ["Sam", "Priya"])
    replies = {"Would you like": "no", "Will someone take it?": "yes", "will you take": "no"}
    talk.complete(answer({"Sam": "I will make the posters"}, replies))
    priya = talk.person("Priya")
    assert not any(j.belongs_to(priya.id) for j in talk.record.jobs)
    assert any(s.startswith("That is fine, Priya. You can choose a job later") for s in talk.said)
    # the group was asked, each person in turn (fewest jobs first), then it was left for now
    asked = [s for s in talk.said if "will you take this job?" in s]
    assert [s.split(",")[0] for s in asked] == ["Priya", "Sam"]
    assert P.LEFT_FOR_NOW in talk.said
    assert talk.engine.finished


def test_a_shared_job_comes_up_at_the_check_in_of_the_person_sharing_it() -> None:
    sam, priya = make_people(["Sam", "Priya"])
    job = Job(person_id=sam.id, what="water the plants", shared_with=[priya.id])
    talk = Conversation("daily-checkin", [priya], jobs=[job])
    talk.complete(by_buttons)
    assert any("water the plants" in s for s in talk.said)
    (checkin,) = talk.record.checkins
    assert checkin.person_id == priya.id and job.id in checkin.jobs


@pytest.mark.parametrize(
    ("yaml", "words"),
    [
        (
            """
name: bad
title: Bad
kind: group
steps:
  - id: round
    type: for_each_person
    steps:
      - id: job
        type: plan_item
        what: "What job?"
        help_with: "What will they help with?"
""",
            "help_with is asked after who_helps",
        ),
        (
            """
name: bad
title: Bad
kind: group
steps:
  - id: round
    type: for_each_person
    steps:
      - id: share
        type: share_jobs
""",
            "put it outside for_each_person",
        ),
        (
            """
name: bad
title: Bad
kind: group
steps:
  - id: share
    type: share_jobs
    jobs: [posters, Posters]
""",
            "no two the same",
        ),
    ],
)
def test_bad_sharing_steps_are_refused_naming_file_step_and_fix(yaml: str, words: str) -> None:
    with pytest.raises(ScriptError) as err:
        parse_script(yaml, "mine.yaml")
    text = str(err.value)
    assert "mine.yaml" in text and words in text


def test_a_shared_job_is_in_each_persons_easy_read_and_in_records_show(tmp_path) -> None:
    from assistant.records.cli import _show
    from assistant.records.easyread import render_summary
    from assistant.records.model import SessionRecord
    from assistant.records.store import RecordStore

    store = RecordStore(tmp_path, min_free_mb=0)
    sam, priya = store.add_person("Sam"), store.add_person("Priya")
    job = Job(
        person_id=sam.id,
        what="make the posters",
        support="a_little_help",
        helper="Jo",
        help_with="the printing",
        shared_with=[priya.id],
    )
    rec = SessionRecord(script="coproduction-group", people=[sam, priya], jobs=[job])
    store.save_session(rec)
    store.finish_session(rec.id)
    rec = store.get_session(rec.id)
    for person in (None, sam.id, priya.id):
        html = render_summary(store, rec, person_id=person)
        assert "Make the posters" in html, person
        assert "Help from Jo, with the printing." in html
    assert "Sam and Priya" in render_summary(store, rec)
    shown = "\n".join(_show(rec))
    assert (
        "job: Sam and Priya: make the posters (a little help, help from Jo with the printing; "
        "planned)" in shown
    )
    store.close()
