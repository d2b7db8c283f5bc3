"""Run a scenario through the real engine, on a virtual clock: ``assistant simulate``.

The engine, the script, the voice and the recognisers are the real ones (``--fake-speech`` swaps
the last two for fast fakes). Only the person and the room are simulated, by a
:class:`ScenarioDriver`: it presses buttons, speaks text with the TTS voice into the recogniser,
plays WAV files, or stays silent for N seconds, which pass at once on the virtual clock.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.base import MIC_RATE
from assistant.config import Settings
from assistant.dialogue.events import (
    ButtonPressed,
    Event,
    Listen,
    SilenceTimedOut,
    SpeechHeard,
)
from assistant.dialogue.scenario import Scenario, Turn, check_expectations
from assistant.dialogue.shell import (
    JsonRecordSink,
    Narrator,
    PromptState,
    RecordSink,
    SessionShell,
    VirtualClock,
    recognise,
    to_mic_rate,
)
from assistant.errors import EngineFallback, ScenarioError
from assistant.records.model import Job, Person, SessionRecord
from assistant.stt.base import Recognizer, Role, Transcript
from assistant.voice.base import Voice
from assistant.words import ShortAnswer, match_short_answer

log = logging.getLogger(__name__)

LEAD_SILENCE_S = 0.3
TRAIL_SILENCE_S = 0.6
"""Silence around spoken text, as a microphone turn has."""

BARGE_IN_AFTER_S = 0.5
"""How far into a prompt a ``during_prompt`` press comes (virtual seconds)."""


MAX_GENERATED_TURNS = 600
"""Virtual people stop after this many turns (a session going round in circles)."""


class ScenarioExhausted(ScenarioError):
    """The scenario ran out of turns before the session ended."""


class ScenarioMismatch(ScenarioError):
    """A turn's ``who:`` or ``step:`` check does not match what the engine is doing."""


