"""Handlers for the questions: ask (own words, read back), confirm (yes/no), scale, choose.

Also the question turns other families use: :func:`free`, :func:`yes_no` and :func:`scale_turn`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

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

SUPPORTER = "with_supporter"
"""The value of the choice "My supporter will answer with me" (at every open question)."""

Choice = tuple[str, str]
"""(value, label) of one thing offered at an open question or a choose step."""


def offer(
    engine: Engine,
    key: str,
    ctx: Ctx,
    options: Sequence[Choice],
    *,
    help_text: str,
    phrases: dict[str, str] | None = None,
    last_passes: bool = False,
    first: str = "",
    rounds: int = 3,
) -> Generator[None, Event, tuple[str | None, Reply | None, Turn | None]]:
    """Offer *options* one at a time: green chooses, yellow is the next one. After the last:
    "To hear them again, press green. To pass, press yellow." (with *last_passes*, yellow at
    the last option is the pass itself). Returns the chosen value (None: passed), the reply
    and the turn it was chosen at."""
    said = dict(phrases or {})
    for value, label in options:
        said.setdefault(normalise(label), value)
    t: Turn | None = None
    for round_ in range(rounds):
        if round_:
            yield from engine.say_turn(P.CHOOSE_AGAIN, key, ctx.person, "choose")
        for n, (value, label) in enumerate(options):
            last = last_passes and n == len(options) - 1
            words = P.CHOOSE_LAST if last else P.CHOOSE_OPTION
            t = Turn(
                words.format(label=label).replace(f"For {label},", f"For {inside(label)},"),
                key,
                ctx.person,
                help_text,
                buttons=YES_NO_NEXT,
                phrases=said,
                first=first if (n == 0 and round_ == 0) else "",
            )
            reply = yield from engine.turn(t)
            if reply.value == "yes":
                return value, reply, t
            if reply.value in said.values() and reply.value not in ("next", "no"):
                return reply.value, reply, t
        if last_passes:
            return None, None, t
        again = Turn(P.CHOOSE_ROUND, key, ctx.person, help_text, buttons=frozenset({"yes", "next"}))
        reply = yield from engine.turn(again)
        if reply.value != "yes":
            return None, reply, t
    return None, None, t


def inside(label: str) -> str:
    """*label* inside a sentence ("For next week, ..."): its capital dropped, but not "I"."""
    first = label.split(" ", 1)[0]
    if first in ("I", "I'm", "I've") or first[1:2].isupper():
        return label
    return label[:1].lower() + label[1:]


def with_supporter(choices: Sequence[Choice]) -> list[Choice]:
    """The choices of an open question, at most three, then "My supporter will answer with me"."""
    out: list[Choice] = []
    seen: set[str] = set()
    for value, label in choices:
        name = normalise(label)
        if name and name not in seen and len(out) < S.MAX_OPTIONS - 1:
            seen.add(name)
            out.append((value, label))
    return [*out, (SUPPORTER, P.WITH_SUPPORTER)]


def open_choices(engine: Engine, step: S.BaseStep, ctx: Ctx) -> list[Choice]:
    """What an open question offers to choose from: earlier answers of the session named by
    ``choices_from`` first, then the script's own ``choices`` (at most three in all), then
    "My supporter will answer with me"."""
    found: list[Choice] = []
    source = getattr(step, "choices_from", None)
    log = engine.log
    if source == "ideas":
        found += [(i.text, i.text) for i in engine.record.ideas]
    elif source == "jobs":
        found += [(j.what, j.what) for j in engine.record.jobs]
    elif source == "strengths" and ctx.person is not None:
        found += [(x.text, x.text) for x in log.strengths_of(ctx.person)]
    elif source:
        for a in engine.record.answers:
            if a.step_id.split("/")[0] == source and not (a.passed or a.rejected):
                words = a.transcript.strip()
                if words:
                    found.append((words, words))
    for option in getattr(step, "choices", ()) or ():
        found.append((option.value, engine.render(option.label, ctx)))
    return with_supporter(found)


def free(
    engine: Engine,
    key: str,
    question: str,
    ctx: Ctx,
    *,
    read_back: bool = True,
    help_extra: str = "",
    choices: Sequence[Choice] = (),
) -> Generator[None, Event, Answer | None]:
    """A free answer with read-back. None when the person passed, or said no to the read-back
    twice (a rejected answer is never the answer: it is kept only as a rejected try).

    Every open question can also be answered without speaking: yellow goes on to its
    *choices* (always ending "My supporter will answer with me"), offered one at a time. A
    choice is the answer (kind ``choice``, its words as the answer's words). The supporter's
    choice asks again, and the answer given then is kept ``with_support``. If nothing was
    heard twice, the person's recording is the answer when they agreed to keep it (staff
    listen to it); without a recording, the choices are offered instead."""
    log = engine.log
    options = list(choices) or with_supporter(())
    help_text = " ".join(x for x in (P.HELP["ask"], help_extra) if x)
    misses = 0
    rejections = 0
    previous: Answer | None = None
    first = ""
    supported = False
    offered_after_miss = False
    while True:
        hint = P.TO_PASS if supported else P.YELLOW_CHOICES
        t = Turn(
            f"{question} {hint} {P.LISTENING}",
            key,
            ctx.person,
            f"{help_text} {hint}",
            role="free",
            buttons=frozenset({"next", "no"}),
            first=first,
        )
        reply = yield from engine.turn(t)
        # Red at an open question: nothing to say now, a pass in one press (yellow goes through
        # the choices first). Said in the help; a spoken "no" is an answer.
        red = reply.value == "no" and reply.by == "button"
        chose_now = False
        if reply.value == "next" and not supported:
            value, chosen, at = yield from offer(
                engine, key, ctx, options, help_text=P.HELP["choose"]
            )
            if value == SUPPORTER:
                supported = True
                who = ctx.person.name if ctx.person else None
                first = P.SUPPORTER_GO.format(person=who) if who else P.SUPPORTER_GO_NONAME
                continue
            if value is not None and chosen is not None and at is not None:
                label = dict(options)[value]
                answer = log.answer(
                    key,
                    at,
                    "choice",
                    chosen,
                    value=value,
                    words=label,
                    question=question,
                    supersedes=previous.id if previous else None,
                )
                chose_now = True
                yield from engine.say_turn(P.CHOSE.format(label=label), key, ctx.person)
                return answer
        if (red or reply.value == "next") and not chose_now:
            log.answer(
                key,
                t,
                "free",
                reply if reply.by != "none" else None,
                passed=True,
                attempts=misses + 1,
                supersedes=previous.id if previous else None,
                with_support=supported,
            )
            yield from engine.say_turn(passed_words(ctx), key, ctx.person)
            return None
        answer = log.answer(
            key,
            t,
            "free",
            reply,
            attempts=misses + 1,
            supersedes=previous.id if previous else None,
            with_support=supported,
        )
        previous = answer
        if not answer.transcript.strip():
            misses += 1
            if misses >= 2:
                if has_recording(engine, reply, ctx.person):
                    yield from engine.say_turn(P.KEPT_RECORDING, key, ctx.person)
                    return answer
                if not offered_after_miss and not supported:
                    # Nothing heard and no recording: the buttons instead (never an empty
                    # answer, and never "see the recording" when there is none).
                    offered_after_miss = True
                    value, chosen, at = yield from offer(
                        engine, key, ctx, options, help_text=P.HELP["choose"], first=P.NO_RECORDING
                    )
                    if value == SUPPORTER:
                        supported = True
                        who = ctx.person.name if ctx.person else None
                        first = P.SUPPORTER_GO.format(person=who) if who else P.SUPPORTER_GO_NONAME
                        misses = 0
                        continue
                    if value is not None and chosen is not None and at is not None:
                        label = dict(options)[value]
                        chosen_answer = log.answer(
                            key,
                            at,
                            "choice",
                            chosen,
                            value=value,
                            words=label,
                            question=question,
                            supersedes=answer.id,
                        )
                        yield from engine.say_turn(P.CHOSE.format(label=label), key, ctx.person)
                        return chosen_answer
                log.answer(key, t, "free", None, passed=True, attempts=misses, supersedes=answer.id)
                yield from engine.say_turn(passed_words(ctx), key, ctx.person)
                return None
            first = P.NOT_CAUGHT
            continue
        if not read_back:
            return answer
        said = P.I_HEARD.format(text=answer.transcript)
        sure = yield from _checked_back(engine, said, key, ctx, answer)
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


def has_recording(engine: Engine, reply: Reply, person: Person | None) -> bool:
    """Whether the person's own recording of this answer is kept (they agreed and, in a group,
    everyone present did; and there is audio): then it can stand as the answer when nothing
    could be made out."""
    heard = reply.heard
    return (
        heard is not None
        and bool(heard.audio_path)
        and person is not None
        and engine.log.audio_allowed(person)
    )


def passed_words(ctx: Ctx) -> str:
    return P.PASSED if ctx.passes is not None else P.PASSED_FINAL


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
) -> Generator[None, Event, tuple[str | None, Answer]]:
    """A three-point scale: the two ends on green and red (read in a varying order), yellow for
    the next one: the middle point alone ("Not sure. For not sure, press green. To pass, press
    yellow."), where yellow passes. Yellow never is the middle point itself. Any point can be
    said. The answer (or the pass, value None) is kept.

    For a person whose setting is a two-point scale, only its two ends: yellow passes at once."""
    points = S.SCALES[scale]
    two = two_points(ctx.person)
    used = [0, 2] if two else [0, 1, 2]
    phrases: dict[str, str] = {}
    for value, words in (points[i] for i in used):
        for phrase in (words, *S.SCALE_SYNONYMS.get(value, ())):
            phrases.setdefault(normalise(phrase), value)
    ends = engine.shuffled([0, 2], shuffle)
    said = " ".join(f"For {points[i][1]}, {P.PRESS[ANSWER_BUTTONS[i]]}." for i in ends)
    help_text = " ".join(x for x in (P.HELP["scale"], help_extra) if x)
    t = Turn(
        f"{question} {said} {P.TO_PASS if two else P.SCALE_NEXT}",
        key,
        ctx.person,
        help_text,
        buttons=frozenset(ANSWER_BUTTONS),
        values={"yes": points[0][0], "no": points[2][0]},
        voice=frozenset(),
        phrases=phrases,
        first=first,
    )
    reply = yield from engine.turn(t)
    if reply.value == "next" and two:
        answer = engine.log.answer(key, t, "scale", reply, passed=True, question=question)
        return None, answer
    if reply.value == "next":
        middle_value, middle = points[1]
        t = Turn(
            P.SCALE_MIDDLE.format(point=middle[:1].upper() + middle[1:], label=middle),
            key,
            ctx.person,
            help_text,
            buttons=frozenset({"yes", "next"}),
            values={"yes": middle_value},
            voice=frozenset(),
            phrases=phrases,
        )
        reply = yield from engine.turn(t)
        if reply.value == "next":
            answer = engine.log.answer(key, t, "scale", reply, passed=True, question=question)
            return None, answer
    answer = engine.log.answer(key, t, "scale", reply, value=reply.value, question=question)
    return reply.value, answer


def two_points(person: Person | None) -> bool:
    """Whether *person* answers scales on two points (their setting)."""
    return person is not None and person.scale_points == 2


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
        choices=open_choices(engine, step, ctx),
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
        if value is None:  # passed (yellow, then yellow again): never the middle point
            yield from engine.say_turn(P.PASSED_SCALE, key, ctx.person)
            return "passed" if ctx.passes is not None else None
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
        log.set_job_status(
            ctx.job, value, answer.id, checkin=engine.script.kind == "checkin", person=person
        )
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
    value, reply, t = yield from offer(
        engine,
        key,
        ctx,
        [(o.value, engine.render(o.label, ctx)) for o in options],
        help_text=help_text,
        phrases=phrases,
    )
    if value is not None and reply is not None and t is not None:
        chosen = by_value[value]
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
