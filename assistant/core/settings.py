"""The settings the dialogue engine reads, as a value: the pace of the conversation.

It lives in core so the engine needs no configuration loader (``assistant.config`` reads the
TOML file and holds this as its ``[dialogue]`` section, re-exporting it under its old name).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DialogueSettings"]


class DialogueSettings(BaseModel):
    """Pace of the conversation (each can be set per person too)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    repeat_after_s: float = Field(
        10.0, ge=10, le=600, description="Silence before the question is repeated, same words"
    )
    repeats_before_waiting: int = Field(2, ge=0, le=10)
    reminder_every_s: float = Field(
        60.0, ge=10, le=3600, description="Gentle reminder while waiting for a button"
    )
    scripts_dir: Path | None = Field(
        None, description="Staff's own scripts; none = <data_dir>/scripts"
    )
