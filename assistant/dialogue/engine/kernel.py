"""The engine's kernel: the generator machinery and the one turn where the rules live.

It runs a :class:`~assistant.dialogue.schema.Script` with a person or a group. It never does
I/O: time comes only from the ``clock`` it is given, randomness only from ``rng`` and record ids
only from ``ids``, so a whole session runs in milliseconds in tests, the same each time.
The shell carries out the actions and feeds back events (``assistant.core.events``).

The flow is written as Python generators that ``yield`` whenever they need the next event;
:meth:`Engine.handle` sends the event in and returns what was emitted meanwhile. The kernel
runs the steps in order and hands each to the *handler* registered for its type (the table
:data:`~assistant.dialogue.engine.base.HANDLERS`); it names no step kind itself. The handlers
live one module per family: ``flow`` (say, celebrate, branch, flag), ``questions`` (ask,
confirm, scale, choose), ``roster`` (who_is_here, consent, for_each_person), ``planning``
(plan_item, review, read_back) and ``agreement`` (agree_goal). Every change to the record goes
through :class:`~assistant.dialogue.engine.session.SessionLog` (``engine.log``); what speech
means at a turn is :func:`~assistant.dialogue.engine.understand.understand` (pure).

Every question goes through one place, :meth:`Engine.turn`, which is where the rules live:

* it says the words, always ending "I'm listening now." before it listens, waits for
  :class:`PromptFinished`, then plays the listening earcon, lights the status and opens the
  microphone; a press while speaking (barge-in) is acted on at once;
* silence: it waits at least ``repeat_after_s`` (the person's own, if longer) and repeats the
  *same* words, ``repeats_before_waiting`` times; then it waits for a button as long as it takes,
  with a gentle reminder every ``reminder_every_s``. Silence never ends a session;
* help (explains the step and the buttons here) and repeat work at every step; holding help
  raises a ``needs_a_person`` flag; holding next repeats;
* a read-back (``Turn.whole``) is confirmed only by a press or word after its words were
  all said: an answer press while they are still said says them again, from the start;
* speech that is not confidently one of the answers here is "Sorry, I didn't catch that.",
  never a guess; only the buttons that mean something at this step are lit.

How to add a step kind (say ``teach_word``):

1. In :mod:`assistant.dialogue.schema`, add its model (``class TeachWord(BaseStep)`` with
   ``type: Literal["teach_word"]`` and its fields), add it to the ``Step`` union and to
   ``STEP_TYPES``, and to ``ANSWER_STEPS`` if it keeps answers (then it needs an ``id``).
2. Write its handler in a module of ``assistant/dialogue/engine/`` (a new one for a new
   family)::

       @handles("teach_word")
       def teach_word(engine: Engine, step: S.TeachWord, ctx: Ctx) -> Run:
           key = engine.key(step.id, ctx)
           if engine.skip(key, ctx.person):        # already answered before a resume
               return engine.resumed_outcome(key, ctx.person)
           t = Turn(engine.render(step.text, ctx), key, ctx.person, P.HELP["ask"], role="free",
                    buttons=frozenset({"next"}))
           reply = yield from engine.turn(t)      # the rules: repeats, help, barge-in
           engine.log.answer(key, t, "free", reply)   # record changes only through the log
           return None                            # or "passed" to be asked again

3. Import the module in ``assistant/dialogue/engine/__init__.py`` so it registers. A test
   checks that every step type in the schema has exactly one handler.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Generator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from assistant.core.clock import Clock
from assistant.core.events import (
    Action,
    ButtonPressed,
    End,
    Event,
    Listen,
    PlayEarcon,
    PromptFinished,
    Say,
    SetLights,
    SilenceTimedOut,
    SpeechHeard,
    StopListening,
    Tick,
)
from assistant.core.ids import IdMaker, RandomIds
from assistant.core.record import Goal, Job, Person, SessionRecord
from assistant.core.settings import DialogueSettings
from assistant.core.words import ShortAnswer
from assistant.dialogue import prompts as P
from assistant.dialogue import schema as S
from assistant.dialogue.engine import render
from assistant.dialogue.engine.base import HANDLERS, Ctx, Flow, Reply, Run, Turn, step_id_of
from assistant.dialogue.engine.session import SessionLog
from assistant.dialogue.engine.understand import understand

MIN_WAIT_S = 10.0
"""Never repeat sooner than this, whatever a person's own setting says."""

