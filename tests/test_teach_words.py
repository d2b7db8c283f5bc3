"""The ``teach-my-words`` script: its own consent, each example confirmed by button, kept."""

from __future__ import annotations

from dialogue_driver import Conversation

from assistant.dialogue.events import KeepWordConsent, KeepWordExample
from assistant.dialogue.schema import TeachWords
from assistant.dialogue.script import Script, load_script


def _short(examples: int = 2, words: tuple[str, ...] = ("yes", "help")) -> Script:
    script = load_script("teach-my-words")
    steps = [s for s in script.steps if s.type != "teach_words"]
    steps.append(TeachWords(id="words", type="teach_words", examples=examples, words=list(words)))
    return script.model_copy(update={"steps": steps})


def _to_consent(talk: Conversation) -> None:
    assert "I can learn how you say" in talk.said[-2] and "shall I keep" in talk.last_said


def test_examples_are_kept_only_when_confirmed_by_button() -> None:
    talk = Conversation(_short(), people=["Sam"])
    talk.run(["yes"])  # who is here: Sam
    _to_consent(talk)
    talk.run(["yes"])
    assert talk.of(KeepWordConsent)[-1].allowed
    assert "Please say yes" in talk.last_said
    # "help" said as the example of help is the example, not a request for help
    talk.run(["say: mm", "yes", "say: mm-hm", "no", "say: mhm", "yes"])
    assert "Please say help" in talk.last_said
    talk.run(["say: help", "yes", "say: help me", "yes"])
    kept = talk.of(KeepWordExample)
    assert [k.word for k in kept] == ["yes", "yes", "help", "help"]
    assert len({k.audio_path for k in kept}) == 4
    assert "I have learned how you say your words" in talk.last_said
    talk.run(["next"])
    assert talk.engine.finished


def test_no_consent_keeps_nothing_and_next_moves_on() -> None:
    talk = Conversation(_short(), people=["Sam"])
    talk.run(["yes"])
    _to_consent(talk)
    talk.run(["no"])
    assert not talk.of(KeepWordConsent)[-1].allowed
    assert not talk.of(KeepWordExample)
    assert "will not keep" in talk.last_said
    talk2 = Conversation(_short(), people=["Sam"])
    talk2.run(["yes"])
    _to_consent(talk2)
    talk2.run(["yes", "next", "say: help", "next"])  # yes skipped; help said, not confirmed
    assert not talk2.of(KeepWordExample)
    assert "I have learned" in talk2.last_said
