"""Handlers for who takes part: who_is_here (the roll call), consent, for_each_person."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace

from assistant.core.events import Event
from assistant.core.record import Person
from assistant.dialogue import prompts as P
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Run, Turn, handles
from assistant.dialogue.engine.kernel import Engine
from assistant.dialogue.engine.questions import YES_NO_NEXT, free, yes_no


@handles("who_is_here")
def who_is_here(engine: Engine, step: S.WhoIsHere, ctx: Ctx) -> Run:
    log = engine.log
    if engine.resuming and engine.record.people:
        if engine.script.one_person:
            ctx.person = engine.record.people[0]
        return None
    engine.stop_resuming()
    present: list[Person] = []
    one = step.mode == "one"
    intro = P.ROSTER_INTRO_ONE if one else P.ROSTER_INTRO_GROUP
    if log.roster:
        yield from engine.say_turn(intro, step.id, None, "who_is_here")
    while not present:
        for person in log.roster:
            t = Turn(
                P.ROSTER_NAME.format(name=person.name),
                step.id,
                None,
                P.HELP["who_is_here"],
                buttons=YES_NO_NEXT,
            )
            reply = yield from engine.turn(t)
            if reply.value == "yes":
                present.append(person)
                log.add_person(person)
                log.answer(step.id, t, "short", reply, value="here", person=person)
                yield from engine.say_turn(P.ROSTER_HELLO.format(name=person.name), step.id, person)
                if one:
                    break
        if step.new_person and not (one and present):
            question = P.ARE_YOU_NEW if (one or not log.roster) else P.ANYONE_ELSE
            for _ in range(8):
                if log.roster or present:
                    t = Turn(question, step.id, None, P.HELP["who_is_here"], buttons=YES_NO_NEXT)
                    reply = yield from engine.turn(t)
                    if reply.value != "yes":
                        break
                newcomer = yield from _new_person(engine, step)
                present.append(newcomer)
                if one:
                    break
                question = P.ANYONE_ELSE
        if not present:
            yield from engine.say_turn(P.NOBODY_YET, step.id, None, "who_is_here")
    if engine.script.one_person:
        ctx.person = present[0]
    return None


def _new_person(engine: Engine, step: S.WhoIsHere) -> Generator[None, Event, Person]:
    log = engine.log
    number = sum(1 for p in engine.record.people if p.name.startswith(P.NEW_PERSON)) + 1
    person = log.new_person(f"{P.NEW_PERSON} {number}")
    answer = yield from free(
        engine, f"{step.id}.name", P.SAY_YOUR_NAME, Ctx(person=person), help_extra=P.HELP["name"]
    )
    name = answer.transcript.strip() if answer is not None else ""
    if name:
        log.rename(person, name)
    log.save()
    yield from engine.say_turn(P.WELCOME_NEW.format(name=person.name), step.id, person)
    return person


@handles("consent")
def consent(engine: Engine, step: S.Consent, ctx: Ctx) -> Run:
    log = engine.log
    people = [ctx.person] if ctx.person is not None and not engine.script.one_person else None
    for person in people or list(engine.record.people):
        key = engine.key(step.id, ctx)
        if engine.skip(key, person):
            continue
        words = engine.render(step.text, Ctx(person=person)) if step.text else None
        text = f"{words} {P.YES_NO}" if words else P.CONSENT.format(person=person.name)
        while True:
            t = Turn(text, key, person, P.HELP["consent"], buttons=YES_NO_NEXT)
            reply = yield from engine.turn(t)
            keep = reply.value == "yes"
            had = person.consent is not None and person.consent.audio
            if not keep and had and reply.value == "no":
                # Taking consent away stops keeping audio: ask a second time before that.
                sure, _ = yield from yes_no(
                    engine, key, P.CONSENT_WITHDRAW, Ctx(person=person), P.HELP["consent"]
                )
                if sure.value != "yes":
                    continue
            break
        log.set_consent(person, keep, "voice" if reply.by == "voice" else "button")
        log.answer(key, t, "short", reply, value="yes" if keep else "no", person=person)
        done = P.CONSENT_YES if keep else P.CONSENT_NO
        yield from engine.say_turn(done.format(person=person.name), key, person)
    return None


@handles("for_each_person")
def for_each_person(engine: Engine, step: S.ForEachPerson, ctx: Ctx) -> Run:
    order = list(engine.record.people)
    k = engine.next_round()
    if step.rotate and order:
        k %= len(order)
        order = order[k:] + order[:k]
    passes: list[tuple[S.AnyStep, Ctx]] = []
    collect = passes if step.ask_passes_again else None
    for person in order:
        yield from engine.run(step.steps, replace(ctx, person=person, passes=collect))
    for passed_step, pctx in passes:
        engine.stop_resuming()  # asking again is new, even straight after resuming
        yield from engine.say_turn(
            P.ASKED_AGAIN.format(person=pctx.person.name if pctx.person else ""),
            passed_step.id,
            pctx.person,
        )
        yield from engine.step(passed_step, replace(pctx, passes=None))
    return None
