"""The short answers and their phrases: moved to :mod:`assistant.core.words` (re-exported here)."""

from assistant.core.words import (
    SHORT_ANSWERS,
    ShortAnswer,
    grammar_phrases,
    match_phrase,
    match_short_answer,
    normalise,
)

__all__ = [
    "SHORT_ANSWERS",
    "ShortAnswer",
    "grammar_phrases",
    "match_phrase",
    "match_short_answer",
    "normalise",
]
