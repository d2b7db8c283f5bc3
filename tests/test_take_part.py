"""Issue 13: every person can take part. Scenarios on the real engine with the driver's fake
clock: open questions answered without speaking, yellow with one meaning (a scale can be
passed), short utterances, quoted words, a progress cue, the roll call undone. Each fails on the
main branch before this work (no choices, yellow was a scale's middle point, 41-word consent...).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from dialogue_driver import Conversation, by_buttons

from assistant.cli import main
from assistant.dialogue import prompts as P
from assistant.dialogue.script import ScriptError, builtin_scripts, load_script, parse_script

ROOT = Path(__file__).resolve().parent.parent
SETUPS: dict[str, dict[str, object]] = {
    "coproduction-group": dict(people=["Sam", "Priya"]),
    "first-meeting": dict(people=["Sam", "Priya"]),
    "review": dict(people=["Sam", "Priya"], jobs=[("Sam", "paint"), ("Priya", "bake")]),
    "my-goals": dict(people=["Sam"]),
    "teach-my-words": dict(people=["Sam"]),
    "daily-checkin": dict(
        people=["Sam"], jobs=[("Sam", "water"), ("Sam", "sweep")], next_meeting="Tuesday"
    ),
}


def choose(label: str):  # type: ignore[no-untyped-def]
    """A buttons-only person: yellow at open questions, then green at *label* (or the first
    choice that is not the supporter's), green at names and checks, no to "anyone else"."""

    def policy(talk: Conversation) -> str:
        said = talk.last_said
        listen = talk.listen
        if "anyone else" in said or "Are you new" in said or "another" in said:
            return "no"
        if listen is not None and listen.role == "free":
            return "next"
        m = re.match(r"^(.+?)\. For (.+?), press green\.", said)
        if m and m.group(1).lower() == m.group(2).lower():
            if m.group(1) == P.WITH_SUPPORTER:
                return "next"
            return "yes" if label in ("", m.group(1)) else "next"
        if said.startswith(P.CHOOSE_ROUND.split(".")[0]):
            return "yes"
        return "yes"

    return policy


# ---------------------------------------------------------------- answering without speaking


def test_a_person_using_only_buttons_ends_a_group_session_with_a_confirmed_job() -> None:
    talk = Conversation("coproduction-group", ["Sam", "Priya"])
    talk.complete(choose(""))
    for name in ("Sam", "Priya"):
        mine = talk.answers(name)
        assert all(a.confirmed_by != "voice" and not a.transcript.startswith("(") for a in mine)
        why = [a for a in talk.answers(name, "why_here") if not a.passed]
        assert why and why[-1].kind == "choice" and why[-1].transcript == "To meet people"
        job = next(j for j in talk.record.jobs if j.person_id == talk.person(name).id)
        assert job.what == "Make posters" and job.when == "today" and job.due is not None
        assert job.support == "myself"
        plan = talk.answers(name, "plan")
        assert [(a.value, a.confirmed_by) for a in plan] == [("yes", "button")]
    assert [i.text for i in talk.record.ideas] == ["A trip", "A trip"]


def test_choices_from_an_earlier_answer_are_offered() -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.run(["yes", "yes", "pass", "say: learn to swim", "yes", "next"])
    talk.settle()
    assert talk.last_said.startswith("learn to swim. For learn to swim, press green.")
    talk.run(["yes"])
    goal = talk.answers("Sam", "my_goal")[-1]
    assert goal.kind == "choice" and goal.transcript == "learn to swim"
    assert [g.text for g in talk.record.goals] == ["learn to swim"]


def test_my_supporter_will_answer_with_me_is_kept_as_given_with_support() -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.run(["yes", "yes", "next", "next", "next", "next", "yes"])  # the supporter's choice
    talk.settle()
    assert P.SUPPORTER_GO.format(person="Sam") in " ".join(talk.said[-2:])
    talk.run(["say: to get a job", "yes"])
    why = talk.answers("Sam", "why_here")[-1]
    assert why.with_support and why.transcript == "to get a job" and not why.passed


def test_nothing_heard_and_no_recording_offers_the_choices_never_see_the_recording() -> None:
    talk = Conversation("coproduction-group", ["Sam"], consent=False)

    def policy(c: Conversation) -> str:
        if c.listen is not None and c.listen.role == "free":
            return "mumble"
        if "recording of your voice" in c.last_said:
            return "no"
        return choose("")(c)

    talk.complete(policy)
    assert not any("see the recording" in j.what for j in talk.record.jobs)
    assert P.KEPT_RECORDING not in talk.said and not talk.kept
    assert any(s.startswith(P.NO_RECORDING) for s in talk.said)
    assert [j.what for j in talk.record.jobs] == ["Make posters"]


def test_with_consent_the_persons_own_recording_is_the_answer() -> None:
    talk = Conversation("coproduction-group", ["Sam"], consent=True)

    def policy(c: Conversation) -> str:
        if c.listen is not None and c.listen.role == "free":
            return "mumble"
        return by_buttons(c)

    talk.complete(policy)
    assert P.KEPT_RECORDING in talk.said
    job = talk.record.jobs[0]
    what = talk.answers("Sam", "job.what")[0]
    assert job.what == "(see the recording)" and what.id in {k.answer_id for k in talk.kept}


# ---------------------------------------------------------------- yellow: one meaning


def test_yellow_at_a_scale_is_a_pass_not_the_middle_point() -> None:
    talk = Conversation("daily-checkin", ["Sam"])
    talk.run(["yes", "yes", "next"])
    assert talk.last_said.startswith("Okay. For okay, press green. To pass, press yellow.")
    talk.run(["next"])
    mood = talk.answers("Sam", "mood")
    assert len(mood) == 1 and mood[0].passed and mood[0].value is None
    assert not talk.record.checkins or talk.record.checkins[0].mood is None
    assert P.PASSED_SCALE in talk.said and talk.record.flags == []


def test_the_middle_point_by_buttons_is_yellow_then_green() -> None:
    talk = Conversation("daily-checkin", ["Sam"])
    talk.run(["yes", "yes", "next", "yes"])
    assert talk.record.checkins[0].mood == "okay"


def test_yellow_is_said_in_the_same_words_everywhere() -> None:
    for name in builtin_scripts():
        talk = Conversation(name, **SETUPS[name])  # type: ignore[arg-type]
        talk.complete(by_buttons)
        for text in talk.said:
            for sentence in re.split(r"(?<=[.?!])\s+", text):
                if "yellow" in sentence:
                    assert sentence in P.YELLOW_WORDS, (name, sentence)


# ---------------------------------------------------------------- the roll call


def test_a_wrong_name_at_the_group_roll_call_is_undone() -> None:
    talk = Conversation("coproduction-group", ["Sam", "Priya", "Tom"])
    talk.run(["yes"])  # Sam is not here: pressed by mistake at his name
    assert talk.last_said.startswith(P.YOU_ARE.format(name="Sam"))
    talk.run(["no", "yes", "yes", "next", "no"])  # undone; Priya, checked; Tom not here
    assert [p.name for p in talk.record.people] == ["Priya"]


# ---------------------------------------------------------------- plain, short utterances


def test_consent_is_short_and_asks_one_thing() -> None:
    talk = Conversation("coproduction-group", ["Sam"], consent=None)
    talk.run(["yes", "yes", "no"])
    talk.settle()
    assert "recording of your voice" in talk.last_said
    assert len(talk.last_said.split()) <= P.MAX_UTTERANCE_WORDS
    assert talk.last_said.count("?") == 1


def test_peoples_words_are_quoted_as_theirs_and_progress_is_said() -> None:
    talk = Conversation("coproduction-group", ["Sam"])

    def policy(c: Conversation) -> str:
        said = c.last_said
        if c.listen is not None and c.listen.role == "free":
            return "say: I will make the posters" if "what job" in said else "say: fine"
        if "anyone else" in said or "another" in said:
            return "no"
        return "yes"

    talk.complete(policy)
    assert any(s.startswith("Sam said: I will make the posters.") for s in talk.said)
    assert not any("will do this: I will" in s for s in talk.said)
    assert "Two more questions." in talk.said and "One more question." in talk.said


def _walk(name: str, policy_index: int) -> list[str]:
    talk = Conversation(name, **SETUPS[name], seed=policy_index)  # type: ignore[arg-type]
    rng = random.Random(policy_index)

    def policy(c: Conversation) -> str:
        listen = c.listen
        said = c.last_said
        kind = rng.randrange(5)
        if kind == 0 and listen is not None:
            return "help"
        if "anyone else" in said or "Are you new" in said or "another" in said:
            return "no"
        if listen is not None and listen.role == "free":
            return ("say: bowling", "next", "mumble", "say: bowling", "say: bowling")[kind]
        if kind == 1 and listen is not None:
            return "no"
        if kind == 2:
            return "next"
        return "yes"

    talk.complete(policy, max_turns=4000)
    return talk.said


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_every_prompt_is_short_and_asks_one_question(name: str) -> None:
    """Walks each built-in script through the engine (help, passes, no, yes, speech and
    speech not made out, in turn) and checks everything said: at most 25 words before the
    person can answer (one-word answers and names), one question per utterance."""
    seen: set[str] = set()
    for i in range(4):
        seen.update(_walk(name, i))
    assert len(seen) > 10
    for text in seen:
        assert len(text.split()) <= P.MAX_UTTERANCE_WORDS, text
        assert text.count("?") <= 1, text


# ---------------------------------------------------------------- the script fields


@pytest.mark.parametrize(
    "field,problem",
    [
        ('choices: ["a", "b", "c", "d"]', '"choices" has 4; the most is 3'),
        ("choices_from: dreams", 'choices_from: "dreams" is not ideas, jobs, strengths'),
        ("choices: []", '"choices" must be a list of short words'),
        ('choices: ["Soup", "soup"]', "two choices have the same words"),
    ],
)
def test_bad_choices_name_the_file_the_step_and_the_fix(field: str, problem: str) -> None:
    text = f"""
name: lunch
title: Lunch
kind: one_person
steps:
  - id: lunch
    type: ask
    text: "What would you like for lunch?"
    {field}
"""
    with pytest.raises(ScriptError) as err:
        parse_script(text, "lunch.yaml")
    message = str(err.value)
    assert message.startswith('lunch.yaml, step 1 "lunch": ') and problem in message


def test_every_open_question_of_the_builtin_scripts_offers_choices() -> None:
    for name in builtin_scripts():
        for step in load_script(name).walk():
            if step.type in ("ask", "strengths", "agenda", "plan_item"):
                assert getattr(step, "choices", ()), f"{name}: {step.id} has no choices"


# ---------------------------------------------------------------- through assistant simulate


def test_a_buttons_only_person_through_assistant_simulate(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[records]\ndata_dir = "{tmp_path / "data"}"\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    out = tmp_path / "record.json"
    scenario = ROOT / "tests" / "scenarios" / "coproduction-group-buttons-only.yaml"
    assert main(["simulate", str(scenario), "-q", "--fake-speech", "--record-out", str(out)]) == 0
    data = json.loads(out.read_text())
    names = {p["id"]: p["name"] for p in data["people"]}
    job = next(j for j in data["jobs"] if names[j["person_id"]] == "Priya")
    assert job["what"] == "Buy what we need" and job["when"] == "next week"
    priya = [a for a in data["answers"] if names.get(a["person_id"]) == "Priya"]
    assert all(a["engine"] is None for a in priya), "Priya never spoke"
    assert [a["value"] for a in priya if a["step_id"] == f"plan/{job['id']}"] == ["yes"]
    rating = [a for a in priya if a["step_id"].startswith("rating/")]
    passed = [a for a in rating if a["passed"]]  # yellow, then yellow at the middle point
    assert passed and passed[0]["value"] is None and "beach" in passed[0]["question"]
