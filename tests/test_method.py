"""The method done for real (issue 14): a true agreement, the review cycle, true celebrations.

Scenarios on the real engine, on the driver's fake clock.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dialogue_driver import Conversation, by_buttons

from assistant.core.record import Goal, SessionRecord
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
        if "For the next one, press yellow." in said:
            return "yes" if said.startswith(f"{choose}.") else "next"
        if "can you go along" in said:
            return f"say: {accept(who)}"
        if "The idea is:" in said:
            idea = said.split("The idea is: ")[1].split(".")[0]
            return f"say: {rate(who, idea)}"
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
