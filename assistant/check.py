"""``assistant check``: a guided self-test a support worker can follow by ear.

It speaks each step, lights each light in turn, asks for each button in turn (with a time
limit), records three seconds and plays them back, reports the microphone level, names the
speech engines and models (and why they were chosen), checks free disk space, which key locks
the records at rest (and what that protects against), and the clock. At the end it says and
prints a summary, and exits non-zero if anything failed, naming each failure in one sentence.

Everything it uses is passed in (:class:`CheckKit`), so tests run it with MockFactory buttons
and fake audio; :func:`open_kit` builds the real one, turning each device that cannot be
opened into a failure rather than a crash.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from assistant.audio.base import MIC_RATE, Microphone, Speaker
from assistant.buttons.base import BUTTONS, ButtonInput, InputStream
from assistant.buttons.lights import COLOUR_NAMES, Lights
from assistant.config import Settings
from assistant.core.clock import Clock, SystemClock
from assistant.dialogue.events import Button, ButtonPressed, SetLights, Status
from assistant.errors import AssistantError, AssistantWarning
from assistant.voice.base import Voice

log = logging.getLogger(__name__)

MIN_LEVEL_DBFS = -45.0
"""The loudest tenth of a second must be at least this loud when someone speaks."""
SANE_YEARS = range(2025, 2100)


@dataclass(frozen=True)
class CheckItem:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    """One sentence: what was found, or what is wrong."""


@dataclass
class CheckKit:
    """What the self-test uses; a part that could not be opened has a problem instead."""

    stream: InputStream
    buttons: ButtonInput
    lights: Lights
    voice: Voice | None = None
    speaker: Speaker | None = None
    microphone: Microphone | None = None
    buttons_problem: str | None = None
    voice_problem: str | None = None
    speaker_problem: str | None = None
    microphone_problem: str | None = None
    engines: Callable[[], list[str]] | None = None
    """Describes the speech recognisers for each role (and why); raises if none can load."""
    notes: list[str] = field(default_factory=list)
    """Fallback warnings met while opening the kit."""

    def close(self) -> None:
        for part in (self.buttons, self.lights):
            try:
                part.close()
            except Exception:
                log.debug("closing %r failed", part, exc_info=True)


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


def level_dbfs(pcm: np.ndarray) -> tuple[float, float]:
    """(loudest 100 ms, average) RMS level of int16 audio in dBFS (-inf for digital silence)."""
    if len(pcm) == 0:
        return -math.inf, -math.inf
    x = pcm.astype(np.float64) / 32768.0

    def db(v: float) -> float:
        return 20 * math.log10(v) if v > 0 else -math.inf

    window = MIC_RATE // 10
    n = len(x) // window
    if n == 0:
        loud = float(np.sqrt(np.mean(x**2)))
    else:
        blocks = x[: n * window].reshape(n, window)
        loud = float(np.sqrt(np.mean(blocks**2, axis=1)).max())
    return db(loud), db(float(np.sqrt(np.mean(x**2))))


def _seconds(value: float) -> str:
    return "1 second" if value == 1 else f"{value:g} seconds"


def _db_text(value: float) -> str:
    return "silence" if value == -math.inf else f"{value:.0f} dBFS"


class SelfTest:
    """The steps of ``assistant check``; :meth:`run` returns the report."""

    def __init__(
        self,
        settings: Settings,
        kit: CheckKit,
        *,
        out: Callable[[str], None] = print,
        button_timeout_s: float = 20.0,
        record_s: float = 3.0,
        light_s: float = 0.8,
        min_level_dbfs: float = MIN_LEVEL_DBFS,
        clock: Clock | None = None,
        disk_usage: Callable[[Path], Any] = shutil.disk_usage,
    ) -> None:
        self.settings = settings
        self.kit = kit
        self.out = out
        self.button_timeout_s = button_timeout_s
        self.record_s = record_s
        self.light_s = light_s
        self.min_level_dbfs = min_level_dbfs
        self.clock: Clock = clock or SystemClock()
        self.disk_usage = disk_usage
        self.items: list[CheckItem] = []
        self.spoken: list[str] = []
        self.speak_errors: list[str] = []

    # ------------------------------------------------------------------ helpers

    def say(self, text: str) -> None:
        """Print, and speak if there is a voice and a speaker."""
        self.out(f"  » {text}")
        self.spoken.append(text)
        voice, speaker = self.kit.voice, self.kit.speaker
        if voice is None or speaker is None:
            return
        try:
            for chunk in voice.synthesize(text):
                speaker.play(chunk, voice.sample_rate)
            speaker.wait(timeout=30)
        except AssistantError as exc:
            log.warning("could not speak: %s", exc)
            self.speak_errors.append(str(exc))

    def add(self, name: str, ok: bool, detail: str) -> CheckItem:
        item = CheckItem(name, ok, detail)
        self.items.append(item)
        self.out(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        return item

    def _lights(self, buttons: frozenset[Button], status: Status) -> None:
        self.kit.lights.apply(SetLights(buttons, status))

    # ------------------------------------------------------------------ steps

    def run(self) -> list[CheckItem]:
        for note in self.kit.notes:
            self.out(f"     note: {note}")
        self.kit.notes = []
        self.say("This is the self-test. Listen, and do what I say.")
        self.check_speaker()
        self.check_lights()
        self.check_buttons()
        self.check_microphone()
        self.check_engines()
        self.check_disk()
        self.check_records_locked()
        self.check_clock()
        self.check_published_scripts()
        self.summary()
        return self.items

    def check_speaker(self) -> None:
        if self.kit.voice is None:
            self.add("voice", False, f"the voice could not be loaded: {self.kit.voice_problem}")
        else:
            self.add("voice", True, f"{self.kit.voice.name} speaks")
        if self.kit.speaker is None:
            self.add("speaker", False, f"no speaker: {self.kit.speaker_problem}")
        elif self.speak_errors:
            self.add("speaker", False, f"the speaker could not play: {self.speak_errors[0]}")
        else:
            self.add("speaker", True, f"sound goes to {self.kit.speaker.name}")

    def check_lights(self) -> None:
        lights = self.kit.lights
        try:
            self.say("Watch the buttons. Each one lights up in turn.")
            for button in BUTTONS:
                if button in self.kit.buttons.buttons or lights.name != "console":
                    self._lights(frozenset({button}), "idle")
                    time.sleep(self.light_s)
            self.say("Now watch the small light. It shows green, blue, amber, then red.")
            statuses: tuple[Status, ...] = ("listening", "speaking", "thinking", "error")
            for status in statuses:
                self._lights(frozenset(), status)
                time.sleep(self.light_s)
            self._lights(frozenset(), "idle")
        except Exception as exc:
            self.add("lights", False, f"the lights could not be set: {exc}")
            return
        if lights.name == "console":
            self.add("lights", True, "no light hardware here; the lights are shown on screen")
        else:
            colours = ", ".join(COLOUR_NAMES[s] for s in statuses)
            self.add("lights", True, f"each button light, then the status light ({colours})")

    def check_buttons(self) -> None:
        buttons = self.kit.buttons
        if self.kit.buttons_problem is not None:
            self.add("buttons", False, f"the buttons could not be used: {self.kit.buttons_problem}")
            return
        if not buttons.buttons:
            self.add("buttons", False, f"no buttons were found ({buttons.name})")
            return
        self.out(f"     buttons: {buttons.name}")
        stream = self.kit.stream
        for button in BUTTONS:
            if button not in buttons.buttons:
                continue
            stream.drain()
            self._lights(frozenset({button}), "listening")
            self.say(f"Press the {button} button.")
            if self._wait_for(button):
                self.add(f"{button} button", True, "pressed")
                self.say("Good.")
            else:
                self.add(
                    f"{button} button",
                    False,
                    f"not pressed within {_seconds(self.button_timeout_s)}",
                )
                self.say(f"I did not hear the {button} button.")
        self._lights(frozenset(), "idle")

    def _wait_for(self, button: Button) -> bool:
        deadline = time.monotonic() + self.button_timeout_s
        while (left := deadline - time.monotonic()) > 0:
            event = self.kit.stream.get(timeout=left)
            if isinstance(event, ButtonPressed):
                if event.button == button:
                    return True
                self.say(f"That was the {event.button} button. Press the {button} button.")
        return False

    def check_microphone(self) -> None:
        mic = self.kit.microphone
        if mic is None:
            self.add("microphone", False, f"no microphone: {self.kit.microphone_problem}")
            return
        self._lights(frozenset(), "listening")
        self.say("Say something now, for three seconds. Then I will play it back.")
        try:
            pcm = self._record(mic)
        except AssistantError as exc:
            self._lights(frozenset(), "error")
            self.add("microphone", False, f"recording failed: {exc}")
            return
        finally:
            self._lights(frozenset(), "idle")
        loud, average = level_dbfs(pcm)
        seconds = len(pcm) / MIC_RATE
        if self.kit.speaker is not None and len(pcm):
            self.say("Here it is.")
            self.kit.speaker.play(pcm, MIC_RATE)
            self.kit.speaker.wait(timeout=self.record_s + 5)
        level = f"loudest {_db_text(loud)}, average {_db_text(average)}"
        if seconds < self.record_s * 0.9:
            self.add(
                "microphone", False, f"{mic.name} gave only {seconds:.1f} s of sound ({level})"
            )
        elif loud < self.min_level_dbfs:
            self.add(
                "microphone",
                False,
                f"{mic.name} heard almost nothing ({level}): is it plugged in, muted or covered?",
            )
        else:
            self.add("microphone", True, f"{mic.name}: {level}")

    def _record(self, mic: Microphone) -> np.ndarray:
        want = int(self.record_s * MIC_RATE)
        blocks: list[np.ndarray] = []
        have = 0
        deadline = time.monotonic() + self.record_s + 2.0
        mic.start()
        try:
            while have < want and time.monotonic() < deadline:
                block = mic.read(timeout=0.5)
                if block is None:
                    continue
                blocks.append(block)
                have += len(block)
        finally:
            mic.stop()
        pcm = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)
        return pcm[:want]

    def check_engines(self) -> None:
        if self.kit.voice is not None:
            self.add("speech out", True, f"text to speech: {self.kit.voice.name}")
        if self.kit.engines is None:
            self.add("speech in", False, "speech recognition is not installed")
        else:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", AssistantWarning)
                    lines = self.kit.engines()
            except Exception as exc:
                self.add("speech in", False, f"no speech recogniser could be loaded: {exc}")
            else:
                self.add("speech in", True, "; ".join(lines))
                self.kit.notes += [str(w.message) for w in caught]
        for note in self.kit.notes:
            self.out(f"     note: {note}")

    def check_disk(self) -> None:
        path = self.settings.data_dir
        while not path.exists() and path != path.parent:
            path = path.parent
        usage = self.disk_usage(path)
        free_mb = usage.free / 1024 / 1024
        need = self.settings.records.min_free_mb
        if free_mb < need:
            self.add(
                "disk",
                False,
                f"only {free_mb:.0f} MB free on {path}; at least {need} MB is needed to record",
            )
        else:
            self.add("disk", True, f"{free_mb:.0f} MB free on {path}")

    def check_records_locked(self) -> None:
        """Which key locks the records at rest, and what it protects against (plainly)."""
        from assistant.records.keys import describe

        try:
            detail = describe(self.settings.data_dir, self.settings.records.key_file)
        except AssistantError as exc:
            self.add("records at rest", False, str(exc))
            return
        self.add("records at rest", True, detail)

    def check_clock(self) -> None:
        now = self.clock.now()
        if now.year in SANE_YEARS:
            self.add("clock", True, f"the date is {now:%d %B %Y}, the time {now:%H:%M} UTC")
        else:
            self.add(
                "clock",
                False,
                f"the clock says {now:%d %B %Y}, which is wrong; connect to a network once "
                "or set the date",
            )

    def check_published_scripts(self) -> None:
        """Each script the hub published here must carry the hub's good signature."""
        from assistant.dialogue.published import PublishedScripts

        published = PublishedScripts.of(self.settings)
        names = published.names()
        if not names:
            return
        problems = published.problems()
        for name, problem in problems.items():
            self.add("published script", False, f"{problem} The built-in {name!r} is used.")
        good = [n for n in names if n not in problems]
        if good:
            self.add("published scripts", True, f"signed by the hub and used: {', '.join(good)}")

    def summary(self) -> None:
        failed = [i for i in self.items if not i.ok]
        self.out("")
        if not failed:
            self.out(f"All {len(self.items)} checks passed.")
            self.say("The self-test is finished. Everything works.")
            return
        self.out(f"{len(failed)} of {len(self.items)} checks failed:")
        for item in failed:
            self.out(f"  - {item.name}: {item.detail}")
        problems = "problem" if len(failed) == 1 else "problems"
        self.say(f"The self-test is finished. I found {len(failed)} {problems}.")
        for item in failed:
            self.say(f"The {item.name} failed.")
        self.say("The details are on the screen and in the log.")

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items)


