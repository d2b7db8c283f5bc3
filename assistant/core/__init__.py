"""The value types every layer shares: clock, ids, audio chunks (and, as they move here, roles,
short answers, transcripts, events, actions and the record model).

This package is the bottom layer: it imports only the standard library (and pydantic for the
record model). Nothing here may import numpy, yaml, or any module of audio, stt, voice, buttons,
records (the store), sync or hub; a test of the import graph checks it.
"""
