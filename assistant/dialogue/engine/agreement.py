"""Handlers for the group's goal: agree_goal (a true agreement) and review_goal (revisit it).

agree_goal says honestly what the ratings were ("Three people like bowling. One person is not
sure."), never "most people" unless more than half liked it. An idea has *enough support* when
at least half of the people who rated it like it and more like it than dislike it. If none has,
the device says so and the group chooses: think about the ideas again, share new ideas, or
decide next time. Otherwise each person present says whether they can go along with the idea
with the most support (yes / not sure / no); the step's ``rule`` decides whether that makes it
the group's goal, and every answer is kept in the goal's ``acceptance``.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import replace

from assistant.core.events import Event, PlayEarcon
from assistant.core.record import Goal, Idea
from assistant.dialogue import prompts as P
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Run, handles
from assistant.dialogue.engine.kernel import Engine, utterances

SCORE = {"like": 2, "not_sure": 1, "dont_like": 0}
"""What each rating adds to an idea's standing (to order ideas with the same likes)."""


def _count(n: int, one: dict[int, str], many: str, **kw: str) -> str:
    if n in one:
        return one[n].format(**kw)
    number = P.COUNT_WORDS[n] if n < len(P.COUNT_WORDS) else str(n)
    return many.format(n=number, **kw)


def _tally(idea: Idea) -> tuple[int, int, int]:
    values = list(idea.ratings.values())
    return values.count("like"), values.count("not_sure"), values.count("dont_like")


def enough_support(idea: Idea) -> bool:
    """At least half of those who rated it like it, and more like it than dislike it."""
    like, not_sure, dont_like = _tally(idea)
    return like > 0 and like * 2 >= like + not_sure + dont_like and like > dont_like


def ratings_summary(idea: Idea) -> str:
    """What the ratings of *idea* were, in plain words."""
    like, not_sure, dont_like = _tally(idea)
    if like + not_sure + dont_like == 0:
        return P.AGREE_NOBODY_RATED.format(idea=idea.text)
    parts = [_count(like, P.AGREE_LIKE, P.AGREE_LIKE_MANY, idea=idea.text)]
    if not_sure:
        parts.append(_count(not_sure, P.AGREE_NOT_SURE, P.AGREE_NOT_SURE_MANY))
    if dont_like:
        parts.append(_count(dont_like, P.AGREE_DONT_LIKE, P.AGREE_DONT_LIKE_MANY))
    return " ".join(parts)


def _rank(ideas: Sequence[Idea]) -> list[Idea]:
    order = list(ideas)
    return sorted(
        order,
        key=lambda i: (
            -_tally(i)[0],
            _tally(i)[2],
            -sum(SCORE[v] for v in i.ratings.values()),
            order.index(i),
        ),
    )


def _standing(idea: Idea) -> tuple[int, int, int]:
    return _tally(idea)[0], _tally(idea)[2], sum(SCORE[v] for v in idea.ratings.values())


def accept_round(
    engine: Engine,
    key: str,
    text: str,
    ctx: Ctx,
    rule: str,
    *,
    from_idea: str | None = None,
    summary: str | None = None,
    replaces: str | None = None,
) -> Generator[None, Event, Goal | None]:
    """Each person present says if they can go along with *text*; the goal is kept with every
    answer, agreed when *rule* says so. Returns the goal (agreed or not)."""
    log = engine.log
    yield from engine.say_turn(P.AGREE_ACCEPT_INTRO.format(idea=text), key, None)
    people = list(engine.record.people)
    for person in people:
        pctx = replace(ctx, person=person, idea=None, job=None, passes=None)
        step = S.Scale(
            type="scale",
            id=key,
            text=P.AGREE_ACCEPT.format(person=person.name, idea=text),
            scale="accept",
            help=P.AGREE_ACCEPT_HELP,
        )
        yield from engine.step(step, pctx)
    answers = {p.id: log.latest(key, p) for p in people}
    acceptance = {pid: a.value for pid, a in answers.items() if a is not None and a.value}
    values = list(acceptance.values())
    yes, not_sure, no = values.count("yes"), values.count("not_sure"), values.count("no")
    said = [_count(yes, P.ACCEPT_YES, P.ACCEPT_YES_MANY)]
    if not_sure:
        said.append(_count(not_sure, P.ACCEPT_NOT_SURE, P.ACCEPT_NOT_SURE_MANY))
    if no:
        said.append(_count(no, P.ACCEPT_NO, P.ACCEPT_NO_MANY))
    present = len(engine.record.people)
    if rule == "everyone":
        agreed = present > 0 and yes == present
    elif rule == "majority":
        agreed = yes * 2 > present
    else:
        agreed = False
    goal = log.add_goal(
        text,
        person=None,
        agreed=agreed,
        from_idea=from_idea,
        acceptance=acceptance,
        rule=rule,
        summary=summary,
        replaces=replaces,
    )
    log.save()
    if agreed:
        said.append(P.ACCEPT_AGREED.format(idea=text))
    elif rule == "staff":
        said.append(P.ACCEPT_STAFF.format(staff=engine.staff_cap()))
        log.flag("other", P.ACCEPT_STAFF_REASON.format(idea=text), None)
    else:
        said.append(P.ACCEPT_NOT_ENOUGH[rule])
    for part in utterances(" ".join(said)):
        yield from engine.say_turn(part, key, None)
    return goal


