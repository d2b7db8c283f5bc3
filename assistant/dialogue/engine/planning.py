"""Handlers for plans and reviews: plan_item (makes jobs), review (earlier items one at a time),
read_back (the ideas, the goal or the plan, read out and checked)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from datetime import date, timedelta

from assistant.core.events import Event
from assistant.core.record import Idea, Job, Person
from assistant.core.words import normalise
from assistant.dialogue import prompts as P
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Run, Turn, handles
from assistant.dialogue.engine.kernel import Engine, utterances, words_in
from assistant.dialogue.engine.questions import (
    YES_NO_NEXT,
    free,
    open_choices,
    scale_turn,
    with_supporter,
    yes_no,
)


@handles("plan_item")
def plan_item(engine: Engine, step: S.PlanItem, ctx: Ctx) -> Run:
    log = engine.log
    person = ctx.person
    if person is None:  # a job reviewed while its owner is not here: no new job for them
        return None
    base = engine.key(step.id, ctx)
    for i in range(step.max_items):
        suffix = "" if i == 0 else f".{i + 1}"
        what_key = f"{base}.what{suffix}"
        job: Job | None = None
        if engine.skip(what_key, person):
            if i == 0 and engine.resumed_outcome(what_key, person) == "passed":
                return "passed"
            done = log.latest(what_key, person)
            job = next(
                (
                    j
                    for j in engine.record.jobs
                    if done is not None and j.person_id == person.id and j.what == done.transcript
                ),
                None,
            )
        else:
            question = engine.render(step.what, ctx)
            strengths = log.strengths_of(person) if step.offer_strengths and i == 0 else []
            if strengths:
                said = " and ".join(x.text for x in strengths[-2:])
                offer = P.STRENGTH_OFFER.format(person=person.name, strength=said)
                question = f"{offer} {question}"
            answer = yield from free(
                engine, what_key, question, ctx, choices=open_choices(engine, step, ctx)
            )
            if answer is None:
                return "passed" if i == 0 else None
            goal = log.goal_for(person)
            goal_id = goal.id if goal else None
            # Empty only when the person's own recording is kept as the answer (free()).
            what = answer.transcript.strip() or "(see the recording)"
            lesson = None
            if step.lesson:  # a job that comes from a lesson in a review of jobs
                found = log.latest(engine.key(step.lesson, ctx), person)
                lesson = found.id if found is not None and not found.passed else None
            if ctx.job is not None:
                goal_id = ctx.job.goal_id or goal_id
            job = log.add_job(
                person,
                what,
                goal_id,
                from_job=ctx.job.id if ctx.job is not None else None,
                lesson=lesson,
                from_answer=answer.id,
            )
            log.save()
            if ctx.job is not None:
                yield from engine.say_turn(P.NEW_JOB_SAID.format(what=what), what_key, person)
        if job is None:
            continue
        jctx = replace(ctx, job=job, passes=None)
        if step.when and step.when_choices:
            yield from when_choices(engine, f"{base}.when{suffix}", step.when, job, ctx)
        elif step.when:
            when_key = f"{base}.when{suffix}"
            if not engine.skip(when_key, person):
                when = yield from free(
                    engine,
                    when_key,
                    engine.render(step.when, jctx),
                    ctx,
                    choices=with_supporter(WHEN_OPTIONS[:3]),  # said, or chosen
                )
                if when is not None and when.transcript.strip():
                    words = when.transcript.strip()
                    log.set_job_when(job, words.lower() if when.kind == "choice" else words)
                    if when.kind == "choice" and when.value in DAYS_TO:
                        log.set_job_due(job, due_date(engine, when.value))
                    log.save()
        if step.support:
            support_key = f"{base}.support{suffix}"
            if not engine.skip(support_key, person):
                value, _ = yield from scale_turn(
                    engine,
                    support_key,
                    engine.render(step.support, jctx),
                    "support",
                    ctx,
                    shuffle=True,
                )
                if value is not None:  # None: passed
                    log.set_job_support(job, value)
                    log.save()
        if step.who_helps and job.support != "myself":
            yield from who_helps(engine, step, f"{base}.helper{suffix}", job, ctx)
        if step.more and i + 1 < step.max_items:
            more_key = f"{base}.more{suffix}"
            if engine.skip(more_key, person):
                more = log.latest(more_key, person)
                if more is None or more.value != "yes":
                    break
                continue
            reply, t = yield from yes_no(
                engine, more_key, engine.render(step.more, jctx), ctx, P.HELP["confirm"]
            )
            log.answer(more_key, t, "short", reply, value=reply.value)
            if reply.value != "yes":
                break
    return None


def helper_choices(engine: Engine, person: Person) -> list[tuple[str, str]]:
    """Who may help, one at a time: their own supporter, the staff member here, then others
    in the group (at most three, then "My supporter will answer with me")."""
    names = [person.supporter] if person.supporter else []
    names.append(engine.staff_cap())
    names += [p.name for p in engine.record.people if p.id != person.id]
    return with_supporter([(n, n) for n in names if n])


def who_helps(engine: Engine, step: S.PlanItem, key: str, job: Job, ctx: Ctx) -> Run:
    """Who will help with the job, and with what part (their words or a choice)."""
    log = engine.log
    person = ctx.person
    assert person is not None and step.who_helps is not None
    jctx = replace(ctx, job=job, passes=None)
    if not engine.skip(key, person):
        answer = yield from free(
            engine,
            key,
            engine.render(step.who_helps, jctx),
            ctx,
            choices=helper_choices(engine, person),
        )
        if answer is not None and answer.transcript.strip():
            log.set_job_helper(job, answer.transcript.strip())
            log.save()
    with_key = f"{key}.with"
    if step.help_with and job.helper and not engine.skip(with_key, person):
        answer = yield from free(
            engine,
            with_key,
            engine.render(step.help_with, jctx),
            ctx,
            choices=with_supporter([(x, x) for x in P.HELP_WITH_CHOICES]),
        )
        if answer is not None and answer.transcript.strip():
            words = answer.transcript.strip()
            log.set_job_help_with(job, words.lower() if answer.kind == "choice" else words)
            log.save()
    return None


@handles("share_jobs")
def share_jobs(engine: Engine, step: S.ShareJobs, ctx: Ctx) -> Run:
    """Everyone here has a part: a person with no job is offered one from the list that nobody
    has, or to do someone's job with them (one offer at a time, yes or no); then each job of
    the list that nobody has is offered to the group."""
    log = engine.log
    r = engine.record
    base = engine.key(step.id, ctx)
    for person in list(r.people):
        if any(j.belongs_to(person.id) for j in r.jobs) and not engine.resuming:
            continue
        pctx = replace(ctx, person=person, passes=None)
        offers: list[tuple[str, Job | None]] = [(what, None) for what in _nobodys(engine, step)]
        offers += [(j.what, j) for j in r.jobs if not j.belongs_to(person.id)]
        offers = offers[: step.max_offers]
        took = declined = False
        for n, (what, job) in enumerate(offers):
            okey = f"{base}/{person.id}.{n + 1}"
            if engine.skip(okey, person):
                took = took or log.value(okey, person) == "yes"
                declined = True
                continue
            if took or any(j.belongs_to(person.id) for j in r.jobs):
                break
            owner = log.person(job.person_id) if job is not None else None
            offer = (
                P.SHARE_FREE_JOB.format(what=what)
                if job is None
                else P.SHARE_WITH.format(owner=owner.name if owner else P.SOMEONE, what=what)
            )
            if n == 0:
                offer = f"{P.SHARE_NO_JOB.format(person=person.name)} {offer}"
            reply, t = yield from yes_no(engine, okey, offer, pctx, P.HELP["confirm"])
            log.answer(okey, t, "short", reply, value=reply.value)
            declined = True
            if reply.value != "yes":
                continue
            took = True
            if job is None:
                goal = log.goal_for(person)
                log.add_job(person, what, goal.id if goal else None)
                said = P.SHARE_TAKEN.format(person=person.name, what=what)
            else:
                log.share_job(job, person)
                said = P.SHARE_JOINED.format(person=person.name, owner=owner.name if owner else "")
            log.save()
            yield from engine.say_turn(said, okey, person)
        if declined and not took and not engine.resuming:
            said = P.SHARE_NONE.format(person=person.name, staff=engine.staff_cap())
            yield from engine.say_turn(said, base, person)
    for n, what in enumerate(_nobodys(engine, step)):
        yield from _offer_to_group(engine, f"{base}.nobody.{n + 1}", what, ctx)
    return None


def _nobodys(engine: Engine, step: S.ShareJobs) -> list[str]:
    """The jobs of the step's list that nobody has yet: a job is someone's when its words
    hold every word of the list's ("make posters" is in "I will make the posters")."""
    held = [set(normalise(j.what).split()) for j in engine.record.jobs]
    return [
        what
        for what in step.jobs
        if not any(set(normalise(what).split()) <= words for words in held)
    ]


