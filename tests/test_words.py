"""The short-answer table: matching whole utterances, never a phrase inside a sentence."""

from __future__ import annotations

import pytest

from assistant.words import (
    SHORT_ANSWERS,
    ShortAnswer,
    grammar_phrases,
    match_phrase,
    match_short_answer,
    normalise,
)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("yes", "yes"),
        ("Yes.", "yes"),
        ("Yeah!", "yes"),
        ("yes yes", "yes"),
        ("Um, yes please", "yes"),
        ("NO THANKS", "no"),
        ("Nope.", "no"),
        ("next", "next"),
        ("Go on.", "next"),
        ("help me", "help"),
        ("Say that again?", "repeat"),
        ("again", "repeat"),
        ("That\u2019s right", "yes"),
    ],
)
def test_whole_utterance_matches(text: str, answer: str) -> None:
    assert match_short_answer(text) == answer


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "See you next time.",
        "yes no",
        "no yes",
        "I want to grow vegetables",
        "next time",
        "yes I want to go home",
        "help yes",
        "...",
    ],
)
def test_anything_else_is_not_an_answer(text: str) -> None:
    assert match_short_answer(text) is None


def test_only_allowed_answers_are_returned() -> None:
    assert match_short_answer("next", allowed=["yes", "no"]) is None
    assert match_short_answer("yes", allowed=("yes", "no")) == "yes"


def test_no_phrase_means_two_answers() -> None:
    seen: dict[str, str] = {}
    for answer, phrases in SHORT_ANSWERS.items():
        for phrase in phrases:
            assert normalise(phrase) == phrase.lower(), phrase
            assert seen.setdefault(phrase, answer) == answer, phrase


def test_grammar_phrases_cover_the_allowed_answers_only() -> None:
    phrases = grammar_phrases(["yes", "next"])
    assert "yeah" in phrases and "go on" in phrases
    assert "no" not in phrases and "help" not in phrases
    assert len(grammar_phrases()) == sum(len(p) for p in SHORT_ANSWERS.values())


def test_another_language_table() -> None:
    korean: dict[ShortAnswer, tuple[str, ...]] = {"yes": ("네", "예"), "no": ("아니요",)}
    assert match_phrase("네.", korean) == "yes"
    assert match_phrase("아니요 아니요", korean) == "no"
    assert match_phrase("네 아니요", korean) is None
    assert match_phrase("yes", korean) is None
    assert grammar_phrases(["yes", "next"], korean) == ["네", "예"]


def test_normalise_keeps_letters_of_any_script_and_drops_fillers() -> None:
    assert normalise("Erm... Café, 네!") == "café 네"
    assert normalise("route 66") == "route"
