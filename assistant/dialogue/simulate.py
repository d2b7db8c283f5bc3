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
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.base import MIC_RATE
from assistant.config import Settings
from assistant.core.audio import AudioChunk
from assistant.dialogue.events import (
    ButtonPressed,
    Event,
    Listen,
    SilenceTimedOut,
    SpeechHeard,
)
from assistant.dialogue.scenario import Scenario, Turn, check_expectations
from assistant.dialogue.shell import (
    Ears,
    JsonRecordSink,
    Narrator,
    PromptState,
    RecordSink,
    SessionShell,
    StoreSink,
    VirtualClock,
    recognise,
    to_mic_rate,
)
from assistant.errors import ScenarioError
from assistant.records.model import Job, Person, SessionRecord
from assistant.records.protocols import RosterSource, SessionWriter
from assistant.stt.base import Recognizer, RecognizerStream, Role, Transcript
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


class ScenarioDriver(PromptState, Ears):
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
        self._pressed = 0
        """Presses made of the current turn (a turn with ``times`` is pressed that often)."""
        self.listens = 0
        self._silence_left: float | None = None
        self._queue: deque[Event] = deque()
        self._recordings: set[str] = set()

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
            heard = self._speech(pcm, listen, said=None)
            if isinstance(heard, SpeechHeard) and heard.audio_path:
                self._recordings.add(str(heard.audio_path))
            return heard

    def is_recording(self, audio_path: str) -> bool:
        """The answer's audio is a recording the scenario gave (``audio:``), not text said
        by the TTS voice (which is nobody's voice, so never kept as theirs)."""
        return str(audio_path) in self._recordings

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
        if not self.done:
            turn = self.turns[self.index]
            self._pressed += 1
            if turn.press is not None and self._pressed < turn.times:
                return  # pressed again at the next turn
        self._pressed = 0
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


class ScriptedRecognizer(Recognizer):
    """Hears exactly the text the scenario said (``--fake-speech``): no model, instant."""

    name = "script"

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> RecognizerStream:
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
    saved: str | None = None
    """With ``save_to``: the id of the session saved in the record store (None: not saved)."""


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


def _people_and_jobs(
    scenario: Scenario, store: RosterSource | None = None, where: str = "the record store"
) -> tuple[list[Person], list[Job]]:
    """The session's people and open jobs: the scenario's own, or (where it leaves out
    ``roster:`` or ``jobs:``) the device's, from *store*, as a session on the device takes them.

    A roster name that is a person in *store* is that person (same id), so a saved session
    never makes a second Sam.
    """
    known = {" ".join(p.name.split()).casefold(): p for p in (store.people() if store else [])}
    if scenario.has_roster:
        people = []
        for p in scenario.people():
            same = known.get(" ".join(p.name.split()).casefold())
            people.append(p if same is None else p.model_copy(update={"id": same.id}))
    else:
        people = list(known.values())
        if not people:
            raise ScenarioError(
                f"{scenario.path or 'The scenario'}: there is no roster: in the scenario and "
                f"no one in {where}; add a roster: to the scenario, or add people to the "
                "device with `assistant people add NAME`."
            )
    ids = {p.name: p.id for p in people}
    if scenario.has_jobs:
        jobs = []
        for j in scenario.jobs:
            if j.person not in ids:
                raise ScenarioError(
                    f"{scenario.path or 'The scenario'}: job {j.what!r} is for {j.person}, "
                    f"who is not in {where}."
                )
            jobs.append(Job(person_id=ids[j.person], what=j.what, when=j.when, support=j.support))
    else:
        taking_part = set(ids.values())
        jobs = [
            j
            for j in (store.open_jobs() if store else [])
            if {j.person_id, *j.shared_with} & taking_part
        ]
    return people, jobs