class ScenarioDriver(PromptState):
    """The simulated person and room: the shell's inputs (buttons) and ears (microphone)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        speech_voice: Voice,
        recognisers: Mapping[Role, Recognizer],
        clock: VirtualClock,
        audio_dir: Path,
        person_name: Callable[[str | None], str | None] = lambda pid: pid,
        step_now: Callable[[], str | None] = lambda: None,
        more: Callable[[Listen | None], Turn | list[Turn]] | None = None,
    ) -> None:
        self.scenario = scenario
        self.turns = list(scenario.turns)
        self.speech_voice = speech_voice
        self.recognisers = recognisers
        self.clock = clock
        self.audio_dir = audio_dir
        self.person_name = person_name
        self.step_now = step_now
        self.more = more
        """When the turns run out, ask this for the next one (the demo's virtual people)."""
        self.index = 0
        self.listens = 0
        self._silence_left: float | None = None
        self._queue: deque[Event] = deque()

    @property
    def where(self) -> str:
        return str(self.scenario.path or "scenario")

    @property
    def done(self) -> bool:
        return self.index >= len(self.turns)

    # -- Inputs: buttons, with barge-in ------------------------------------------------------

    def get(self, timeout: float | None = None) -> Event | None:
        """A press that is waiting; else the device waits for a button with the microphone
        closed: the next turn must be a press or silence (which passes in *timeout* steps)."""
        if self._queue:
            return self._queue.popleft()
        step = self.step_now()
        if self.done and self.more is not None:
            self._more(None)
        if self.done:
            raise ScenarioExhausted(
                f"{self.where}: the scenario ran out of turns after turn {len(self.turns)}, "
                f"but the session is not finished (it is waiting for a button at step {step!r})."
            )
        turn = self.turns[self.index]
        if turn.press is not None:
            self._advance()
            return ButtonPressed(turn.press, held=turn.held)
        if turn.silence is not None:
            left = turn.silence if self._silence_left is None else self._silence_left
            passed = min(left, timeout if timeout is not None else left)
            self.clock.sleep(passed)
            self._silence_left = left - passed
            if self._silence_left <= 0:
                self._advance()
            return None
        raise ScenarioMismatch(
            f"{self.where}: turn {self.index + 1} speaks, but the device is waiting for a "
            f"button with the microphone closed (at step {step!r}); press a button instead."
        )

    @property
    def speaking(self) -> bool:
        """Read by the shell after each sentence it plays: the moment a barge-in press lands."""
        if self._speaking and not self.done and self.turns[self.index].during_prompt:
            turn = self.turns[self.index]
            assert turn.press is not None
            self.index += 1
            self.clock.sleep(BARGE_IN_AFTER_S)
            if self._barge_in is not None:
                self._barge_in()
            self._speaking = False
            self._queue.append(ButtonPressed(turn.press, held=turn.held, while_speaking=True))
        return self._speaking

    # -- Ears: one listening turn -------------------------------------------------------------

    def hear(self, listen: Listen) -> Event:
        self.listens += 1
        if self._queue:  # a press that came while the prompt was playing
            return self._queue.popleft()
        while True:
            turn = self._next(listen)
            number = self.index + 1
            if turn.silence is not None:
                left = turn.silence if self._silence_left is None else self._silence_left
                if left >= listen.timeout_s:
                    self.clock.sleep(listen.timeout_s)
                    self._silence_left = left - listen.timeout_s
                    if self._silence_left <= 0:
                        self._advance()
                    return SilenceTimedOut(waited_s=listen.timeout_s)
                self.clock.sleep(left)
                self._advance()
                continue
            self._advance()
            if turn.press is not None:
                return ButtonPressed(turn.press, held=turn.held)
            if turn.say is not None:
                chunks = list(self.speech_voice.synthesize(turn.say))
                if not chunks:
                    raise ScenarioError(f"{self.where}: turn {number}: the voice said nothing.")
                pcm = to_mic_rate(np.concatenate(chunks), self.speech_voice.sample_rate)
                return self._speech(pcm, listen, said=turn.say)
            from assistant.audio.wav import read_wav

            pcm = read_wav(self.scenario.audio_path(turn))
            return self._speech(pcm, listen, said=None)

    def _next(self, listen: Listen) -> Turn:
        if self.done and self.more is not None:
            self._more(listen)
        if self.done:
            who = self.person_name(listen.person_id)
            raise ScenarioExhausted(
                f"{self.where}: the scenario ran out of turns after turn {len(self.turns)}, "
                f"but the session is not finished (it is listening"
                f"{f' to {who}' if who else ''} at step {listen.step_id!r})."
            )
        turn = self.turns[self.index]
        if self._silence_left is None:
            self._check(turn, listen)
        return turn

    def _more(self, listen: Listen | None) -> None:
        assert self.more is not None
        if len(self.turns) >= MAX_GENERATED_TURNS:
            raise ScenarioError(
                f"The virtual people took {MAX_GENERATED_TURNS} turns and the session has not "
                f"finished (at step {self.step_now()!r}); it seems to be going round in circles."
            )
        chosen = self.more(listen)
        # one turn, or several: e.g. an answer, then a press during the next prompt
        self.turns.extend([chosen] if isinstance(chosen, Turn) else chosen)

    def _check(self, turn: Turn, listen: Listen) -> None:
        number = self.index + 1
        who = self.person_name(listen.person_id)
        if turn.who is not None and turn.who != who:
            raise ScenarioMismatch(
                f"{self.where}: turn {number} is for {turn.who}, but the engine is listening "
                f"to {who or 'the whole group'} at step {listen.step_id!r}."
            )
        if turn.step is not None and turn.step != listen.step_id:
            raise ScenarioMismatch(
                f"{self.where}: turn {number} is for step {turn.step!r}, but the engine is at "
                f"step {listen.step_id!r}."
            )

    def _advance(self) -> None:
        self.index += 1
        self._silence_left = None

    def _speech(self, pcm: np.ndarray, listen: Listen, said: str | None) -> Event:
        lead = np.zeros(int(LEAD_SILENCE_S * MIC_RATE), np.int16)
        trail = np.zeros(int(TRAIL_SILENCE_S * MIC_RATE), np.int16)
        audio = np.concatenate([lead, pcm.astype(np.int16), trail])
        self.clock.sleep(len(audio) / MIC_RATE)
        heard = recognise(audio, listen, self.recognisers, self.audio_dir)
        if said is not None and isinstance(self.recognisers[listen.role], ScriptedRecognizer):
            # The scripted fake recogniser hears exactly what was said.
            heard = SpeechHeard(_scripted(said, listen), heard.audio_path)
        return heard


def _scripted(text: str, listen: Listen) -> Transcript:
    answer = (
        match_short_answer(text, list(listen.allowed) or None) if listen.role == "short" else None
    )
    return Transcript(text=text, confidence=1.0, engine="script", answer=answer)


class ScriptedRecognizer:
    """Hears exactly the text the scenario said (``--fake-speech``): no model, instant."""

    name = "script"

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> Any:
        raise NotImplementedError("the scripted recogniser only transcribes whole turns")

    def transcribe(
        self,
        pcm: np.ndarray,
        allowed: Sequence[ShortAnswer] | None = None,
        phrases: Sequence[str] = (),
    ) -> Transcript:
        return Transcript(text="", confidence=0.0, engine="script", audio_s=len(pcm) / MIC_RATE)


# ---------------------------------------------------------------- running a scenario


@dataclass
class SimulationResult:
    record: SessionRecord
    finished: bool
    failures: list[str] = field(default_factory=list)
    record_path: Path | None = None
    turns_used: int = 0
    turns_total: int = 0
    prompts: int = 0
    barge_ins: int = 0
    virtual_s: float = 0.0
    wall_s: float = 0.0
    engines: dict[str, str] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)
    """The turns taken (with virtual people, the ones they chose)."""


