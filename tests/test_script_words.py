"""The words people hear: one idea per sentence, at most 15 words, the same word for a thing."""

from __future__ import annotations

import re

import pytest

from assistant.dialogue import prompts as P
from assistant.dialogue.script import SCALES, _texts, builtin_scripts, load_script

MAX_WORDS = 15


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s]


def prompt_texts() -> list[str]:
    out: list[str] = []
    for name in dir(P):
        value = getattr(P, name)
        if name.isupper() and isinstance(value, str):
            out.append(value)
        elif name.isupper() and isinstance(value, dict):
            out += [v for v in value.values() if isinstance(v, str) and " " in v]
    return out


def script_texts() -> list[tuple[str, str]]:
    return [
        (name, text)
        for name in builtin_scripts()
        for step in load_script(name).walk()
        for text in _texts(step)
    ]


@pytest.mark.parametrize("text", prompt_texts())
def test_fixed_phrases_are_short_sentences(text: str) -> None:
    for sentence in sentences(text):
        assert len(sentence.split()) <= MAX_WORDS, sentence


def test_script_sentences_are_short() -> None:
    long = [
        (name, s)
        for name, text in script_texts()
        for s in sentences(text)
        if len(s.split()) > MAX_WORDS
    ]
    assert long == []


def test_buttons_are_named_the_same_way_everywhere() -> None:
    everything = " ".join(prompt_texts() + [t for _, t in script_texts()])
    for other in ("green button", "press the green", "press blue", "press amber", "tap "):
        assert other not in everything.lower()
    assert "press green" in everything and "press yellow" in everything


def test_the_option_comes_before_the_action() -> None:
    assert P.CHOOSE_OPTION.startswith("{label}.")
    assert P.YES_NO == "For yes, press green. For no, press red."
    for points in SCALES.values():
        assert len(points) == 3
