"""The wording rules for what people hear (the guide in ``docs/scripts.md``), as one checker.

The built-in scripts' tests (``tests/test_script_words.py``) and ``assistant scripts check``
apply the same rules, so a staff script is held to what the built-in ones are:

- **short sentences:** at most 15 words in a sentence;
- **one question** in each thing said;
- **the buttons named one way:** "press green", "press red", "press yellow" (never "the green
  button", "press blue", "tap");
- **options** short (at most 5 words), different from each other, and not questions: the device
  says each option, then its button;
- **scale and yes/no steps** ask one question, ending with "?", and leave the buttons to the
  device, which says each point of the scale with its button.

Each problem names the step, quotes the sentence and says how to mend it. This module reads
only text: it imports nothing beyond the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MAX_WORDS = 15
MAX_OPTION_WORDS = 5

# Fields of a step that are said aloud.
SPOKEN_FIELDS = ("text", "help", "what", "when", "support", "more", "intro", "empty", "reason")

# Other names for the buttons, refused so a button is called the same thing everywhere.
BUTTON_WORDS = {
    "green button": 'say "press green", not "the green button"',
    "red button": 'say "press red", not "the red button"',
    "yellow button": 'say "press yellow", not "the yellow button"',
    "press the green": 'say "press green"',
    "press the red": 'say "press red"',
    "press the yellow": 'say "press yellow"',
    "press blue": 'the buttons are green, red and yellow: say "press green", "press red" or '
    '"press yellow"',
    "press amber": 'the middle button is yellow: say "press yellow"',
    "tap ": 'say "press", not "tap"',
}

_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def sentences(text: str) -> list[str]:
    """*text* split into sentences (after ". ", "? " or "! ")."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def words(sentence: str) -> int:
    return len(sentence.split())


@dataclass(frozen=True)
class WordingProblem:
    """One sentence that breaks one rule: where it is, the rule, and how to mend it."""

    where: str
    rule: str
    sentence: str
    advice: str

    def __str__(self) -> str:
        return f'{self.where}: "{self.sentence}" {self.advice}'


def check_text(text: str, where: str = "") -> list[WordingProblem]:
    """The problems with one thing said (a step's text, help, intro...)."""
    problems: list[WordingProblem] = []
    for sentence in sentences(text):
        n = words(sentence)
        if n > MAX_WORDS:
            problems.append(
                WordingProblem(
                    where,
                    "short sentences",
                    sentence,
                    f"has {n} words; the most is {MAX_WORDS}: split it into shorter sentences.",
                )
            )
    questions = [s for s in sentences(text) if s.endswith("?")]
    if len(questions) > 1:
        problems.append(
            WordingProblem(
                where,
                "one question",
                text.strip(),
                f"asks {len(questions)} questions; ask one at a time: put the others in "
                "their own steps.",
            )
        )
    lowered = f"{text.lower()} "
    for phrase, advice in BUTTON_WORDS.items():
        if phrase in lowered:
            problems.append(
                WordingProblem(
                    where, "button names", text.strip(), f"names a button another way: {advice}."
                )
            )
            break  # one advice for one text is enough
    return problems


def _step_type(step: Any) -> str:
    return str(getattr(step, "type", ""))


def spoken(step: Any) -> list[str]:
    """Everything a step says aloud, option labels included."""
    out = [v for name in SPOKEN_FIELDS if isinstance(v := getattr(step, name, None), str)]
    out += [o.label for o in getattr(step, "options", ()) or ()]
    out += [o.label for o in getattr(step, "choices", ()) or ()]
    return out


def check_step(step: Any, where: str | None = None) -> list[WordingProblem]:
    """The problems with one step (its own words only, not its children's)."""
    place = where or str(getattr(step, "where", "") or getattr(step, "id", ""))
    problems: list[WordingProblem] = []
    for name in SPOKEN_FIELDS:
        value = getattr(step, name, None)
        if isinstance(value, str):
            problems += check_text(value, place)
    kind = _step_type(step)
    options = list(getattr(step, "options", ()) or ()) + list(getattr(step, "choices", ()) or ())
    labels: dict[str, str] = {}
    for option in options:
        label = str(option.label).strip()
        if words(label) > MAX_OPTION_WORDS:
            problems.append(
                WordingProblem(
                    place,
                    "options",
                    label,
                    f"is an option of {words(label)} words; the most is {MAX_OPTION_WORDS}: "
                    "keep an option to a few words and put the rest in the question.",
                )
            )
        if label.endswith("?"):
            problems.append(
                WordingProblem(
                    place, "options", label, "is an option, so it is not a question: drop the ?."
                )
            )
        key = re.sub(r"[^\w\s]", "", label.lower()).strip()
        if key in labels:
            problems.append(
                WordingProblem(
                    place,
                    "options",
                    label,
                    "is the same as another option: each option needs its own words.",
                )
            )
        labels[key] = label
        if "press" in label.lower():
            problems.append(
                WordingProblem(
                    place,
                    "options",
                    label,
                    "names a button: the device says the button after each option itself.",
                )
            )
    if kind in ("scale", "confirm"):
        text = str(getattr(step, "text", "") or "").strip()
        said = sentences(text)
        what = "a scale" if kind == "scale" else "a yes or no"
        if text and not (said and said[-1].endswith("?")):
            problems.append(
                WordingProblem(
                    place,
                    "scale questions",
                    text,
                    f"asks for {what} answer, so it ends with a question: end it with ?.",
                )
            )
        if re.search(r"\bpress\b", text.lower()):
            problems.append(
                WordingProblem(
                    place,
                    "scale questions",
                    text,
                    "names a button: the device says each answer with its button itself.",
                )
            )
    return problems


def _children(step: Any) -> Iterator[Any]:
    """The steps inside *step* (a round, a review, a branch's cases), in file order."""
    inner = getattr(step, "steps", None)
    if isinstance(inner, tuple | list):
        yield from inner
    cases = getattr(step, "cases", None)
    if isinstance(cases, dict):
        for group in cases.values():
            yield from group
    otherwise = getattr(step, "otherwise", None)
    if isinstance(otherwise, tuple | list):
        yield from otherwise


def walk(steps: Iterable[Any]) -> Iterator[Any]:
    for step in steps:
        yield step
        yield from walk(_children(step))


def check_script(script: Any) -> list[WordingProblem]:
    """Every wording problem in a loaded script, in file order."""
    problems: list[WordingProblem] = []
    for step in walk(getattr(script, "steps", ())):
        problems += check_step(step)
    return problems