@dataclass
class SpeechKit:
    """The voice and recognisers a simulation uses, and why (printed at the start)."""

    voice: Voice
    speech_voice: Voice
    recognisers: dict[Role, Recognizer]
    reasons: list[str]


def fake_speech_kit() -> SpeechKit:
    from assistant.voice.fake import FakeVoice

    rec = ScriptedRecognizer()
    voice = FakeVoice()
    return SpeechKit(
        voice=voice,
        speech_voice=voice,
        recognisers={"short": rec, "free": rec},
        reasons=[
            "voice: fake tones (--fake-speech), no model",
            "recogniser: hears the scenario's text exactly (--fake-speech)",
        ],
    )


def real_speech_kit(settings: Settings) -> SpeechKit:
    """Piper (through the prompt cache) and the recognisers chosen for the settings."""
    from assistant.stt.select import choose_engines
    from assistant.voice.cache import CachedVoice
    from assistant.voice.piper import PiperVoice

    piper = PiperVoice.load(
        settings.voice.voice,
        settings.models_dir,
        words_per_minute=settings.voice.words_per_minute,
        volume=settings.voice.volume,
        calibration_file=settings.cache_dir / "voice-calibration.json",
    )
    voice = CachedVoice(piper, settings.cache_dir / "prompts", settings.voice.cache_max_mb << 20)
    with warnings.catch_warnings():
        # The fallback is announced below, in the reasons, with what to do about it.
        warnings.simplefilter("ignore", EngineFallback)
        engines = choose_engines(settings)
    return SpeechKit(
        voice=voice,
        speech_voice=voice,
        recognisers={"short": engines.short, "free": engines.free},
        reasons=[f"voice: {piper.describe()}, through the prompt cache", *engines.describe()],
    )


def _people_and_jobs(scenario: Scenario) -> tuple[list[Person], list[Job]]:
    people = scenario.people()
    ids = {p.name: p.id for p in people}
    jobs = [
        Job(person_id=ids[j.person], what=j.what, when=j.when, support=j.support)
        for j in scenario.jobs
    ]
    return people, jobs


def build_engine(
    scenario: Scenario,
    settings: Settings,
    clock: VirtualClock,
    engines: dict[str, str],
) -> Any:
    """The real engine for the scenario's script, roster and jobs."""
    from assistant.core.ids import SeededIds
    from assistant.dialogue.engine import Engine
    from assistant.dialogue.script import load_script

    script = load_script(scenario.script_ref(), [settings.scripts_dir])
    people, jobs = _people_and_jobs(scenario)
    return Engine(
        script,
        people,
        settings=settings.dialogue,
        clock=clock,
        rng=random.Random(scenario.seed),
        ids=SeededIds(scenario.seed),
        jobs=jobs,
        record=None,
        engines=engines,
        facilitator=scenario.facilitator,
        next_meeting=scenario.next_meeting,
    )


