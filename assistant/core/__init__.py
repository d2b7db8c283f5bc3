"""The value types every layer shares (``docs/architecture.md``).

``clock`` (one Clock, system and fake), ``ids`` (injectable id makers), ``audio`` (AudioChunk),
``words`` (short answers and their phrases), ``speech`` (Role, Word, Transcript), ``events``
(the engine's events and actions), ``record`` (the session record model) and ``settings``
(the dialogue settings the engine reads).

This package is the bottom layer: it imports only the standard library (and pydantic for the
record model and settings). Nothing here may import numpy, yaml, tomllib, or any module of
audio, stt, voice, buttons, records (the store), sync or hub; ``tests/test_engine_layout.py``
checks it. Import the modules themselves (``from assistant.core.record import Person``): this
file imports nothing, so ``import assistant.core.clock`` stays light.
"""