def build_engine(
    scenario: Scenario,
    settings: Settings,
    clock: VirtualClock,
    engines: dict[str, str],
    store: RosterSource | None = None,
    *,
    device_ids: bool = False,
) -> Any:
    """The real engine for the scenario's script, roster and jobs (those it leaves out from
    *store*, the device's record store). *device_ids*: random ids, as on the device (for a
    session saved in the store, which must not meet another saved run's ids), instead of
    ids repeatable from the scenario's seed."""
    from assistant.core.ids import RandomIds, SeededIds
    from assistant.dialogue.engine import Engine
    from assistant.dialogue.published import load_device_script

    script = load_device_script(scenario.script_ref(), settings)
    where = f"the record store in {settings.data_dir}"
    people, jobs = _people_and_jobs(scenario, store, where)
    goals: list[Any] = []
    if store is not None and script.reviews_goal:  # as on the device: the goals in force
        from assistant.records.goals import goals_for

        goals = goals_for(store.current_goals(), [p.id for p in people])
    return Engine(
        script,
        people,
        settings=settings.dialogue,
        clock=clock,
        rng=random.Random(scenario.seed),
        ids=RandomIds() if device_ids else SeededIds(scenario.seed),
        jobs=jobs,
        goals=goals,
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
    store: RosterSource | None = None,
    save_to: SessionWriter | None = None,
) -> SimulationResult:
    """Run *scenario* to the end of the session (or until its turns run out: an error).

    *store*: the device's record store, for the people and jobs a scenario leaves out.
    *save_to*: save the finished session there (``--save``), as a session on the device
    would be saved; a session that does not finish is not saved there.
    """
    from assistant.audio.fake import MemorySpeaker

    started = time.perf_counter()
    settings = scenario.apply_settings(settings)
    clock = VirtualClock()
    engines: dict[str, str] = {role: rec.name for role, rec in kit.recognisers.items()}
    engines["voice"] = kit.voice.name
    engine = build_engine(scenario, settings, clock, engines, store, device_ids=save_to is not None)
    audio_dir = audio_dir or Path(tempfile.mkdtemp(prefix="assistant-sim-"))
    if sink is None:
        out = record_out or audio_dir / "record.json"
        sink = JsonRecordSink(out)
    saving: SaveWhenFinished | None = None
    if save_to is not None:
        sink = saving = SaveWhenFinished(save_to, sink, audio_dir / "kept")
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
    if saving is not None:
        saving.is_recording = driver.is_recording
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
        saved=saving.saved if saving is not None else None,
    )


class SaveWhenFinished:
    """``--save``: the session goes into the device's record store when it finishes, exactly
    as the device saves one (people and their consent, answers, jobs and check-ins, flags,
    finalised), with the clips of answers whose audio the scenario gave as a recording and
    whose person consents. Until then it is kept aside, so a scenario that stops part way
    leaves no draft for the device to offer to carry on. The JSON copy is written as ever."""

    def __init__(self, store: SessionWriter, inner: RecordSink, kept_dir: Path) -> None:
        self.store = store
        self.inner = inner
        self.path = getattr(inner, "path", None)
        self.kept_dir = kept_dir
        self.is_recording: Callable[[str], bool] = lambda _path: False
        self._clips: dict[str, Path] = {}
        self._words: list[Any] = []
        self.saved: str | None = None

    def save(self, record: SessionRecord, finished: bool) -> None:
        self.inner.save(record, finished)
        if not finished or self.saved is not None:
            return
        self.store.save_session(record)
        for answer_id, wav in self._clips.items():
            self.store.keep_audio(record.id, answer_id, wav)  # consent is checked again here
        for action in self._words:
            StoreSink(self.store).keep_words(action)
        self.store.finish_session(record.id)
        self.saved = record.id

    def keep_audio(self, record: SessionRecord, answer_id: str, audio_path: str) -> str | None:
        sha = self.inner.keep_audio(record, answer_id, audio_path)
        if sha is not None and self.is_recording(audio_path):
            import shutil

            self.kept_dir.mkdir(parents=True, exist_ok=True)
            copy = self.kept_dir / f"{answer_id}.wav"
            shutil.copyfile(audio_path, copy)
            self._clips[answer_id] = copy
        return sha

    def keep_words(self, action: Any) -> bool:
        self._words.append(action)
        return True


def saved_line(saved: str | None, settings: Settings) -> str:
    """What ``--save`` did, in one sentence."""
    if saved is None:
        return (
            "Not saved in the record store: the session did not finish "
            "(a session is saved there only when it finishes)."
        )
    return (
        f"Saved in the record store in {settings.data_dir} as session {saved} "
        f"(see `assistant records show {saved[:8]}`)."
    )


def _earcons() -> dict[str, AudioChunk]:
    try:
        from assistant.voice.earcons import EARCONS, load_earcon
    except ImportError:  # pragma: no cover - the voice part always ships them
        return {}
    return {name: AudioChunk(*load_earcon(name)) for name in EARCONS}


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
        # which recogniser decided, for a person with taught words (stt/personal.py)
        by = f", decided by {transcript.decided_by}" if transcript.decided_by else ""
        text = escape(transcript.text) if transcript.text.strip() else "[dim](nothing)[/dim]"
        self._line(
            who or "the group",
            "bold magenta",
            f'says "{text}"{answer} [dim]({transcript.engine}, '
            f"confidence {transcript.confidence:.2f}{by})[/dim]",
        )

    def silent(self, who: str | None, seconds: float) -> None:
        self._line(who or "the group", "yellow", f"[dim]says nothing for {seconds:.0f} s[/dim]")
