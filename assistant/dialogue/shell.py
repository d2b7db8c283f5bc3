"""The thin imperative shell around the pure dialogue engine.

The engine decides; the shell only carries out its actions and reports back what happened::

    Say          -> speak sentence by sentence; a press stops it at once (barge-in)
                    -> PromptFinished, or the ButtonPressed (while_speaking=True)
    PlayEarcon   -> play the short sound
    Listen       -> the ears: one turn from the microphone (or a scenario)
                    -> SpeechHeard, SilenceTimedOut or ButtonPressed
    Save         -> the record sink
    KeepAudio    -> the record sink keeps the clip (it checks consent again)
    SetLights    -> the lights, if there are any
    End          -> stop

An unplugged microphone or speaker never ends a session: the status light turns red, the session
goes on with the buttons alone (a listen waits for a press, then counts as silence), and the
device is tried again (the microphone every few seconds, the speaker before each prompt) until
it is back.

Every edge is injected, so the same shell runs a real device (``assistant run``), a scenario on
a virtual clock (``assistant simulate``) and the demo. The edges are small protocols here;
:mod:`assistant.dialogue.simulate` has the scenario-driven ones.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.audio.base import MIC_RATE, Microphone, Speaker
from assistant.buttons.base import Lights
from assistant.config import AudioSettings
from assistant.core.audio import AudioChunk
from assistant.core.clock import Clock, FakeClock, SystemClock
from assistant.dialogue import prompts as P
from assistant.dialogue.events import (
    Action,
    ButtonPressed,
    End,
    Event,
    KeepAudio,
    KeepWordConsent,
    KeepWordExample,
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
from assistant.errors import AssistantError, AudioError, ConsentError, RecordError
from assistant.records.belongs import jobs_that_belong
from assistant.records.model import SessionRecord
from assistant.records.protocols import RecordSink, SessionWriter
from assistant.stt.base import Recognizer, Role, Transcript
from assistant.voice.base import Voice
from assistant.words import SHORT_ANSWERS

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- clocks


class RealClock(SystemClock):
    """The one system clock (:class:`assistant.core.clock.SystemClock`), also callable: called,
    it gives seconds since the epoch, which is how the dialogue engine reads its clock."""

    def __call__(self) -> float:
        return self.time()


class VirtualClock(FakeClock):
    """The one fake clock (:class:`assistant.core.clock.FakeClock`): silence and speech pass
    instantly; only :meth:`sleep` moves it. Called, it gives seconds since the epoch (what the
    engine reads), starting at *start*."""

    def __call__(self) -> float:
        return self.time()


TICK_EVERY_S = 5.0
"""How often the engine is told time has passed while it waits for a button."""

RETRY_EVERY_S = 3.0
"""How often a lost microphone is tried again while the device waits on the buttons alone."""

# ---------------------------------------------------------------- edges


class Inputs(Protocol):
    """Button presses (and anything else pushed in), with barge-in: the buttons' InputStream."""

    def get(self, timeout: float | None = None) -> Event | None: ...

    def prompt(self, interruptible: bool = True) -> contextlib.AbstractContextManager[None]: ...

    def set_barge_in(self, callback: Callable[[], None] | None) -> None: ...

    @property
    def speaking(self) -> bool: ...


class Ears:
    """One listening turn: what the person did, as an event for the engine.

    Must provide: :meth:`hear`. May provide: :meth:`reopen`, to try a lost microphone again
    apart from hearing (by default there is nothing to try apart: the next :meth:`hear` is
    the try).
    """

    def hear(self, listen: Listen) -> Event:
        raise NotImplementedError

    def reopen(self) -> bool:
        """Try the lost microphone again; True when it is back (an AudioError while it is not).
        By default there is nothing to try: False."""
        return False


class Narrator(Protocol):
    """Told what happens, to print the conversation (the demo and the simulator)."""

    def said(self, text: str, interrupted: bool) -> None: ...

    def pressed(self, who: str | None, event: ButtonPressed) -> None: ...

    def heard(self, who: str | None, transcript: Transcript) -> None: ...

    def silent(self, who: str | None, seconds: float) -> None: ...