def _what_next(engine: Engine, key: str, ctx: Ctx) -> Generator[None, Event, str]:
    """The group chooses: think again, new ideas, or decide next time."""
    step = S.Choose(
        type="choose",
        id=key,
        text=P.AGREE_WHAT_NEXT,
        shuffle=False,
        options=(
            S.Option(value="again", label=P.AGREE_OPTION_AGAIN),
            S.Option(value="new_ideas", label=P.AGREE_OPTION_NEW),
            S.Option(value="next_time", label=P.AGREE_OPTION_LATER),
        ),
    )
    yield from engine.step(step, replace(ctx, person=None, passes=None))
    answer = engine.log.latest(key, None)
    return answer.value if answer is not None and answer.value else "next_time"


def _rate(engine: Engine, key: str, ideas: Sequence[Idea], ctx: Ctx) -> Run:
    for person in list(engine.record.people):
        for idea in ideas:
            step = S.Scale(
                type="scale",
                id=key,
                text=P.AGREE_RATE_AGAIN.format(idea=idea.text),
                scale="like",
                sets="rating",
            )
            yield from engine.step(step, replace(ctx, person=person, idea=idea, passes=None))
    return None


def _new_ideas(engine: Engine, key: str, ctx: Ctx) -> Generator[None, Event, list[Idea]]:
    before = len(engine.record.ideas)
    for person in list(engine.record.people):
        step = S.Ask(type="ask", id=key, text=P.AGREE_NEW_IDEA, keep_as="idea")
        yield from engine.step(step, replace(ctx, person=person, passes=None))
    return list(engine.record.ideas[before:])


