"""What the hub refuses, and why: one exception class per reason (the API maps each to a status)."""

from __future__ import annotations

import errno

from assistant.errors import SyncError


class Unauthorised(SyncError, PermissionError):
    """No token, or a token the hub does not know."""


class Forbidden(SyncError, PermissionError):
    """The device was revoked."""


class Conflict(SyncError):
    """A different record already has this id."""


class TooLarge(SyncError):
    """An upload is larger than the hub accepts."""


class NotYours(SyncError):
    """A device wrote about a person, or named a clip, that belongs to another device."""


class TooManyTries(SyncError, PermissionError):
    """Too many failed log-in or enrolment tries; wait before trying again."""


class HubFull(SyncError, OSError):
    """The hub could not store something: its disk (or database) is full."""


class MissingClips(SyncError):
    """A session arrived before some of its clips."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"The hub does not have {len(missing)} of this session's clips yet.")
        self.missing = missing


def full_or(exc: Exception) -> Exception:
    """A full disk or database as :class:`HubFull`; anything else as it was."""
    text = str(exc).lower()
    if getattr(exc, "errno", None) == errno.ENOSPC or "full" in text or "no space" in text:
        return HubFull("The hub could not store it: its disk may be full.")
    return exc
