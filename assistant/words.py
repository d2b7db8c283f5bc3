"""The short answers people give, and the many ways they say them.

One table, used both to build recogniser grammars and to match what was heard. A short
answer is accepted only when the whole utterance is one of these phrases (after light
normalisation); anything else is "not understood", never a guess.
"""

from __future__ import annotations

import re
from typing import Final, Literal

ShortAnswer = Literal["yes", "no", "next", "help", "repeat"]

SHORT_ANSWERS: Final[dict[ShortAnswer, tuple[str, ...]]] = {
    "yes": (
        "yes", "yeah", "yep", "yup", "yes please", "okay", "ok", "that's right", "right",
        "correct", "sure", "aye",
    ),
    "no": (
        "no", "nope", "nah", "no thanks", "no thank you", "not really", "wrong", "that's wrong",
    ),
    "next": ("next", "go on", "skip", "move on", "carry on", "pass", "next one"),
    "help": ("help", "help me", "i need help", "what do i do", "i don't know"),
    "repeat": ("repeat", "again", "say that again", "say it again", "pardon", "what",
               "sorry", "one more time"),
}

_PHRASE_TO_ANSWER: Final[dict[str, ShortAnswer]] = {
    phrase: answer for answer, phrases in SHORT_ANSWERS.items() for phrase in phrases
}

_FILLERS: Final[frozenset[str]] = frozenset({"um", "uh", "er", "erm", "ah", "oh", "hmm", "mm"})


def normalise(text: str) -> str:
    """Lower-case, drop punctuation (keeping apostrophes) and filler words."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^a-z' ]+", " ", text)
    words = [w.strip("'") for w in text.split()]
    return " ".join(w for w in words if w and w not in _FILLERS)


def match_short_answer(
    text: str, allowed: tuple[ShortAnswer, ...] | list[ShortAnswer] | None = None
) -> ShortAnswer | None:
    """The short answer the whole of *text* means, or None.

    Repeated words ("yes yes", a stutter) count once. Only answers in *allowed* (all of
    them when None) are returned.
    """
    norm = normalise(text)
    if not norm:
        return None
    candidates = {norm}
    words = norm.split()
    deduped = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]
    candidates.add(" ".join(deduped))
    found = {_PHRASE_TO_ANSWER[c] for c in candidates if c in _PHRASE_TO_ANSWER}
    if len(found) != 1:
        return None
    answer = found.pop()
    if allowed is not None and answer not in allowed:
        return None
    return answer


def grammar_phrases(allowed: tuple[ShortAnswer, ...] | list[ShortAnswer] | None = None) -> list[str]:
    """Every phrase for the allowed answers, for a recogniser grammar."""
    keys = list(SHORT_ANSWERS) if allowed is None else list(allowed)
    return [p for k in keys for p in SHORT_ANSWERS[k]]
