"""Handler for agreeing the group's goal: the most liked idea first, confirmed yes or no."""

from __future__ import annotations

from assistant.dialogue import prompts as P
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Run, handles
from assistant.dialogue.engine.kernel import Engine
from assistant.dialogue.engine.questions import yes_no

SCORE = {"like": 2, "not_sure": 1, "dont_like": 0}
"""What each rating adds to an idea's standing."""


@handles("agree_goal")
def agree_goal(engine: Engine, step: S.AgreeGoal, ctx: Ctx) -> Run:
    log = engine.log
    if engine.resuming and log.group_goal() is not None:
        return None
    engine.stop_resuming()
    ideas = list(engine.record.ideas)
    ranked = sorted(
        ideas,
        key=lambda i: (
            -sum(SCORE[v] for v in i.ratings.values()),
            -sum(1 for v in i.ratings.values() if v == "like"),
            ideas.index(i),
        ),
    )
    if not ranked:
        log.flag("other", P.GOAL_NOT_AGREED_REASON, None)
        yield from engine.say_turn(P.GOAL_NO_IDEAS.format(staff=engine.staff_cap()), step.id, None)
        return None
    for n, idea in enumerate(ranked[: S.MAX_OPTIONS]):
        words = (P.GOAL_CHOICE if n == 0 else P.GOAL_NEXT_CHOICE).format(idea=idea.text)
        key = f"{step.id}/{idea.id}"
        reply, t = yield from yes_no(engine, key, words, ctx, P.HELP["confirm"])
        log.answer(key, t, "short", reply, value=reply.value)
        if reply.value == "yes":
            log.add_goal(idea.text, person=None, agreed=True, from_idea=idea.id)
            log.save()
            yield from engine.say_turn(P.GOAL_AGREED.format(idea=idea.text), step.id, None)
            return None
    log.flag("other", P.GOAL_NOT_AGREED_REASON, None)
    yield from engine.say_turn(P.GOAL_NONE.format(staff=engine.staff_cap()), step.id, None)
    return None