class QuietNarrator:
    """Tells nobody (a device in use logs instead)."""

    def said(self, text: str, interrupted: bool) -> None:
        log.info("said%s: %s", " (cut short)" if interrupted else "", text)

    def pressed(self, who: str | None, event: ButtonPressed) -> None:
        log.info("%s pressed %s", who or "someone", event.button)

    def heard(self, who: str | None, transcript: Transcript) -> None:
        log.info(
            "heard %s: %r (%.2f, %s)",
            who,
            transcript.text,
            transcript.confidence,
            transcript.engine,
        )
        if transcript.decided_by:
            log.info("decided by: %s", transcript.decided_by)

    def silent(self, who: str | None, seconds: float) -> None:
        log.info("silence for %.0f s", seconds)


class PromptState:
    """What every :class:`Inputs` shares: whether a prompt is playing, and the barge-in hook."""

    _speaking = False
    _barge_in: Callable[[], None] | None = None

    @contextlib.contextmanager
    def prompt(self, interruptible: bool = True) -> Iterator[None]:
        self._speaking = interruptible
        try:
            yield
        finally:
            self._speaking = False

    def set_barge_in(self, callback: Callable[[], None] | None) -> None:
        self._barge_in = callback


class SimpleInputs(PromptState):
    """An in-process :class:`Inputs` (used when the buttons module offers none)."""

    def __init__(self) -> None:
        self._queue: deque[Event] = deque()
        self._ready = threading.Condition()

    def put(self, event: Event) -> None:
        if isinstance(event, ButtonPressed) and self._speaking:
            self._speaking = False
            if self._barge_in is not None:
                self._barge_in()
            event = ButtonPressed(event.button, event.held, while_speaking=True)
        with self._ready:
            self._queue.append(event)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to *timeout* seconds for one (None: no wait)."""
        with self._ready:
            if not self._queue and timeout:
                self._ready.wait_for(lambda: bool(self._queue), timeout)
            return self._queue.popleft() if self._queue else None

    @property
    def speaking(self) -> bool:
        return self._speaking


# ---------------------------------------------------------------- record sinks


class JsonRecordSink:
    """Writes the record as JSON to one file after every save (atomically); clips beside it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.audio_dir = self.path.with_suffix(".audio")
        self.saves = 0

    def save(self, record: SessionRecord, finished: bool) -> None:
        if finished and record.state == "draft":
            record = record.model_copy(update={"state": "finalised"})
        record = record.model_copy(update={"jobs": jobs_that_belong(record)})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            tmp.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            raise RecordError(f"Cannot write the session record {self.path}: {exc}.") from exc
        self.saves += 1

    def keep_audio(self, record: SessionRecord, answer_id: str, audio_path: str) -> str | None:
        import hashlib

        answer = next((a for a in record.answers if a.id == answer_id), None)
        if answer is None:
            raise RecordError(f"There is no answer {answer_id} to keep audio for.")
        person = next((p for p in record.people if p.id == answer.person_id), None)
        if person is None or person.consent is None or not person.consent.audio:
            who = person.name if person else "the group"
            raise ConsentError(f"Audio for {who} cannot be kept: there is no consent.")
        data = Path(audio_path).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        self.audio_dir.mkdir(parents=True, exist_ok=True)
        target = self.audio_dir / f"{sha}.wav"
        if not target.exists():
            shutil.copyfile(audio_path, target)
        return sha


class StoreSink:
    """Saves into the device's :class:`~assistant.records.store.RecordStore` (and, if asked, a
    JSON copy of the record as it stands, for people to read)."""

    def __init__(self, store: SessionWriter, json_copy: Path | None = None) -> None:
        self.store = store
        self.json = JsonRecordSink(json_copy) if json_copy is not None else None
        self.path = json_copy

    def save(self, record: SessionRecord, finished: bool) -> None:
        self.store.save_session(record)
        if finished:
            self.store.finish_session(record.id)
        if self.json is not None:
            self.json.save(record, finished)

    def keep_audio(self, record: SessionRecord, answer_id: str, audio_path: str) -> str | None:
        self.store.save_session(record)  # the answer must be in the store before its clip
        sha = self.store.keep_audio(record.id, answer_id, audio_path)
        return str(sha) if sha else None

    def keep_words(self, action: KeepWordConsent | KeepWordExample) -> bool:
        """A ``teach_words`` step's consent or example, or a confirmed short answer kept as an
        example (``store.words``); False when the example was not kept (the reason is logged:
        no consent, silent, clipped, a duplicate...)."""
        from assistant.errors import BadAudioFile

        words = self.store.words
        if isinstance(action, KeepWordConsent):
            if action.allowed:
                words.set_consent(action.person_id, True, method=action.method)
            else:
                words.withdraw_consent(action.person_id, method=action.method)
            return True
        try:
            words.add_example(action.person_id, action.word, action.audio_path, action.source)
        except (RecordError, BadAudioFile) as exc:
            log.warning("An example of %s was not kept: %s", action.word, exc)
            return False
        return True


