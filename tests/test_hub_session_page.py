"""The hub's session page shows how each answer was given (issue 13): by a choice with the
buttons, with a supporter, rejected by the person, and what the recogniser wrote when British
spelling changed it; and a recording deleted because consent was withdrawn."""

from __future__ import annotations

import hashlib

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from assistant.hub.service import Hub  # noqa: E402
from assistant.records.model import Answer, Person, SessionRecord  # noqa: E402
from tests.test_hub_security import _put_session, _web_login, client, enrol, hub  # noqa: E402, F401
from tests.test_sync_support import db_url  # noqa: E402, F401


def test_the_session_page_says_how_each_answer_was_given(client: TestClient, hub: Hub) -> None:  # noqa: F811
    dev = enrol(client, hub)
    sam = Person(name="Sam")
    record = SessionRecord(
        script="my-goals",
        people=[sam],
        answers=[
            Answer(person_id=sam.id, step_id="why", question="Why are you here?",
                   transcript="I want to go rowing", rejected=True),
            Answer(person_id=sam.id, step_id="why", question="Why are you here?",
                   kind="choice", value="friends", transcript="To see my friends",
                   confirmed_by="button"),
            Answer(person_id=sam.id, step_id="goal", question="What is your goal?",
                   transcript="to see my mum", raw_transcript="to see my mom",
                   with_support=True, confirmed_by="voice"),
            Answer(person_id=sam.id, step_id="job", question="What job will you do?",
                   transcript="paint the fence", rejected=True, withdrawn=True),
        ],
    )  # fmt: skip
    assert _put_session(client, dev, record) == 201
    hub.add_staff("Kim", "kim's long password", role="staff")
    assert _web_login(client, "Kim", "kim's long password").status_code == 303
    page = client.get(f"/sessions/{record.id}")
    assert page.status_code == 200
    html = page.text
    assert "the person said this was not what they meant" in html  # the rejected try
    assert "chosen with the buttons" in html
    assert "Taken back: the person went back one question" in html  # going back
    assert html.count("the person said this was not what they meant") == 1
    assert "answered with their supporter" in html
    assert "the recogniser wrote “to see my mom”" in html and "“to see my mum”" in html


def test_a_recording_deleted_for_consent_says_so(client: TestClient, hub: Hub) -> None:  # noqa: F811
    from assistant.hub.people import withdraw_for_staff

    dev = enrol(client, hub)
    wav = b"RIFF" + bytes(range(200))
    sha = hashlib.sha256(wav).hexdigest()
    sealed = dev.seal("clip", sha, wav)
    assert client.put(f"/v1/blobs/{sha}", content=sealed, headers=dev.auth).status_code == 201
    sam = Person(name="Sam")
    record = SessionRecord(
        script="my-goals",
        people=[sam],
        answers=[Answer(person_id=sam.id, step_id="why", question="Why are you here?",
                        transcript="to see my friends", audio_clip=sha)],
    )  # fmt: skip
    assert _put_session(client, dev, record) == 201
    hub.add_staff("Kim", "kim's long password", role="staff")
    assert _web_login(client, "Kim", "kim's long password").status_code == 303
    assert f"/audio/{sha}" in client.get(f"/sessions/{record.id}").text
    who, deleted = withdraw_for_staff(hub, "Sam", "Kim")
    assert who.id == sam.id and deleted == 1
    html = client.get(f"/sessions/{record.id}").text
    assert f"/audio/{sha}" not in html and "Recording deleted: consent" in html
    assert "“to see my friends”" in html  # the words stay
    assert client.get(f"/audio/{sha}").status_code == 404
    # the device offering it again is told it is here, and nothing is stored
    assert client.head(f"/v1/blobs/{sha}", headers=dev.auth).status_code == 200
    assert client.put(f"/v1/blobs/{sha}", content=sealed, headers=dev.auth).status_code == 200
    assert not hub.blob_path(sha).exists()


def test_the_session_page_shows_the_method_agenda_strengths_agreement_help_and_wins(
    client: TestClient,  # noqa: F811
    hub: Hub,  # noqa: F811
) -> None:
    from assistant.records.model import AgendaItem, Celebration, Goal, Job, Strength

    dev = enrol(client, hub)
    sam, priya = Person(name="Sam"), Person(name="Priya")
    goal = Goal(
        text="cook a big lunch",
        agreed=True,
        rule="majority",
        summary="Two people like cook a big lunch.",
        acceptance={sam.id: "yes", priya.id: "not_sure"},
    )
    job = Job(
        person_id=sam.id,
        what="buy the food",
        support="a_little_help",
        helper="Jo",
        help_with="carrying the bags",
        shared_with=[priya.id],
        goal_id=goal.id,
    )
    record = SessionRecord(
        script="coproduction-group",
        people=[sam, priya],
        agenda=[AgendaItem(person_id=sam.id, text="the garden")],
        strengths=[Strength(person_id=priya.id, text="cooking")],
        goals=[goal],
        jobs=[job],
        celebrated=[Celebration(kind="goal_agreed", text="Great. Our goal is: cook a big lunch.")],
    )
    assert _put_session(client, dev, record) == 201
    hub.add_staff("Kim", "kim's long password", role="staff")
    assert _web_login(client, "Kim", "kim's long password").status_code == 303
    html = client.get(f"/sessions/{record.id}").text
    assert "The group's agenda" in html and "Sam: “the garden”" in html
    assert "Priya: “cooking”" in html
    assert "Can go along with it: Sam yes; Priya not sure." in html  # in the people's order
    assert "Said: “Two people like cook a big lunch.”" in html
    assert "Sam, with Priya" in html
    assert "A little help. Help from Jo, with carrying the bags" in html
    assert "A goal agreed: “Great. Our goal is: cook a big lunch.”" in html


def test_a_correction_shows_in_the_goal_and_the_plan_it_fed(client: TestClient, hub: Hub) -> None:  # noqa: F811
    from assistant.hub.web import _correct
    from assistant.records.model import Goal, Idea, Job

    dev = enrol(client, hub)
    sam = Person(name="Sam")
    idea_said = Answer(
        person_id=sam.id,
        step_id="idea",
        question="What do you want to do?",
        transcript="go to the mall",
    )
    job_said = Answer(
        person_id=sam.id,
        step_id="job.what",
        question="What job will you do?",
        transcript="I will find the color paper",
    )
    idea = Idea(text="go to the mall", from_answer=idea_said.id)
    record = SessionRecord(
        script="coproduction-group",
        people=[sam],
        answers=[idea_said, job_said],
        ideas=[idea],
        goals=[Goal(text="go to the mall", from_idea=idea.id, agreed=True)],
        jobs=[Job(person_id=sam.id, what="I will find the color paper",
                  from_answer=job_said.id)],
    )  # fmt: skip
    assert _put_session(client, dev, record) == 201
    assert _correct(hub, "Kim", record.id, idea_said.id, "go to the market")
    assert _correct(hub, "Kim", record.id, job_said.id, "I will find the colour paper")
    hub.add_staff("Kim", "kim's long password", role="staff")
    assert _web_login(client, "Kim", "kim's long password").status_code == 303
    html = client.get(f"/sessions/{record.id}").text
    goals = html[html.index("<h2>Goals</h2>") : html.index("</section>", html.index("<h2>Goals"))]
    assert "go to the market" in goals and "mall" not in goals
    plan = html[html.index("The plan: who will do what") :]
    assert "I will find the colour paper" in plan and "color paper" not in plan
