"""Commands for this part of the data path."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``assistant`` command."""
