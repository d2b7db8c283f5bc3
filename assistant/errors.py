"""One error hierarchy for the whole project (the gpiozero habit).

Every error derives from :class:`AssistantError` and from the built-in it most resembles,
so callers can catch "anything from assistant" or "any ValueError" as they need. The command
line turns an :class:`AssistantError` into one clear sentence with no traceback.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for every error raised by assistant."""


class ConfigError(AssistantError, ValueError):
    """The configuration file is missing, unreadable or has a bad value."""


class ScriptError(AssistantError, ValueError):
    """A session script is malformed; the message names the file, the step and the problem."""


class ScenarioError(AssistantError, ValueError):
    """A simulation scenario file is malformed."""


class ModelError(AssistantError, RuntimeError):
    """A speech model is missing, corrupt or cannot be loaded."""


class ModelMissing(ModelError, FileNotFoundError):
    """A speech model folder or file is not where the configuration says."""


class ModelCorrupt(ModelError):
    """A speech model is there but cannot be loaded or fails its checksum."""


class DownloadError(AssistantError, OSError):
    """A model could not be downloaded (no network, bad checksum, full disk)."""


class AudioError(AssistantError, OSError):
    """Something went wrong with an audio device or audio file."""


class DeviceNotFound(AudioError):
    """The configured microphone or speaker is not there; the message lists the devices."""


class DeviceLost(AudioError):
    """An audio device went away while in use (unplugged)."""


class BadAudioFile(AudioError, ValueError):
    """A WAV file is unreadable, empty or in a format that cannot be used."""


class ButtonError(AssistantError, RuntimeError):
    """The buttons or lights could not be set up."""


class RecordError(AssistantError, RuntimeError):
    """The record store could not save or read something."""


class DiskFull(RecordError, OSError):
    """There is not enough free disk space to save safely."""


class KeyProblem(RecordError, PermissionError):
    """The key that locks the records on this device is missing or is not the right one."""


class ConsentError(RecordError, PermissionError):
    """An operation would keep audio for someone who has not consented."""


class SyncError(AssistantError, RuntimeError):
    """Records could not be sent to the hub or written to a stick."""


class EnrolmentError(SyncError):
    """The device could not enrol with the hub (bad code, hub unreachable)."""


class BundleError(SyncError, ValueError):
    """A sync bundle is malformed, altered or cannot be decrypted."""


class HubUnreachable(SyncError, ConnectionError):
    """The hub cannot be reached (no network, or the hub is down); nothing was lost."""


class HubFailed(SyncError):
    """The hub answered but could not do it (an error on the hub, e.g. its disk is full)."""


# Warnings that announce themselves (the gpiozero PinFactoryFallback habit).


class AssistantWarning(Warning):
    """Base class for every warning raised by assistant."""


class EngineFallback(AssistantWarning):
    """The preferred speech engine is not available, so another one is used."""


class DeviceFallback(AssistantWarning):
    """The preferred input or output back-end is not available, so another one is used."""
