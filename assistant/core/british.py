"""British spelling for what a recogniser wrote: the record of a UK user reads "mum" and "colour".

The recognisers here (Whisper tiny.en, Vosk small-en-us, pocketsphinx en-US) write American
spelling. Each word they write is looked up in breame's word list (American to British, Apache-2.0)
and replaced when it has a British spelling, keeping its capital letter. A few words are left as
they are, because their British spelling depends on the meaning, which a word list cannot know
("tire": to tire, or a tyre; "program": a computer program, or a TV programme; "practice" is the
British noun too). "mom" is not in the list, so it is added here.

A pure function: the engine applies it when it keeps a free answer, and the record keeps what the
recogniser wrote too (``Answer.raw_transcript``) when the spelling changed it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from breame.spelling import american_spelling_exists, get_british_spelling

__all__ = ["british"]

EXTRA = {"mom": "mum", "moms": "mums", "mommy": "mummy", "mommies": "mummies", "momma": "mum"}
"""American words the list does not have."""

SENSE_DEPENDS = frozenset(
    {
        "tire", "tires", "tired", "tiring",
        "program", "programs", "programed", "programing",
        "practice", "practices", "practiced", "practicing",
        "license", "licenses", "licensed", "licensing",
        "meter", "meters",
        "draft", "drafts",
        "check", "checks",
        "curb", "curbs",
        "story", "stories",
    }
)  # fmt: skip
"""Words whose British spelling depends on what they mean: left as the recogniser wrote them."""

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


@lru_cache(maxsize=4096)
def _british_word(word: str) -> str:
    lower = word.lower()
    base, apostrophe, tail = lower.partition("'")
    if base in SENSE_DEPENDS:
        return word
    if base in EXTRA:
        new = EXTRA[base]
    elif american_spelling_exists(base):
        new = get_british_spelling(base)
    else:
        return word
    if not new or new == base:
        return word
    new = new + apostrophe + tail
    if word.isupper() and len(word) > 1:
        return new.upper()
    if word[0].isupper():
        return new[0].upper() + new[1:]
    return new


def british(text: str) -> str:
    """*text* with each American spelling that has a British one replaced ("My mom likes the
    color gray." -> "My mum likes the colour grey."); everything else as it was."""
    return _WORD.sub(lambda m: _british_word(m.group(0)), text)
