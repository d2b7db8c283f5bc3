"""The dialogue engine: pure, events in and actions out (``assistant.core.events``).

A small kernel (:mod:`.kernel`: the generator machinery and the one turn where the rules live)
plus step handlers, one module per family, registered by step type with :func:`handles`
(:mod:`.base`). Every change to the session record goes through :class:`SessionLog`
(:mod:`.session`). How to add a step kind: the kernel's docstring, and ``docs/scripts.md``.

Importing this package loads no YAML parser, numpy, configuration loader, or any audio,
recogniser, voice, button, store, sync or hub module (a test checks it).
"""

from assistant.dialogue.engine import agreement, flow, planning, questions, roster
from assistant.dialogue.engine.base import HANDLERS, Ctx, Handler, Reply, Run, Turn, handles
from assistant.dialogue.engine.kernel import MIN_WAIT_S, Engine
from assistant.dialogue.engine.session import SessionLog
from assistant.dialogue.engine.understand import MIN_PHRASE_CONFIDENCE, understand

__all__ = [
    "HANDLERS",
    "MIN_PHRASE_CONFIDENCE",
    "MIN_WAIT_S",
    "Ctx",
    "Engine",
    "Handler",
    "Reply",
    "Run",
    "SessionLog",
    "Turn",
    "handles",
    "understand",
]

_FAMILIES = (agreement, flow, planning, questions, roster)  # imported so they register
