"""Filling in a script's {references}: ``{person}``, ``{answer.STEP_ID}``, ``{job.what}``, ...

Pure reading: the values come from the context and the session record (through the
:class:`~assistant.dialogue.engine.session.SessionLog`), nothing is changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.dialogue import prompts as P
from assistant.dialogue.engine.base import Ctx
from assistant.dialogue.engine.session import SessionLog

_TEMPLATE = re.compile(r"\{([^{}]*)\}")

KeyOf = Callable[[str, Ctx], str]
"""The answer key of a step id in a context (``Engine.key``)."""


def ref(ref: str, ctx: Ctx, log: SessionLog, facilitator: str | None, key: KeyOf) -> str | None:
    """The value of one reference here, or None when it has none (yet)."""
    head, _, tail = ref.strip().partition(".")
    if head == "person":
        return ctx.person.name if ctx.person else None
    if head == "staff":
        return facilitator or P.STAFF
    if head == "group":
        return "the group"
    if head == "goal":
        goal = log.goal_for(ctx.person)
        return goal.text if goal else None
    if head == "next_meeting":
        return log.record.next_meeting
    if head == "job" and ctx.job is not None:
        job = ctx.job
        if tail == "what":
            return job.what
        if tail == "when":
            return job.when
        if tail == "support":
            return P.SUPPORT_LINE[job.support].rstrip(".").lower() if job.support else None
        owner = log.person(job.person_id)
        return owner.name if owner else None
    if head == "idea" and ctx.idea is not None:
        if tail == "text":
            return ctx.idea.text
        source = log.answer_by_id(ctx.idea.from_answer)
        owner = log.person(source.person_id) if source else None
        return owner.name if owner else None
    if head == "answer":
        answer = log.latest(key(tail, ctx), ctx.person) or log.latest(tail, ctx.person)
        if answer is None or answer.passed:
            return None
        return answer.transcript or (answer.value or "").replace("_", " ") or None
    return None


def render(text: str, ctx: Ctx, log: SessionLog, facilitator: str | None, key: KeyOf) -> str:
    """*text* with every {reference} filled in ("nothing yet" for one with no value); a value
    starting a sentence gets a capital; ``{{`` and ``}}`` are literal braces."""

    def fill(match: re.Match[str]) -> str:
        value = ref(match.group(1), ctx, log, facilitator, key) or P.NOTHING_YET
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".?!":
            value = value[:1].upper() + value[1:]
        return value

    protected = text.replace("{{", "\x00").replace("}}", "\x01")
    return _TEMPLATE.sub(fill, protected).replace("\x00", "{").replace("\x01", "}")
