"""Each built-in script completed by buttons only, by voice only, and by a mix."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dialogue_driver import Conversation, by_buttons, by_voice, mixed

from assistant.dialogue.events import End, Save
from assistant.dialogue.script import builtin_scripts, load_script

GROUP = ["Ann", "Ben", "Cal", "Dee"]
SETUPS = {
    "coproduction-group": dict(people=GROUP),
    "first-meeting": dict(people=GROUP),
    "review": dict(
        people=GROUP, jobs=[("Ann", "paint the fence"), ("Ben", "bake bread"), ("Cal", "tidy")]
    ),
    "my-goals": dict(people=["Sam"]),
    "teach-my-words": dict(people=["Sam"]),
    "daily-checkin": dict(
        people=["Sam", "Kim"],
        jobs=[("Sam", "water the plants"), ("Sam", "sweep the yard"), ("Kim", "feed the hens")],
        next_meeting="Tuesday at two o'clock",
    ),
}


def test_every_builtin_has_a_setup() -> None:
    assert sorted(SETUPS) == builtin_scripts()


@pytest.mark.parametrize("policy", [by_buttons, by_voice, mixed], ids=lambda p: p.__name__)
@pytest.mark.parametrize("name", sorted(SETUPS))
def test_builtin_script_completes(name: str, policy: Callable[[Conversation], str]) -> None:
    talk = Conversation(name, **SETUPS[name])  # type: ignore[arg-type]
    talk.complete(policy)
    assert talk.engine.finished
    assert isinstance(talk.actions[-1], End)
    final = talk.saves[-1]
    assert isinstance(final, Save) and final.finished
    assert final.record.ended_at is not None
    assert final.record.answers, "answers were kept"
    # Saved after every answer: each answer first appears in a Save.
    assert sum(1 for s in talk.saves if not s.finished) >= len(final.record.answers)
    # Sessions stay short (spoken at ~150 words a minute, answers included). A group of four
    # that needs a second try at its goal (each person saying if they can go along with it,
    # issue 14) takes a little longer. Passing by buttons alone walks through each question's
    # choices first (issue 13: every open question answerable without speaking), so a group of
    # four passing every question by buttons takes longer still: at most 30 minutes.
    assert talk.clock.elapsed < 30 * 60
    # Every answer belongs to someone present, or to the group.
    present = {p.id for p in final.record.people}
    assert all(a.person_id in present | {None} for a in final.record.answers)


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_consent_is_asked_before_anyone_speaks_in_their_own_words(name: str) -> None:
    steps = [s.type for s in load_script(name).walk()]
    if "teach_words" in steps and "ask" not in steps and "plan_item" not in steps:
        # teach-my-words keeps no answers: the step asks its own consent (for the examples of
        # the person's words) before they say anything
        assert steps.index("who_is_here") < steps.index("teach_words")
        return
    assert "consent" in steps and "who_is_here" in steps
    first_free = min(steps.index(t) for t in ("ask", "plan_item") if t in steps)
    assert steps.index("who_is_here") < steps.index("consent") < first_free