def run_scenario(
    scenario: Scenario,
    settings: Settings,
    kit: SpeechKit,
    *,
    record_out: Path | None = None,
    narrator: Narrator | None = None,
    sink: RecordSink | None = None,
    audio_dir: Path | None = None,
    people: Any = None,
) -> SimulationResult:
    """Run *scenario* to the end of the session (or until its turns run out: an error)."""
    from assistant.audio.fake import MemorySpeaker

    started = time.perf_counter()
    settings = scenario.apply_settings(settings)
    clock = VirtualClock()
    engines: dict[str, str] = {
        role: getattr(rec, "name", type(rec).__name__) for role, rec in kit.recognisers.items()
    }
    engines["voice"] = kit.voice.name
    engine = build_engine(scenario, settings, clock, engines)
    audio_dir = audio_dir or Path(tempfile.mkdtemp(prefix="assistant-sim-"))
    if sink is None:
        out = record_out or audio_dir / "record.json"
        sink = JsonRecordSink(out)
    driver = ScenarioDriver(
        scenario,
        speech_voice=kit.speech_voice,
        recognisers=kit.recognisers,
        clock=clock,
        audio_dir=audio_dir,
    )
    shell = SessionShell(
        engine,
        voice=kit.voice,
        speaker=MemorySpeaker(clock=clock),
        ears=driver,
        inputs=driver,
        sink=sink,
        clock=clock,
        earcons=_earcons(),
        narrator=narrator,
    )
    driver.person_name = shell.person_name
    if people is not None:  # virtual people decide each turn as it comes
        driver.more = lambda listen: people.decide(listen, shell.last_said, shell.person_name)
    driver.step_now = lambda: getattr(engine, "current_step_id", None)
    try:
        record = shell.run()
    except ScenarioError:
        if not shell.saved_finished:
            sink.save(engine.record, False)  # keep what there is, to look at
        raise
    finished = bool(engine.finished)
    if not shell.saved_finished:
        sink.save(record, finished)
    failures = check_expectations(scenario.expect, record, finished)
    if not driver.done:
        failures.append(
            f"the session ended with {len(driver.turns) - driver.index} turn(s) of the "
            "scenario unused"
        )
    return SimulationResult(
        record=record,
        finished=finished,
        failures=failures,
        record_path=getattr(sink, "path", None),
        turns_used=driver.index,
        turns_total=len(driver.turns),
        prompts=shell.prompts,
        barge_ins=shell.barge_ins,
        virtual_s=clock.elapsed,
        wall_s=time.perf_counter() - started,
        engines=engines,
        turns=driver.turns[: driver.index],
    )


def _earcons() -> dict[str, tuple[np.ndarray, int]]:
    try:
        from assistant.voice.earcons import EARCONS, load_earcon
    except ImportError:  # pragma: no cover - the voice part always ships them
        return {}
    return {name: load_earcon(name) for name in EARCONS}


# ---------------------------------------------------------------- printing the conversation


class ConsoleNarrator:
    """Prints the conversation as it goes: who speaks, what was heard, how sure, which engine."""

    def __init__(self, console: Any = None, clock: VirtualClock | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(highlight=False)
        self.clock = clock

    def _line(self, who: str, style: str, text: str) -> None:
        from rich.markup import escape

        stamp = ""
        if self.clock is not None:
            m, s = divmod(int(self.clock.elapsed), 60)
            stamp = f"[dim]{m:3d}:{s:02d}[/dim] "
        self.console.print(f"{stamp}[{style}]{escape(who):>10}[/{style}]  {text}")

    def said(self, text: str, interrupted: bool) -> None:
        from rich.markup import escape

        cut = " [dim](cut short)[/dim]" if interrupted else ""
        self._line("assistant", "bold cyan", escape(text) + cut)

    def pressed(self, who: str | None, event: ButtonPressed) -> None:
        how = " held" if event.held else ""
        when = " [dim](during the prompt)[/dim]" if event.while_speaking else ""
        self._line(
            who or "someone", "bold green", f"presses [bold]{event.button}[/bold]{how}{when}"
        )

    def heard(self, who: str | None, transcript: Transcript) -> None:
        from rich.markup import escape

        answer = f" -> {transcript.answer}" if transcript.answer else ""
        text = escape(transcript.text) if transcript.text.strip() else "[dim](nothing)[/dim]"
        self._line(
            who or "the group",
            "bold magenta",
            f'says "{text}"{answer} [dim]({transcript.engine}, '
            f"confidence {transcript.confidence:.2f})[/dim]",
        )

    def silent(self, who: str | None, seconds: float) -> None:
        self._line(who or "the group", "yellow", f"[dim]says nothing for {seconds:.0f} s[/dim]")