# ---------------------------------------------------------------- recognising


def to_mic_rate(pcm: np.ndarray, rate: int) -> np.ndarray:
    """Any int16 mono audio as 16 kHz, as a microphone would deliver it."""
    from assistant.audio.wav import resample

    return pcm if rate == MIC_RATE else resample(pcm, rate, MIC_RATE)


def recognise(
    pcm: np.ndarray,
    listen: Listen,
    recognisers: Mapping[Role, Recognizer],
    audio_dir: Path,
    personal: Any = None,
) -> SpeechHeard:
    """Run the recogniser for the turn's role on 16 kHz audio; the answer's WAV is kept on disk.

    *personal*: a :class:`~assistant.stt.personal_stream.PersonalWordsBook`; a short answer of
    a person with taught words then uses them too."""
    from assistant.audio.wav import write_wav

    allowed = None
    if listen.role == "short":
        allowed = list(listen.allowed) if listen.allowed else list(SHORT_ANSWERS)
    recogniser = recognisers[listen.role]
    if personal is not None and listen.role == "short":  # a taught person's own words
        recogniser = personal.wrap(recogniser, listen.person_id)
    if listen.phrases:
        transcript = recogniser.transcribe(pcm, allowed=allowed, phrases=listen.phrases)
    else:
        transcript = recogniser.transcribe(pcm, allowed=allowed)
    audio_dir.mkdir(parents=True, exist_ok=True)
    path = write_wav(audio_dir / f"{uuid.uuid4()}.wav", pcm, MIC_RATE)
    return SpeechHeard(transcript=transcript, audio_path=str(path))


class MicrophoneEars(Ears):
    """Listening on a real microphone: one turn, ended by silence, an answer, or a button.

    A short answer that the recogniser already hears as one allowed answer ends the turn early;
    a button press ends listening at once and is passed on instead.
    """

    def __init__(
        self,
        mic: Microphone,
        recognisers: Mapping[Role, Recognizer],
        inputs: Inputs,
        audio: AudioSettings,
        audio_dir: Path,
        detector: Any = None,
        personal: Any = None,
    ) -> None:
        self.mic = mic
        self.detector = detector
        self.personal = personal
        """A :class:`~assistant.stt.personal_stream.PersonalWordsBook`, or None: a short answer
        of a person with taught words is then decided with their words too."""
        """Speech detector for end of turn; None = the audio layer's default (Silero VAD)."""
        self.recognisers = recognisers
        self.inputs = inputs
        self.audio = audio
        self.audio_dir = audio_dir

    def hear(self, listen: Listen) -> Event:
        from assistant.audio.turn import record_turn
        from assistant.audio.wav import write_wav

        waiting = self.inputs.get(timeout=0)
        if waiting is not None:
            return waiting
        cancel = threading.Event()
        stop_watch = threading.Event()
        pressed: list[Event] = []

        def watch_buttons() -> None:
            while not stop_watch.is_set():
                # a short wait: when the turn ends, listening waits for this thread to
                # stop (so it cannot take a later press), and that wait comes before the reply
                # (at 50 ms it was 25 ms of every spoken turn's gap; a poll costs microseconds)
                event = self.inputs.get(timeout=0.01)
                if event is not None:
                    pressed.append(event)
                    cancel.set()
                    return

        watcher = threading.Thread(target=watch_buttons, name="listen-buttons", daemon=True)
        short = listen.role == "short"
        allowed = (list(listen.allowed) or list(SHORT_ANSWERS)) if short else None
        recogniser = self.recognisers[listen.role]
        if short and self.personal is not None:  # a taught person's own words
            recogniser = self.personal.wrap(recogniser, listen.person_id)
        trailing = listen.trailing_silence_s or (
            self.audio.trailing_silence_short_s if short else self.audio.trailing_silence_free_s
        )
        self.mic.start()
        watcher.start()
        turn = None
        lost: AudioError | None = None
        try:
            turn = record_turn(
                self.mic,
                wait_for_speech_s=listen.timeout_s,
                trailing_silence_s=trailing,
                max_answer_s=self.audio.max_answer_s,
                # both roles stream: an engine may decode while the person pauses
                stream=recogniser.start(allowed, phrases=listen.phrases),
                allowed=allowed,
                phrases=listen.phrases,
                cancel=cancel,
                detector=self.detector,
            )
        except AudioError as exc:  # unplugged: a press that came meanwhile still counts
            lost = exc
        finally:
            stop_watch.set()
            watcher.join()
            self.mic.stop()
        if pressed:
            return pressed[0]
        if lost is not None:
            raise lost
        assert turn is not None
        if not turn.speech_started or turn.pcm.size == 0:
            return SilenceTimedOut(waited_s=turn.listened_s)
        transcript = turn.transcript or recogniser.transcribe(
            turn.pcm, allowed=allowed, phrases=listen.phrases
        )
        self.audio_dir.mkdir(parents=True, exist_ok=True)
        path = write_wav(self.audio_dir / f"{uuid.uuid4()}.wav", turn.pcm, MIC_RATE)
        return SpeechHeard(transcript=transcript, audio_path=str(path))

    def reopen(self) -> bool:
        """Open the microphone and close it again; an AudioError while it is still not there."""
        self.mic.start()
        self.mic.stop()
        return True


