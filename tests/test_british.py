"""British spelling in the record (issue 13): a UK user's transcript reads "mum" and "colour"; what
the recogniser wrote is kept beside it."""

from __future__ import annotations

import pytest
from dialogue_driver import Conversation

from assistant.core.british import british


@pytest.mark.parametrize(
    ("heard", "kept"),
    [
        ("I want to see my mom", "I want to see my mum"),
        ("My Mom's birthday", "My Mum's birthday"),
        ("my favorite color is gray", "my favourite colour is grey"),
        (
            "I traveled to the theater with my neighbor",
            "I travelled to the theatre with my neighbour",
        ),
        ("We should organize a trip to the center", "We should organise a trip to the centre"),
        ("YOGURT", "YOGHURT"),
        ("I need my pajamas, ok.", "I need my pyjamas, ok."),
    ],
)
def test_american_spellings_become_british(heard: str, kept: str) -> None:
    assert british(heard) == kept


@pytest.mark.parametrize(
    "heard",
    [
        "I am tired of it",  # to tire, not a tyre
        "a computer program",  # a program in British English too
        "football practice on Monday",  # the British noun
        "my driving license test",  # noun or verb: a word list cannot know
        "check the gas meter",
        "I like cookies and pants",  # words, not spellings: left alone
        "",
        "I want to go bowling with Sam.",
    ],
)
def test_words_whose_spelling_depends_on_meaning_or_is_the_same_are_left(heard: str) -> None:
    assert british(heard) == heard


def test_the_record_keeps_british_spelling_and_what_was_heard() -> None:
    talk = Conversation("daily-checkin", people=["Sam"], jobs=[])
    talk.until("If you are Sam")
    talk.press("yes")
    talk.until("can I keep a recording")
    talk.press("yes")
    talk.until("How are you feeling")
    talk.press("yes")
    talk.until("anything you want to tell")
    talk.say("my mom got a new color TV")
    talk.settle()
    assert "my mum got a new colour TV" in talk.last_said  # the read-back says what is kept
    talk.press("yes")
    talk.settle()
    news = [a for a in talk.record.answers if a.step_id == "news" and a.transcript]
    assert news[-1].transcript == "my mum got a new colour TV"
    assert news[-1].raw_transcript == "my mom got a new color TV"
    # a transcript that needed no change keeps no second copy
    mood = [a for a in talk.record.answers if a.step_id == "mood"]
    assert mood and all(a.raw_transcript is None for a in mood)
