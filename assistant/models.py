"""``assistant models``: list, download and verify speech models (filled by the speech core)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``models`` commands."""
