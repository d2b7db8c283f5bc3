"""The short answers people give, and the many ways they say them.

One table, used both to build recogniser grammars and to match what was heard. A short
answer is accepted only when the whole utterance is one of these phrases (after light
normalisation); anything else is "not understood", never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final, Literal

__all__ = [
    "SHORT_ANSWERS",
    "ShortAnswer",
    "grammar_phrases",
    "match_phrase",
    "match_short_answer",
    "normalise",
]

ShortAnswer = Literal["yes", "no", "next", "help", "repeat"]

SHORT_ANSWERS: Final[dict[ShortAnswer, tuple[str, ...]]] = {
    "yes": (
        "yes",
        "yeah",
        "yep",
        "yup",
        "yes please",
        "okay",
        "ok",
        "that's right",
        "right",
        "correct",
        "sure",
        "aye",
    ),
    "no": (
        "no",
        "nope",
        "nah",
        "no thanks",
        "no thank you",
        "not really",
        "wrong",
        "that's wrong",
    ),
    "next": ("next", "go on", "skip", "move on", "carry on", "pass", "next one"),
    "help": ("help", "help me", "i need help", "what do i do", "i don't know"),
    "repeat": (
        "repeat",
        "again",
        "say that again",
        "say it again",
        "pardon",
        "what",
        "sorry",
        "one more time",
    ),
}

_PHRASE_TO_ANSWER: Final[dict[str, ShortAnswer]] = {
    phrase: answer for answer, phrases in SHORT_ANSWERS.items() for phrase in phrases
}

_FILLERS: Final[frozenset[str]] = frozenset({"um", "uh", "er", "erm", "ah", "oh", "hmm", "mm"})


def normalise(text: str) -> str:
    """Lower-case, drop punctuation (keeping apostrophes) and filler words.

    Letters of any script are kept (a Korean or Welsh phrase table works too); digits and
    other symbols become spaces.
    """
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^\w' ]+|[\d_]+", " ", text)
    words = [w.strip("'") for w in text.split()]
    return " ".join(w for w in words if w and w not in _FILLERS)


def match_short_answer(
    text: str, allowed: tuple[ShortAnswer, ...] | list[ShortAnswer] | None = None
) -> ShortAnswer | None:
    """The short answer the whole of *text* means, or None.

    Repeated words ("yes yes", a stutter) count once. Only answers in *allowed* (all of
    them when None) are returned. "See you next time." is None: the whole utterance must be
    one phrase of the table, never a phrase hidden inside a longer sentence.
    """
    return match_phrase(text, SHORT_ANSWERS, allowed)


def match_phrase(
    text: str,
    table: Mapping[ShortAnswer, Sequence[str]],
    allowed: Sequence[ShortAnswer] | None = None,
) -> ShortAnswer | None:
    """Like :func:`match_short_answer`, with another phrase *table* (another language)."""
    norm = normalise(text)
    if not norm:
        return None
    candidates = {norm}
    words = norm.split()
    deduped = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]
    candidates.add(" ".join(deduped))
    lookup = (
        _PHRASE_TO_ANSWER
        if table is SHORT_ANSWERS
        else {normalise(p): a for a, phrases in table.items() for p in phrases}
    )
    found = {lookup[c] for c in candidates if c in lookup}
    if len(found) != 1:
        return None
    answer = found.pop()
    if allowed is not None and answer not in allowed:
        return None
    return answer


def grammar_phrases(
    allowed: Sequence[ShortAnswer] | None = None,
    table: Mapping[ShortAnswer, Sequence[str]] = SHORT_ANSWERS,
) -> list[str]:
    """Every phrase for the allowed answers, for a recogniser grammar."""
    keys = list(table) if allowed is None else [k for k in allowed if k in table]
    return [p for k in keys for p in table[k]]
