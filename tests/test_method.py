"""The method done for real (issue 14): a true agreement, the review cycle, true celebrations.

Scenarios on the real engine, on the driver's fake clock.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dialogue_driver import Conversation, by_buttons, make_people

from assistant.core.record import Goal, Job, SessionRecord
from assistant.dialogue import prompts as P
from assistant.dialogue.script import ScriptError, parse_script

Policy = Callable[[Conversation], str]


def agreement_script(rule: str = "majority", rounds: int = 2) -> str:
    return f"""
name: agree-test
title: Agreeing a goal
kind: group
steps:
  - id: what_round
    type: for_each_person
    steps:
      - id: want_to_do
        type: ask
        text: "{{person}}, what do you want to do?"
        keep_as: idea
  - id: rate_round
    type: for_each_person
    steps:
      - id: rate_ideas
        type: review
        items: ideas
        steps:
          - id: rating
            type: scale
            scale: like
            sets: rating
            text: "The idea is: {{idea.text}}. What do you think?"
  - id: goal
    type: agree_goal
    rule: {rule}
    rounds: {rounds}
"""


def group(
    people: list[str],
    ideas: dict[str, str],
    rate: Callable[[str, str], str],
    accept: Callable[[str], str] = lambda name: "yes",
    *,
    rule: str = "majority",
    rounds: int = 2,
    choose: str = P.AGREE_OPTION_LATER,
    new_idea: str = "",
) -> Conversation:
    """Each person offers *ideas[name]*, rates with *rate(name, idea)*, accepts with *accept*."""
    talk = Conversation(parse_script(agreement_script(rule, rounds)), people, seed=3)

    def policy(t: Conversation) -> str:
        listen = t.listen
        said = t.last_said
        if listen is None:
            return "next"
        who = t.name_of(listen.person_id) if listen.person_id else ""
        if listen.role == "free":
            if "what else could" in said:
                return f"say: {new_idea}" if new_idea else "next"
            return f"say: {ideas[who]}"
        if said.startswith("I heard"):
            return "yes"
        if "can you go along" in said:
            return f"say: {accept(who)}"
        if "The idea is:" in said:
            idea = said.split("The idea is: ")[1].split(".")[0]
            return f"say: {rate(who, idea)}"
        if "For the next one, press yellow." in said and "If you are" not in said:
            return "yes" if said.startswith(f"{choose}.") else "next"
        return by_buttons(t)

    talk.complete(policy)
    return talk


def agreed(record: SessionRecord) -> list[Goal]:
    return [g for g in record.goals if g.agreed]


def test_all_dont_like_claims_no_goal_and_offers_what_to_do_next() -> None:
    talk = group(
        ["Ann", "Ben", "Cal"],
        {"Ann": "bowling", "Ben": "cinema", "Cal": "garden"},
        lambda who, idea: "don't like",
    )
    said = " ".join(talk.said)
    assert "most people" not in said.lower() and "more than half" not in said.lower()
    assert "Nobody likes bowling. Three people do not like it." in said
    assert P.AGREE_ALL_DONT_LIKE in said
    for option in (P.AGREE_OPTION_AGAIN, P.AGREE_OPTION_NEW, P.AGREE_OPTION_LATER):
        assert option in said
    assert P.AGREE_LATER in said
    assert agreed(talk.record) == []
    assert any(f.reason == P.AGREE_LATER_REASON for f in talk.record.flags)
    assert talk.engine.finished


def test_new_ideas_after_no_support_can_then_be_agreed() -> None:
    def rate(who: str, idea: str) -> str:
        return "like" if idea == "a picnic" else "don't like"

    talk = group(
        ["Ann", "Ben"],
        {"Ann": "bowling", "Ben": "cinema"},
        rate,
        choose=P.AGREE_OPTION_NEW,
        new_idea="a picnic",
    )
    goals = agreed(talk.record)
    assert [g.text for g in goals] == ["a picnic"]
    assert "Two people like a picnic." in " ".join(talk.said)
    assert set(goals[0].acceptance.values()) == {"yes"}


def test_honest_summary_counts_in_plain_words() -> None:
    def rate(who: str, idea: str) -> str:
        if idea == "bowling":
            return "not sure" if who == "Dee" else "like"
        return "don't like"

    names = ["Ann", "Ben", "Cal", "Dee"]
    ideas = dict(zip(names, ["bowling", "cinema", "garden", "cooking"], strict=True))
    talk = group(names, ideas, rate)
    said = " ".join(talk.said)
    assert "Three people like bowling. One person is not sure." in said
    assert "More than half of us like bowling." in said
    assert [g.text for g in agreed(talk.record)] == ["bowling"]


def test_a_tie_is_said_and_the_group_chooses_which_to_talk_about() -> None:
    def rate(who: str, idea: str) -> str:
        return "like" if idea in ("bowling", "cinema") else "don't like"

    talk = group(["Ann", "Ben"], {"Ann": "bowling", "Ben": "cinema"}, rate, choose="cinema")
    said = " ".join(talk.said)
    assert "These ideas have the same support:" in said
    assert "most people" not in said.lower()
    goal = agreed(talk.record)
    assert [g.text for g in goal] == ["cinema"]


def test_a_person_who_cannot_go_along_is_kept_and_the_majority_rule_applied() -> None:
    talk = group(
        ["Ann", "Ben", "Cal"],
        {"Ann": "bowling", "Ben": "bowling", "Cal": "bowling"},
        lambda who, idea: "like",
        lambda who: "no" if who == "Cal" else "yes",
    )
    goal = agreed(talk.record)
    assert len(goal) == 1 and goal[0].rule == "majority"
    by_name = {talk.name_of(pid): v for pid, v in goal[0].acceptance.items()}
    assert by_name == {"Ann": "yes", "Ben": "yes", "Cal": "no"}
    assert "Two people can go along with it. One person cannot go along with it." in " ".join(
        talk.said
    )


def test_everyone_rule_one_no_means_no_goal() -> None:
    talk = group(
        ["Ann", "Ben"],
        {"Ann": "bowling", "Ben": "bowling"},
        lambda w, i: "like",
        lambda who: "no" if who == "Ben" else "yes",
        rule="everyone",
        rounds=1,
    )
    assert agreed(talk.record) == []
    assert talk.record.goals == []
    kept = [g for g in talk.record.proposed_goals if g.text == "bowling"]
    assert kept and kept[0].rule == "everyone" and len(kept[0].acceptance) == 2
    assert P.ACCEPT_NOT_ENOUGH["everyone"] in " ".join(talk.said)


def test_not_sure_by_buttons_is_kept() -> None:
    talk = group(
        ["Ann", "Ben", "Cal"],
        {"Ann": "garden", "Ben": "garden", "Cal": "garden"},
        lambda w, i: "like",
        lambda who: "not sure" if who == "Ann" else "yes",
    )
    goal = agreed(talk.record)[0]
    assert sorted(goal.acceptance.values()) == ["not_sure", "yes", "yes"]


def test_staff_rule_keeps_the_answers_and_leaves_the_decision_to_staff() -> None:
    talk = group(
        ["Ann", "Ben"], {"Ann": "bowling", "Ben": "bowling"}, lambda w, i: "like", rule="staff"
    )
    assert agreed(talk.record) == [] and talk.record.goals == []
    proposed = talk.record.proposed_goals[0]
    assert proposed.acceptance and proposed.rule == "staff"
    assert any("Staff to decide" in f.reason for f in talk.record.flags)


def test_agree_goal_rule_is_checked_with_the_file_step_and_fix() -> None:
    with pytest.raises(ScriptError) as err:
        parse_script(agreement_script(rule="most"), "my-group.yaml")
    text = str(err.value)
    assert "my-group.yaml" in text and 'step 3 "goal"' in text
    assert "majority" in text and "everyone" in text and "staff" in text


# ---------------------------------------------------------------- the review cycle


def review_policy(
    status: dict[str, str], when: str = P.WHEN_NEXT_WEEK, goal: str = P.GOAL_KEEP
) -> Policy:
    """*status*: job -> how it is going (said); free answers by voice; choices by label."""

    def policy(t: Conversation) -> str:
        listen = t.listen
        said = t.last_said
        if listen is None:
            return "next"
        if listen.step_id == "how_going":
            job = said.split("job: ")[1].split(".")[0]
            return f"say: {status[job]}"
        if listen.role == "free":
            if "what helped" in said:
                return "say: my sister came with me"
            if "got in the way" in said:
                return "say: the bus was late"
            if "try next" in said:
                return "say: take an earlier bus"
            if "Say a day or a date" in said:
                return "say: after the holidays"
            return "say: something"
        if "For the next one, press yellow." in said and "If you are" not in said:
            return "yes" if said.startswith(f"{when}.") or said.startswith(f"{goal}.") else "next"
        return by_buttons(t)

    return policy


def run_review(
    jobs: list[tuple[str, str]],
    status: dict[str, str],
    goal_text: str | None = None,
    **kw: str,
) -> Conversation:
    people = make_people(sorted({who for who, _ in jobs}))
    by_name = {p.name: p for p in people}
    goals = [Goal(text=goal_text, agreed=True)] if goal_text else []
    job_list = [
        Job(person_id=by_name[who].id, what=what, goal_id=goals[0].id if goals else None)
        for who, what in jobs
    ]
    talk = Conversation("review", people, jobs=job_list, goals=goals)
    talk.complete(review_policy(status, **kw))
    return talk


def test_every_job_is_gone_through_and_asked_what_helped_or_got_in_the_way() -> None:
    talk = run_review(
        [("Ann", "paint"), ("Ben", "bake"), ("Cal", "sweep")],
        {"paint": "going well", "bake": "sometimes", "sweep": "not going well"},
    )
    status = {j.what: j.status for j in talk.record.jobs}
    assert status["paint"] == "going_well" and status["bake"] == "sometimes"
    assert status["sweep"] == "not_going_well"
    assert talk.answers("Ann", "helped")[-1].transcript == "my sister came with me"
    assert talk.answers("Ben", "in_the_way")[-1].transcript == "the bus was late"
    assert talk.answers("Cal", "in_the_way")[-1].transcript == "the bus was late"
    assert [c.kind for c in talk.record.celebrated] == ["job_going_well"]
    assert talk.record.celebrated[0].text == "Well done, Ann!"


def test_a_lesson_becomes_a_new_job_with_a_date_and_support() -> None:
    talk = run_review([("Ben", "bake")], {"bake": "not going well"})
    old, new = talk.record.jobs
    assert new.what == "take an earlier bus" and new.person_id == old.person_id
    assert new.from_job == old.id
    lesson = talk.answers("Ben", "in_the_way")[-1]
    assert new.lesson == lesson.id and lesson.transcript == "the bus was late"
    assert new.when == "next week"
    today = talk.clock.now().date()
    assert new.due is not None and 1 <= (new.due - today).days <= 7 and new.due.weekday() == 0
    assert new.support is not None
    assert "Thank you. That is a new job: take an earlier bus." in talk.said


def test_another_time_keeps_the_persons_words() -> None:
    talk = run_review([("Ben", "bake")], {"bake": "sometimes"}, when=P.WHEN_ANOTHER)
    new = talk.record.jobs[1]
    assert new.when == "after the holidays" and new.due is None


def test_the_goal_is_revisited_and_done_is_celebrated() -> None:
    talk = run_review(
        [("Ann", "paint")], {"paint": "going well"}, goal_text="a garden party", goal=P.GOAL_DONE
    )
    goal = talk.record.goals[0]
    assert goal.status == "done"
    said = P.GOAL_DONE_SAID.format(goal="a garden party")
    assert said in talk.said
    assert any(c.kind == "goal_done" and c.goal_id == goal.id for c in talk.record.celebrated)


def test_keep_going_keeps_the_goal() -> None:
    talk = run_review([("Ann", "paint")], {"paint": "going well"}, goal_text="a garden party")
    assert talk.record.goals[0].status == "keep_going"
    assert P.GOAL_KEEP_SAID in talk.said


# ---------------------------------------------------------------- true celebrations


def test_no_jobs_no_plan_celebration() -> None:
    talk = Conversation("coproduction-group", ["Ann", "Ben"])
    talk.complete(by_buttons)  # passes every own-words question: no ideas, no jobs
    assert talk.record.jobs == []
    assert not any("We made a plan together" in s for s in talk.said)
    assert "We have no jobs yet. We will make our plan next time." in talk.said
    assert talk.record.celebrated == []


def test_a_plan_with_jobs_is_celebrated_and_kept() -> None:
    def policy(t: Conversation) -> str:
        listen = t.listen
        if listen is not None and listen.role == "free":
            return "say: bake a cake"
        if listen is not None and "can you go along" in t.last_said:
            return "yes"
        return by_buttons(t)

    talk = Conversation("coproduction-group", ["Ann", "Ben"])
    talk.complete(policy)
    assert talk.record.jobs
    assert "Well done, everyone. We made a plan together." in talk.said
    kinds = [c.kind for c in talk.record.celebrated]
    assert "plan_made" in kinds


# ---------------------------------------------------------------- script checks


REVIEW_WITH_LESSON = """
name: lesson-test
title: Lessons
kind: review
steps:
  - id: jobs
    type: review
    items: jobs
    steps:
      - id: in_the_way
        type: ask
        text: "{person}, what got in the way?"
      - id: next_step
        type: plan_item
        lesson: LESSON
        what: "{person}, what could you try next?"
        WHEN
