"""The dialogue engine: pure, events in and actions out (see ``events.py``).

It runs a :class:`~assistant.dialogue.script.Script` with a person or a group. It never does
I/O: time comes only from the ``clock`` it is given and randomness only from ``rng``, so a whole
session runs in milliseconds in tests. The shell carries out the actions and feeds back events.

The flow is written as Python generators (one per kind of step) that ``yield`` whenever they need
the next event; :meth:`Engine.handle` sends the event in and returns what was emitted meanwhile.
Every question goes through one place, :meth:`Engine._turn`, which is where the rules live:

* it says the words, always ending "I'm listening now." before it listens, waits for
  :class:`PromptFinished`, then plays the listening earcon, lights the status and opens the
  microphone; a press while speaking (barge-in) is acted on at once;
* silence: it waits at least ``repeat_after_s`` (the person's own, if longer) and repeats the
  *same* words, ``repeats_before_waiting`` times; then it waits for a button as long as it takes,
  with a gentle reminder every ``reminder_every_s``. Silence never ends a session;
* help (explains the step and the buttons here) and repeat work at every step; holding help
  raises a ``needs_a_person`` flag; holding next repeats;
* speech that is not confidently one of the answers here is "Sorry, I didn't catch that.",
  never a guess; only the buttons that mean something at this step are lit.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, TypeVar

from assistant.config import DialogueSettings
from assistant.dialogue import prompts as P
from assistant.dialogue import script as S
from assistant.dialogue.events import (
    Action,
    Button,
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
from assistant.records.model import (
    Answer,
    CheckIn,
    ConfirmedBy,
    Consent,
    Flag,
    Goal,
    Idea,
    Job,
    JobEvent,
    Person,
    SessionRecord,
)
from assistant.stt.base import Role
from assistant.words import ShortAnswer, match_short_answer, normalise

MIN_PHRASE_CONFIDENCE = 0.6
"""A spoken scale point or option name counts only at or above this recogniser confidence."""

MIN_WAIT_S = 10.0
"""Never repeat sooner than this, whatever a person's own setting says."""

ANSWER_BUTTONS: tuple[Button, ...] = ("yes", "next", "no")
"""The scale's green, yellow and red ends, in that order."""

Flow = Generator[None, Event, "_Reply"]
Run = Generator[None, Event, str | None]

_TEMPLATE = re.compile(r"\{([^{}]*)\}")
_DOUBLE_STOP = re.compile(r"([.!?])[.]+(?=\s|$)")
_T = TypeVar("_T")


def _step_id(key: str) -> str:
    """The script's step id in an answer key ("rating/<idea id>", "job.what.2")."""
    return key.split("/")[0].split(".")[0]


def _question(text: str) -> str:
    """The question itself, for the record: without "I'm listening now." and the button words."""
    sentences = re.split(r"(?<=[.?!])\s+", text.strip())
    kept = [
        s
        for s in sentences
        if s != P.LISTENING and not (s.startswith("For ") and ", press " in s) and s != "Or say it."
    ]
    return " ".join(kept)


@dataclass
class _Turn:
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

    @property
    def lit(self) -> frozenset[Button]:
        return self.buttons | {"help", "repeat"}

    @property
    def heard_answers(self) -> frozenset[ShortAnswer]:
        return self.buttons if self.voice is None else self.voice


@dataclass
class _Reply:
    value: str
    """A button's meaning, an answer value, "text" for a free answer, "done" after a say."""
    by: Literal["button", "voice", "none"]
    heard: SpeechHeard | None = None


@dataclass
class _Ctx:
    person: Person | None = None
    job: Job | None = None
    idea: Idea | None = None
    passes: list[tuple[S._Step, _Ctx]] | None = None


