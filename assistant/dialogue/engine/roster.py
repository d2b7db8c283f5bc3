"""Handlers for who takes part: who_is_here (the roll call), consent, for_each_person."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from weakref import WeakKeyDictionary

from assistant.core.events import Event
from assistant.core.record import Person
from assistant.dialogue import prompts as P
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Run, Turn, handles
from assistant.dialogue.engine.kernel import Engine
from assistant.dialogue.engine.questions import YES_NO_NEXT, free

_TOLD: WeakKeyDictionary[Engine, set[str]] = WeakKeyDictionary()
"""Per session: who was told they can tell their supporter later (said once, not each round)."""


@handles("who_is_here")
def who_is_here(engine: Engine, step: S.WhoIsHere, ctx: Ctx) -> Run:
    log = engine.log
    if engine.resuming and engine.record.people:
        if engine.script.one_person:
            ctx.person = engine.record.people[0]
        return None
    engine.stop_resuming()
    with log.roll_call():  # who is in the room is not known yet: no clip in a group
        yield from _roll_call(engine, step, ctx)
    return None


def _roll_call(engine: Engine, step: S.WhoIsHere, ctx: Ctx) -> Run:
    log = engine.log
    present: list[Person] = []
    one = step.mode == "one"
    intro = P.ROSTER_INTRO_ONE if one else P.ROSTER_INTRO_GROUP
    if log.roster:
        yield from engine.say_turn(intro, step.id, None, "who_is_here")
    goes_on = True  # the first time round; again after a round in which someone did something
    while not present:
        acted = False
        for person in log.roster:
            t = Turn(
                P.ROSTER_NAME.format(name=person.name),
                step.id,
                None,
                P.HELP["who_is_here"],
                buttons=YES_NO_NEXT,
                # A silence goes on to the next name, so a person alone hears theirs. After a
                # round in which nobody did anything, it waits at a name (quietly) for a press:
                # it never reads names round and round to an empty room.
                silence_goes_on=goes_on and len(log.roster) > 1,
            )
            reply = yield from engine.turn(t)
            acted = acted or reply.by != "none"
            if reply.value == "yes" and (not one or len(log.roster) > 1):
                # Checked before going on: a wrong press would file it all under someone else,
                # or count someone here who is not (red undoes it). With one name only, in a
                # check-in, there is no one else on the list to mix them up with.
                check = Turn(
                    f"{P.YOU_ARE.format(name=person.name)} {P.YES_NO}",
                    step.id,
                    None,
                    P.HELP["who_is_here"],
                    buttons=YES_NO_NEXT,
                    whole=True,
                )
                sure = yield from engine.turn(check)
                if sure.value != "yes":
                    continue  # undone: on to the next name
            if reply.value == "yes":
                present.append(person)
                log.add_person(person)
                log.answer(step.id, t, "short", reply, value="here", person=person)
                yield from engine.say_turn(P.ROSTER_HELLO.format(name=person.name), step.id, person)
                if one:
                    break
        if step.new_person and not (one and present):
            question = P.ARE_YOU_NEW if (one or not log.roster or not present) else P.ANYONE_ELSE
            for _ in range(8):
                if log.roster or present:
                    t = Turn(question, step.id, None, P.HELP["who_is_here"], buttons=YES_NO_NEXT)
                    reply = yield from engine.turn(t)
                    acted = acted or reply.by != "none"
                    if reply.value != "yes":
                        break
                newcomer = yield from _new_person(engine, step)
                present.append(newcomer)
                if one:
                    break
                question = P.ANYONE_ELSE
        if not present:
            yield from engine.say_turn(P.NOBODY_YET, step.id, None, "who_is_here")
        goes_on = acted
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
        t = Turn(text, key, person, f"{P.HELP['consent']} {P.CONSENT_HELP}", buttons=YES_NO_NEXT)
        reply = yield from engine.turn(t)
        # Only yes keeps the voice; no (or yellow) does not, at once: taking consent away never
        # takes more presses than giving it (one), and is never asked twice.
        keep = reply.value == "yes"
        log.set_consent(person, keep, "voice" if reply.by == "voice" else "button")
        log.answer(key, t, "short", reply, value="yes" if keep else "no", person=person)
        done = P.CONSENT_YES if keep else P.CONSENT_NO
        if log.group:
            # what each other person here has said about their voice (not asked yet: nothing)
            others = [
                p.consent.audio
                for p in engine.record.people
                if p.id != person.id and p.consent is not None
            ]
            if keep and not all(others):
                done = P.CONSENT_YES_WORDS_ONLY  # someone here said no: never "I will keep it"
            elif not keep and any(others):
                done = P.CONSENT_NO_WORDS_ONLY  # the others' voices are not kept either now
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
    told = _TOLD.setdefault(engine, set())
    for passed_step, pctx in passes:
        engine.stop_resuming()  # asking again is new, even straight after resuming
        who = pctx.person
        if who is not None and _passes(engine, who) >= 2:
            # Passed twice already: not asked again in front of the group. The passes are in
            # the record for staff to see.
            if who.id not in told:
                told.add(who.id)
                yield from engine.say_turn(
                    P.TELL_LATER.format(person=who.name), passed_step.id, who
                )
            continue
        yield from engine.say_turn(
            P.ASKED_AGAIN.format(person=pctx.person.name if pctx.person else ""),
            passed_step.id,
            pctx.person,
        )
        yield from engine.step(passed_step, replace(pctx, passes=None))
    return None


def _passes(engine: Engine, person: Person) -> int:
    """How many times *person* passed in this session so far."""
    return sum(1 for a in engine.log.standing() if a.person_id == person.id and a.passed)
