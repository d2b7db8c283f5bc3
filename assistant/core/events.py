"""Events into the dialogue engine and actions out of it: the engine's whole interface.

The engine is pure: ``Engine.start() -> list[Action]`` and ``Engine.handle(event) ->
list[Action]``. It never does I/O and reads time only from the clock it is given. The shell
(``assistant.dialogue.shell``) carries out the actions with real or fake audio, voices,
recognisers, buttons and the record store, and feeds back the events.

These are core values (buttons and the shell use them too); ``assistant.dialogue.events``
re-exports them under their old path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from assistant.core.record import SessionRecord
from assistant.core.speech import Role, Transcript
from assistant.core.words import ShortAnswer

__all__ = [
    "Action",
    "Button",
    "ButtonPressed",
    "End",
    "Event",
    "KeepAudio",
    "Listen",
    "PlayEarcon",
    "PromptFinished",
    "Save",
    "Say",
    "SetLights",
    "SilenceTimedOut",
    "SpeechHeard",
    "Status",
    "StopListening",
    "Tick",
]

Button = Literal["yes", "no", "next", "help", "repeat"]
Status = Literal["idle", "speaking", "listening", "thinking", "error", "flagged"]
"""``flagged``: idle, with a flag (a person is not feeling good, asked for help) that staff have
not cleared yet: the status light blinks purple, slowly, until they do."""

# ---------------------------------------------------------------- events (shell -> engine)


@dataclass(frozen=True)
class ButtonPressed:
    button: Button
    held: bool = False
    """True when the button was held down past the hold time (a different, documented action)."""
    while_speaking: bool = False
    """True when the press interrupted a prompt (barge-in); the shell has already stopped it."""


@dataclass(frozen=True)
class SpeechHeard:
    transcript: Transcript
    audio_path: str | None = None
    """The answer's WAV on disk (the records layer decides whether consent lets it stay)."""


@dataclass(frozen=True)
class SilenceTimedOut:
    """No speech started within the listen's timeout."""

    waited_s: float


@dataclass(frozen=True)
class PromptFinished:
    prompt_id: int


@dataclass(frozen=True)
class Tick:
    """Time passed; lets the engine send reminders while it waits for a button."""


Event = ButtonPressed | SpeechHeard | SilenceTimedOut | PromptFinished | Tick

# ---------------------------------------------------------------- actions (engine -> shell)


@dataclass(frozen=True)
class Say:
    text: str
    prompt_id: int
    interruptible: bool = True
    words_per_minute: float | None = None
    """The speaking rate of the person being asked (None: the voice's own)."""


@dataclass(frozen=True)
class PlayEarcon:
    name: Literal["listening", "done_listening", "celebrate", "error", "thinking"]


@dataclass(frozen=True)
class Listen:
    """Open the microphone for one answer; buttons keep working while it is open."""

    role: Role
    step_id: str
    person_id: str | None = None
    allowed: tuple[ShortAnswer, ...] = ()
    timeout_s: float = 10.0
    trailing_silence_s: float | None = None
    """None: the configured default for the role."""
    phrases: tuple[str, ...] = ()
    """Extra whole-utterance phrases that mean an answer here (scale points, option names),
    besides ``allowed``; a recogniser with a grammar should accept them too. The engine matches
    ``Transcript.text`` against them itself."""


@dataclass(frozen=True)
class StopListening:
    pass


@dataclass(frozen=True)
class SetLights:
    buttons: frozenset[Button] = field(default_factory=frozenset)
    status: Status = "idle"


@dataclass(frozen=True)
class Save:
    """Persist the record as it stands (the engine emits this after every answer)."""

    record: SessionRecord
    finished: bool = False


@dataclass(frozen=True)
class KeepAudio:
    """Keep this answer's audio clip for the record (only emitted when the person consented)."""

    answer_id: str
    audio_path: str


@dataclass(frozen=True)
class KeepWordConsent:
    """The person's own decision about keeping examples of their words (separate from keeping
    answers); no withdraws it and deletes the examples (``teach_words``)."""

    person_id: str
    allowed: bool
    method: str = "button"


@dataclass(frozen=True)
class KeepWordExample:
    """Keep this turn's audio as an example of how the person says *word* (the store checks
    the word consent and the sound again).

    *source*: ``taught`` (a ``teach_words`` example, confirmed by button) or ``confirmed`` (a
    short answer of a taught person that stood: confirmed at a read-back, or decided by the
    general recogniser and not undone; bounded per word, the oldest such dropped first)."""

    person_id: str
    word: ShortAnswer
    audio_path: str
    source: Literal["taught", "confirmed"] = "taught"


@dataclass(frozen=True)
class End:
    reason: Literal["finished", "stopped"] = "finished"


Action = (
    Say
    | PlayEarcon
    | Listen
    | StopListening
    | SetLights
    | Save
    | KeepAudio
    | KeepWordConsent
    | KeepWordExample
    | End
)
