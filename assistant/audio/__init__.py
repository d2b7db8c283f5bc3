"""Microphone and speaker: real devices (sounddevice), fakes, WAV files, and end of turn.

Recipes::

    from assistant.audio import open_microphone, open_speaker, record_turn
    mic = open_microphone(settings.audio)          # 16 kHz mono int16, 10 ms blocks
    mic.start()
    turn = record_turn(mic, wait_for_speech_s=10, trailing_silence_s=1.5, max_answer_s=60)
    speaker = open_speaker(settings.audio)
    speaker.play(pcm, 22050)                       # returns at once; speaker.stop() to barge in

Tests and machines with no sound use :mod:`assistant.audio.fake`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.audio.base import MIC_RATE, Microphone, Speaker
from assistant.audio.endpoint import EndpointDetector, EnergyDetector, TurnState
from assistant.audio.turn import TurnResult, record_turn
from assistant.audio.wav import read_wav, read_wav_raw, write_wav

if TYPE_CHECKING:
    from assistant.config import AudioSettings

__all__ = [
    "MIC_RATE",
    "EndpointDetector",
    "EnergyDetector",
    "Microphone",
    "Speaker",
    "TurnResult",
    "TurnState",
    "open_microphone",
    "open_speaker",
    "read_wav",
    "read_wav_raw",
    "record_turn",
    "write_wav",
]


def open_microphone(audio: AudioSettings | None = None) -> Microphone:
    """The configured microphone (not yet started: call ``start()``).

    The device is looked up now, so a missing one is a :class:`DeviceNotFound` listing the
    devices there are.
    """
    from assistant.audio.devices import find_device
    from assistant.audio.sounddevice_io import SoundDeviceMicrophone

    spec = audio.input_device if audio is not None else None
    find_device(spec, "input")
    if audio is None:
        return SoundDeviceMicrophone(spec)
    return SoundDeviceMicrophone(spec, block_ms=audio.input_block_ms)


def open_speaker(audio: AudioSettings | None = None) -> Speaker:
    """The configured speaker; its output opens on the first ``play()``.

    The device is looked up now, so a missing one is a :class:`DeviceNotFound` listing the
    devices there are.
    """
    from assistant.audio.devices import find_device
    from assistant.audio.sounddevice_io import SoundDeviceSpeaker

    spec = audio.output_device if audio is not None else None
    find_device(spec, "output")
    if audio is None:
        return SoundDeviceSpeaker(spec)
    return SoundDeviceSpeaker(spec, latency=audio.output_latency_s, idle_lead_s=audio.idle_lead_s)