def _offer_to_group(engine: Engine, key: str, what: str, ctx: Ctx) -> Run:
    """ "Nobody has this job yet: ... Will someone take it?" Then one person at a time (those
    with fewest jobs first) until someone says yes."""
    log = engine.log
    r = engine.record
    bare = replace(ctx, person=None, passes=None)
    if engine.skip(key, None):
        if log.value(key, None) != "yes":
            return None
    else:
        reply, t = yield from yes_no(
            engine, key, P.NOBODY_HAS.format(what=what), bare, P.HELP["confirm"]
        )
        log.answer(key, t, "short", reply, value=reply.value, person=None)
        if reply.value != "yes":
            yield from engine.say_turn(P.LEFT_FOR_NOW, key, None)
            return None
    order = sorted(r.people, key=lambda p: sum(1 for j in r.jobs if j.belongs_to(p.id)))
    for person in order:
        wkey = f"{key}/{person.id}"
        if engine.skip(wkey, person):
            if log.value(wkey, person) == "yes":
                return None
            continue
        pctx = replace(ctx, person=person, passes=None)
        reply, t = yield from yes_no(
            engine, wkey, P.WHO_TAKES.format(person=person.name), pctx, P.HELP["confirm"]
        )
        log.answer(wkey, t, "short", reply, value=reply.value)
        if reply.value == "yes":
            goal = log.goal_for(person)
            log.add_job(person, what, goal.id if goal else None)
            log.save()
            said = P.SHARE_TAKEN.format(person=person.name, what=what)
            yield from engine.say_turn(said, wkey, person)
            return None
    yield from engine.say_turn(P.LEFT_FOR_NOW, key, None)
    return None


