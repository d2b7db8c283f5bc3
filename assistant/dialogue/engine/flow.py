"""Handlers for the plain steps: say, celebrate, flag, and branch on an earlier answer."""

from __future__ import annotations

from assistant.core.events import PlayEarcon
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Run, handles
from assistant.dialogue.engine.kernel import Engine


@handles("say", "celebrate")
def say(engine: Engine, step: S.Say | S.Celebrate, ctx: Ctx) -> Run:
    if engine.resuming:
        return None
    if isinstance(step, S.Celebrate):
        engine.emit(PlayEarcon("celebrate"))
    kind = "celebrate" if isinstance(step, S.Celebrate) else "say"
    yield from engine.say_turn(engine.render(step.text, ctx), step.id, ctx.person, kind)
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
    latest = [a for a in engine.record.answers if a.person_id == pid]
    engine.log.flag(
        step.kind,
        engine.render(step.reason, ctx),
        ctx.person,
        answer_id=latest[-1].id if latest else None,
    )
    if step.text:
        yield from engine.say_turn(engine.render(step.text, ctx), step.id, ctx.person)
    return None
