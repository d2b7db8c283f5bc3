"""Handlers for the plain steps: say, celebrate, flag, and branch on an earlier answer."""

from __future__ import annotations

from assistant.core.events import PlayEarcon
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Run, handles
from assistant.dialogue.engine.kernel import Engine


def happened(engine: Engine, needs: str) -> bool:
    """Whether what a celebration needs is true: jobs made this session, an agreed goal, or
    a job going well or done."""
    log = engine.log
    if needs == "jobs":
        return bool(log.made_jobs)
    if needs == "goal":
        return log.group_goal() is not None
    return any(j.status in ("going_well", "done") for j in engine.record.jobs)


@handles("say", "celebrate")
def say(engine: Engine, step: S.Say | S.Celebrate, ctx: Ctx) -> Run:
    if engine.resuming:
        return None
    if isinstance(step, S.Celebrate):
        if step.needs is not None and not happened(engine, step.needs):
            if step.otherwise:
                yield from engine.say_turn(engine.render(step.otherwise, ctx), step.id, ctx.person)
            return None
        engine.emit(PlayEarcon("celebrate"))
        text = engine.render(step.text, ctx)
        goal = engine.log.group_goal() if step.kind in ("goal_agreed", "goal_done") else None
        engine.log.celebrate(step.kind, text, person=ctx.person, job=ctx.job, goal=goal)
        yield from engine.say_turn(text, step.id, ctx.person, "celebrate")
        return None
    yield from engine.say_turn(engine.render(step.text, ctx), step.id, ctx.person, "say")
    return None


@handles("branch")
def branch(engine: Engine, step: S.Branch, ctx: Ctx) -> Run:
    value = engine.value_of(step.on_answer, ctx)
    steps = step.cases.get(value, step.otherwise) if value else step.otherwise
    yield from engine.run(steps, ctx)
    return None


@handles("flag")
def flag(engine: Engine, step: S.RaiseFlag, ctx: Ctx) -> Run:
    if engine.resuming:
        return None
    pid = ctx.person.id if ctx.person else None
    latest = [a for a in engine.log.standing() if a.person_id == pid]
    engine.log.flag(
        step.kind,
        engine.render(step.reason, ctx),
        ctx.person,
        answer_id=latest[-1].id if latest else None,
    )
    if step.text:
        yield from engine.say_turn(engine.render(step.text, ctx), step.id, ctx.person)
    return None
