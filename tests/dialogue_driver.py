"""A small driver that runs the dialogue engine against scripted inputs, on a fake clock.

Tests read like conversations::

    talk = Conversation("daily-checkin", people=["Sam"])
    talk.run(["yes", "yes", "say: good", "silence", "next"])
    assert talk.engine.finished

Inputs (strings): a button name (``"yes"``, ``"no"``, ``"next"``, ``"help"``, ``"repeat"``) is a
press once the device has finished speaking; ``"hold help"`` holds it; ``"barge yes"`` presses
while the device is still speaking; ``"say: words"`` is speech (a short answer is recognised as
a confident recogniser would: only a whole phrase from the table, never a guess);
``"mumble"`` is speech nobody could make out; ``"silence"`` is the listen timing out;
``"wait 60"`` lets 60 seconds pass with ticks. Every prompt is finished (PromptFinished) by the
driver unless the next input barges in. ``talk.log`` holds the conversation as text.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from assistant.core.clock import FakeClock
from assistant.core.events import (
    Action,
    ButtonPressed,
    End,
    Event,
    KeepAudio,
    Listen,
    PlayEarcon,
    PromptFinished,
    Save,
    Say,
    SetLights,
    SilenceTimedOut,
    SpeechHeard,
    StopListening,
    Tick,
)
from assistant.core.ids import SeededIds
from assistant.core.record import Consent, Goal, Job, Person, SessionRecord
from assistant.core.settings import DialogueSettings
from assistant.core.speech import Transcript
from assistant.core.words import match_short_answer
from assistant.dialogue import prompts as P
from assistant.dialogue.engine import Engine
from assistant.dialogue.script import Script, load_script

START = 1_800_000_000.0
"""When every conversation starts (seconds since the epoch), on the core fake clock."""


def make_people(
    names: Sequence[str], consent: bool | dict[str, bool] | None = True
) -> list[Person]:
    people = []
    for name in names:
        given = consent.get(name) if isinstance(consent, dict) else consent
        people.append(
            Person(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"person:{name}")),  # the same each run
                name=name,
                consent=Consent(audio=given) if given is not None else None,
            )
        )
    return people


class Conversation:
    def __init__(
        self,
        script: str | Script = "daily-checkin",
        people: Sequence[str] | Sequence[Person] = ("Sam",),
        *,
        consent: bool | dict[str, bool] | None = True,
        jobs: Sequence[tuple[str, str]] | Sequence[Job] = (),
        goals: Sequence[Goal] = (),
        settings: DialogueSettings | None = None,
        seed: int = 0,
        record: SessionRecord | None = None,
        next_meeting: str | None = None,
        facilitator: str | None = None,
        start: bool = True,
    ) -> None:
        self.script = script if isinstance(script, Script) else load_script(script)
        if people and isinstance(people[0], Person):
            self.people: list[Person] = list(people)  # type: ignore[arg-type]
        else:
            self.people = make_people(people, consent)  # type: ignore[arg-type]
        by_name = {p.name: p for p in self.people}
        job_list: list[Job] = []
        for job in jobs:
            if isinstance(job, Job):
                job_list.append(job)
            else:
                who, what = job
                job_list.append(Job(person_id=by_name[who].id, what=what))
        self.clock = FakeClock(datetime.fromtimestamp(START, UTC))
        self.settings = settings or DialogueSettings()
        self.engine = Engine(
            self.script,
            self.people,
            settings=self.settings,
            clock=self.clock,
            rng=random.Random(seed),
            ids=SeededIds(seed),
            jobs=job_list,
            goals=goals,
            record=record,
            engines={"short": "fake", "free": "fake"},
            facilitator=facilitator,
            next_meeting=next_meeting,
        )
        self.actions: list[Action] = []
        self.log: list[str] = []
        self.pending: Say | None = None
        self.listen: Listen | None = None
        self.ended = False
        self.clips = 0
        if start:
            self._apply(self.engine.start())

    # ------------------------------------------------------------------ plumbing

    def send(self, event: Event) -> list[Action]:
        actions = self.engine.handle(event)
        self._apply(actions)
        return actions

    def _apply(self, actions: list[Action]) -> None:
        for a in actions:
            self.actions.append(a)
            if isinstance(a, Say):
                self.pending = a
                self.log.append(f"device: {a.text}")
            elif isinstance(a, Listen):
                self.listen = a
                self.log.append(f"  (listening: {a.role} {a.step_id})")
            elif isinstance(a, StopListening):
                self.listen = None
            elif isinstance(a, End):
                self.ended = True
                self.log.append("  (end)")

    def settle(self) -> None:
        """Let the device finish speaking until it listens, waits or ends."""
        for _ in range(1000):
            if self.pending is None or self.ended:
                return
            say, self.pending = self.pending, None
            self.clock.advance(max(1.0, len(say.text.split()) / 2.5))
            self.send(PromptFinished(say.prompt_id))
        raise AssertionError("the device kept talking")

    def until(self, words: str) -> Say:
        """Finish prompts until the device starts saying something with *words*; leave it."""
        for _ in range(1000):
            if self.pending is not None and words in self.pending.text:
                return self.pending
            if self.pending is None or self.ended:
                raise AssertionError(f"the device never said {words!r}")
            say, self.pending = self.pending, None
            self.clock.advance(max(1.0, len(say.text.split()) / 2.5))
            self.send(PromptFinished(say.prompt_id))
        raise AssertionError("the device kept talking")

    # ------------------------------------------------------------------ inputs

    def press(self, button: str, held: bool = False) -> None:
        self.settle()
        self.clock.advance(1.0)
        listen, self.listen = self.listen, None
        self.log.append(f"person: presses {button}" + (" (held)" if held else ""))
        if not self.send(ButtonPressed(button, held=held)):  # type: ignore[arg-type]
            self.listen = listen  # a press that means nothing here: still listening

    def barge(self, button: str) -> None:
        assert self.pending is not None, "nothing is being said to interrupt"
        self.pending = None
        self.clock.advance(0.5)
        self.log.append(f"person: presses {button} while the device speaks")
        self.send(ButtonPressed(button, while_speaking=True))  # type: ignore[arg-type]

    def say(
        self,
        text: str,
        confidence: float = 0.9,
        audio: bool = True,
        decided_by: str | None = None,
    ) -> None:
        self.settle()
        listen = self.listen
        assert listen is not None, f"the device is not listening (last said: {self.last_said})"
        answer = None
        if listen.role == "short" and confidence >= 0.6:
            answer = match_short_answer(text, listen.allowed)
        self.clips += 1
        heard = SpeechHeard(
            Transcript(
                text=text,
                confidence=confidence,
                engine="fake",
                answer=answer,
                decided_by=decided_by,
            ),  # fmt: skip
            audio_path=f"/tmp/answer-{self.clips}.wav" if audio else None,
        )
        self.clock.advance(1.0 + len(text.split()) / 2.0)
        self.listen = None
        self.log.append(f"person: {text!r}")
        self.send(heard)

    def silence(self) -> None:
        self.settle()
        listen = self.listen
        assert listen is not None, "the device is not listening"
        self.clock.advance(listen.timeout_s)
        self.listen = None
        self.log.append(f"  (silence {listen.timeout_s:g} s)")
        self.send(SilenceTimedOut(listen.timeout_s))

    def wait(self, seconds: float, tick_every: float = 5.0) -> None:
        self.settle()
        self.log.append(f"  (wait {seconds:g} s)")
        waited = 0.0
        while waited < seconds:
            self.clock.advance(tick_every)
            waited += tick_every
            self.send(Tick())
            self.settle()
            if self.listen is not None:
                listen = self.listen
                self.clock.advance(listen.timeout_s)
                waited += listen.timeout_s
                self.listen = None
                self.send(SilenceTimedOut(listen.timeout_s))

    def pass_(self) -> None:
        """Pass by buttons alone: yellow, and yellow again at each choice offered, until the
        device says the question was passed ("pass" in :meth:`run`)."""
        passed = (P.PASSED, P.PASSED_FINAL, P.PASSED_SCALE)
        start = len(self.said)
        self.press("next")
        for _ in range(20):
            self.settle()
            if self.ended or any(s.startswith(passed) for s in self.said[start:]):
                return
            if self.listen is None and not self.said[start:]:
                return
            self.press("next")
        raise AssertionError("yellow never passed: " + " | ".join(self.said[start:]))

    def run(self, inputs: Sequence[str]) -> Conversation:
        for item in inputs:
            self.do(item)
        self.settle()
        return self

    def do(self, item: str) -> None:
        if item.startswith("say:"):
            self.say(item[4:].strip())
        elif item == "mumble":
            self.say("", confidence=0.1)
        elif item == "silence":
            self.silence()
        elif item.startswith("wait "):
            self.wait(float(item.split()[1]))
        elif item.startswith("hold "):
            self.press(item.split()[1], held=True)
        elif item.startswith("barge "):
            self.barge(item.split()[1])
        elif item in ("yes", "no", "next", "help", "repeat"):
            self.press(item)
        elif item == "pass":
            self.pass_()
        else:
            raise ValueError(f"unknown input {item!r}")

    def complete(self, policy: Callable[[Conversation], str], max_turns: int = 2000) -> None:
        """Answer every turn with *policy* until the session ends."""
        for _ in range(max_turns):
            self.settle()
            if self.ended:
                return
            self.do(policy(self))
        raise AssertionError("the session did not end:\n" + "\n".join(self.log[-30:]))

    # ------------------------------------------------------------------ looking

    @property
    def said(self) -> list[str]:
        return [a.text for a in self.actions if isinstance(a, Say)]

    @property
    def last_said(self) -> str:
        said = self.said
        return said[-1] if said else ""

    @property
    def record(self) -> SessionRecord:
        return self.engine.record

    def of(self, kind: type) -> list[Any]:
        return [a for a in self.actions if isinstance(a, kind)]

    @property
    def kept(self) -> list[KeepAudio]:
        return self.of(KeepAudio)

    @property
    def saves(self) -> list[Save]:
        return self.of(Save)

    @property
    def lights(self) -> list[SetLights]:
        return self.of(SetLights)

    @property
    def earcons(self) -> list[str]:
        return [a.name for a in self.actions if isinstance(a, PlayEarcon)]

    def person(self, name: str) -> Person:
        for p in [*self.record.people, *self.people]:
            if p.name == name:
                return p
        raise KeyError(name)

    def name_of(self, person_id: str | None) -> str:
        for p in [*self.record.people, *self.people]:
            if p.id == person_id:
                return p.name
        raise KeyError(person_id)

    def answers(self, name: str | None, step: str | None = None) -> list[Any]:
        pid = self.person(name).id if name is not None else None
        return [
            a
            for a in self.record.answers
            if a.person_id == pid and (step is None or a.step_id.split("/")[0] == step)
        ]

    def transcript(self) -> str:
        return "\n".join(self.log)


# ---------------------------------------------------------------------- policies


def by_buttons(talk: Conversation) -> str:
    """Someone who only uses the buttons: green at names and checks, passes free answers."""
    listen = talk.listen
    said = talk.last_said
    if "anyone else" in said or "Are you new" in said or "another" in said:
        return "no"
    if listen is None:
        return "yes"
    if listen.role == "free":
        return "pass"
    return "yes"


def by_voice(talk: Conversation) -> str:
    """Someone who only speaks: says yes, a scale point, or a few words."""
    listen = talk.listen
    said = talk.last_said
    if listen is None:
        return "say: yes"
    if listen.role == "free":
        if "your name" in said:
            return "say: Robin"
        return f"say: words number {len(talk.said)}"
    if "anyone else" in said or "Are you new" in said or "another" in said:
        return "say: no"
    if listen.phrases:
        return f"say: {listen.phrases[len(talk.said) % len(listen.phrases)]}"
    return "say: yes"


def mixed(talk: Conversation) -> str:
    """Alternates between the two, with the odd silence."""
    n = len(talk.said)
    if n % 7 == 3 and talk.listen is not None:
        return "silence"
    return by_voice(talk) if n % 2 else by_buttons(talk)