_DOUBLE_STOP = re.compile(r"([.!?])[.]+(?=\s|$)")
_T = TypeVar("_T")


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def words_in(text: str) -> int:
    return len(text.split())


def utterances(text: str, most: int = P.MAX_UTTERANCE_WORDS) -> list[str]:
    """*text* in utterances of whole sentences, each at most *most* words (a sentence longer
    than that stays whole)."""
    out: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        if out and words_in(out[-1]) + words_in(sentence) <= most:
            out[-1] = f"{out[-1]} {sentence}"
        elif sentence:
            out.append(sentence)
    return out


QUESTION_STEPS = frozenset(
    {"ask", "scale", "choose", "confirm", "plan_item", "strengths", "agenda", "agree_goal"}
)
"""Steps that ask the person something (counted for "Two more questions.")."""


def asks(step: S.AnyStep) -> bool:
    """Whether *step* asks a question, itself or in the steps inside it."""
    if step.type in QUESTION_STEPS:
        return True
    return any(asks(s) for group in S._children(step) for s in group)


def _time_of(clock: Clock | Callable[[], float]) -> Callable[[], float]:
    """Seconds since the epoch from a core :class:`Clock`, or from a bare callable (the shell's
    older clocks, which give the time when called)."""
    if isinstance(clock, Clock):
        return clock.time
    return clock


def _buttons_words(t: Turn) -> str:
    """A listened turn's words for someone who uses the buttons only: no "I'm listening now";
    the buttons to press said instead, when the words do not say them already."""
    text = t.text.removesuffix(P.LISTENING).rstrip()
    if "press" in text.lower():
        return text
    if t.buttons == frozenset({"next"}):
        return f"{text} {P.TO_PASS}"
    return f"{text} {P.PRESS_A_BUTTON}"


class StopForToday(Exception):
    """Red during a break: the session stops here, kept as a draft to carry on with later."""


class GoBack(Exception):
    """Yellow during a break: go back one question (the record has been put back already)."""


