"""What the device stops keeping once the hub has a session (docs/security.md, "data at rest").

Run after every push (``assistant sync push``, the systemd timer): audio of sessions the hub has
confirmed goes at once by default (``records.keep_synced_audio_days = 0``), their transcripts
after ``records.keep_sent_transcripts_days`` (30). Nothing the hub has not confirmed is touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from assistant.config import Settings
from assistant.errors import RecordError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Forgotten:
    clips: int = 0
    transcripts: int = 0


def forget_sent(store: Any, settings: Settings, now: datetime | None = None) -> Forgotten:
    """Delete clips and blank transcripts of hub-confirmed sessions, as the settings say."""
    now = now or datetime.now(UTC)
    clips = transcripts = 0
    try:
        apply = getattr(store, "apply_retention", None)
        if callable(apply):
            clips = int(apply(now, settings.records.keep_synced_audio_days))
        blank = getattr(store, "forget_transcripts", None)
        if callable(blank):
            transcripts = int(blank(now, settings.records.keep_sent_transcripts_days))
    except RecordError as exc:  # it is tried again after the next push
        log.warning("Could not delete what the hub already has: %s", exc)
    return Forgotten(clips, transcripts)
