"""Handlers for the questions: ask (own words, read back), confirm (yes/no), scale, choose.

Also the question turns other families use: :func:`free`, :func:`yes_no` and :func:`scale_turn`.
"""

from __future__ import annotations

from collections.abc import Generator

from assistant.core.events import Button, Event
from assistant.core.record import Answer, Person
from assistant.core.words import normalise
from assistant.dialogue import prompts as P
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Reply, Run, Turn, handles
from assistant.dialogue.engine.kernel import Engine

ANSWER_BUTTONS: tuple[Button, ...] = ("yes", "next", "no")
"""The scale's green, yellow and red ends, in that order."""

YES_NO_NEXT: frozenset[Button] = frozenset({"yes", "no", "next"})


# ---------------------------------------------------------------------- shared question turns


def free(
    engine: Engine,
    key: str,
    question: str,
    ctx: Ctx,
    *,
    read_back: bool = True,
    help_extra: str = "",
) -> Generator[None, Event, Answer | None]:
    """A free answer with read-back. None when the person passed, or said no to the read-back
    twice (a rejected answer is never the answer: it is kept only as a rejected try)."""
    log = engine.log
    help_text = " ".join(x for x in (P.HELP["ask"], help_extra, P.TO_PASS) if x)
    text = f"{question} {P.LISTENING}"
    misses = 0
    rejections = 0
    previous: Answer | None = None
    first = ""
    while True:
        t = Turn(
            text, key, ctx.person, help_text, role="free", buttons=frozenset({"next"}), first=first
        )
        reply = yield from engine.turn(t)
        if reply.value == "next":
            log.answer(
                key,
                t,
                "free",
                reply,
                passed=True,
                attempts=misses + 1,
                supersedes=previous.id if previous else None,
            )
            yield from engine.say_turn(passed_words(ctx), key, ctx.person)
            return None
        answer = log.answer(
            key, t, "free", reply, attempts=misses + 1, supersedes=previous.id if previous else None
        )
        previous = answer
        if not answer.transcript.strip():
            misses += 1
            if misses >= 2:
                yield from kept_anyway(engine, answer, ctx.person)
                return answer
            first = P.NOT_CAUGHT
            continue
        if not read_back:
            return answer
        sure = yield from _checked_back(
            engine, P.I_HEARD.format(text=answer.transcript), key, ctx, answer
        )
        if sure in ("yes", "next"):
            return answer
        # "No": this is not what they said. It is kept only as a rejected try, never the answer.
        log.reject(answer)
        rejections += 1
        if rejections >= 2:
            # Twice wrong: not kept as the answer. The person passes, to come back to it.
            log.answer(
                key,
                t,
                "free",
                None,
                passed=True,
                attempts=misses + 1,
                supersedes=answer.id,
            )
            after = P.NOT_KEPT_AGAIN if ctx.passes is not None else P.NOT_KEPT_ON
            yield from engine.say_turn(f"{P.NOT_KEPT} {after}", key, ctx.person)
            return None
        misses += 1
        first = P.TRY_AGAIN


def passed_words(ctx: Ctx) -> str:
    return P.PASSED if ctx.passes is not None else P.PASSED_FINAL


def kept_anyway(
    engine: Engine, answer: Answer, person: Person | None
) -> Generator[None, Event, None]:
    consented = person is not None and person.consent is not None and person.consent.audio
    words = P.KEPT_RECORDING if consented else P.KEPT_WORDS
    yield from engine.say_turn(words, answer.step_id, person)


def yes_no(
    engine: Engine, key: str, text: str, ctx: Ctx, help_text: str, person: Person | None = None
) -> Generator[None, Event, tuple[Reply, Turn]]:
    t = Turn(
        f"{text} {P.YES_NO}",
        key,
        person if person is not None else ctx.person,
        help_text,
        buttons=YES_NO_NEXT,
    )
    reply = yield from engine.turn(t)
    return reply, t


