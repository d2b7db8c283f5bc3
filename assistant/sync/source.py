"""Where sync reads finished sessions from: the records store, behind a small protocol.

Sync needs only five things from the store
(:class:`~assistant.records.protocols.SessionSource`), so tests can hand it any object with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.errors import RecordError
from assistant.records.model import SessionRecord
from assistant.records.protocols import SessionSource

if TYPE_CHECKING:
    from assistant.records.store import RecordStore

__all__ = ["SessionSource", "finalised_sessions", "open_store"]


def finalised_sessions(source: SessionSource) -> list[SessionRecord]:
    """Every finalised (finished, not yet sent) session, as records."""
    out: list[SessionRecord] = []
    for item in source.sessions(state="finalised"):
        if isinstance(item, SessionRecord):
            out.append(item)
        elif isinstance(item, str):
            out.append(source.get_session(item))
        else:  # a summary row with an id
            ident = getattr(item, "id", None) or (
                item.get("id") if isinstance(item, dict) else None
            )
            if not ident:
                raise RecordError("The record store listed a session without an id.")
            out.append(source.get_session(str(ident)))
    return [r for r in out if r.state == "finalised"]


def open_store(settings: Settings) -> RecordStore:
    """The device's record store (imported late, so sync's own tests need only the model)."""
    from assistant.records.store import RecordStore

    return RecordStore.open(settings)