"""


def test_a_lesson_job_names_an_earlier_ask_step() -> None:
    good = REVIEW_WITH_LESSON.replace("LESSON", "in_the_way").replace(
        "WHEN", 'when: "When?"\n        when_choices: true'
    )
    parse_script(good, "mine.yaml")
    bad = REVIEW_WITH_LESSON.replace("LESSON", "what_helped").replace("WHEN", "")
    with pytest.raises(ScriptError) as err:
        parse_script(bad, "mine.yaml")
    text = str(err.value)
    assert "mine.yaml" in text and '"next_step"' in text and "earlier ask step" in text


def test_when_choices_needs_the_when_question() -> None:
    bad = REVIEW_WITH_LESSON.replace("LESSON", "in_the_way").replace("WHEN", "when_choices: true")
    with pytest.raises(ScriptError) as err:
        parse_script(bad, "mine.yaml")
    assert "mine.yaml" in str(err.value) and 'when: "When will you do it?"' in str(err.value)


def test_an_old_record_without_the_new_fields_still_loads() -> None:
    old = {
        "format_version": 1,
        "id": "00000000-0000-4000-8000-000000000001",
        "script": "coproduction-group",
        "started_at": "2026-01-01T10:00:00Z",
        "goals": [
            {"id": "00000000-0000-4000-8000-000000000002", "text": "bowling", "agreed": True}
        ],
        "jobs": [
            {
                "id": "00000000-0000-4000-8000-000000000003",
                "person_id": "00000000-0000-4000-8000-000000000004",
                "what": "book the lane",
            }
        ],
        "celebrations": [],
    }
    record = SessionRecord.model_validate(old)
    assert record.goals[0].acceptance == {} and record.goals[0].status == "active"
    assert record.jobs[0].due is None and record.celebrated == [] and record.proposed_goals == []


# ---------------------------------------------------------------- strengths


def test_strengths_are_kept_read_back_and_offered_when_jobs_are_planned() -> None:
    def policy(t: Conversation) -> str:
        listen = t.listen
        said = t.last_said
        if listen is not None and listen.role == "free":
            if "good at?" in said:
                return "say: drawing" if said.startswith("Sam") else "say: cooking"
            return "say: make the posters"
        if listen is not None and "can you go along" in said:
            return "yes"
        return by_buttons(t)

    talk = Conversation("coproduction-group", ["Sam", "Priya"])
    talk.complete(policy)
    by_name = {talk.name_of(s.person_id): s.text for s in talk.record.strengths}
    assert by_name == {"Sam": "drawing", "Priya": "cooking"}
    assert "Thank you, Sam. You said: drawing." in talk.said
    offered = [s for s in talk.said if s.startswith("Sam, you told us: drawing.")]
    assert offered and "what job will you do" in offered[0]
    assert talk.record.strengths[0].answer_id in {a.id for a in talk.record.answers}


# ---------------------------------------------------------------- the group's agenda


def test_the_blank_agenda_is_filled_read_back_kept_and_gone_through() -> None:
    def policy(t: Conversation) -> str:
        listen = t.listen
        said = t.last_said
        if listen is not None and listen.role == "free":
            if "talk about today" in said:
                return "say: the garden" if said.startswith("Sam") else "pass"
            return "say: something"
        if listen is not None and "can you go along" in said:
            return "yes"
        return by_buttons(t)

    talk = Conversation("first-meeting", ["Sam", "Priya"])
    talk.complete(policy)
    assert [(talk.name_of(i.person_id), i.text) for i in talk.record.agenda] == [
        ("Sam", "the garden")
    ]
    assert "Here is our agenda. Sam wants to talk about: the garden." in talk.said
    assert "First, Sam wants to talk about: the garden." in talk.said
    assert talk.answers("Sam", "about_it")[-1].transcript == "something"
    assert talk.answers("Priya", "agenda")[-1].passed


def test_an_agenda_inside_for_each_person_is_refused() -> None:
    bad = """
name: bad-agenda
title: Bad
kind: group
steps:
  - id: round
    type: for_each_person
    steps:
      - id: agenda
        type: agenda
        text: "{person}, what do you want to talk about?"
"""
    with pytest.raises(ScriptError) as err:
        parse_script(bad, "mine.yaml")
    assert "mine.yaml" in str(err.value) and "outside for_each_person" in str(err.value)
