"""``assistant demo``: a co-production group session with four virtual people, no hardware.

The engine runs the built-in ``coproduction-group`` script for real. The people are virtual:
each decides at every listening turn what a real person might do (press a button, or say
their answer, which the Piper voice speaks and the recogniser hears), so nothing here knows the
script's steps by heart. Sam and Tom like to talk; Priya mostly uses the buttons; Aisha
uses the buttons only (she never speaks: at each open question she presses yellow and chooses
from its choices, and she ends with a confirmed job). Priya and Aisha do not want their voice
kept; Tom passes on the first question and is asked again at the end. The conversation is
printed as it goes and the session record is written into the data folder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.dialogue import prompts as P
from assistant.dialogue.events import Listen
from assistant.dialogue.scenario import RosterEntry, Scenario, Turn

if TYPE_CHECKING:
    from assistant.dialogue.simulate import SpeechKit
    from assistant.records.protocols import DeviceStore

SCRIPT = "coproduction-group"


@dataclass
class Persona:
    name: str
    consent: bool
    talks: bool
    """Says short answers out loud (else presses the buttons)."""
    words: dict[str, str]
    """Words in the question (or its step id) -> their answer in their own words."""
    passes: set[str] = field(default_factory=set)
    """Keywords of steps they pass on the first time (next), to be asked again."""
    leaning: int = 0
    """Which end of a scale they lean to: 0 green, 1 yellow."""
    buttons_only: bool = False
    """Never speaks: open questions are answered by choosing (yellow, then green)."""
    picks: dict[str, str] = field(default_factory=dict)
    """Words in the question -> the choice they press green at (else the first one)."""


PEOPLE = [
    Persona(
        "Sam",
        consent=True,
        talks=True,
        words={
            "who will help": "Jo",
            "help with": "the printing",
            "why": "I want to meet new people",
            "want to do": "I want to go to the beach",
            "what job": "I will make the posters",
            "good at": "I am good at drawing",
            "when": "next Tuesday",
        },
    ),
    Persona(
        "Priya",
        consent=False,
        talks=False,
        words={
            "who will help": "my mum",
            "help with": "carrying the bags",
            "why": "I like the people here",
            "want to do": "I want to cook a big lunch",
            "what job": "I will buy the food",
            "good at": "I am good at cooking",
            "when": "on Friday",
        },
        leaning=1,
    ),
    Persona(
        "Tom",
        consent=True,
        talks=True,
        words={
            "who will help": "Alex",
            "help with": "finding the number",
            "why": "I want to have a say",
            "want to do": "I want to plan a trip",
            "what job": "I will phone the bus company",
            "good at": "I am good at talking to people",
            "when": "next week",
        },
        passes={"why"},
    ),
    Persona(
        "Aisha",
        consent=False,
        talks=False,
        buttons_only=True,
        picks={"what job": "Buy what we need", "good at": "Cooking", "when": "Next week"},
        words={
            "who will help": "Jo",
            "help with": "getting started",
            "why": "my friends come here",
            "want to do": "I want to go bowling",
            "what job": "I will choose the music",
            "good at": "I am good at music",
            "when": "on Monday",
        },
    ),
]


# The engine's own words, so the virtual people follow them if they change.
_ROSTER_PARTS = P.ROSTER_NAME.split("{name}")  # "{name}. If you are {name}, press green. ..."
_ROSTER_NAME = re.compile(
    re.escape(_ROSTER_PARTS[1].strip()) + r" ([\w' -]+?)" + re.escape(_ROSTER_PARTS[2][:14])
)
_CHOICE = re.compile(r"^(.+?)\. For (.+?), press green\.")


def _choice(said: str) -> str | None:
    """The choice being offered ("Today. For today, press green. ..."), or None."""
    m = _CHOICE.match(said)
    if m and m.group(1).lower() == m.group(2).lower():
        return m.group(1)
    return None


class VirtualGroup:
    """Decides each turn for the virtual people, as the session goes."""

    def __init__(self, people: list[Persona]) -> None:
        self.people = {p.name: p for p in people}
        self.passed: set[tuple[str, str]] = set()
        self.asked: dict[str, str] = {}
        """Person -> the open question they were last asked (for their pick)."""
        self.spoke: tuple[str | None, str, str] | None = None
        """(person, step, prompt) of the last turn answered by voice: asked the same again,
        the recogniser did not understand them, so they press the button instead (as a real
        person would; speech is a convenience, the buttons are the floor)."""

    def _short(self, persona: Persona | None, answer: str, button: str) -> Turn:
        if persona is not None and persona.talks:
            return Turn(say=answer)
        return Turn(press=button)

    def decide(
        self, listen: Listen | None, said: str, name_of: Callable[[str | None], str | None]
    ) -> Turn | list[Turn]:
        key = (listen.person_id, listen.step_id, said) if listen is not None else None
        again = key is not None and key == self.spoke
        turn = self._decide(listen, said, name_of, again)
        spoken = any(t.say for t in (turn if isinstance(turn, list) else [turn]))
        self.spoke = key if spoken else None
        return turn

    def _decide(
        self,
        listen: Listen | None,
        said: str,
        name_of: Callable[[str | None], str | None],
        again: bool,
    ) -> Turn | list[Turn]:
        if listen is None:  # waiting for a button: someone presses repeat to hear it again
            return Turn(press="repeat")
        who = name_of(listen.person_id)
        persona = self.people.get(who or "")
        step = listen.step_id.lower()
        if persona is not None and persona.buttons_only:
            chosen = self._buttons_only(persona, listen, said)
            if chosen is not None:
                return chosen
        if listen.role == "free":
            persona = persona or next(iter(self.people.values()))
            for key in persona.passes:
                if key in step and (persona.name, key) not in self.passed:
                    self.passed.add((persona.name, key))
                    # yellow at the question, at its three choices and the supporter's, and at
                    # "To pass, press yellow."
                    return Turn(press="next", times=6)
            if "meet" in said.lower():
                return Turn(say="next Tuesday at two")
            where = f"{step} {said.lower()}"
            words = next((w for k, w in persona.words.items() if k in where), None)
            answer = Turn(say=words or persona.words["want to do"])
            if persona.talks:
                return answer
            # Button users often press green while "I heard: ... Is that right?" is still playing.
            return [answer, Turn(press="yes", during_prompt=True)]
        named = _ROSTER_NAME.search(said)
        if named:
            return Turn(press="yes" if named.group(1) in self.people else "next")
        if P.ANYONE_ELSE in said or P.ARE_YOU_NEW in said:
            return Turn(press="no")
        # not understood (told so, or asked the same again after speaking): the button now
        retry = said.startswith(P.NOT_CAUGHT) or again
        if "recording of your voice" in said or "consent" in step:
            agrees = persona is not None and persona.consent
            if retry:
                return Turn(press="yes" if agrees else "no")
            if agrees:
                return self._short(persona, "yes please", "yes")
            return self._short(persona, "no thank you", "no")
        if P.AGREE_ACCEPT.split("}")[-1].rstrip("?") in said:
            # can they go along with the goal: most say yes; a cautious person is not sure
            if persona is not None and persona.leaning == 1:
                return self._short(persona, "not sure", "next") if not retry else Turn(press="next")
            return self._short(persona, "yes", "yes") if not retry else Turn(press="yes")
        if said.startswith(P.CHOOSE_ROUND.split(".")[0]):
            return Turn(press="next")
        if listen.phrases and _choice(said) is None:
            # a three-point scale: lean one way, vary a little by step
            lean = persona.leaning if persona else 0
            idea = said.split(". ")[0]  # "The idea is: ..." names what is being rated
            digest = hashlib.sha256(f"{who}|{idea}".encode()).digest()[0]
            point = (lean + digest) % 3 if digest % 3 else lean
            if persona is not None and persona.words["want to do"] in said:
                point = 0  # everyone likes their own idea
            button = ("yes", "next", "no")[point]
            words = _green_words(listen.phrases)
            if persona is not None and persona.talks and point == 0 and words and not retry:
                return Turn(say=words)
            return Turn(press=button)
        if retry:
            return Turn(press="yes")
        return self._short(persona, "yes", "yes")

    def _buttons_only(self, persona: Persona, listen: Listen, said: str) -> Turn | None:
        """Someone who never speaks: yellow at an open question, then green at the choice
        they want (their pick for the question, else the first one)."""
        if listen.role == "free":
            self.asked[persona.name] = said
            return Turn(press="next")
        label = _choice(said)
        if label is None or listen.phrases and not said.endswith(f"{P.YELLOW_NEXT} {P.LISTENING}"):
            return None if label is None else Turn(press="yes")  # a scale's middle point
        question = self.asked.get(persona.name, "").lower()
        pick = next((w for k, w in persona.picks.items() if k in question), None)
        if label == P.WITH_SUPPORTER:
            return Turn(press="next")
        if pick is None or pick.lower() == label.lower():
            return Turn(press="yes")
        return Turn(press="next")


def _green_words(phrases: tuple[str, ...]) -> str | None:
    """The longest way to say the green end of the scale being asked (easiest to hear)."""
    from assistant.dialogue.script import SCALE_SYNONYMS, SCALES

    for points in SCALES.values():
        if all(words in phrases for _, words in points):
            value, words = points[0]
            return max((words, *SCALE_SYNONYMS.get(value, ())), key=len)
    return None


def demo_scenario() -> Scenario:
    return Scenario(
        script=SCRIPT,
        roster=[RosterEntry(name=p.name, consent=p.consent) for p in PEOPLE],
        facilitator="Jo",
        seed=7,
        turns=[],
    )


def run_demo(
    settings: Settings,
    *,
    kit: Callable[[], SpeechKit],
    record_out: Path | None = None,
    save_to: DeviceStore | None = None,
) -> list[str]:
    """Run the demo session, printing it; the problems found (none when it went well).

    *kit* gives the voice and recognisers (the command line builds them with
    :func:`assistant.app.build_device`); it is called after the introduction is printed.
    """
    from rich.console import Console

    from assistant.dialogue.simulate import ConsoleNarrator, run_scenario

    console = Console(highlight=False)
    console.print(
        "[bold]Demo:[/bold] a co-production group session (script "
        f"[bold]{SCRIPT}[/bold]) with four virtual people. Their answers are spoken by the "
        "voice and heard by the recogniser; no microphone or speaker is used."
    )
    for p in PEOPLE:
        how = "talks" if p.talks else "uses the buttons"
        if p.buttons_only:
            how = "uses the buttons only (never speaks)"
        keep = "agrees to keep their voice" if p.consent else "does not want their voice kept"
        console.print(f"  [dim]{p.name}: {how}, {keep}[/dim]")
    if len({p.consent for p in PEOPLE}) > 1:
        console.print(
            "  [dim]One microphone hears the whole room, so in a group voices are kept only "
            "when everyone agrees: today the words only.[/dim]"
        )
    console.print("[bold]Engines[/bold] (and why):")
    speech = kit()
    for reason in speech.reasons:
        console.print(f"  {reason}")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = record_out or settings.data_dir / "demo" / f"demo-{stamp}.json"
    narrator = ConsoleNarrator(console)
    result = run_scenario(
        demo_scenario(),
        settings,
        speech,
        record_out=out,
        narrator=narrator,
        people=VirtualGroup(PEOPLE),
        audio_dir=out.with_suffix(".turns"),
        store=save_to,
        save_to=save_to,
    )
    record = result.record
    console.print(
        f"\n[bold]Session {'finished' if result.finished else 'NOT finished'}[/bold]: "
        f"{len(record.people)} people, {len(record.answers)} answers, {len(record.ideas)} ideas, "
        f"{len(record.goals)} goal(s), {len(record.jobs)} jobs, {result.barge_ins} prompts "
        f"cut short; {result.virtual_s / 60:.1f} min of conversation in {result.wall_s:.0f} s."
    )
    console.print(f"Session record: [bold]{result.record_path}[/bold]")
    if save_to is not None:
        from assistant.dialogue.simulate import saved_line

        console.print(saved_line(result.saved, settings))
    problems = list(result.failures)
    if not result.finished:
        problems.append("the session did not finish")
    for problem in problems:
        console.print(f"[bold red]problem:[/bold red] {problem}")
    return problems
