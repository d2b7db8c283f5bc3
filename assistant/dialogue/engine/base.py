"""What the kernel and the step handlers share: a turn, a reply, the context, the handler table.

A *handler* runs one kind of step. It is a generator function
``handler(engine, step, ctx) -> Run``: it ``yield``\\ s whenever it needs the next event (usually
through ``yield from engine.turn(...)``) and returns ``"passed"`` when the person passed (so the
round can ask again), else None. :func:`handles` registers it in :data:`HANDLERS` under the step's
``type``; the kernel looks the step's type up there and never names a step kind itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from assistant.core.events import Button, Event, SpeechHeard
from assistant.core.record import Idea, Job, Person
from assistant.core.speech import Role
from assistant.core.words import ShortAnswer
from assistant.dialogue import prompts as P
from assistant.dialogue import schema as S

if TYPE_CHECKING:
    from assistant.dialogue.engine.kernel import Engine

Run = Generator[None, Event, str | None]
"""A step being run: yields for events; returns "passed" when the person passed, else None."""

Handler = Callable[["Engine", Any, "Ctx"], Run]
"""Runs one step: ``handler(engine, step, ctx)``; *step* is the step model it is registered for."""

HANDLERS: dict[str, Handler] = {}
"""Step type (``Say.type`` etc., the YAML ``type:``) -> its handler."""

_H = TypeVar("_H", bound=Callable[..., Run])


def handles(*step_types: str) -> Callable[[_H], _H]:
    """Register the decorated function as the handler of *step_types* (the YAML ``type:``).

    Each type has exactly one handler: registering a second one for a type is an error, so two
    modules cannot silently fight over a step kind.
    """

    def register(fn: _H) -> _H:
        for step_type in step_types:
            if step_type not in S.STEP_TYPES:
                raise ValueError(f'"{step_type}" is not a step type in the script schema.')
            if step_type in HANDLERS and HANDLERS[step_type] is not fn:
                raise ValueError(f'The step type "{step_type}" already has a handler.')
            HANDLERS[step_type] = fn
        return fn

    return register


def step_id_of(key: str) -> str:
    """The script's step id in an answer key ("rating/<idea id>", "job.what.2")."""
    return key.split("/")[0].split(".")[0]


def question_of(text: str) -> str:
    """The question itself, for the record: without "I'm listening now." and the button words."""
    sentences = re.split(r"(?<=[.?!])\s+", text.strip())
    kept = [
        s
        for s in sentences
        if s != P.LISTENING and not (s.startswith("For ") and ", press " in s) and s != "Or say it."
    ]
    return " ".join(kept)


@dataclass
class Turn:
    """One thing said and, usually, one answer listened for."""

    text: str
    step_id: str
    person: Person | None
    help: str
    role: Role = "short"
    buttons: frozenset[Button] = frozenset()
    """yes/no/next presses that mean something here."""
    values: dict[Button, str] = field(default_factory=dict)
    """Button -> answer value (a scale's points); a button not here answers with its name."""
    voice: frozenset[ShortAnswer] | None = None
    """Short answers accepted by voice; None: the same as ``buttons``."""
    phrases: dict[str, str] = field(default_factory=dict)
    """Normalised whole-utterance phrase -> answer value (scale points, option names)."""
    listen: bool = True
    first: str = ""
    """Said before the words the first time only (repeats say just ``text``)."""
    whole: bool = False
    """A read-back: an answer press before its words were all said does not count (the words
    are said again), so nothing is confirmed before it was heard."""
    raw: bool = False
    """Any speech is the reply, even "help" or "repeat" (a teaching example of that word)."""
    silence_goes_on: bool = False
    """A silence is yellow here (the next one), decided by nothing else: a name at the roll
    call, said to whoever is in the room, so a person alone who does not know the buttons hears
    the names go round to theirs. Never where an answer is decided."""

    @property
    def lit(self) -> frozenset[Button]:
        return self.buttons | {"help", "repeat"}

    @property
    def heard_answers(self) -> frozenset[ShortAnswer]:
        return self.buttons if self.voice is None else self.voice


@dataclass
class Reply:
    value: str
    """A button's meaning, an answer value, "text" for a free answer, "done" after a say."""
    by: Literal["button", "voice", "none"]
    heard: SpeechHeard | None = None


@dataclass
class Ctx:
    """Where a step runs: for whom, about which job or idea, and the round's passes."""

    person: Person | None = None
    job: Job | None = None
    idea: Idea | None = None
    passes: list[tuple[S.AnyStep, Ctx]] | None = None


Flow = Generator[None, Event, Reply]
"""One turn being run: yields for events, returns the first meaningful reply."""