def scale_turn(
    engine: Engine,
    key: str,
    question: str,
    scale: str,
    ctx: Ctx,
    *,
    shuffle: bool,
    help_extra: str = "",
    first: str = "",
) -> Generator[None, Event, tuple[str, Answer]]:
    """A three-point scale on the three answer buttons (or its words); the answer is kept."""
    points = S.SCALES[scale]
    values = {b: points[i][0] for i, b in enumerate(ANSWER_BUTTONS)}
    phrases: dict[str, str] = {}
    for value, words in points:
        for phrase in (words, *S.SCALE_SYNONYMS.get(value, ())):
            phrases.setdefault(normalise(phrase), value)
    order = engine.shuffled([0, 1, 2], shuffle)
    said = " ".join(f"For {points[i][1]}, {P.PRESS[ANSWER_BUTTONS[i]]}." for i in order)
    fixed = " ".join(f"For {points[i][1]}, {P.PRESS[ANSWER_BUTTONS[i]]}." for i in range(3))
    t = Turn(
        f"{question} {said}",
        key,
        ctx.person,
        " ".join(x for x in (P.HELP["scale"], help_extra, fixed) if x),
        buttons=frozenset(ANSWER_BUTTONS),
        values=values,
        voice=frozenset(),
        phrases=phrases,
        first=first,
    )
    reply = yield from engine.turn(t)
    answer = engine.log.answer(key, t, "scale", reply, value=reply.value)
    return reply.value, answer


# ---------------------------------------------------------------------- the handlers


@handles("ask")
def ask(engine: Engine, step: S.Ask, ctx: Ctx) -> Run:
    key = engine.key(step.id, ctx)
    if engine.skip(key, ctx.person):
        return engine.resumed_outcome(key, ctx.person)
    answer = yield from free(
        engine,
        key,
        engine.render(step.text, ctx),
        ctx,
        read_back=step.read_back,
        help_extra=engine.render(step.help, ctx) if step.help else "",
    )
    if answer is None:
        return "passed"
    log = engine.log
    text = answer.transcript.strip()
    if step.keep_as == "idea" and text:
        log.add_idea(text, answer.id)
    elif step.keep_as == "goal" and text:
        log.add_goal(text, person=ctx.person, agreed=answer.confirmed_by != "not_confirmed")
    elif step.keep_as == "next_meeting" and text:
        log.set_next_meeting(text)
    elif step.keep_as == "note" and ctx.person is not None:
        log.add_note(ctx.person, answer.id)
    elif step.keep_as == "celebration":
        log.add_celebration(answer.id)
    log.save()
    return None


@handles("confirm")
def confirm(engine: Engine, step: S.Confirm, ctx: Ctx) -> Run:
    key = engine.key(step.id, ctx)
    if engine.skip(key, ctx.person):
        return engine.resumed_outcome(key, ctx.person)
    help_text = " ".join(x for x in (P.HELP["confirm"], engine.opt(step.help, ctx)) if x)
    reply, t = yield from yes_no(engine, key, engine.render(step.text, ctx), ctx, help_text)
    passed = reply.value == "next"
    engine.log.answer(key, t, "short", reply, value=None if passed else reply.value, passed=passed)
    return "passed" if passed else None


SCALE_TRIES = 3
"""How often a scale answer that would raise a flag is asked again after "no, that's wrong"."""


def raises_flag(engine: Engine, step_id: str, value: str) -> bool:
    """Whether *value* as the answer to *step_id* raises a flag straight away (a branch on it
    whose case for *value* holds a flag step)."""
    return any(
        isinstance(s, S.Branch)
        and s.on_answer == step_id
        and any(isinstance(c, S.RaiseFlag) for c in s.cases.get(value, ()))
        for s in engine.script.walk()
    )


