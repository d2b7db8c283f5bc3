"""assistant: an offline, voice-first, button-first helper for co-production.

The data path reads as the package layout::

    audio (microphone) -> stt -> dialogue -> voice (TTS) -> audio (speaker)
    buttons ----------------------^
    dialogue -> records -> sync -> hub
"""

__version__ = "0.1.0"