class Engine:
    """Runs one session of a script. See the module docstring for the rules it keeps."""

    def __init__(
        self,
        script: S.Script,
        people: Sequence[Person],
        *,
        settings: DialogueSettings,
        clock: Clock | Callable[[], float],
        rng: random.Random | None = None,
        ids: IdMaker | None = None,
        jobs: Sequence[Job] = (),
        goals: Sequence[Goal] = (),
        record: SessionRecord | None = None,
        engines: dict[str, str] | None = None,
        facilitator: str | None = None,
        next_meeting: str | None = None,
    ) -> None:
        self.script = script
        self.settings = settings
        self._time = _time_of(clock)
        self.rng = rng if rng is not None else random.Random()
        self._resuming = record is not None and bool(record.answers)
        self.log = SessionLog.open(
            script=script.name,
            script_version=script.version,
            people=people,
            record=record,
            jobs=jobs,
            goals=goals,
            engines=engines,
            facilitator=facilitator,
            next_meeting=next_meeting,
            roll_call=any(isinstance(s, S.WhoIsHere) for s in script.walk()),
            ids=ids if ids is not None else RandomIds(),
            now=self.now,
            emit=self.emit,
        )
        self.log.group = not script.one_person
        if record is None:  # the script it ran: a carried-on session keeps its own
            self.log.record.script_sha256 = script.sha256
            self.log.record.script_publication = script.publication
        self.facilitator = facilitator or self.log.record.facilitator
        self._out: list[Action] = []
        self._gen: Generator[None, Event, None] | None = None
        self._finished = False
        self.stopped = False
        """Stopped for today during a break (not finished: the record is still a draft)."""
        self._next_prompt = 1
        self._listening = False
        self._round = 0
        self._rng_at_start = self.rng.getstate()
        self._going_back = False
        """The next turn starts "Going back one question." (set by :class:`GoBack`)."""
        self._step_id: str | None = None
        self._person_id: str | None = None

    # ------------------------------------------------------------------ public interface

    @property
    def record(self) -> SessionRecord:
        return self.log.record

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
        ctx = self._fresh_ctx()
        if self._resuming:
            yield from self.say_turn(P.WELCOME_BACK, "welcome_back", None)
        try:
            while True:
                try:
                    yield from self.run(self.script.steps, ctx)
                    break
                except GoBack:
                    # The record is as it was before the question: run the script again from
                    # the start, skipping what is answered (as when carrying on a session),
                    # with the same shuffles and rounds, to the question to ask again.
                    ctx = self._fresh_ctx()
                    self._resuming = True
                    self._going_back = True
                    self._round = 0
                    self.rng.setstate(self._rng_at_start)
        except StopForToday:
            # Red during a break: the record stays a draft (saved after every answer), and the
            # device offers to carry on with it at the next start.
            self.stopped = True
            yield from self.say_turn(P.STOPPED_FOR_TODAY, "stopped", None)
            self._step_id = None
            self._person_id = None
            self.emit(SetLights(frozenset(), "idle"))
            self.log.save(finished=False)
            self.emit(End("stopped"))
            return
        self.log.finish()
        self._step_id = None
        self._person_id = None
        # short answers of taught people that stood (before the shell deletes the turns' audio)
        self.emit(*self.log.word_examples())
        self.emit(SetLights(frozenset(), "idle"))
        self.log.save(finished=True)
        self.emit(End("finished"))

    def _fresh_ctx(self) -> Ctx:
        ctx = Ctx()
        if self.script.one_person and self.record.people:
            ctx.person = self.record.people[0]
        return ctx

    def run(self, steps: Sequence[S.AnyStep], ctx: Ctx) -> Generator[None, Event, None]:
        """Run *steps* in order (skipping those whose ``only_if`` has no value); a step the
        person passed is kept in the round's passes, to be asked again."""
        top = steps is self.script.steps
        for n, step in enumerate(steps):
            if step.only_if is not None and not self.ref(step.only_if, ctx):
                continue
            if top and not self._resuming and asks(step):
                left = sum(1 for s in steps[n:] if asks(s))
                total = sum(1 for s in steps if asks(s))
                if left in P.PROGRESS and total > 2:  # how far through, now and then
                    yield from self.say_turn(P.PROGRESS[left], step.id, ctx.person)
            outcome = yield from self.step(step, ctx)
            if outcome == "passed" and ctx.passes is not None:
                ctx.passes.append((step, ctx))

    def step(self, step: S.AnyStep, ctx: Ctx) -> Run:
        """Run one step with the handler registered for its type."""
        handler = HANDLERS.get(step.type)
        if handler is None:  # pragma: no cover - a test checks every type has a handler
            raise AssertionError(f"no handler for step type {step.type}")
        return (yield from handler(self, step, ctx))

    # ------------------------------------------------------------------ the one turn

    def turn(self, t: Turn) -> Flow:
        """Say, listen, and return the first meaningful answer. The rules live here."""
        self._step_id = step_id_of(t.step_id)
        self._person_id = t.person.id if t.person else None
        # A person who uses the buttons only: the microphone stays closed for them, so no
        # "I'm listening now"; the words say the buttons instead.
        ears = t.listen and not self.buttons_only(t.person)
        if ears and not t.text.endswith(P.LISTENING):
            t.text = f"{t.text} {P.LISTENING}"  # always: the words before every listen
        elif t.listen and not ears:
            t.text = _buttons_words(t)
        if t.listen and not t.whole:  # not a read-back: that is the same question still
            self.log.checkpoint()
        repeats = 0
        prefix = t.first
        if self._going_back:
            self._going_back = False
            prefix = f"{P.GOING_BACK} {prefix}".strip()
        last: str | None = None
        while True:
            pid = self._say(t.text, t, prefix)
            speaking = True
            waiting = False
            since = self._time()
            started = since
            redo: str | None = None
            while redo is None:
                event = yield
                if isinstance(event, PromptFinished):
                    if not speaking or event.prompt_id != pid:
                        continue
                    speaking = False
                    if not t.listen:
                        return Reply("done", "none")
                    started = self._time()
                    if ears:
                        self._open(t, self.wait_s(t.person))
                    else:  # buttons only: wait for a press, the microphone closed
                        self.emit(SetLights(t.lit, "idle"))
                elif isinstance(event, ButtonPressed):
                    outcome = self._press(event, t)
                    if t.whole and speaking and isinstance(outcome, Reply):
                        # A read-back is checked only once it was heard: say it all again.
                        redo = "whole"
                        continue
                    if outcome is None:
                        if event.while_speaking and speaking:
                            # The shell cut the words off for a press that means nothing here.
                            if not t.listen:
                                return Reply("done", "none")
                            redo = "repeat"
                        continue
                    self._close()
                    if isinstance(outcome, Reply):
                        return outcome
                    redo = outcome
                elif isinstance(event, SpeechHeard):
                    if not self._listening:
                        continue
                    self._listening = False
                    self.emit(PlayEarcon("done_listening"), SetLights(t.lit, "thinking"))
                    heard = understand(event, t)
                    if isinstance(heard, Reply):
                        return heard
                    redo = heard
                elif isinstance(event, SilenceTimedOut):
                    if not self._listening:
                        continue
                    self._listening = False
                    wait = self.wait_s(t.person)
                    elapsed = max(event.waited_s, self._time() - started)
                    if elapsed + 1e-6 < wait:
                        # The shell gave up early: keep listening, quietly, for the rest.
                        self._open(t, wait - elapsed, earcon=False)
                        continue
                    self.emit(PlayEarcon("done_listening"))
                    if t.silence_goes_on:
                        return Reply("next", "none")
                    if repeats < self.settings.repeats_before_waiting:
                        repeats += 1
                        redo = "silence"
                    else:
                        waiting = True
                        since = self._time()
                        self.emit(SetLights(t.lit, "idle"))
                elif isinstance(event, Tick):
                    reminder = self.settings.reminder_every_s
                    if waiting and self._time() - since >= reminder:
                        redo = "reminder"
                    elif (
                        not ears
                        and t.listen
                        and not speaking
                        and not waiting
                        and self._time() - started + 1e-6 >= self.wait_s(t.person)
                    ):
                        # Buttons only: the same waits as a silence, then the same repeats.
                        if repeats < self.settings.repeats_before_waiting:
                            repeats += 1
                            redo = "silence"
                        else:
                            waiting = True
                            since = self._time()
            if redo not in ("silence", "reminder"):
                repeats = 0  # the person did something: silence counts afresh
            if redo == "help" and last == "help":
                # Help again, straight after the help: a break, as the help says.
                self._close()
                choice = yield from _break(self, t)
                if choice == "stop":
                    raise StopForToday
                last = None
                prefix = P.BACK_FROM_BREAK
                if choice == "back":
                    if self.log.go_back() is not None:
                        raise GoBack
                    prefix = P.NOTHING_TO_GO_BACK_TO
                continue
            last = redo
            prefix = {
                "silence": "",
                "repeat": "",
                "help": self._help(t),
                "held_help": P.HELD_HELP,
                "reminder": P.REMINDER,
                "not_caught": P.NOT_CAUGHT,
                "pick_one": P.PICK_ONE,
                "whole": P.HEAR_IT_ALL,
            }[redo]

    def _press(self, event: ButtonPressed, t: Turn) -> Reply | str | None:
        button = event.button
        if button == "help":
            if event.held:
                self.log.flag("needs_a_person", P.NEED_PERSON_REASON, t.person)
                return "held_help"
            return "help"
        if button == "repeat" or (button == "next" and event.held):
            return "repeat"
        if button in t.buttons:
            return Reply(t.values.get(button, button), "button")
        return None

    def _help(self, t: Turn) -> str:
        return " ".join(p for p in (t.help, P.ALWAYS_HELP) if p)

    def say_turn(
        self, text: str, step_id: str, person: Person | None, kind: str = "say"
    ) -> Generator[None, Event, None]:
        """Say *text* (nothing listened for); yellow moves on, help explains *kind*."""
        t = Turn(
            text,
            step_id,
            person,
            help=f"{P.HELP.get(kind, P.HELP['say'])} {P.TO_MOVE_ON}",
            buttons=frozenset({"next"}),
            listen=False,
        )
        yield from self.turn(t)

    # ------------------------------------------------------------------ actions

    def emit(self, *actions: Action) -> None:
        self._out.extend(actions)

    def _say(self, text: str, t: Turn, prefix: str = "") -> int:
        """Say *prefix* then *text*: as one utterance when together they are short enough
        (at most ``P.MAX_UTTERANCE_WORDS`` words), else the prefix (help, a reminder...) as
        utterances of its own first, so the question is never buried in a long one. The id of
        the last utterance is returned: the turn listens once that one has been said. Each is
        spoken at the rate of the person asked (their setting), if they have one."""
        parts = [f"{prefix} {text}"] if prefix else [text]
        if prefix and words_in(parts[0]) > P.MAX_UTTERANCE_WORDS:
            parts = [*utterances(prefix), text]
        self.emit(SetLights(t.lit, "speaking"))
        pid = 0
        rate = self.rate(t.person)
        for part in parts:
            pid = self._next_prompt
            self._next_prompt += 1
            # A person's words often end with a full stop already ("I heard: the food.. Is").
            self.emit(Say(_DOUBLE_STOP.sub(r"\1", part), pid, words_per_minute=rate))
        return pid

    def _open(self, t: Turn, timeout: float, earcon: bool = True) -> None:
        allowed: tuple[ShortAnswer, ...] = ()
        if t.role == "short":
            order: tuple[ShortAnswer, ...] = ("yes", "no", "next")
            allowed = tuple(a for a in order if a in t.heard_answers) + ("help", "repeat")
        if earcon:
            self.emit(PlayEarcon("listening"), SetLights(t.lit, "listening"))
        self.emit(
            Listen(
                role=t.role,
                step_id=step_id_of(t.step_id),
                person_id=t.person.id if t.person else None,
                allowed=allowed,
                timeout_s=timeout,
                trailing_silence_s=self.end_pause_s(t.person),
                phrases=tuple(dict.fromkeys(t.phrases)),
            )
        )
        self._listening = True

    def _close(self) -> None:
        if self._listening:
            self._listening = False
            self.emit(StopListening(), PlayEarcon("done_listening"))

    # ------------------------------------------------------------------ for the handlers

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._time(), UTC)

    def wait_s(self, person: Person | None) -> float:
        """The person's own wait if they have one (never under 10 s), else the setting; for
        the whole group, the longest of everyone's."""

        def own(p: Person) -> float:
            if p.repeat_after_s is None:
                return self.settings.repeat_after_s
            return max(MIN_WAIT_S, p.repeat_after_s)

        if person is not None:
            return own(person)
        return max([self.settings.repeat_after_s, *(own(p) for p in self.record.people)])

    def _present(self, person: Person | None) -> list[Person]:
        """Whose settings a turn uses: the person asked, or everyone here for the group."""
        return [person] if person is not None else list(self.record.people)

    def rate(self, person: Person | None) -> float | None:
        """The speaking rate for a turn: the person's own; for the group, the slowest set
        rate of those here; None for the voice's own rate."""
        rates = [p.words_per_minute for p in self._present(person) if p.words_per_minute]
        return min(rates) if rates else None

    def end_pause_s(self, person: Person | None) -> float | None:
        """The pause that ends a spoken answer: the person's own; for the group, the
        longest set; None for the device's setting."""
        pauses = [p.end_pause_s for p in self._present(person) if p.end_pause_s]
        return max(pauses) if pauses else None

    def buttons_only(self, person: Person | None) -> bool:
        """No microphone for this turn: the person uses the buttons only (for the group:
        everyone here does)."""
        present = self._present(person)
        return bool(present) and all(p.buttons_only for p in present)

    def key(self, step_id: str, ctx: Ctx) -> str:
        """The key a step's answer is kept under: per job or idea inside a review."""
        if ctx.job is not None:
            return f"{step_id}/{ctx.job.id}"
        if ctx.idea is not None:
            return f"{step_id}/{ctx.idea.id}"
        return step_id

    @property
    def resuming(self) -> bool:
        """Carrying on an unfinished session, before its first unanswered question."""
        return self._resuming

    def stop_resuming(self) -> None:
        self._resuming = False

    def skip(self, key: str, person: Person | None) -> bool:
        """While resuming, answered questions are skipped; the first unanswered one resumes."""
        if not self._resuming:
            return False
        if self.log.answered(key, person):
            return True
        self._resuming = False
        return False

    def resumed_outcome(self, key: str, person: Person | None) -> str | None:
        """For a question skipped on resuming: "passed" if it was passed once and not yet
        asked again, so the end of the round still asks it again."""
        found = self.log.answers_to(key, person)
        return "passed" if len(found) == 1 and found[0].passed else None

    def value_of(self, step_id: str, ctx: Ctx) -> str | None:
        """The fixed answer (value) last given to *step_id*, here or anywhere; None if passed."""
        answer = self.log.latest(self.key(step_id, ctx), ctx.person)
        if answer is None:
            answer = self.log.latest(step_id, ctx.person)
        if answer is None or answer.passed or answer.rejected:
            return None
        return answer.value

    def next_round(self) -> int:
        """Count the rounds of people (each starts with a different person)."""
        n = self._round
        self._round += 1
        return n

    def ref(self, ref: str, ctx: Ctx) -> str | None:
        return render.ref(ref, ctx, self.log, self.facilitator, self.key)

    def render(self, text: str, ctx: Ctx) -> str:
        """*text* with its {references} filled in."""
        return render.render(text, ctx, self.log, self.facilitator, self.key)

    def opt(self, text: str | None, ctx: Ctx) -> str:
        return self.render(text, ctx) if text else ""

    def staff_cap(self) -> str:
        staff = self.facilitator or P.STAFF
        return staff[:1].upper() + staff[1:]

    def shuffled(self, items: Sequence[_T], shuffle: bool) -> list[_T]:
        out = list(items)
        if shuffle:
            self.rng.shuffle(out)
        return out


def _break(engine: Engine, t: Turn) -> Generator[None, Event, str]:
    """A break: said once, then quiet (no reminders) for as long as it takes. "on" to
    carry on (green), "back" to go back one question (yellow), "stop" to stop for today
    (red)."""
    pause = Turn(P.BREAK, t.step_id, t.person, "", buttons=frozenset({"yes", "no", "next"}))
    while True:
        pid = engine._say(pause.text, pause)
        while True:
            event = yield
            if isinstance(event, PromptFinished) and event.prompt_id == pid:
                engine.emit(SetLights(pause.lit, "idle"))
            elif isinstance(event, ButtonPressed):
                if event.button == "yes":
                    return "on"
                if event.button == "next" and not event.held:
                    return "back"
                if event.button == "no":
                    return "stop"
                if event.button == "help" and event.held:
                    engine.log.flag("needs_a_person", P.NEED_PERSON_REASON, t.person)
                break  # help or repeat: say it again
            # ticks, silences, speech: a break is quiet