# ---------------------------------------------------------------- the shell


class EngineLike(Protocol):
    @property
    def record(self) -> SessionRecord: ...

    @property
    def finished(self) -> bool: ...

    def start(self) -> list[Action]: ...

    def handle(self, event: Event) -> list[Action]: ...


class SessionShell:
    """Carries out one engine's actions with the given edges until the session ends."""

    def __init__(
        self,
        engine: EngineLike,
        *,
        voice: Voice,
        speaker: Speaker,
        ears: Ears,
        inputs: Inputs,
        sink: RecordSink,
        clock: Clock,
        earcons: Mapping[str, AudioChunk] | None = None,
        lights: Lights | None = None,
        narrator: Narrator | None = None,
    ) -> None:
        self.engine = engine
        self.voice = voice
        self.speaker = speaker
        self.ears = ears
        self.inputs = inputs
        self.sink = sink
        self.clock = clock
        self.earcons = dict(earcons or {})
        self.lights = lights
        self.narrator: Narrator = narrator or QuietNarrator()
        self.ended = False
        self.saved_finished = False
        self.prompts = 0
        self.barge_ins = 0
        self.speech_s = 0.0
        """Seconds of speech the device said (audio length, not time taken)."""
        self.last_said = ""
        self.turn_wavs: list[Path] = []
        """Each answer's WAV heard so far (deleted when the session is over)."""
        self.lost: set[str] = set()
        """The audio devices out now ("microphone", "speaker"): the status light is red."""
        self.outages = 0
        self.retry_every_s = RETRY_EVERY_S
        self._lights_asked = SetLights()
        self._rates: dict[float, Voice] = {}

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> SessionRecord:
        """Run the session to its end; the record as it stands at the end."""
        log.info(
            "session %s: %s; engines: %s; voice %s",
            self.engine.record.id,
            self.engine.record.script,
            engines_line(self.engine.record.engines) or "not named",
            self.voice.name,
        )
        self.inputs.set_barge_in(self.speaker.stop)
        try:
            self._loop()
        finally:
            self._forget_turns()
        return self.engine.record

    def _loop(self) -> None:
        pending: deque[Action] = deque(self.engine.start())
        while not self.ended:
            if not pending:
                if self.engine.finished:
                    break
                pending.extend(self._idle())
                continue
            event = self.perform(pending.popleft())
            if event is None:
                continue
            actions = self.engine.handle(event)
            if isinstance(event, PromptFinished | Tick):
                pending.extend(actions)
            else:
                # The person did something: what the engine had queued before is out of date,
                # except saving, which is never dropped.
                keep = [
                    a
                    for a in pending
                    if isinstance(a, Save | KeepAudio | KeepWordConsent | KeepWordExample)
                ]
                pending = deque([*keep, *actions])

    def _forget_turns(self) -> None:
        """Delete each turn's WAV once the session is over: a clip that was kept is in the
        records by now; the others (no consent, or not an answer) must not stay on the disk."""
        for path in self.turn_wavs:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("Could not delete the turn recording %s: %s", path, exc)
        folders = {p.parent for p in self.turn_wavs}
        self.turn_wavs.clear()
        for folder in folders:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty

    def _idle(self) -> list[Action]:
        """The engine waits for a button (the microphone is closed): tick now and then, so it
        can give its gentle reminder."""
        event = self.inputs.get(timeout=TICK_EVERY_S)
        if "microphone" in self.lost:
            with contextlib.suppress(AudioError):
                self._reopen_microphone()
        if event is None:
            return self.engine.handle(Tick())
        if isinstance(event, ButtonPressed):
            self.narrator.pressed(self.current_person, event)
        return self.engine.handle(event)

    def perform(self, action: Action) -> Event | None:
        """Carry out one action; the event it produced, if any."""
        if isinstance(action, Say):
            return self._say(action)
        if isinstance(action, PlayEarcon):
            self._earcon(action.name)
            return None
        if isinstance(action, Listen):
            return self._listen(action)
        if isinstance(action, Save):
            self.sink.save(action.record, action.finished)
            self.saved_finished = self.saved_finished or action.finished
            return None
        if isinstance(action, KeepAudio):
            self._keep_audio(action)
            return None
        if isinstance(action, KeepWordConsent | KeepWordExample):
            self._keep_words(action)
            return None
        if isinstance(action, SetLights):
            self._lights_asked = action
            self._show_lights()
            return None
        if isinstance(action, End):
            self.ended = True
            return None
        if isinstance(action, StopListening):
            return None
        raise TypeError(f"unknown action {action!r}")  # pragma: no cover

    # -- actions --------------------------------------------------------------------------

    def _say(self, say: Say) -> Event:
        self.prompts += 1
        self.last_said = say.text
        try:
            interrupted = self._speak(say)
        except AudioError as exc:  # unplugged: the prompt counts as said; the buttons go on
            self._lost("speaker", exc)
            log.info("not said (no speaker): %s", say.text)
            return PromptFinished(say.prompt_id)
        # next and help are delivered when let go (their hold means something else): wait a bit.
        press = self.inputs.get(timeout=3.0) if interrupted else None
        self.narrator.said(say.text, interrupted=press is not None)
        if isinstance(press, ButtonPressed):
            self.barge_ins += 1
            self.speaker.stop()
            who = self.person_name(getattr(self.engine, "current_person_id", None))
            self.narrator.pressed(who, press)
            return press
        if press is not None:
            return press
        return PromptFinished(say.prompt_id)

    def _speak(self, say: Say) -> bool:
        """Say it sentence by sentence until heard; True if a press cut it short."""
        interrupted = False
        can_stop = say.interruptible
        with self.inputs.prompt(can_stop):
            for chunk in self._voice_at(say.words_per_minute).speak(say.text):
                self.speaker.play_chunk(chunk)
                self._back("speaker")
                self.speech_s += chunk.seconds
                if can_stop and not self.inputs.speaking:
                    interrupted = True
                    break
            if not interrupted and self.clock.virtual:
                self.speaker.wait()
            while not interrupted and not self.speaker.wait(timeout=0.05):
                interrupted = can_stop and not self.inputs.speaking
            return interrupted or (can_stop and not self.inputs.speaking)

    def _voice_at(self, words_per_minute: float | None) -> Voice:
        """The voice at the rate of the person being asked (one voice per rate, kept)."""
        if words_per_minute is None:
            return self.voice
        voice = self._rates.get(words_per_minute)
        if voice is None:
            try:
                voice = self.voice.at_rate(words_per_minute)
            except AssistantError as exc:  # a rate the voice cannot use: its own rate
                log.warning("%s Speaking at the voice's own rate.", exc)
                voice = self.voice
            self._rates[words_per_minute] = voice
        return voice

    def _earcon(self, name: str) -> None:
        sound = self.earcons.get(name)
        if sound is None:
            return
        # Not waited for here: the reply is made while it plays (only listening waits for it).
        try:
            self.speaker.play_chunk(sound)
        except AudioError as exc:
            self._lost("speaker", exc)
        else:
            self._back("speaker")

    current_person: str | None = None

    def _listen(self, listen: Listen) -> Event:
        self.current_person = self.person_name(listen.person_id)
        try:
            self.speaker.wait(timeout=5.0)  # the microphone must not hear the device's own sound
        except AudioError as exc:
            self._lost("speaker", exc)
        event = self._hear(listen)
        who = self.current_person
        if isinstance(event, ButtonPressed):
            self.narrator.pressed(who, event)
        elif isinstance(event, SpeechHeard):
            if event.audio_path:
                self.turn_wavs.append(Path(event.audio_path))
            self.narrator.heard(who, event.transcript)
        elif isinstance(event, SilenceTimedOut):
            self.narrator.silent(who, event.waited_s)
        return event

    def _hear(self, listen: Listen) -> Event:
        """The ears' event. With the microphone lost: the buttons alone until the listen's time
        is up (then silence, as if nobody spoke), trying the microphone again every
        :attr:`retry_every_s`; once it is back it listens for the rest of the time."""
        started = time.monotonic()
        turn = listen
        while True:
            try:
                if "microphone" in self.lost:
                    self._reopen_microphone()
                event = self.ears.hear(turn)
                self._back("microphone")
                return event
            except AudioError as exc:
                self._lost("microphone", exc)
            retry_at = time.monotonic() + self.retry_every_s
            while True:
                now = time.monotonic()
                left = started + listen.timeout_s - now
                if left <= 0:
                    return SilenceTimedOut(waited_s=now - started)
                if now >= retry_at:
                    break
                pressed = self.inputs.get(timeout=min(left, retry_at - now))
                if pressed is not None:
                    return pressed
            turn = replace(listen, timeout_s=left)

    # -- unplugged devices ----------------------------------------------------------------

    def _reopen_microphone(self) -> None:
        if self.ears.reopen():  # False: nothing to try apart, hearing is the try
            self._back("microphone")

    def _lost(self, device: str, exc: Exception) -> None:
        if device not in self.lost:
            self.lost.add(device)
            self.outages += 1
            log.warning("%s Carrying on with the buttons only until the %s is back.", exc, device)
            self._show_lights()

    def _back(self, device: str) -> None:
        if device in self.lost:
            self.lost.discard(device)
            log.info("The %s is back.", device)
            self._show_lights()

    def _show_lights(self) -> None:
        """The lights the engine asked for; the status light red while a device is lost."""
        if self.lights is not None:
            asked = self._lights_asked
            self.lights.apply(replace(asked, status="error") if self.lost else asked)

    def _keep_words(self, action: KeepWordConsent | KeepWordExample) -> None:
        """Personal words (a ``teach_words`` step): the sink keeps them, if it can; the
        ears' cache of the person's words is then read again."""
        keep = getattr(self.sink, "keep_words", None)
        if keep is None:
            log.info("not kept (this record sink keeps no personal words): %s", action)
            return
        keep(action)
        personal = getattr(self.ears, "personal", None)
        if personal is not None:
            personal.forget(action.person_id)

    def _keep_audio(self, action: KeepAudio) -> None:
        record = self.engine.record
        sha = self.sink.keep_audio(record, action.answer_id, action.audio_path)
        if sha is None:
            return
        for answer in record.answers:
            if answer.id == action.answer_id and answer.audio_clip is None:
                answer.audio_clip = sha

    def person_name(self, person_id: str | None) -> str | None:
        if person_id is None:
            return None
        for person in self.engine.record.people:
            if person.id == person_id:
                return person.name
        return person_id