@handles("strengths")
def strengths(engine: Engine, step: S.Strengths, ctx: Ctx) -> Run:
    """What the person is good at: their own words, kept as their strengths and read back."""
    person = ctx.person
    if person is None:
        return None
    key = engine.key(step.id, ctx)
    if engine.skip(key, person):
        return engine.resumed_outcome(key, person)
    answer = yield from free(
        engine,
        key,
        engine.render(step.text, ctx),
        ctx,
        help_extra=engine.opt(step.help, ctx),
        choices=open_choices(engine, step, ctx),
    )
    if answer is None:
        return "passed"
    text = answer.transcript.strip()
    if text:
        engine.log.add_strength(person, text, answer.id)
        engine.log.save()
        kept = P.STRENGTH_KEPT.format(person=person.name, strength=text)
        yield from engine.say_turn(kept, key, person)
    return None


WHEN_OPTIONS = (
    ("today", P.WHEN_TODAY),
    ("this_week", P.WHEN_THIS_WEEK),
    ("next_week", P.WHEN_NEXT_WEEK),
    ("another_time", P.WHEN_ANOTHER),
)


DAYS_TO = ("today", "this_week", "next_week")


def due_date(engine: Engine, choice: str) -> date:
    """The date a job chosen for *choice* (today, this week, next week) is due."""
    today = engine.now().date()
    days = {"today": 0, "this_week": 6 - today.weekday(), "next_week": 7 - today.weekday()}
    return today + timedelta(days=days[choice])