@handles("scale")
def scale(engine: Engine, step: S.Scale, ctx: Ctx) -> Run:
    key = engine.key(step.id, ctx)
    if engine.skip(key, ctx.person):
        return None
    log = engine.log
    first = ""
    for _ in range(SCALE_TRIES):
        value, answer = yield from scale_turn(
            engine,
            key,
            engine.render(step.text, ctx),
            step.scale,
            ctx,
            shuffle=step.shuffle,
            help_extra=engine.opt(step.help, ctx),
            first=first,
        )
        if not raises_flag(engine, step.id, value):
            break
        # An answer that raises a flag is checked back first: a mis-press can be undone.
        words = dict(S.SCALES[step.scale])[value]
        sure = yield from _checked_back(engine, P.YOU_SAID.format(words=words), key, ctx, answer)
        if sure in ("yes", "next"):
            break  # a yes confirms it; next is not a no: kept as given
        log.reject(answer)
        first = P.TRY_AGAIN
    else:
        # Wrong every time: nothing is kept and no flag raised; staff can ask later.
        t = Turn(engine.render(step.text, ctx), key, ctx.person, P.HELP["scale"])
        log.answer(key, t, "scale", None, passed=True)
        yield from engine.say_turn(passed_words(ctx), key, ctx.person)
        return None
    person = ctx.person
    if step.sets == "rating" and ctx.idea is not None and person is not None:
        log.rate(ctx.idea, person, value)
    elif step.sets == "mood" and person is not None:
        log.set_mood(person, value)
    elif step.sets == "job_status" and ctx.job is not None:
        log.set_job_status(ctx.job, value, answer.id, checkin=engine.script.kind == "checkin")
    elif step.sets == "job_support" and ctx.job is not None:
        log.set_job_support(ctx.job, value)
    elif step.sets == "help_needed" and ctx.job is not None:
        log.set_help_needed(ctx.job, value)
    log.save()
    return None


@handles("choose")
def choose(engine: Engine, step: S.Choose, ctx: Ctx) -> Run:
    key = engine.key(step.id, ctx)
    if engine.skip(key, ctx.person):
        return engine.resumed_outcome(key, ctx.person)
    options: list[S.Option] = engine.shuffled(step.options, step.shuffle)
    phrases: dict[str, str] = {}
    for o in options:
        for phrase in (o.label, *o.also):
            phrases.setdefault(normalise(phrase), o.value)
    by_value = {o.value: o for o in options}
    help_text = " ".join(x for x in (P.HELP["choose"], engine.opt(step.help, ctx)) if x)
    yield from engine.say_turn(
        f"{engine.render(step.text, ctx)} {P.CHOOSE_INTRO}", key, ctx.person, "choose"
    )
    for round_ in range(2):
        if round_:
            yield from engine.say_turn(P.CHOOSE_AGAIN, key, ctx.person, "choose")
        for option in options:
            label = engine.render(option.label, ctx)
            t = Turn(
                P.CHOOSE_OPTION.format(label=label),
                key,
                ctx.person,
                help_text,
                buttons=YES_NO_NEXT,
                phrases=phrases,
            )
            reply = yield from engine.turn(t)
            chosen: S.Option | None = None
            if reply.value == "yes":
                chosen = option
            elif reply.value in by_value:
                chosen = by_value[reply.value]
            if chosen is not None:
                engine.log.answer(key, t, "choice", reply, value=chosen.value)
                yield from engine.say_turn(
                    P.CHOSE.format(label=engine.render(chosen.label, ctx)), key, ctx.person
                )
                return None
    t = Turn(step.text, key, ctx.person, help_text)
    engine.log.answer(key, t, "choice", Reply("next", "button"), passed=True)
    yield from engine.say_turn(passed_words(ctx), key, ctx.person)
    return "passed"


def _checked_back(
    engine: Engine, said: str, key: str, ctx: Ctx, answer: Answer
) -> Generator[None, Event, str]:
    """Say *said* back as a yes/no question, counted only once heard whole; a yes confirms
    *answer* (by voice or button). The reply's value: yes, no or next."""
    check = Turn(
        f"{said} {P.YES_NO}", key, ctx.person, P.HELP["read_back"], buttons=YES_NO_NEXT, whole=True
    )
    sure = yield from engine.turn(check)
    if sure.value == "yes":
        engine.log.confirm(answer, "voice" if sure.by == "voice" else "button")
    return sure.value