def open_kit(settings: Settings) -> CheckKit:
    """The real buttons, lights, voice, speaker and microphone, from the device builder
    (:func:`assistant.app.build_device`, tolerant: problems noted, not raised)."""
    from assistant.app import build_device

    notes: list[str] = []
    if service_running():
        notes.append(
            "The assistant service is running and may be using the buttons and the sound "
            "devices; stop it first: sudo systemctl stop assistant"
        )
    device = build_device(settings, store=False, tolerant=True)
    assert device.lights is not None  # the builder always gives lights with buttons
    kit = CheckKit(
        stream=device.inputs,
        buttons=device.buttons,
        lights=device.lights,
        voice=device.voice,
        speaker=device.speaker,
        microphone=device.microphone,
        buttons_problem=device.problems.get("buttons"),
        voice_problem=device.problems.get("voice"),
        speaker_problem=device.problems.get("speaker"),
        microphone_problem=device.problems.get("microphone"),
    )
    if "recognisers" in device.problems:
        problem = device.problems["recognisers"]

        def engines() -> list[str]:
            raise AssistantError(problem)

    else:
        lines = device.why.get("recognisers", [])

        def engines() -> list[str]:
            return lines

    kit.engines = engines
    kit.notes = notes + device.notes
    return kit


def service_running() -> bool:
    """True when the assistant systemd service is active on this machine."""
    if shutil.which("systemctl") is None:
        return False
    import subprocess

    try:
        result = subprocess.run(  # quiet: "System has not been booted with systemd" is not news
            ["systemctl", "is-active", "--quiet", "assistant.service"],
            timeout=5,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def board_lines(settings: Settings) -> list[str]:
    """The Raspberry Pi model this runs on and the settings profile in force (assistant.pi)."""
    from assistant.pi import board_report

    try:
        return board_report(settings)
    except Exception as exc:  # a report, never a reason for the self-test not to run
        return [f"board: could not be read ({exc})"]


def run_check(settings: Settings, **options: Any) -> bool:
    """``assistant check``: run the self-test on this device; True if everything passed."""
    out = options.get("out", print)
    for line in board_lines(settings):
        out(line)
    kit = open_kit(settings)
    try:
        test = SelfTest(settings, kit, **options)
        test.run()
        return test.ok
    finally:
        kit.close()