def when_choices(
    engine: Engine, key: str, question: str, job: Job, ctx: Ctx
) -> Generator[None, Event, bool]:
    """When, as choices (today, this week, next week, another time); kept as words and a date.
    Returns whether a when was given (a pass gives none)."""
    log = engine.log
    bare = replace(ctx, job=None, idea=None, passes=None)
    if engine.skip(key, ctx.person):
        return False
    choose = S.Choose(
        type="choose",
        id=key,
        text=engine.render(question, replace(ctx, job=job)),
        shuffle=False,
        options=tuple(S.Option(value=v, label=label) for v, label in WHEN_OPTIONS),
    )
    yield from engine.step(choose, bare)
    chosen = log.latest(key, ctx.person)
    if chosen is None or chosen.passed or not chosen.value:
        return False
    if chosen.value == "another_time":
        said = yield from free(engine, f"{key}.say", P.WHEN_SAY, bare)
        words = said.transcript.strip() if said is not None else ""
        log.set_job_when(job, words or P.WHEN_ANOTHER.lower())
        log.set_job_due(job, None)
    else:
        log.set_job_when(job, dict(WHEN_OPTIONS)[chosen.value].lower())
        log.set_job_due(job, due_date(engine, chosen.value))
    log.save()
    return True


@handles("new_date")
def new_date(engine: Engine, step: S.NewDate, ctx: Ctx) -> Run:
    """A new day for the job under review; kept with its latest status update."""
    job = ctx.job
    if job is None:  # validation puts new_date inside a review of jobs
        return None
    given = yield from when_choices(engine, engine.key(step.id, ctx), step.text, job, ctx)
    if given:
        engine.log.new_job_date(job)
        engine.log.save()  # "You chose: Next week." (or "I heard: ...") said it back already
    return None


def _owner_name(engine: Engine, person_id: str | None) -> str:
    owner = engine.log.person(person_id)
    return owner.name if owner else P.AGENDA_GROUP


@handles("agenda")
def agenda(engine: Engine, step: S.Agenda, ctx: Ctx) -> Run:
    """Each person present adds what they want to talk about; read back and kept."""
    log = engine.log
    if step.intro and not engine.resuming:
        yield from engine.say_turn(engine.render(step.intro, ctx), step.id, ctx.person)
    people = [ctx.person] if ctx.person is not None else list(engine.record.people)
    for person in people:
        pctx = replace(ctx, person=person, passes=None)
        key = engine.key(step.id, pctx)
        if engine.skip(key, person):
            continue
        answer = yield from free(
            engine,
            key,
            engine.render(step.text, pctx),
            pctx,
            help_extra=engine.opt(step.help, pctx),
            choices=open_choices(engine, step, pctx),
        )
        if answer is not None and answer.transcript.strip():
            log.add_agenda_item(person, answer.transcript.strip(), answer.id)
            log.save()
    if engine.resuming:
        return None
    items = engine.record.agenda
    if not items:
        yield from engine.say_turn(P.AGENDA_EMPTY, step.id, None)
        return None
    lines = [P.AGENDA_INTRO]
    for item in items:
        name = _owner_name(engine, item.person_id)
        lines.append(P.AGENDA_LINE.format(person=name, topic=item.text))
    for part in utterances(" ".join(lines)):
        yield from engine.say_turn(part, step.id, None, "read_back")
    return None


def _agenda_review(engine: Engine, step: S.Review, ctx: Ctx) -> Run:
    items = list(engine.record.agenda)
    if not items:
        if step.empty and not engine.resuming:
            yield from engine.say_turn(engine.render(step.empty, ctx), step.id, ctx.person)
        return None
    if step.intro and not engine.resuming:
        yield from engine.say_turn(engine.render(step.intro, ctx), step.id, ctx.person)
    for n, item in enumerate(items):
        owner = engine.log.person(item.person_id)
        words = P.AGENDA_FIRST if n == 0 else P.AGENDA_NEXT
        if not engine.resuming:
            said = words.format(person=_owner_name(engine, item.person_id), topic=item.text)
            yield from engine.say_turn(said, step.id, owner)
        yield from engine.run(step.steps, replace(ctx, person=owner or ctx.person))
    return None


