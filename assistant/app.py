"""The device builder: every part of the device, built in one place from the settings.

:func:`build_device` opens the parts a command needs, real or fake, and returns one typed
:class:`Device`; :func:`run_session` runs one session on it. ``assistant run`` and the service
(:func:`run_device`), ``assistant check``, ``demo`` and ``simulate`` and the end-to-end
benchmark all build their parts here, so they cannot drift apart. Recipes::

    device = build_device(settings)                         # the real device, for `run`
    device = build_device(settings, speech="fake", audio="memory", buttons=False, store=False)
    device = build_device(settings, tolerant=True)          # `check`: a part that will not
                                                            # open is a problem, not an error
    try:
        run_session(device, "daily-checkin")
    finally:
        device.close()

What is chosen, and why, is in :attr:`Device.reasons` (one line per part); a fallback (no
Vosk model, so the embedded recogniser; no GPIO, so the keyboard) is a named warning
(:class:`~assistant.errors.EngineFallback`, :class:`~assistant.errors.DeviceFallback`),
caught here, logged once and kept in :attr:`Device.notes`. The voice's speaking rate is
calibrated once per voice file (remembered on disk) on every path that uses the real voice.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assistant.audio.base import Microphone, Speaker
from assistant.buttons.base import Buttons, InputStream, Lights
from assistant.config import Settings
from assistant.core.clock import Clock
from assistant.dialogue.shell import RealClock, VirtualClock
from assistant.errors import AssistantError, AssistantWarning, EngineFallback
from assistant.records.protocols import DeviceStore
from assistant.stt.base import Recognizer, Role
from assistant.voice.base import Voice

if TYPE_CHECKING:
    from assistant.dialogue.simulate import SpeechKit
    from assistant.records.model import SessionRecord

log = logging.getLogger(__name__)

__all__ = ["Device", "build_device", "run_device", "run_session"]

Speech = Literal["real", "fake", "none"]
"""``real``: Piper through the prompt cache, and the recognisers chosen for the settings;
``fake``: fake tones and a recogniser that hears the scenario's text exactly; ``none``."""
Audio = Literal["real", "memory", "none"]
"""``real``: the configured sound devices; ``memory``: a speaker that keeps what it plays, on
the device's clock, and no microphone (simulations); ``none``."""


@dataclass
class Device:
    """Every part of one device. A part not asked for (or, when built tolerant, that could not
    be opened: see :attr:`problems`) is None."""

    settings: Settings
    clock: Clock
    inputs: InputStream
    """Where every button press arrives (see :mod:`assistant.buttons.base`)."""
    buttons: Buttons
    voice: Voice | None = None
    speech_voice: Voice | None = None
    """The voice simulated people speak with (simulations and the demo): the same voice."""
    recognisers: dict[Role, Recognizer] = field(default_factory=dict)
    microphone: Microphone | None = None
    speaker: Speaker | None = None
    lights: Lights | None = None
    store: DeviceStore | None = None
    why: dict[str, list[str]] = field(default_factory=dict)
    """Part name -> lines saying what was chosen for it and why."""
    notes: list[str] = field(default_factory=list)
    """The fallback warnings met while building, each once."""
    problems: dict[str, str] = field(default_factory=dict)
    """Part name -> the one sentence saying why it could not be opened (tolerant builds)."""

    @property
    def reasons(self) -> list[str]:
        """What was chosen, and why: one line per part (the recognisers one per role)."""
        return [line for lines in self.why.values() for line in lines]

    def speech_kit(self) -> SpeechKit:
        """The voice and recognisers, as a simulation takes them."""
        from assistant.dialogue.simulate import SpeechKit

        if self.voice is None or self.speech_voice is None or not self.recognisers:
            raise AssistantError(f"This device has no speech: {self.problem('voice')}.")
        return SpeechKit(self.voice, self.speech_voice, dict(self.recognisers), self.reasons)

    def problem(self, part: str) -> str:
        return self.problems.get(part, f"the {part} was not opened")

    def close(self) -> None:
        """Let go of every part (each one's failure logged, never raised)."""
        parts: list[Callable[[], None]] = [self.buttons.close]
        if self.lights is not None:
            parts.append(self.lights.close)
        if self.store is not None:
            parts.append(self.store.close)
        if self.microphone is not None:
            parts += [self.microphone.stop, self.microphone.close]
        if self.speaker is not None:
            parts.append(self.speaker.close)  # an open PortAudio stream at exit can crash
        for close in parts:
            try:
                close()
            except Exception:
                log.warning("closing %s failed", close, exc_info=True)


