"""Fill the prompt cache before anyone waits: every prompt a script can say, synthesised ahead.

On a Raspberry Pi the medium voice's first sentence takes about a second (``docs/performance.md``),
so no prompt may be synthesised while a person waits. :func:`script_prompts` finds what a
script says by running it, with no sound, through the real dialogue engine on a virtual clock:
for each person on the roster (and for the whole roster together), answering every turn by
button with a few simple ways through (always yes, always no, always next, and a mix), over
several seeds so that the orders a scale or a list of options is read in are met.
:func:`warm_prompts` gives them to :meth:`CachedVoice.warm
<assistant.voice.cache.CachedVoice.warm>`, which synthesises only those not cached yet.

What cannot be said ahead: read-backs of a person's own words ("I heard: ..."), which are
synthesised when heard (they are new each time), and a newcomer's prompts (they are named only
when they join: "the new person 3", or the name they say). ``assistant voice warm`` (also
``assistant models warm``) runs it at install and after a script is published or changed; the
service runs it at start, in the background, for prompts still missing
(:func:`warm_in_background`).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.core.record import Job, Person
    from assistant.dialogue.script import Script
    from assistant.voice.base import Voice

log = logging.getLogger(__name__)

SEEDS = 24
"""Seeds per way through: the orders of a three-point scale (six) are all met with these for
every built-in script (``tests/test_voice_warm.py`` checks a session with another seed)."""

POLICIES: tuple[tuple[str, ...], ...] = (
    ("yes",),
    ("no",),
    ("next",),
    ("yes", "no", "next"),
    ("next", "yes", "no"),
    ("no", "yes", "next", "yes"),
    ("no", "no", "yes"),
    ("no", "yes"),
    ("yes", "yes", "no", "next"),
)
"""Ways through a script: the buttons pressed in turn at each listen."""

MAX_STEPS = 4000


def script_prompts(
    script: Script,
    people: Sequence[Person],
    *,
    jobs: Sequence[Job] = (),
    seeds: Iterable[int] = range(SEEDS),
    policies: Sequence[Sequence[str]] = POLICIES,
) -> list[str]:
    """Every prompt *script* says to *people* on the ways through tried (in order, once each)."""
    from assistant.core.clock import FakeClock
    from assistant.core.events import (
        ButtonPressed,
        End,
        Event,
        Listen,
        PromptFinished,
        Say,
        SetLights,
    )
    from assistant.core.ids import SeededIds
    from assistant.core.settings import DialogueSettings
    from assistant.dialogue.engine import Engine

    groups: list[Sequence[Person]] = [[p] for p in people]
    if len(people) > 1 and not script.one_person:
        groups.append(list(people))
    if not groups:
        groups = [[]]
    from assistant.dialogue import prompts as P

    # what no way through by yes, no and next reaches, but anyone may hear: a break
    found: dict[str, None] = dict.fromkeys(P.BREAK_PROMPTS)
    for group in groups:
        for seed in seeds:
            for policy in policies:
                clock = FakeClock(datetime(2030, 1, 1, 9, tzinfo=UTC))
                engine = Engine(
                    script, [p.model_copy(deep=True) for p in group],
                    settings=DialogueSettings(), clock=clock, rng=random.Random(seed),
                    ids=SeededIds(seed), jobs=[j.model_copy(deep=True) for j in jobs],
                )  # fmt: skip
                actions = list(engine.start())
                presses = 0
                lit: frozenset[str] = frozenset()
                for _ in range(MAX_STEPS):
                    if engine.finished or not actions:
                        break
                    action = actions.pop(0)
                    event: Event | None = None
                    if isinstance(action, Say):
                        if P.NEW_PERSON not in action.text.lower():  # newcomers: when said
                            found.setdefault(action.text, None)
                        event = PromptFinished(action.prompt_id)
                    elif isinstance(action, SetLights):
                        lit = frozenset(action.buttons)
                    elif isinstance(action, Listen):
                        button = pick(policy[presses % len(policy)], lit)
                        presses += 1
                        event = ButtonPressed(button)  # type: ignore[arg-type]
                    elif isinstance(action, End):
                        break
                    if event is not None:
                        clock.advance(2.0)
                        actions = list(engine.handle(event))
    return list(found)


def pick(button: str, lit: frozenset[str]) -> str:
    """*button* if it is lit (means something here), else next, else any lit answer button."""
    if button in lit or not lit:
        return button
    for other in ("next", "yes", "no"):
        if other in lit:
            return other
    return button


def installed_prompts(settings: Settings, people: Sequence[Person] | None = None) -> list[str]:
    """The prompts of every script installed (built in, the staff's, the published ones) for
    the roster (the record store's people unless *people* are given)."""
    from assistant.dialogue.script import builtin_scripts, load_script

    if people is None:
        from assistant.records.store import RecordStore

        store = RecordStore(settings.data_dir, min_free_mb=0)
        try:
            people, jobs = store.people(), store.open_jobs()
        finally:
            store.close()
    else:
        jobs = []
    names: dict[str, Path | str] = {n: n for n in builtin_scripts()}
    for folder in (settings.scripts_dir, settings.published_scripts_dir):
        if folder.is_dir():
            for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
                names[path.stem] = path
    texts: dict[str, None] = {}
    for name, where in names.items():
        try:
            script = load_script(where, [settings.scripts_dir])
        except Exception as exc:  # a broken script is named, not a reason to stop warming
            log.warning("The script %s was not warmed: %s", name, exc)
            continue
        for text in script_prompts(script, people, jobs=jobs):
            texts.setdefault(text, None)
    return list(texts)


def warm_prompts(voice: Voice, texts: Iterable[str]) -> int:
    """Synthesise into *voice*'s cache each text not there yet; how many were made (0 for a
    voice without a cache)."""
    from assistant.voice.cache import CachedVoice

    if not isinstance(voice, CachedVoice) or voice.max_bytes == 0:
        return 0
    return voice.warm(texts)


def warm_in_background(
    voice: Voice,
    texts: Callable[[], Iterable[str]],
    busy: Callable[[], bool] = lambda: False,
) -> threading.Thread:
    """Warm the cache on a thread at the lowest priority, one prompt at a time, waiting
    while *busy()* (a session is under way: a person may be waiting for the processor)."""
    from assistant.voice.cache import CachedVoice

    def run() -> None:
        import contextlib
        import os

        # the lowest priority for this thread alone (on Linux a thread is a task of its own)
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        try:
            if not isinstance(voice, CachedVoice) or voice.max_bytes == 0:
                return
            made = 0
            for text in texts():
                while busy():
                    threading.Event().wait(1.0)
                if voice.lookup(text) is None:
                    made += voice.warm([text])
            log.info("prompt cache warmed: %d prompt(s) synthesised", made)
        except Exception as exc:  # never stop the device over the cache
            log.warning("The prompt cache was not warmed: %s", exc)

    thread = threading.Thread(target=run, name="prompt-warm", daemon=True)
    thread.start()
    return thread
