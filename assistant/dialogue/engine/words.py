"""Handler for ``teach_words``: the person teaches the device how they say their short answers.

With their supporter, the person is asked (separately from keeping answers) whether the device
may keep examples of how they say yes, no, next, help and repeat, only to understand them. Then,
for each word, they say it their own way (any sound may stand for the word) and confirm each
example by button (green keeps it, red tries again, yellow moves on to the next word; a clear
spoken yes or no counts too, for someone who cannot press). The
engine does no I/O: it emits :class:`KeepWordConsent` and :class:`KeepWordExample`, and the
shell's record sink keeps them (``assistant/records/words_repo.py`` checks the consent and
the sound again; an unusable example is not kept and is logged).
"""

from __future__ import annotations

from assistant.core.events import KeepWordConsent, KeepWordExample
from assistant.dialogue import schema as S
from assistant.dialogue.engine.base import Ctx, Run, Turn, handles
from assistant.dialogue.engine.kernel import Engine
from assistant.dialogue.engine.questions import yes_no

EXPLAIN = (
    "{person}, I can learn how you say yes, no, next, help and repeat. I would keep "
    "recordings only to understand you better."
)
ASK = "{person}, shall I keep recordings of how you say them?"
HELP_CONSENT = (
    "Green: I keep your recordings, so I understand you better. Red: I keep none. "
    "You can change your mind at any time."
)
SAY_WORD = "Please say {word}, your own way. Any sound is fine. To pass, press yellow."
HELP_SAY = "Say {word} the way you usually do, after the sound. To pass, press yellow."
CHECK = "Was that your {word}? For yes, press green. For no, press red. To pass, press yellow."
NO_THANKS = "That's fine. I will not keep recordings of your words."
DONE = "Thank you. I have learned how you say your words."
EXTRA_TRIES = 3
"""Tries beyond the examples wanted, per word, before moving on (red each time)."""


@handles("teach_words")
def teach_words(engine: Engine, step: S.TeachWords, ctx: Ctx) -> Run:
    person = ctx.person
    if engine.resuming or person is None:  # taught again from the start after a resume
        return None
    key = engine.key(step.id, ctx)
    yield from engine.say_turn(engine.render(EXPLAIN, ctx), f"{key}.consent", person)
    text = engine.render(ASK, ctx)
    reply, _ = yield from yes_no(engine, f"{key}.consent", text, ctx, HELP_CONSENT)
    if reply.value not in ("yes", "no"):
        return None  # passed: nothing asked, nothing kept
    allowed = reply.value == "yes"
    engine.emit(KeepWordConsent(person.id, allowed, method=reply.by))
    if not allowed:
        yield from engine.say_turn(NO_THANKS, key, person)
        return None
    for word in step.words:
        kept = tries = 0
        while kept < step.examples and tries < step.examples + EXTRA_TRIES:
            tries += 1
            t = Turn(
                SAY_WORD.format(word=word), f"{key}.{word}", person,
                HELP_SAY.format(word=word), role="free", buttons=frozenset({"next"}), raw=True,
            )  # fmt: skip
            said = yield from engine.turn(t)
            if said.value == "next" or said.heard is None:
                break
            check = Turn(
                CHECK.format(word=word), f"{key}.{word}.check", person, CHECK.format(word=word),
                buttons=frozenset({"yes", "no", "next"}), voice=frozenset({"yes", "no"}),
            )  # fmt: skip
            ok = yield from engine.turn(check)
            if ok.value == "next":
                break
            if ok.value == "yes" and said.heard.audio_path:
                engine.emit(KeepWordExample(person.id, word, said.heard.audio_path))
                kept += 1
    yield from engine.say_turn(DONE, key, person)
    return None