def build_device(
    settings: Settings,
    *,
    speech: Speech = "real",
    audio: Audio = "real",
    buttons: bool = True,
    store: bool = True,
    virtual: bool = False,
    tolerant: bool = False,
    prompt_cache_dir: Path | None = None,
) -> Device:
    """The device the settings describe, with the parts asked for.

    *virtual* runs it on a fake clock. With *tolerant*, a part that cannot be opened is noted
    in :attr:`Device.problems` (and left None, or no buttons) instead of raising.
    *prompt_cache_dir* moves the prompt cache (the benchmark keeps its own).
    """
    from assistant.buttons.keyboard import NoButtons

    clock: Clock = VirtualClock() if virtual else RealClock()
    device = Device(settings=settings, clock=clock, inputs=InputStream(), buttons=NoButtons())

    def attempt(part: str, open_part: Callable[[], None]) -> None:
        try:
            open_part()
        except (AssistantError, ImportError) as exc:
            if not tolerant:
                raise
            device.problems[part] = str(exc)
            log.warning("%s: %s", part, exc)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AssistantWarning)
        try:
            _open_parts(device, attempt, speech, audio, buttons, store, prompt_cache_dir)
        except BaseException:
            device.close()  # what did open is let go (the service tries again later)
            raise
    for warning in caught:
        if not issubclass(warning.category, AssistantWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
            continue
        text = str(warning.message)
        if text not in device.notes:
            device.notes.append(text)
            if not issubclass(warning.category, EngineFallback):  # already in the reasons
                log.warning("%s", text)
    return device


def _open_parts(
    device: Device,
    attempt: Callable[[str, Callable[[], None]], None],
    speech: Speech,
    audio: Audio,
    buttons: bool,
    store: bool,
    prompt_cache_dir: Path | None,
) -> None:
    if speech == "fake":
        _fake_speech(device)
    elif speech == "real":
        attempt("voice", lambda: _real_voice(device, prompt_cache_dir))
        attempt("recognisers", lambda: _real_recognisers(device))
    if audio == "real":
        attempt("speaker", lambda: _real_speaker(device))
        attempt("microphone", lambda: _real_microphone(device))
    elif audio == "memory":
        from assistant.audio.fake import MemorySpeaker

        device.speaker = MemorySpeaker(clock=device.clock)
    if buttons:
        attempt("buttons", lambda: _buttons(device))
        _lights(device)
    if store:
        attempt("store", lambda: _store(device))


def _fake_speech(device: Device) -> None:
    from assistant.dialogue.simulate import fake_speech_kit

    kit = fake_speech_kit()
    device.voice, device.speech_voice = kit.voice, kit.speech_voice
    device.recognisers = dict(kit.recognisers)
    device.why["speech"] = list(kit.reasons)


def _real_voice(device: Device, prompt_cache_dir: Path | None) -> None:
    from assistant.voice import open_voice
    from assistant.voice.cache import CachedVoice

    settings = device.settings
    voice = open_voice(settings, cache=prompt_cache_dir is None)  # calibrated
    if prompt_cache_dir is not None:
        voice = CachedVoice(voice, prompt_cache_dir, settings.voice.cache_max_mb << 20)
    device.voice = device.speech_voice = voice
    cached = isinstance(voice, CachedVoice)
    device.why["voice"] = [
        f"voice: {voice.describe()}" + (", through the prompt cache" if cached else "")
    ]


def _real_recognisers(device: Device) -> None:
    from assistant.stt.select import choose_engines

    engines = choose_engines(device.settings)
    device.recognisers = {"short": engines.short, "free": engines.free}
    device.why["recognisers"] = engines.describe()


def _real_speaker(device: Device) -> None:
    from assistant.audio import open_speaker

    device.speaker = open_speaker(device.settings.audio)


def _real_microphone(device: Device) -> None:
    from assistant.audio import open_microphone

    device.microphone = open_microphone(device.settings.audio)


def _buttons(device: Device) -> None:
    from assistant.buttons import open_buttons

    device.buttons = open_buttons(device.settings.buttons, device.inputs)
    device.why["buttons"] = [f"buttons: {device.buttons.name}"]


def _lights(device: Device) -> None:
    """The lights beside the buttons; text if they cannot be set up (a help, never a reason
    to stop)."""
    from assistant.buttons import open_lights
    from assistant.buttons.lights import ConsoleLights

    try:
        device.lights = open_lights(device.settings.buttons, device.buttons.name)
    except Exception as exc:
        device.lights = ConsoleLights()
        device.notes.append(f"The lights could not be set up: {exc}")
        log.warning("No button lights: %s", exc)


def _store(device: Device) -> None:
    from assistant.records.store import RecordStore

    device.store = RecordStore.open(device.settings)


# ---------------------------------------------------------------- one session on the device


def run_session(device: Device, script_name: str | None) -> SessionRecord:
    """One session on *device*: carry on an unfinished one, or choose a script by voice (when
    none is named), then run it to the end, saving into the record store."""
    import random

    from assistant.dialogue.engine import Engine
    from assistant.dialogue.published import load_device_script
    from assistant.dialogue.shell import (
        MicrophoneEars,
        SessionShell,
        StoreSink,
        ask_yes_no,
        choose_script,
        engines_line,
        wait_for_press,
    )
    from assistant.dialogue.simulate import _earcons

    settings = device.settings
    voice, speaker, mic, store = device.voice, device.speaker, device.microphone, device.store
    if voice is None or speaker is None or mic is None or store is None or not device.recognisers:
        missing = [
            part
            for part, value in (
                ("voice", voice),
                ("speaker", speaker),
                ("microphone", mic),
                ("store", store),
                ("recognisers", device.recognisers or None),
            )
            if value is None
        ]
        raise AssistantError(f"A session needs the {', '.join(missing)}, which did not open.")
    inputs = device.inputs
    inputs.set_barge_in(speaker.stop)
    turns = settings.data_dir / "audio" / "turns"
    for left in turns.glob("*.wav"):  # from a session that stopped part way: never kept
        left.unlink(missing_ok=True)
    dirs = [settings.scripts_dir]
    record = None
    unfinished = store.unfinished_session()
    stopped = settings.data_dir / STOPPED_FOR_TODAY
    if unfinished is not None and _stopped_for_today(stopped) == unfinished.id:
        # Stopped for today on purpose (red in a break): quiet, green lit, until someone presses
        # a button; only then "carry on?" (never straight after "We will stop for today").
        wait_for_press(inputs, settings.dialogue.repeat_after_s, lights=device.lights)
        stopped.unlink(missing_ok=True)
    if unfinished is not None and (script_name is None or script_name == unfinished.script):
        question = "A session stopped before the end. Shall we carry on with it?"
        if ask_yes_no(
            voice, speaker, inputs, question, settings.dialogue.repeat_after_s, lights=device.lights
        ):
            record, script_name = unfinished, unfinished.script
    if script_name is None:
        script_name = choose_script(
            voice,
            speaker,
            inputs,
            dirs,
            settings,
            lights=device.lights,
            flagged=store.has_open_flags,
        )
    script = load_device_script(script_name, settings)  # a good published version first
    engines: dict[str, str] = {role: rec.name for role, rec in device.recognisers.items()}
    engines["voice"] = voice.name
    log.info("engines: %s", engines_line(engines))
    engine = Engine(
        script,
        record.people if record is not None else store.people(),
        settings=settings.dialogue,
        clock=device.clock,
        rng=random.Random(),
        jobs=[] if record is not None else store.open_jobs(),
        # a review looks again at the goal agreed at an earlier meeting
        goals=store.current_goals() if record is None and script.reviews_goal else (),
        record=record,
        engines=engines,
    )
    shell = SessionShell(
        engine,
        voice=voice,
        speaker=speaker,
        ears=MicrophoneEars(
            mic,
            device.recognisers,
            inputs,
            settings.audio,
            turns,
            personal=_personal_words(store, engine),  # taught people's own words
        ),
        inputs=inputs,
        sink=StoreSink(store),
        clock=device.clock,
        earcons=_earcons(),
        lights=device.lights,
    )
    SESSION_UNDER_WAY.set()  # the prompt cache's warming waits (assistant/voice/warm.py)
    try:
        done = shell.run()
    finally:
        SESSION_UNDER_WAY.clear()
    if done.flags:
        ask_to_sync_now(settings.data_dir)
    if engine.stopped:
        try:
            stopped.write_text(done.id)
        except OSError as exc:  # the draft is kept either way; only the quiet start is lost
            log.warning("Could not note the session stopped for today: %s", exc)
    return done


STOPPED_FOR_TODAY = "stopped-for-today"
"""In the data folder: the id of the session stopped for today (red in a break). The next start
waits quietly for a press before offering to carry on with it."""


def _stopped_for_today(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


SYNC_NOW = "sync-now"
"""Touched in the data folder after a session that raised a flag: ``assistant-sync.path``
(systemd) then starts a sync at once, rather than at the next 15-minute timer."""


def ask_to_sync_now(data_dir: Path) -> None:
    """Ask for a sync at once (a flag for staff should not wait); never fails the session."""
    try:
        (data_dir / SYNC_NOW).touch()
        log.info("a flag was raised: asked for a sync now (%s)", data_dir / SYNC_NOW)
    except OSError as exc:
        log.warning("Could not ask for a sync now (%s): the next timed sync sends the flag", exc)


SESSION_UNDER_WAY = threading.Event()
"""Set while a session runs on this device (past choosing its script)."""


def run_device(
    settings: Settings, script_name: str | None, *, out: Callable[[str], None] = print
) -> None:
    """``assistant run`` and the service's session loop: build the real device, run one
    session on it, let go of every part."""
    device = build_device(settings)
    try:
        for reason in device.reasons:
            out(reason)
        record = run_session(device, script_name)
    finally:
        device.close()
    out(f"Session {record.id} saved in {settings.data_dir}.")


def _personal_words(store: Any, engine: Any) -> Any:
    """The taught words of the session's people (``assistant/stt/personal_stream.py``)."""
    from assistant.stt.personal_stream import PersonalWordsBook, store_loader

    names = {p.id: p.name for p in engine.record.people}
    return PersonalWordsBook(store_loader(store), lambda pid: names.get(pid, pid))