def engines_line(engines: Mapping[str, str]) -> str:
    """One line naming the active engines by role."""
    return ", ".join(f"{role}: {name}" for role, name in engines.items())


def temp_audio_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="assistant-turns-"))


def describe(obj: Any, fallback: str = "none") -> str:
    return str(getattr(obj, "name", fallback))


__all__: Sequence[str] = (
    "Clock",
    "Ears",
    "Lights",
    "RecordSink",
    "RealClock",
    "VirtualClock",
    "SessionShell",
    "JsonRecordSink",
    "PromptState",
    "SimpleInputs",
    "recognise",
    "to_mic_rate",
)


# ---------------------------------------------------------------- choosing a script by voice


def speak(voice: Voice, speaker: Speaker, text: str) -> None:
    """Say *text* and wait until it has been heard (outside a session)."""
    for chunk in voice.synthesize(text):
        speaker.play(chunk, voice.sample_rate)
    speaker.wait()


def _light(lights: Any, buttons: frozenset[str], status: str = "idle") -> None:
    if lights is not None:
        lights.apply(SetLights(buttons, status))  # type: ignore[arg-type]


def _wait_for_press(inputs: Inputs, wait_s: float) -> ButtonPressed:
    """Wait, quietly and as long as it takes, for a button press (any)."""
    while True:
        event = inputs.get(timeout=wait_s)
        if isinstance(event, ButtonPressed):
            return event


