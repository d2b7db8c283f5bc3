"""The words people hear: one idea per sentence, at most 15 words, the same word for a thing.

The rules are :mod:`assistant.dialogue.wording`, the same ones ``assistant scripts check``
applies to a staff script.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.dialogue import prompts as P
from assistant.dialogue import wording
from assistant.dialogue.script import SCALES, builtin_scripts, load_script, parse_script
from assistant.dialogue.wording import MAX_WORDS, sentences


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
        for text in wording.spoken(step)
    ]


@pytest.mark.parametrize("text", prompt_texts())
def test_fixed_phrases_are_short_sentences(text: str) -> None:
    for sentence in sentences(text):
        assert len(sentence.split()) <= MAX_WORDS, sentence
    assert [p for p in wording.check_text(text) if p.rule == "short sentences"] == []


@pytest.mark.parametrize("name", builtin_scripts())
def test_builtin_scripts_keep_every_wording_rule(name: str) -> None:
    assert [str(p) for p in wording.check_script(load_script(name))] == []


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


HEAD = "name: x\ntitle: X\nkind: group\nsteps:\n"


def problems(body: str) -> list[wording.WordingProblem]:
    return wording.check_script(parse_script(HEAD + body, "x.yaml"))


def test_a_long_sentence_is_named_with_its_step_and_word_count() -> None:
    long = "Please tell me about all of the things that you would most like to do in the garden?"
    (found,) = problems(
        f"  - type: say\n    text: Hi.\n  - id: why\n    type: ask\n    text: {long}\n"
    )
    assert found.rule == "short sentences"
    assert str(found) == (
        f'x.yaml, step 2 "why": "{long}" has 18 words; the most is 15: split it into shorter '
        "sentences."
    )


def test_one_question_at_a_time() -> None:
    (found,) = problems("  - id: q\n    type: ask\n    text: What do you like? Why?\n")
    assert found.rule == "one question" and "asks 2 questions" in str(found)


def test_buttons_options_and_scales() -> None:
    found = problems(
        "  - type: say\n    text: Press the green button to start.\n"
        "  - id: c\n    type: choose\n    text: Pick one.\n    options:\n"
        "      - {value: a, label: 'Gardening?'}\n"
        "      - {value: b, label: gardening}\n"
        "      - {value: c, label: a very long option with many words}\n"
        "  - id: s\n    type: scale\n    scale: like\n    text: Rate it, press green for like.\n"
    )
    rules = [(p.rule, p.sentence) for p in found]
    assert ("button names", "Press the green button to start.") in rules
    assert ("options", "Gardening?") in rules
    assert ("options", "gardening") in rules  # the same as another option
    assert ("options", "a very long option with many words") in rules
    assert [r for r, s in rules if s.startswith("Rate it")] == ["scale questions"] * 2
    assert all(str(p).startswith("x.yaml, step ") for p in found)


def test_a_script_that_keeps_the_rules_has_no_problems() -> None:
    assert (
        problems("  - id: s\n    type: scale\n    scale: like\n    text: Do you like it?\n") == []
    )


def test_scripts_check_names_the_sentence_and_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.cli import main

    long = " ".join(["word"] * 23) + " question?"
    bad = tmp_path / "long.yaml"
    bad.write_text(HEAD + f"  - id: q\n    type: ask\n    text: {long}\n")
    assert main(["scripts", "check", str(bad)]) == 1
    out = capsys.readouterr()
    assert f'step 1 "q": "{long}" has 24 words; the most is 15' in out.out
    assert "1 thing to change in the wording" in out.err
    assert main(["scripts", "check", "daily-checkin"]) == 0
