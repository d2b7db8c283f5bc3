"""What a spoken answer means at a turn: pure, from the transcript and the turn alone."""

from __future__ import annotations

from assistant.core.events import SpeechHeard
from assistant.core.words import match_short_answer, normalise
from assistant.dialogue.engine.base import Reply, Turn

MIN_PHRASE_CONFIDENCE = 0.6
"""A spoken scale point or option name counts only at or above this recogniser confidence."""

_POLITE_BEFORE = ("i want", "i'd like", "i would like", "i choose", "i pick", "i think")
_POLITE_AFTER = ("please", "thank you", "thanks")


def _unwrapped(said: str) -> str:
    """*said* without the polite words people put around a choice: "Next week, please." is
    "next week"; "I think not going well" is "not going well". The rest must still be the
    whole of one phrase, so nothing is guessed."""
    for end in _POLITE_AFTER:
        if said.endswith(" " + end):
            said = said[: -len(end) - 1]
            break
    for start in _POLITE_BEFORE:
        if said.startswith(start + " "):
            said = said[len(start) + 1 :]
            break
    return said


def understand(heard: SpeechHeard, t: Turn) -> Reply | str:
    """What speech means at turn *t*: a reply, or why to say the words again ("help", "repeat",
    "not_caught", "pick_one"). Never a guess: a phrase counts only when it is the whole utterance
    and the recogniser is sure enough."""
    tr = heard.transcript
    if t.raw:  # a teaching example: the sound itself is the answer (engine/words.py)
        return Reply("text", "voice", heard)
    if t.role == "free":
        control = match_short_answer(tr.text, ("help", "repeat", "next"))
        if control in ("help", "repeat"):
            return control
        if control == "next" and "next" in t.buttons:
            return Reply("next", "voice", heard)
        return Reply("text", "voice", heard)
    said = normalise(tr.text)
    if said not in t.phrases:
        said = _unwrapped(said)
    if said in t.phrases and tr.confidence >= MIN_PHRASE_CONFIDENCE:
        return Reply(t.phrases[said], "voice", heard)
    answer = tr.answer
    if answer in ("help", "repeat"):
        return answer
    if answer is not None and answer in t.heard_answers:
        return Reply(answer, "voice", heard)
    if (
        t.phrases
        and tr.confidence >= MIN_PHRASE_CONFIDENCE
        and match_short_answer(tr.text, ("yes", "no")) is not None
    ):
        # a clear "yes" or "no" to a scale: heard, but not one of its answers
        return "pick_one"
    return "not_caught"