def wait_for_press(
    inputs: Inputs, wait_s: float, lights: Any = None, status: str = "idle"
) -> ButtonPressed:
    """Idle and quiet, green lit, until any button is pressed."""
    _light(lights, frozenset({"yes"}), status)
    return _wait_for_press(inputs, wait_s)


def ask_yes_no(
    voice: Voice,
    speaker: Speaker,
    inputs: Inputs,
    question: str,
    wait_s: float,
    lights: Any = None,
) -> bool:
    """Ask a yes/no question outside a session; True for green, False for red. Silence decides
    nothing: after asking, the device waits quietly (green and red lit) as long as it takes;
    any other button says the question again."""
    while True:
        speak(voice, speaker, f"{question} {P.YES_NO}")
        _light(lights, frozenset({"yes", "no", "repeat", "help"}))
        event = _wait_for_press(inputs, wait_s)
        if event.button in ("yes", "no"):
            return event.button == "yes"


def choose_script(
    voice: Voice,
    speaker: Speaker,
    inputs: Inputs,
    dirs: Sequence[Path],
    settings: Any,
    *,
    wait_s: float | None = None,
    lights: Any = None,
    flagged: Callable[[], bool] | None = None,
) -> str:
    """Offer the scripts by voice, three at a time; the one chosen with the green button.

    Idle, the device says its invitation once, then is quiet with the green button lit until
    any press wakes it. Then each session is said, and the device waits (at least
    ``dialogue.repeat_after_s``) for a button: green chooses it, red or yellow go on, repeat
    says it again, help explains. If nobody pressed anything all the way through, it is quiet
    again until a press; it never reads its list to an empty room. While it waits, the status
    light blinks purple when *flagged()* is true: a flag (a person is not feeling good, asked
    for help) that staff have not cleared yet (``assistant records clear-flag``).
    """
    from assistant.dialogue.published import PublishedScripts, load_device_script
    from assistant.dialogue.script import builtin_scripts, load_script

    names = list(builtin_scripts())
    for folder in dirs:
        if Path(folder).is_dir():
            names += [p.stem for p in sorted(Path(folder).glob("*.yaml")) if p.stem not in names]
    has_published = hasattr(settings, "published_scripts_dir")
    published = PublishedScripts.of(settings) if has_published else None
    if published is not None:
        names += [n for n in published.names() if n not in names]
    titles: dict[str, str] = {}
    for name in names:
        try:
            if published is not None:
                titles[name] = load_device_script(name, settings, published).title
            else:
                titles[name] = load_script(name, dirs).title
        except Exception as exc:  # a broken staff script is not offered
            log.warning("not offering script %s: %s", name, exc)
    if not titles:
        raise RecordError("There are no scripts to offer.")
    wait = wait_s if wait_s is not None else settings.dialogue.repeat_after_s
    explain = P.SESSIONS_EXPLAIN

    def idle() -> str:
        return "flagged" if flagged is not None and flagged() else "idle"

    speak(voice, speaker, P.IDLE_INVITE)
    wait_for_press(inputs, wait, lights, idle())
    speak(voice, speaker, f"{P.WHICH_SESSION} {explain}")
    items = list(titles.items())
    while True:
        pressed = False
        for start in range(0, len(items), 3):
            for name, title in items[start : start + 3]:
                while True:
                    speak(voice, speaker, f"{title}?")
                    event = inputs.get(timeout=wait)
                    button = event.button if isinstance(event, ButtonPressed) else None
                    pressed = pressed or button is not None
                    if button == "yes":
                        speak(voice, speaker, f"{title}. Let's start.")
                        return name
                    if button == "repeat":
                        continue
                    if button == "help":
                        speak(voice, speaker, f"{explain} {P.SESSIONS_NEXT}")
                        continue
                    break
            if start + 3 < len(items):
                speak(voice, speaker, "Here are some more.")
        if not pressed:
            # Nobody is there: quiet, green lit, until someone presses.
            wait_for_press(inputs, wait, lights, idle())
            speak(voice, speaker, f"{P.WHICH_SESSION} {explain}")
            continue
        speak(voice, speaker, P.CHOOSE_AGAIN)
