"""Issue 13, property style (hypothesis): every built-in script walked with random presses,
silences and speech on the real engine and the driver's fake clock. Whatever people do:

- silence never ends a session;
- a rejected answer is never kept as the answer (never an idea, goal, job, strength or topic);
- a scale answer that raises a flag is checked back first;
- a voice is kept only with the person's consent and, in a group, everyone's present;
- going back one question (help, help, yellow) anywhere keeps all of these true: the answer
  taken back is never kept as the answer, and nothing made from it stays;
- every open question says how to answer it by buttons ("For choices, press yellow.");
- the session always ends or waits for a button: no crash, and it ends in a bounded number of
  turns once people answer (buttons only).
"""

from __future__ import annotations

import pytest
from dialogue_driver import Conversation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.dialogue import prompts as P
from assistant.dialogue.script import builtin_scripts

SETUPS: dict[str, dict[str, object]] = {
    "coproduction-group": dict(people=["Sam", "Priya"]),
    "first-meeting": dict(people=["Sam", "Priya"]),
    "review": dict(people=["Sam", "Priya"], jobs=[("Sam", "paint"), ("Priya", "bake")]),
    "my-goals": dict(people=["Sam"]),
    "teach-my-words": dict(people=["Sam"]),
    "daily-checkin": dict(people=["Sam"], jobs=[("Sam", "water")], next_meeting="Tuesday"),
}

ACTIONS = st.sampled_from(
    [
        "yes",
        "no",
        "next",
        "help",
        "repeat",
        "hold help",
        "silence",
        "wait 70",
        "mumble",
        "say: bowling",
        "say: yes",
        "say: no",
        "say: not good",
        "say: like",
        "say: next",
        "back",
    ]
)
BACK = ("help", "help", "next")
"""Going back one question: help, help again (a break), then yellow."""


def _fits(talk: Conversation, action: str) -> bool:
    """Whether *action* can be done now (speech and silence only while it listens)."""
    if action.startswith(("say:", "mumble", "silence")):
        return talk.listen is not None
    return True


def by_buttons_alone(talk: Conversation) -> str:
    """Answers by buttons only, also after a long silence (when the device waits for a button):
    yellow at an open question, green at its first choice, green at names and checks."""
    said = talk.last_said
    if any(w in said for w in ("anyone else", "Are you new", "another")):
        return "no"
    waiting = talk.listen is None
    free = (talk.listen is not None and talk.listen.role == "free") or (
        waiting
        and (
            P.YELLOW_CHOICES in said
            or (P.TO_PASS in said and "For " not in said and not said.startswith("That was"))
        )
    )
    return "next" if free else "yes"


def _check(talk: Conversation, flagged_checks: int) -> None:
    record = talk.record
    rejected = {a.id for a in record.answers if a.rejected}
    assert {a.id for a in record.answers if a.withdrawn} <= rejected
    kept_words = {a.transcript for a in record.answers if not a.rejected and not a.passed}
    assert not {i.from_answer for i in record.ideas} & rejected
    assert not {s.answer_id for s in record.strengths} & rejected
    assert not {i.answer_id for i in record.agenda} & rejected
    for job in talk.engine.log.made_jobs:
        assert job.what in kept_words or job.what == "(see the recording)", job.what
    for goal in record.goals:
        if goal.person_id is not None:
            assert goal.text in kept_words, goal.text
    # a voice is kept only with consent: the person's and, in a group, everyone's present.
    # The store deletes the clip of an answer taken back, and every clip of a session in which
    # someone said no (tests/test_go_back.py, tests/test_consent_in_session.py).
    standing = {a.id: a for a in record.answers if not a.withdrawn}
    agreed = {p.id for p in record.people if p.consent is not None and p.consent.audio}
    said_no = [
        p
        for p in record.people
        if p.consent and p.consent.session_id == record.id and p.id not in agreed
    ]
    for kept in [] if said_no else talk.kept:
        answer = standing.get(kept.answer_id)
        if answer is not None:
            assert answer.person_id in agreed, "a voice kept without consent"
            if not talk.engine.script.one_person:
                assert agreed >= {p.id for p in record.people}, "a voice kept in a group"
    scale_flags = [f for f in record.flags if f.kind in ("mood_not_good", "asked_for_help")]
    assert len(scale_flags) <= flagged_checks, "a flag raised without checking back"


@pytest.mark.parametrize("name", sorted(SETUPS))
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(actions=st.lists(ACTIONS, min_size=5, max_size=120))
def test_random_people_never_break_the_rules(name: str, actions: list[str]) -> None:
    talk = Conversation(name, **SETUPS[name])  # type: ignore[arg-type]
    for action in actions:
        talk.settle()
        if talk.ended:
            break
        if not _fits(talk, action):
            action = "next"
        before = len(talk.said)
        silent = action in ("silence", "wait 70")
        if talk.listen is not None and talk.listen.role == "free":
            said = talk.last_said
            assert P.YELLOW_CHOICES in said or P.TO_PASS in said, said
        for step in BACK if action == "back" else (action,):
            talk.do(step)
        talk.settle()
        assert not (silent and talk.ended), "silence ended the session"
        checks = sum(1 for s in talk.said if s.startswith("You said:"))
        _check(talk, checks)
        assert len(talk.said) >= before
    # Then people answer by buttons alone: the session ends in bounded turns.
    talk.complete(by_buttons_alone, max_turns=3000)
    assert talk.engine.finished
    _check(talk, sum(1 for s in talk.said if s.startswith("You said:")))


def test_every_builtin_script_is_walked() -> None:
    assert sorted(SETUPS) == builtin_scripts()


WALK = [
    "yes", "no", "next", "help", "repeat", "silence", "mumble", "say: bowling", "say: yes",
    "say: no", "say: not good", "back", "back", "back",
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_going_back_never_ends_a_session(name: str) -> None:
    """Seeded walks with going back often (after a try not caught, a read-back said to be
    wrong, at the roll call, while teaching words): each time the session goes on, at a
    question, and the rules above hold."""
    import random

    for seed in range(20):
        rng = random.Random(seed)
        talk = Conversation(name, **SETUPS[name])  # type: ignore[arg-type]
        for _ in range(rng.randint(5, 60)):
            talk.settle()
            if talk.ended:
                break
            action = rng.choice(WALK)
            if not _fits(talk, action):
                action = "next"
            for step in BACK if action == "back" else (action,):
                talk.do(step)
            talk.settle()
            assert not (action == "back" and talk.ended), f"going back ended it (seed {seed})"
            _check(talk, sum(1 for s in talk.said if s.startswith("You said:")))
