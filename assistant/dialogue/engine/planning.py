"""Handlers for plans and reviews: plan_item (makes jobs), review (earlier items one at a time),
read_back (the ideas, the goal or the plan, read out and checked)."""

from __future__ import annotations

from dataclasses import replace

from assistant.core.record import Idea, Job
from assistant.dialogue import prompts as P
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Run, Turn, handles
from assistant.dialogue.engine.kernel import Engine
from assistant.dialogue.engine.questions import YES_NO_NEXT, free, scale_turn, yes_no


@handles("plan_item")
def plan_item(engine: Engine, step: S.PlanItem, ctx: Ctx) -> Run:
    log = engine.log
    person = ctx.person
    assert person is not None
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
            answer = yield from free(engine, what_key, engine.render(step.what, ctx), ctx)
            if answer is None:
                return "passed" if i == 0 else None
            goal = log.goal_for(person)
            what = answer.transcript.strip() or "(see the recording)"
            job = log.add_job(person, what, goal.id if goal else None)
            log.save()
        if job is None:
            continue
        jctx = replace(ctx, job=job, passes=None)
        if step.when:
            when_key = f"{base}.when{suffix}"
            if not engine.skip(when_key, person):
                when = yield from free(engine, when_key, engine.render(step.when, jctx), ctx)
                if when is not None and when.transcript.strip():
                    log.set_job_when(job, when.transcript.strip())
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
                log.set_job_support(job, value)
                log.save()
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


@handles("review")
def review(engine: Engine, step: S.Review, ctx: Ctx) -> Run:
    jobs = engine.record.jobs
    items: list[Job] | list[Idea]
    if step.items == "ideas":
        items = engine.shuffled(engine.record.ideas, True)
    elif step.items == "my_jobs":
        items = [j for j in jobs if ctx.person is not None and j.person_id == ctx.person.id]
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
        if mine and ctx.person is not None and job.person_id != ctx.person.id:
            continue
        owner = log.person(job.person_id)
        if mine:
            lines.append(P.MY_JOB_LINE.format(what=job.what))
        else:
            name = owner.name if owner else "Someone"
            lines.append(P.JOB_LINE.format(person=name, what=job.what))
        if job.when:
            lines.append(P.WHEN_LINE.format(when=job.when))
        if job.support:
            lines.append(P.SUPPORT_LINE[job.support])
    if r.next_meeting and not mine:
        lines.append(P.NEXT_MEETING_LINE.format(when=r.next_meeting))
    return " ".join(lines)


@handles("read_back")
def read_back(engine: Engine, step: S.ReadBack, ctx: Ctx) -> Run:
    key = engine.key(step.id, ctx)
    if step.confirm and engine.skip(key, ctx.person):
        return None
    if not step.confirm and engine.resuming:
        return None
    intro = engine.opt(step.text, ctx)
    said = " ".join(x for x in (intro, summary(engine, step.of, ctx)) if x)
    if not step.confirm:
        yield from engine.say_turn(said, step.id, ctx.person, "read_back")
        return None
    t = Turn(f"{said} {P.IS_THAT_RIGHT}", key, ctx.person, P.HELP["read_back"], buttons=YES_NO_NEXT)
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