@handles("review")
def review(engine: Engine, step: S.Review, ctx: Ctx) -> Run:
    if step.items == "agenda":
        return (yield from _agenda_review(engine, step, ctx))
    jobs = engine.record.jobs
    items: list[Job] | list[Idea]
    if step.items == "ideas":
        items = engine.shuffled(engine.record.ideas, True)
    elif step.items == "my_jobs":
        items = [j for j in jobs if ctx.person is not None and j.belongs_to(ctx.person.id)]
    elif step.items == "jobs_not_going_well":
        items = [j for j in jobs if j.status == "not_going_well"]
    else:
        items = list(jobs)
    if not items:
        if step.empty and not engine.resuming:
            yield from engine.say_turn(engine.render(step.empty, ctx), step.id, ctx.person)
        return None
    if step.intro and not engine.resuming:
        yield from engine.say_turn(engine.render(step.intro, ctx), step.id, ctx.person)
    for item in items:
        if isinstance(item, Idea):
            sub = replace(ctx, idea=item)
        else:
            owner = ctx.person
            if owner is None:  # a group's job is answered for its owner, when present
                owner = next((p for p in engine.record.people if p.id == item.person_id), None)
            sub = replace(ctx, job=item, person=owner)
        yield from engine.run(step.steps, sub)
    return None


def summary(engine: Engine, of: str, ctx: Ctx) -> str:
    """What a read-back says: the ideas, the goal, the group's plan or the person's own."""
    log = engine.log
    r = engine.record
    lines: list[str] = []
    if of == "ideas":
        if not r.ideas:
            return P.NO_IDEAS
        lines.append(P.IDEAS_INTRO)
        for idea in r.ideas:
            source = log.answer_by_id(idea.from_answer)
            owner = log.person(source.person_id) if source else None
            lines.append(
                P.IDEA_LINE.format(person=owner.name if owner else "Someone", idea=idea.text)
            )
        return " ".join(lines)
    mine = of == "my_plan"
    goal = log.goal_for(ctx.person if mine else None)
    if of == "goal":
        return (
            P.GOAL_LINE.format(goal=goal.text)
            if goal
            else P.GOAL_NO_IDEAS.format(staff=engine.staff_cap())
        )
    lines.append(P.PLAN_INTRO)
    if goal:
        lines.append((P.MY_GOAL_LINE if mine else P.GOAL_LINE).format(goal=goal.text))
    for job in r.jobs:
        if mine and ctx.person is not None and not job.belongs_to(ctx.person.id):
            continue
        lines.append(_job_lines(engine, job, mine))
    if r.next_meeting and not mine:
        lines.append(P.NEXT_MEETING_LINE.format(when=r.next_meeting))
    return " ".join(lines)


def _job_lines(engine: Engine, job: Job, mine: bool) -> str:
    """One job read back: the person's own words quoted as theirs, when, and the support."""
    log = engine.log
    owner = log.person(job.person_id)
    if mine:
        lines = [P.MY_JOB_LINE.format(what=job.what)]
    else:
        name = owner.name if owner else P.SOMEONE
        lines = [P.JOB_LINE.format(person=name, what=job.what)]
    others = [x.name for x in (log.person(pid) for pid in job.shared_with) if x is not None]
    if others:
        lines.append(P.SHARED_LINE.format(people=" and ".join(others)))
    if job.when:
        lines.append(P.WHEN_LINE.format(when=job.when))
    if job.support:
        lines.append(P.SUPPORT_LINE[job.support])
    if job.helper:
        lines.append(P.HELPER_LINE.format(helper=job.helper))
        if job.help_with:
            lines.append(P.HELP_WITH_LINE.format(what=job.help_with))
    return " ".join(lines)