class Engine:
    """Runs one session of a script. See the module docstring for the rules it keeps."""

    def __init__(
        self,
        script: S.Script,
        people: Sequence[Person],
        *,
        settings: DialogueSettings,
        clock: Callable[[], float],
        rng: random.Random | None = None,
        jobs: Sequence[Job] = (),
        record: SessionRecord | None = None,
        engines: dict[str, str] | None = None,
        facilitator: str | None = None,
        next_meeting: str | None = None,
    ) -> None:
        self.script = script
        self._settings = settings
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._roster = [p.model_copy(deep=True) for p in people]
        self._resuming = record is not None and bool(record.answers)
        if record is None:
            record = SessionRecord(
                script=script.name,
                script_version=script.version,
                started_at=self._now(),
                facilitator=facilitator,
                engines=dict(engines or {}),
                next_meeting=next_meeting,
                jobs=[j.model_copy(deep=True) for j in jobs],
            )
        else:
            record = record.model_copy(deep=True)
            if engines:
                record.engines.update(engines)
        self._record = record
        self._facilitator = facilitator or record.facilitator
        has_roll_call = any(isinstance(s, S.WhoIsHere) for s in script.walk())
        if not record.people and not has_roll_call:
            record.people = [p.model_copy(deep=True) for p in self._roster]
        self._out: list[Action] = []
        self._gen: Generator[None, Event, None] | None = None
        self._finished = False
        self._next_prompt = 1
        self._listening = False
        self._round = 0
        self._step_id: str | None = None
        self._person_id: str | None = None

    # ------------------------------------------------------------------ public interface

    @property
    def record(self) -> SessionRecord:
        return self._record

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def current_step_id(self) -> str | None:
        return self._step_id

    @property
    def current_person_id(self) -> str | None:
        return self._person_id

    def start(self) -> list[Action]:
        if self._gen is not None:
            raise RuntimeError("Engine.start() was called twice.")
        self._gen = self._main()
        return self._advance(None)

    def handle(self, event: Event) -> list[Action]:
        if self._gen is None:
            raise RuntimeError("Engine.handle() was called before start().")
        if self._finished:
            return []
        return self._advance(event)

    def _advance(self, event: Event | None) -> list[Action]:
        assert self._gen is not None
        self._out = []
        try:
            if event is None:
                next(self._gen)
            else:
                self._gen.send(event)
        except StopIteration:
            self._finished = True
        return self._out

    # ------------------------------------------------------------------ the session

    def _main(self) -> Generator[None, Event, None]:
        ctx = _Ctx()
        if self._resuming:
            yield from self._say_turn(P.WELCOME_BACK, "welcome_back", None)
        if self.script.one_person and self._record.people:
            ctx.person = self._record.people[0]
        yield from self._run(self.script.steps, ctx)
        self._record.ended_at = self._now()
        self._step_id = None
        self._person_id = None
        self._emit(
            SetLights(frozenset(), "idle"),
            Save(self._record.model_copy(deep=True), finished=True),
            End("finished"),
        )

    def _run(self, steps: Sequence[S._Step], ctx: _Ctx) -> Generator[None, Event, None]:
        for step in steps:
            if step.only_if is not None and not self._ref(step.only_if, ctx):
                continue
            outcome = yield from self._step(step, ctx)
            if outcome == "passed" and ctx.passes is not None:
                ctx.passes.append((step, ctx))

    def _step(self, step: S._Step, ctx: _Ctx) -> Run:
        if isinstance(step, S.Say | S.Celebrate):
            if self._resuming:
                return None
            if isinstance(step, S.Celebrate):
                self._emit(PlayEarcon("celebrate"))
            kind = "celebrate" if isinstance(step, S.Celebrate) else "say"
            yield from self._say_turn(self._render(step.text, ctx), step.id, ctx.person, kind)
            return None
        if isinstance(step, S.Ask):
            return (yield from self._ask(step, ctx))
        if isinstance(step, S.Confirm):
            return (yield from self._confirm(step, ctx))
        if isinstance(step, S.Scale):
            return (yield from self._scale_step(step, ctx))
        if isinstance(step, S.Choose):
            return (yield from self._choose(step, ctx))
        if isinstance(step, S.Consent):
            yield from self._consent(step, ctx)
            return None
        if isinstance(step, S.WhoIsHere):
            yield from self._who_is_here(step, ctx)
            return None
        if isinstance(step, S.ForEachPerson):
            yield from self._for_each_person(step, ctx)
            return None
        if isinstance(step, S.Branch):
            value = self._value_of(step.on_answer, ctx)
            branch = step.cases.get(value, step.otherwise) if value else step.otherwise
            yield from self._run(branch, ctx)
            return None
        if isinstance(step, S.PlanItem):
            return (yield from self._plan_item(step, ctx))
        if isinstance(step, S.Review):
            yield from self._review(step, ctx)
            return None
        if isinstance(step, S.ReadBack):
            yield from self._read_back(step, ctx)
            return None
        if isinstance(step, S.AgreeGoal):
            yield from self._agree_goal(step, ctx)
            return None
        if isinstance(step, S.RaiseFlag):
            if self._resuming:
                return None
            pid = ctx.person.id if ctx.person else None
            latest = [a for a in self._record.answers if a.person_id == pid]
            self._flag(
                step.kind,
                self._render(step.reason, ctx),
                ctx.person,
                answer_id=latest[-1].id if latest else None,
            )
            if step.text:
                yield from self._say_turn(self._render(step.text, ctx), step.id, ctx.person)
            return None
        raise AssertionError(f"unhandled step type {step.type}")  # pragma: no cover

    # ------------------------------------------------------------------ the one turn

    def _turn(self, t: _Turn) -> Flow:
        """Say, listen, and return the first meaningful answer. The rules live here."""
        self._step_id = _step_id(t.step_id)
        self._person_id = t.person.id if t.person else None
        if t.listen and not t.text.endswith(P.LISTENING):
            t.text = f"{t.text} {P.LISTENING}"  # always: the words before every listen
        repeats = 0
        text = f"{t.first} {t.text}" if t.first else t.text
        while True:
            pid = self._say(text, t)
            speaking = True
            waiting = False
            since = self._clock()
            started = since
            redo: str | None = None
            while redo is None:
                event = yield
                if isinstance(event, PromptFinished):
                    if not speaking or event.prompt_id != pid:
                        continue
                    speaking = False
                    if not t.listen:
                        return _Reply("done", "none")
                    self._open(t, self._wait_s(t.person))
                    started = self._clock()
                elif isinstance(event, ButtonPressed):
                    outcome = self._press(event, t)
                    if outcome is None:
                        if event.while_speaking and speaking:
                            # The shell cut the words off for a press that means nothing here.
                            if not t.listen:
                                return _Reply("done", "none")
                            redo = "repeat"
                        continue
                    self._close()
                    if isinstance(outcome, _Reply):
                        return outcome
                    redo = outcome
                elif isinstance(event, SpeechHeard):
                    if not self._listening:
                        continue
                    self._listening = False
                    self._emit(PlayEarcon("done_listening"), SetLights(t.lit, "thinking"))
                    heard = self._understand(event, t)
                    if isinstance(heard, _Reply):
                        return heard
                    redo = heard
                elif isinstance(event, SilenceTimedOut):
                    if not self._listening:
                        continue
                    self._listening = False
                    wait = self._wait_s(t.person)
                    elapsed = max(event.waited_s, self._clock() - started)
                    if elapsed + 1e-6 < wait:
                        # The shell gave up early: keep listening, quietly, for the rest.
                        self._open(t, wait - elapsed, earcon=False)
                        continue
                    self._emit(PlayEarcon("done_listening"))
                    if repeats < self._settings.repeats_before_waiting:
                        repeats += 1
                        redo = "silence"
                    else:
                        waiting = True
                        since = self._clock()
                        self._emit(SetLights(t.lit, "idle"))
                elif isinstance(event, Tick):
                    reminder = self._settings.reminder_every_s
                    if waiting and self._clock() - since >= reminder:
                        redo = "reminder"
            if redo not in ("silence", "reminder"):
                repeats = 0  # the person did something: silence counts afresh
            text = {
                "silence": t.text,
                "repeat": t.text,
                "help": f"{self._help(t)} {t.text}",
                "held_help": f"{P.HELD_HELP} {t.text}",
                "reminder": f"{P.REMINDER} {t.text}",
                "not_caught": f"{P.NOT_CAUGHT} {t.text}",
                "pick_one": f"{P.PICK_ONE} {t.text}",
            }[redo]

    def _press(self, event: ButtonPressed, t: _Turn) -> _Reply | str | None:
        button = event.button
        if button == "help":
            if event.held:
                self._flag("needs_a_person", P.NEED_PERSON_REASON, t.person)
                return "held_help"
            return "help"
        if button == "repeat" or (button == "next" and event.held):
            return "repeat"
        if button in t.buttons:
            return _Reply(t.values.get(button, button), "button")
        return None

    def _understand(self, heard: SpeechHeard, t: _Turn) -> _Reply | str:
        tr = heard.transcript
        if t.role == "free":
            control = match_short_answer(tr.text, ("help", "repeat", "next"))
            if control in ("help", "repeat"):
                return control
            if control == "next" and "next" in t.buttons:
                return _Reply("next", "voice", heard)
            return _Reply("text", "voice", heard)
        said = normalise(tr.text)
        if said in t.phrases and tr.confidence >= MIN_PHRASE_CONFIDENCE:
            return _Reply(t.phrases[said], "voice", heard)
        answer = tr.answer
        if answer in ("help", "repeat"):
            return answer
        if answer is not None and answer in t.heard_answers:
            return _Reply(answer, "voice", heard)
        if (
            t.phrases
            and tr.confidence >= MIN_PHRASE_CONFIDENCE
            and match_short_answer(tr.text, ("yes", "no")) is not None
        ):
            # a clear "yes" or "no" to a scale: heard, but not one of its answers
            return "pick_one"
        return "not_caught"

    def _help(self, t: _Turn) -> str:
        return " ".join(p for p in (t.help, P.ALWAYS_HELP) if p)

    def _say_turn(
        self, text: str, step_id: str, person: Person | None, kind: str = "say"
    ) -> Generator[None, Event, None]:
        t = _Turn(
            text,
            step_id,
            person,
            help=f"{P.HELP.get(kind, P.HELP['say'])} {P.TO_MOVE_ON}",
            buttons=frozenset({"next"}),
            listen=False,
        )
        yield from self._turn(t)

    # ------------------------------------------------------------------ actions

    def _emit(self, *actions: Action) -> None:
        self._out.extend(actions)

    def _say(self, text: str, t: _Turn) -> int:
        pid = self._next_prompt
        self._next_prompt += 1
        # A person's words often end with a full stop already ("I heard: the food.. Is that").
        text = _DOUBLE_STOP.sub(r"\1", text)
        self._emit(SetLights(t.lit, "speaking"), Say(text, pid))
        return pid

    def _open(self, t: _Turn, timeout: float, earcon: bool = True) -> None:
        allowed: tuple[ShortAnswer, ...] = ()
        if t.role == "short":
            order: tuple[ShortAnswer, ...] = ("yes", "no", "next")
            allowed = tuple(a for a in order if a in t.heard_answers) + ("help", "repeat")
        if earcon:
            self._emit(PlayEarcon("listening"), SetLights(t.lit, "listening"))
        self._emit(
            Listen(
                role=t.role,
                step_id=_step_id(t.step_id),
                person_id=t.person.id if t.person else None,
                allowed=allowed,
                timeout_s=timeout,
                phrases=tuple(dict.fromkeys(t.phrases)),
            )
        )
        self._listening = True

    def _close(self) -> None:
        if self._listening:
            self._listening = False
            self._emit(StopListening(), PlayEarcon("done_listening"))

    def _save(self) -> None:
        self._emit(Save(self._record.model_copy(deep=True)))

    # ------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _wait_s(self, person: Person | None) -> float:
        """The person's own wait if they have one (never under 10 s), else the setting; for
        the whole group, the longest of everyone's."""

        def own(p: Person) -> float:
            if p.repeat_after_s is None:
                return self._settings.repeat_after_s
            return max(MIN_WAIT_S, p.repeat_after_s)

        if person is not None:
            return own(person)
        return max([self._settings.repeat_after_s, *(own(p) for p in self._record.people)])

    def _key(self, step_id: str, ctx: _Ctx) -> str:
        if ctx.job is not None:
            return f"{step_id}/{ctx.job.id}"
        if ctx.idea is not None:
            return f"{step_id}/{ctx.idea.id}"
        return step_id

    def _answered(self, key: str, person: Person | None) -> bool:
        pid = person.id if person else None
        return any(a.step_id == key and a.person_id == pid for a in self._record.answers)

    def _skip(self, key: str, person: Person | None) -> bool:
        """While resuming, answered questions are skipped; the first unanswered one resumes."""
        if not self._resuming:
            return False
        if self._answered(key, person):
            return True
        self._resuming = False
        return False

    def _resumed_outcome(self, key: str, person: Person | None) -> str | None:
        """For a question skipped on resuming: "passed" if it was passed once and not yet
        asked again, so the end of the round still asks it again."""
        pid = person.id if person else None
        found = [a for a in self._record.answers if a.step_id == key and a.person_id == pid]
        return "passed" if len(found) == 1 and found[0].passed else None

    def _latest(self, key: str, person: Person | None) -> Answer | None:
        pid = person.id if person else None
        found = [a for a in self._record.answers if a.step_id == key and a.person_id == pid]
        return found[-1] if found else None

    def _value_of(self, step_id: str, ctx: _Ctx) -> str | None:
        answer = self._latest(self._key(step_id, ctx), ctx.person)
        if answer is None:
            answer = self._latest(step_id, ctx.person)
        return answer.value if answer is not None and not answer.passed else None

    def _answer(
        self,
        key: str,
        t: _Turn,
        kind: Literal["free", "short", "choice", "scale", "button"],
        reply: _Reply | None,
        *,
        value: str | None = None,
        passed: bool = False,
        attempts: int = 1,
        supersedes: str | None = None,
        person: Person | None = None,
    ) -> Answer:
        person = person if person is not None else t.person
        if supersedes is None:
            earlier = self._latest(key, person)
            supersedes = earlier.id if earlier is not None else None
        heard = reply.heard if reply is not None else None
        tr = heard.transcript if heard is not None else None
        confirmed: ConfirmedBy = "not_confirmed"
        if kind != "free" and reply is not None and reply.by != "none":
            confirmed = reply.by
        answer = Answer(
            person_id=person.id if person else None,
            step_id=key,
            question=_question(t.text),
            kind=kind,
            value=value,
            transcript=tr.text if tr is not None else "",
            confidence=tr.confidence if tr is not None else None,
            engine=tr.engine if tr is not None else None,
            decided_by=tr.decided_by if tr is not None else None,  # personal words
            confirmed_by=confirmed,
            attempts=attempts,
            passed=passed,
            at=self._now(),
            supersedes=supersedes,
        )
        self._record.answers.append(answer)
        if (
            heard is not None
            and heard.audio_path
            and person is not None
            and person.consent is not None
            and person.consent.audio
        ):
            self._emit(KeepAudio(answer.id, heard.audio_path))
        self._save()
        return answer

    def _flag(
        self,
        kind: S.FlagKind | str,
        reason: str,
        person: Person | None,
        answer_id: str | None = None,
    ) -> None:
        self._record.flags.append(
            Flag(
                person_id=person.id if person else None,
                kind=kind,
                reason=reason,
                answer_id=answer_id,
                at=self._now(),
            )
        )
        self._save()

    def _checkin(self, person: Person) -> CheckIn:
        for c in self._record.checkins:
            if c.person_id == person.id:
                return c
        c = CheckIn(person_id=person.id, at=self._now())
        self._record.checkins.append(c)
        return c

    def _person(self, person_id: str | None) -> Person | None:
        for p in [*self._record.people, *self._roster]:
            if p.id == person_id:
                return p
        return None

    def _group_goal(self) -> Goal | None:
        agreed = [g for g in self._record.goals if g.person_id is None and g.agreed]
        return agreed[-1] if agreed else None

    def _goal_for(self, person: Person | None) -> Goal | None:
        if person is not None:
            own = [g for g in self._record.goals if g.person_id == person.id]
            if own:
                return own[-1]
        return self._group_goal()

    def _ref(self, ref: str, ctx: _Ctx) -> str | None:
        head, _, tail = ref.strip().partition(".")
        if head == "person":
            return ctx.person.name if ctx.person else None
        if head == "staff":
            return self._facilitator or P.STAFF
        if head == "group":
            return "the group"
        if head == "goal":
            goal = self._goal_for(ctx.person)
            return goal.text if goal else None
        if head == "next_meeting":
            return self._record.next_meeting
        if head == "job" and ctx.job is not None:
            job = ctx.job
            if tail == "what":
                return job.what
            if tail == "when":
                return job.when
            if tail == "support":
                return P.SUPPORT_LINE[job.support].rstrip(".").lower() if job.support else None
            owner = self._person(job.person_id)
            return owner.name if owner else None
        if head == "idea" and ctx.idea is not None:
            if tail == "text":
                return ctx.idea.text
            source = next((a for a in self._record.answers if a.id == ctx.idea.from_answer), None)
            owner = self._person(source.person_id) if source else None
            return owner.name if owner else None
        if head == "answer":
            answer = self._latest(self._key(tail, ctx), ctx.person) or self._latest(
                tail, ctx.person
            )
            if answer is None or answer.passed:
                return None
            return answer.transcript or (answer.value or "").replace("_", " ") or None
        return None

    def _render(self, text: str, ctx: _Ctx) -> str:
        def fill(match: re.Match[str]) -> str:
            value = self._ref(match.group(1), ctx) or P.NOTHING_YET
            before = text[: match.start()].rstrip()
            if not before or before[-1] in ".?!":
                value = value[:1].upper() + value[1:]
            return value

        protected = text.replace("{{", "\x00").replace("}}", "\x01")
        return _TEMPLATE.sub(fill, protected).replace("\x00", "{").replace("\x01", "}")

    def _shuffled(self, items: Sequence[_T], shuffle: bool) -> list[_T]:
        out = list(items)
        if shuffle:
            self._rng.shuffle(out)
        return out

    # ------------------------------------------------------------------ asking

    def _free(
        self, key: str, question: str, ctx: _Ctx, *, read_back: bool = True, help_extra: str = ""
    ) -> Generator[None, Event, Answer | None]:
        """A free answer with read-back. None when the person passed."""
        help_text = " ".join(x for x in (P.HELP["ask"], help_extra, P.TO_PASS) if x)
        text = f"{question} {P.LISTENING}"
        misses = 0
        previous: Answer | None = None
        first = ""
        while True:
            t = _Turn(
                text,
                key,
                ctx.person,
                help_text,
                role="free",
                buttons=frozenset({"next"}),
                first=first,
            )
            reply = yield from self._turn(t)
            if reply.value == "next":
                self._answer(
                    key,
                    t,
                    "free",
                    reply,
                    passed=True,
                    attempts=misses + 1,
                    supersedes=previous.id if previous else None,
                )
                yield from self._say_turn(self._passed_words(ctx), key, ctx.person)
                return None
            answer = self._answer(
                key,
                t,
                "free",
                reply,
                attempts=misses + 1,
                supersedes=previous.id if previous else None,
            )
            previous = answer
            if not answer.transcript.strip():
                misses += 1
                if misses >= 2:
                    yield from self._kept_anyway(answer, ctx.person)
                    return answer
                first = P.NOT_CAUGHT
                continue
            if not read_back:
                return answer
            check = _Turn(
                f"{P.I_HEARD.format(text=answer.transcript)} {P.YES_NO}",
                key,
                ctx.person,
                P.HELP["read_back"],
                buttons=frozenset({"yes", "no", "next"}),
            )
            sure = yield from self._turn(check)
            if sure.value == "yes":
                answer.confirmed_by = "voice" if sure.by == "voice" else "button"
                self._save()
                return answer
            if sure.value == "next":
                return answer
            misses += 1
            if misses >= 2:
                yield from self._kept_anyway(answer, ctx.person)
                return answer
            first = P.TRY_AGAIN

    def _passed_words(self, ctx: _Ctx) -> str:
        return P.PASSED if ctx.passes is not None else P.PASSED_FINAL

    def _kept_anyway(self, answer: Answer, person: Person | None) -> Generator[None, Event, None]:
        consented = person is not None and person.consent is not None and person.consent.audio
        words = P.KEPT_RECORDING if consented else P.KEPT_WORDS
        yield from self._say_turn(words, answer.step_id, person)

    def _ask(self, step: S.Ask, ctx: _Ctx) -> Run:
        key = self._key(step.id, ctx)
        if self._skip(key, ctx.person):
            return self._resumed_outcome(key, ctx.person)
        answer = yield from self._free(
            key,
            self._render(step.text, ctx),
            ctx,
            read_back=step.read_back,
            help_extra=self._render(step.help, ctx) if step.help else "",
        )
        if answer is None:
            return "passed"
        text = answer.transcript.strip()
        if step.keep_as == "idea" and text:
            self._record.ideas.append(Idea(text=text, from_answer=answer.id))
        elif step.keep_as == "goal" and text:
            self._record.goals.append(
                Goal(
                    text=text,
                    person_id=ctx.person.id if ctx.person else None,
                    agreed=answer.confirmed_by != "not_confirmed",
                )
            )
        elif step.keep_as == "next_meeting" and text:
            self._record.next_meeting = text
        elif step.keep_as == "note" and ctx.person is not None:
            self._checkin(ctx.person).notes.append(answer.id)
        elif step.keep_as == "celebration":
            self._record.celebrations.append(answer.id)
        self._save()
        return None

    def _yes_no(
        self, key: str, text: str, ctx: _Ctx, help_text: str, person: Person | None = None
    ) -> Generator[None, Event, tuple[_Reply, _Turn]]:
        t = _Turn(
            f"{text} {P.YES_NO}",
            key,
            person if person is not None else ctx.person,
            help_text,
            buttons=frozenset({"yes", "no", "next"}),
        )
        reply = yield from self._turn(t)
        return reply, t

    def _confirm(self, step: S.Confirm, ctx: _Ctx) -> Run:
        key = self._key(step.id, ctx)
        if self._skip(key, ctx.person):
            return self._resumed_outcome(key, ctx.person)
        help_text = " ".join(x for x in (P.HELP["confirm"], self._opt(step.help, ctx)) if x)
        reply, t = yield from self._yes_no(key, self._render(step.text, ctx), ctx, help_text)
        passed = reply.value == "next"
        self._answer(key, t, "short", reply, value=None if passed else reply.value, passed=passed)
        return "passed" if passed else None

    def _opt(self, text: str | None, ctx: _Ctx) -> str:
        return self._render(text, ctx) if text else ""

    def _scale(
        self, key: str, question: str, scale: str, ctx: _Ctx, *, shuffle: bool, help_extra: str = ""
    ) -> Generator[None, Event, tuple[str, Answer]]:
        points = S.SCALES[scale]
        values = {b: points[i][0] for i, b in enumerate(ANSWER_BUTTONS)}
        phrases: dict[str, str] = {}
        for value, words in points:
            for phrase in (words, *S.SCALE_SYNONYMS.get(value, ())):
                phrases.setdefault(normalise(phrase), value)
        order = self._shuffled([0, 1, 2], shuffle)
        said = " ".join(f"For {points[i][1]}, {P.PRESS[ANSWER_BUTTONS[i]]}." for i in order)
        fixed = " ".join(f"For {points[i][1]}, {P.PRESS[ANSWER_BUTTONS[i]]}." for i in range(3))
        t = _Turn(
            f"{question} {said}",
            key,
            ctx.person,
            " ".join(x for x in (P.HELP["scale"], help_extra, fixed) if x),
            buttons=frozenset(ANSWER_BUTTONS),
            values=values,
            voice=frozenset(),
            phrases=phrases,
        )
        reply = yield from self._turn(t)
        answer = self._answer(key, t, "scale", reply, value=reply.value)
        return reply.value, answer

    def _scale_step(self, step: S.Scale, ctx: _Ctx) -> Run:
        key = self._key(step.id, ctx)
        if self._skip(key, ctx.person):
            return None
        value, answer = yield from self._scale(
            key,
            self._render(step.text, ctx),
            step.scale,
            ctx,
            shuffle=step.shuffle,
            help_extra=self._opt(step.help, ctx),
        )
        person = ctx.person
        if step.sets == "rating" and ctx.idea is not None and person is not None:
            ctx.idea.ratings[person.id] = value  # type: ignore[assignment]
        elif step.sets == "mood" and person is not None:
            self._checkin(person).mood = value  # type: ignore[assignment]
        elif step.sets == "job_status" and ctx.job is not None:
            ctx.job.history.append(JobEvent(status=value, at=self._now(), note_answer=answer.id))
            owner = self._person(ctx.job.person_id)
            if self.script.kind == "checkin" and owner is not None:
                self._checkin(owner).jobs[ctx.job.id] = value  # type: ignore[assignment]
        elif step.sets == "job_support" and ctx.job is not None:
            ctx.job.support = value  # type: ignore[assignment]
        elif step.sets == "help_needed" and ctx.job is not None:
            if ctx.job.history:
                ctx.job.history[-1].help_needed = value  # type: ignore[assignment]
            else:
                ctx.job.history.append(
                    JobEvent(status=ctx.job.status, at=self._now(), help_needed=value)
                )
        self._save()
        return None

    def _choose(self, step: S.Choose, ctx: _Ctx) -> Run:
        key = self._key(step.id, ctx)
        if self._skip(key, ctx.person):
            return self._resumed_outcome(key, ctx.person)
        options: list[S.Option] = self._shuffled(step.options, step.shuffle)
        phrases: dict[str, str] = {}
        for o in options:
            for phrase in (o.label, *o.also):
                phrases.setdefault(normalise(phrase), o.value)
        by_value = {o.value: o for o in options}
        help_text = " ".join(x for x in (P.HELP["choose"], self._opt(step.help, ctx)) if x)
        yield from self._say_turn(
            f"{self._render(step.text, ctx)} {P.CHOOSE_INTRO}", key, ctx.person, "choose"
        )
        for round_ in range(2):
            if round_:
                yield from self._say_turn(P.CHOOSE_AGAIN, key, ctx.person, "choose")
            for option in options:
                label = self._render(option.label, ctx)
                t = _Turn(
                    P.CHOOSE_OPTION.format(label=label),
                    key,
                    ctx.person,
                    help_text,
                    buttons=frozenset({"yes", "no", "next"}),
                    phrases=phrases,
                )
                reply = yield from self._turn(t)
                chosen: S.Option | None = None
                if reply.value == "yes":
                    chosen = option
                elif reply.value in by_value:
                    chosen = by_value[reply.value]
                if chosen is not None:
                    self._answer(key, t, "choice", reply, value=chosen.value)
                    yield from self._say_turn(
                        P.CHOSE.format(label=self._render(chosen.label, ctx)), key, ctx.person
                    )
                    return None
        t = _Turn(step.text, key, ctx.person, help_text)
        self._answer(key, t, "choice", _Reply("next", "button"), passed=True)
        yield from self._say_turn(self._passed_words(ctx), key, ctx.person)
        return "passed"

    # ------------------------------------------------------------------ people

    def _who_is_here(self, step: S.WhoIsHere, ctx: _Ctx) -> Generator[None, Event, None]:
        if self._resuming and self._record.people:
            if self.script.one_person:
                ctx.person = self._record.people[0]
            return
        self._resuming = False
        present: list[Person] = []
        one = step.mode == "one"
        intro = P.ROSTER_INTRO_ONE if one else P.ROSTER_INTRO_GROUP
        if self._roster:
            yield from self._say_turn(intro, step.id, None, "who_is_here")
        while not present:
            for person in self._roster:
                t = _Turn(
                    P.ROSTER_NAME.format(name=person.name),
                    step.id,
                    None,
                    P.HELP["who_is_here"],
                    buttons=frozenset({"yes", "no", "next"}),
                )
                reply = yield from self._turn(t)
                if reply.value == "yes":
                    present.append(person)
                    self._record.people.append(person)
                    self._answer(step.id, t, "short", reply, value="here", person=person)
                    yield from self._say_turn(
                        P.ROSTER_HELLO.format(name=person.name), step.id, person
                    )
                    if one:
                        break
            if step.new_person and not (one and present):
                question = P.ARE_YOU_NEW if (one or not self._roster) else P.ANYONE_ELSE
                for _ in range(8):
                    if self._roster or present:
                        t = _Turn(
                            question,
                            step.id,
                            None,
                            P.HELP["who_is_here"],
                            buttons=frozenset({"yes", "no", "next"}),
                        )
                        reply = yield from self._turn(t)
                        if reply.value != "yes":
                            break
                    newcomer = yield from self._new_person(step)
                    present.append(newcomer)
                    if one:
                        break
                    question = P.ANYONE_ELSE
            if not present:
                yield from self._say_turn(P.NOBODY_YET, step.id, None, "who_is_here")
        if self.script.one_person:
            ctx.person = present[0]

    def _new_person(self, step: S.WhoIsHere) -> Generator[None, Event, Person]:
        number = sum(1 for p in self._record.people if p.name.startswith(P.NEW_PERSON)) + 1
        person = Person(name=f"{P.NEW_PERSON} {number}")
        self._record.people.append(person)
        answer = yield from self._free(
            f"{step.id}.name", P.SAY_YOUR_NAME, _Ctx(person=person), help_extra=P.HELP["name"]
        )
        name = answer.transcript.strip() if answer is not None else ""
        if name:
            person.name = name
        self._save()
        yield from self._say_turn(P.WELCOME_NEW.format(name=person.name), step.id, person)
        return person

    def _consent(self, step: S.Consent, ctx: _Ctx) -> Generator[None, Event, None]:
        people = [ctx.person] if ctx.person is not None and not self.script.one_person else None
        for person in people or list(self._record.people):
            key = self._key(step.id, ctx)
            if self._skip(key, person):
                continue
            words = self._render(step.text, _Ctx(person=person)) if step.text else None
            text = f"{words} {P.YES_NO}" if words else P.CONSENT.format(person=person.name)
            while True:
                t = _Turn(
                    text, key, person, P.HELP["consent"], buttons=frozenset({"yes", "no", "next"})
                )
                reply = yield from self._turn(t)
                keep = reply.value == "yes"
                had = person.consent is not None and person.consent.audio
                if not keep and had and reply.value == "no":
                    # Taking consent away stops keeping audio: ask a second time before that.
                    sure, _ = yield from self._yes_no(
                        key, P.CONSENT_WITHDRAW, _Ctx(person=person), P.HELP["consent"]
                    )
                    if sure.value != "yes":
                        continue
                break
            method = "voice" if reply.by == "voice" else "button"
            person.consent = Consent(
                audio=keep, at=self._now(), method=method, session_id=self._record.id
            )
            self._answer(key, t, "short", reply, value="yes" if keep else "no", person=person)
            done = P.CONSENT_YES if keep else P.CONSENT_NO
            yield from self._say_turn(done.format(person=person.name), key, person)

    def _for_each_person(self, step: S.ForEachPerson, ctx: _Ctx) -> Generator[None, Event, None]:
        order = list(self._record.people)
        if step.rotate and order:
            k = self._round % len(order)
            order = order[k:] + order[:k]
        self._round += 1
        passes: list[tuple[S._Step, _Ctx]] = []
        collect = passes if step.ask_passes_again else None
        for person in order:
            yield from self._run(step.steps, replace(ctx, person=person, passes=collect))
        for passed_step, pctx in passes:
            self._resuming = False  # asking again is new, even straight after resuming
            yield from self._say_turn(
                P.ASKED_AGAIN.format(person=pctx.person.name if pctx.person else ""),
                passed_step.id,
                pctx.person,
            )
            yield from self._step(passed_step, replace(pctx, passes=None))

    # ------------------------------------------------------------------ plans and reviews

    def _plan_item(self, step: S.PlanItem, ctx: _Ctx) -> Run:
        person = ctx.person
        assert person is not None
        for i in range(step.max_items):
            suffix = "" if i == 0 else f".{i + 1}"
            what_key = f"{self._key(step.id, ctx)}.what{suffix}"
            job: Job | None = None
            if self._skip(what_key, person):
                if i == 0 and self._resumed_outcome(what_key, person) == "passed":
                    return "passed"
                done = self._latest(what_key, person)
                job = next(
                    (
                        j
                        for j in self._record.jobs
                        if done is not None
                        and j.person_id == person.id
                        and j.what == done.transcript
                    ),
                    None,
                )
            else:
                answer = yield from self._free(what_key, self._render(step.what, ctx), ctx)
                if answer is None:
                    return "passed" if i == 0 else None
                goal = self._goal_for(person)
                job = Job(
                    person_id=person.id,
                    what=answer.transcript.strip() or "(see the recording)",
                    goal_id=goal.id if goal else None,
                )
                self._record.jobs.append(job)
                self._save()
            if job is None:
                continue
            jctx = replace(ctx, job=job, passes=None)
            if step.when:
                when_key = f"{self._key(step.id, ctx)}.when{suffix}"
                if not self._skip(when_key, person):
                    when = yield from self._free(when_key, self._render(step.when, jctx), ctx)
                    if when is not None and when.transcript.strip():
                        job.when = when.transcript.strip()
                        self._save()
            if step.support:
                support_key = f"{self._key(step.id, ctx)}.support{suffix}"
                if not self._skip(support_key, person):
                    value, _ = yield from self._scale(
                        support_key, self._render(step.support, jctx), "support", ctx, shuffle=True
                    )
                    job.support = value  # type: ignore[assignment]
                    self._save()
            if step.more and i + 1 < step.max_items:
                more_key = f"{self._key(step.id, ctx)}.more{suffix}"
                if self._skip(more_key, person):
                    more = self._latest(more_key, person)
                    if more is None or more.value != "yes":
                        break
                    continue
                reply, t = yield from self._yes_no(
                    more_key, self._render(step.more, jctx), ctx, P.HELP["confirm"]
                )
                self._answer(more_key, t, "short", reply, value=reply.value)
                if reply.value != "yes":
                    break
        return None

    def _review(self, step: S.Review, ctx: _Ctx) -> Generator[None, Event, None]:
        jobs = self._record.jobs
        items: list[Job] | list[Idea]
        if step.items == "ideas":
            items = self._shuffled(self._record.ideas, True)
        elif step.items == "my_jobs":
            items = [j for j in jobs if ctx.person is not None and j.person_id == ctx.person.id]
        elif step.items == "jobs_not_going_well":
            items = [j for j in jobs if j.status == "not_going_well"]
        else:
            items = list(jobs)
        if not items:
            if step.empty and not self._resuming:
                yield from self._say_turn(self._render(step.empty, ctx), step.id, ctx.person)
            return
        if step.intro and not self._resuming:
            yield from self._say_turn(self._render(step.intro, ctx), step.id, ctx.person)
        for item in items:
            if isinstance(item, Idea):
                sub = replace(ctx, idea=item)
            else:
                owner = ctx.person
                if owner is None:  # a group's job is answered for its owner, when present
                    owner = next((p for p in self._record.people if p.id == item.person_id), None)
                sub = replace(ctx, job=item, person=owner)
            yield from self._run(step.steps, sub)

    def _summary(self, of: str, ctx: _Ctx) -> str:
        r = self._record
        lines: list[str] = []
        if of == "ideas":
            if not r.ideas:
                return P.NO_IDEAS
            lines.append(P.IDEAS_INTRO)
            for idea in r.ideas:
                source = next((a for a in r.answers if a.id == idea.from_answer), None)
                owner = self._person(source.person_id) if source else None
                lines.append(
                    P.IDEA_LINE.format(person=owner.name if owner else "Someone", idea=idea.text)
                )
            return " ".join(lines)
        mine = of == "my_plan"
        goal = self._goal_for(ctx.person if mine else None)
        if of == "goal":
            return (
                P.GOAL_LINE.format(goal=goal.text)
                if goal
                else P.GOAL_NO_IDEAS.format(staff=self._staff_cap())
            )
        lines.append(P.PLAN_INTRO)
        if goal:
            lines.append((P.MY_GOAL_LINE if mine else P.GOAL_LINE).format(goal=goal.text))
        for job in r.jobs:
            if mine and ctx.person is not None and job.person_id != ctx.person.id:
                continue
            owner = self._person(job.person_id)
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

    def _staff_cap(self) -> str:
        staff = self._facilitator or P.STAFF
        return staff[:1].upper() + staff[1:]

    def _read_back(self, step: S.ReadBack, ctx: _Ctx) -> Generator[None, Event, None]:
        key = self._key(step.id, ctx)
        if step.confirm and self._skip(key, ctx.person):
            return
        if not step.confirm and self._resuming:
            return
        intro = self._opt(step.text, ctx)
        summary = " ".join(x for x in (intro, self._summary(step.of, ctx)) if x)
        if not step.confirm:
            yield from self._say_turn(summary, step.id, ctx.person, "read_back")
            return
        t = _Turn(
            f"{summary} {P.IS_THAT_RIGHT}",
            key,
            ctx.person,
            P.HELP["read_back"],
            buttons=frozenset({"yes", "no", "next"}),
        )
        reply = yield from self._turn(t)
        self._answer(key, t, "short", reply, value=reply.value, person=ctx.person)
        if reply.value == "yes":
            yield from self._say_turn(P.PLAN_RIGHT, key, ctx.person)
        elif reply.value == "no":
            self._flag(
                "other", P.PLAN_WRONG_REASON.format(what=step.of.replace("_", " ")), ctx.person
            )
            yield from self._say_turn(P.PLAN_WRONG.format(staff=self._staff_cap()), key, ctx.person)

    def _agree_goal(self, step: S.AgreeGoal, ctx: _Ctx) -> Generator[None, Event, None]:
        if self._resuming and self._group_goal() is not None:
            return
        self._resuming = False
        score = {"like": 2, "not_sure": 1, "dont_like": 0}
        ideas = list(self._record.ideas)
        ranked = sorted(
            ideas,
            key=lambda i: (
                -sum(score[v] for v in i.ratings.values()),
                -sum(1 for v in i.ratings.values() if v == "like"),
                ideas.index(i),
            ),
        )
        if not ranked:
            self._flag("other", P.GOAL_NOT_AGREED_REASON, None)
            yield from self._say_turn(
                P.GOAL_NO_IDEAS.format(staff=self._staff_cap()), step.id, None
            )
            return
        for n, idea in enumerate(ranked[: S.MAX_OPTIONS]):
            words = (P.GOAL_CHOICE if n == 0 else P.GOAL_NEXT_CHOICE).format(idea=idea.text)
            key = f"{step.id}/{idea.id}"
            reply, t = yield from self._yes_no(key, words, ctx, P.HELP["confirm"])
            self._answer(key, t, "short", reply, value=reply.value)
            if reply.value == "yes":
                self._record.goals.append(Goal(text=idea.text, from_idea=idea.id, agreed=True))
                self._save()
                yield from self._say_turn(P.GOAL_AGREED.format(idea=idea.text), step.id, None)
                return
        self._flag("other", P.GOAL_NOT_AGREED_REASON, None)
        yield from self._say_turn(P.GOAL_NONE.format(staff=self._staff_cap()), step.id, None)
