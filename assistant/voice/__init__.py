"""Text to speech: Piper voices, the prompt cache, earcons.

:func:`open_voice` builds the voice the settings ask for (a :class:`PiperVoice`, wrapped in the
on-disk prompt cache). Imports are lazy so ``import assistant.voice`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.voice.base import Voice


def open_voice(
    settings: Settings,
    *,
    voice: str | None = None,
    words_per_minute: float | None = None,
    volume: float | None = None,
    cache: bool = True,
) -> Voice:
    """The configured Piper voice (arguments override the settings), behind the prompt cache.

    Raises :class:`~assistant.errors.ModelMissing` or :class:`~assistant.errors.ModelCorrupt`.
    """
    from assistant.voice.cache import CachedVoice
    from assistant.voice.piper import PiperVoice

    s = settings.voice
    piper = PiperVoice.load(
        voice or s.voice,
        settings.models_dir,
        words_per_minute=words_per_minute or s.words_per_minute,
        volume=s.volume if volume is None else volume,
        calibration_file=settings.cache_dir / "voice-calibration.json",
    )
    # Measure the rate now (once per voice file; remembered on disk), not on the first prompt.
    piper.calibrate()
    if not cache or s.cache_max_mb == 0:
        return piper
    return CachedVoice(piper, settings.cache_dir / "prompts", s.cache_max_mb * 1024 * 1024)