def _plan_read_back(engine: Engine, step: S.ReadBack, ctx: Ctx, key: str) -> Run:
    """The plan read back in parts: the goal, then each job checked by its own person ("Sam
    said: make the posters. When: Tuesday. With a little help. Sam, is that right?"), so no
    long read-back is confirmed by one press from anyone."""
    log = engine.log
    r = engine.record
    mine = step.of == "my_plan"
    goal = log.goal_for(ctx.person if mine else None)
    jobs = [
        j
        for j in r.jobs
        if not (mine and ctx.person is not None and not j.belongs_to(ctx.person.id))
    ]
    if not engine.resuming:
        intro = [engine.opt(step.text, ctx), P.PLAN_INTRO]
        if goal:
            intro.append((P.MY_GOAL_LINE if mine else P.GOAL_LINE).format(goal=goal.text))
        for part in utterances(" ".join(x for x in intro if x)):
            yield from engine.say_turn(part, step.id, ctx.person, "read_back")
    wrong = 0
    for job in jobs:
        jkey = f"{key}/{job.id}"
        owner = ctx.person if mine else next((p for p in r.people if p.id == job.person_id), None)
        if engine.skip(jkey, owner):
            continue
        check = (
            P.IS_THAT_RIGHT
            if mine or owner is None
            else (f"{P.JOB_CHECK.format(person=owner.name)} {P.YES_NO}")
        )
        said = _job_lines(engine, job, mine)
        if words_in(f"{said} {check}") + 3 > P.MAX_UTTERANCE_WORDS:  # + "I'm listening now."
            for part in utterances(said):  # the job first, then the question on its own
                yield from engine.say_turn(part, jkey, owner, "read_back")
            said = ""
        t = Turn(
            f"{said} {check}".strip(),
            jkey,
            owner,
            P.HELP["read_back"],
            buttons=YES_NO_NEXT,
            whole=True,  # confirmed only once it was all heard
        )
        reply = yield from engine.turn(t)
        engine.log.answer(jkey, t, "short", reply, value=reply.value, person=owner)
        if reply.value == "no":
            wrong += 1
            engine.log.flag("other", P.PLAN_WRONG_REASON.format(what="job: " + job.what), owner)
            yield from engine.say_turn(P.PLAN_WRONG.format(staff=engine.staff_cap()), jkey, owner)
    if engine.resuming:
        return None
    if r.next_meeting and not mine:
        said = P.NEXT_MEETING_LINE.format(when=r.next_meeting)
        yield from engine.say_turn(said, step.id, ctx.person, "read_back")
    if not wrong:
        yield from engine.say_turn(P.PLAN_RIGHT, key, ctx.person)
    return None


@handles("read_back")
def read_back(engine: Engine, step: S.ReadBack, ctx: Ctx) -> Run:
    key = engine.key(step.id, ctx)
    jobs = [
        j
        for j in engine.record.jobs
        if step.of == "plan" or (ctx.person is not None and j.belongs_to(ctx.person.id))
    ]
    if step.confirm and step.of in ("plan", "my_plan") and jobs:
        return (yield from _plan_read_back(engine, step, ctx, key))
    if step.confirm and engine.skip(key, ctx.person):
        return None
    if not step.confirm and engine.resuming:
        return None
    intro = engine.opt(step.text, ctx)
    said = " ".join(x for x in (intro, summary(engine, step.of, ctx)) if x)
    if not step.confirm:
        for part in utterances(said):
            yield from engine.say_turn(part, step.id, ctx.person, "read_back")
        return None
    t = Turn(
        f"{said} {P.IS_THAT_RIGHT}",
        key,
        ctx.person,
        P.HELP["read_back"],
        buttons=YES_NO_NEXT,
        whole=True,  # confirmed only once it was all heard
    )
    reply = yield from engine.turn(t)
    engine.log.answer(key, t, "short", reply, value=reply.value, person=ctx.person)
    if reply.value == "yes":
        yield from engine.say_turn(P.PLAN_RIGHT, key, ctx.person)
    elif reply.value == "no":
        engine.log.flag(
            "other", P.PLAN_WRONG_REASON.format(what=step.of.replace("_", " ")), ctx.person
        )
        yield from engine.say_turn(P.PLAN_WRONG.format(staff=engine.staff_cap()), key, ctx.person)
    return None