@handles("agree_goal")
def agree_goal(engine: Engine, step: S.AgreeGoal, ctx: Ctx) -> Run:
    log = engine.log
    if engine.resuming and log.group_goal() is not None:
        return None
    tried: set[str] = set()
    for attempt in range(step.rounds):
        last = attempt + 1 == step.rounds
        ideas = list(engine.record.ideas)
        ranked = _rank(ideas)
        lines = [ratings_summary(i) for i in ranked[: S.MAX_OPTIONS]]
        summary = " ".join(lines)
        candidates = [i for i in ranked if enough_support(i) and i.id not in tried]
        if ranked and not engine.resuming:
            for part in utterances(f"{P.AGREE_INTRO} {summary}"):
                yield from engine.say_turn(part, step.id, None)
        if candidates:
            top = candidates[0]
            tied = [i for i in candidates if _standing(i) == _standing(top)]
            if len(tied) > 1:
                tied = tied[: S.MAX_OPTIONS]
                names = ", ".join(i.text for i in tied)
                yield from engine.say_turn(P.AGREE_TIE.format(ideas=names), step.id, None)
                choice_key = f"{step.id}.tie{attempt + 1}"
                choose = S.Choose(
                    type="choose",
                    id=choice_key,
                    text=P.AGREE_TIE_CHOOSE,
                    shuffle=False,
                    options=tuple(
                        S.Option(value=f"idea{n}", label=i.text) for n, i in enumerate(tied)
                    ),
                )
                yield from engine.step(choose, replace(ctx, person=None, passes=None))
                chosen = log.latest(choice_key, None)
                if chosen is not None and chosen.value:
                    first = tied[int(chosen.value[4:])]
                    candidates.remove(first)
                    candidates.insert(0, first)
            else:
                like, _, _ = _tally(top)
                raters = len(top.ratings)
                words = P.AGREE_MOST if like * 2 > raters else P.AGREE_TOP
                yield from engine.say_turn(words.format(idea=top.text), step.id, None)
            for idea in candidates[:1]:  # then the group chooses what to do next
                tried.add(idea.id)
                goal = yield from accept_round(
                    engine,
                    f"{step.id}.accept/{idea.id}",
                    idea.text,
                    ctx,
                    step.rule,
                    from_idea=idea.id,
                    summary=summary,
                )
                if goal is not None and (goal.agreed or step.rule == "staff"):
                    if goal.agreed:
                        engine.emit(PlayEarcon("celebrate"))
                        log.celebrate(
                            "goal_agreed", P.ACCEPT_AGREED.format(idea=idea.text), goal=goal
                        )
                    return None
        elif ranked:
            all_dont_like = all(v == "dont_like" for i in ideas for v in i.ratings.values())
            words = P.AGREE_ALL_DONT_LIKE if all_dont_like else P.AGREE_NO_SUPPORT
            yield from engine.say_turn(words, step.id, None)
        if not ranked:  # no ideas at all: staff will help
            break
        choice = (
            "next_time"
            if last
            else (yield from _what_next(engine, f"{step.id}.next{attempt + 1}", ctx))
        )
        if choice == "next_time":
            break
        if choice == "new_ideas":
            new = yield from _new_ideas(engine, f"{step.id}.new_idea{attempt + 1}", ctx)
            yield from _rate(engine, f"{step.id}.rate{attempt + 1}", new, ctx)
        else:
            # think again about the idea just tried, or the two with the most support
            again = [i for i in ranked if i.id in tried][:1] or ranked[:2]
            tried.clear()
            yield from _rate(engine, f"{step.id}.rate{attempt + 1}", again, ctx)
    if not engine.record.ideas:
        log.flag("other", P.GOAL_NOT_AGREED_REASON, None)
        yield from engine.say_turn(P.GOAL_NO_IDEAS.format(staff=engine.staff_cap()), step.id, None)
        return None
    log.flag("other", P.AGREE_LATER_REASON, None)
    yield from engine.say_turn(P.AGREE_LATER, step.id, None)
    return None


@handles("review_goal")
def review_goal(engine: Engine, step: S.ReviewGoal, ctx: Ctx) -> Run:
    log = engine.log
    key = engine.key(step.id, ctx)
    goal = log.group_goal()
    if engine.skip(key, None):
        return None
    text = P.GOAL_REVIEW.format(goal=goal.text) if goal else P.GOAL_REVIEW_NONE
    choose = S.Choose(
        type="choose",
        id=key,
        text=text,
        shuffle=False,
        options=(
            S.Option(value="keep_going", label=P.GOAL_KEEP, also=("keep going",)),
            S.Option(value="change", label=P.GOAL_CHANGE, also=("change", "change it")),
            S.Option(value="done", label=P.GOAL_DONE, also=("done", "we did it")),
        ),
    )
    yield from engine.step(choose, replace(ctx, person=None, passes=None))
    answer = log.latest(key, None)
    value = answer.value if answer is not None and answer.value else "keep_going"
    if goal is not None:
        log.set_goal_status(goal, value)
        log.save()
    if value == "done":
        words = P.GOAL_DONE_SAID.format(goal=goal.text) if goal else P.GOAL_DONE_NONE
        engine.emit(PlayEarcon("celebrate"))
        log.celebrate("goal_done", words, goal=goal)
        yield from engine.say_turn(words, key, None, "celebrate")
    elif value == "change":
        ask = S.Ask(type="ask", id=f"{step.id}.new_goal", text=P.GOAL_NEW)
        yield from engine.step(ask, replace(ctx, person=None, passes=None))
        new = log.latest(f"{step.id}.new_goal", None)
        if new is not None and not new.passed and new.transcript.strip():
            agreed = yield from accept_round(
                engine,
                f"{step.id}.accept",
                new.transcript.strip(),
                ctx,
                step.rule,
                replaces=goal.id if goal else None,
            )
            if agreed is not None and agreed.agreed:
                log.celebrate("goal_agreed", P.ACCEPT_AGREED.format(idea=agreed.text), goal=agreed)
    else:
        yield from engine.say_turn(P.GOAL_KEEP_SAID, key, None)
    return None
