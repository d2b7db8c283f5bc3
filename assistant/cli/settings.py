"""``assistant version`` and ``assistant config``: what is installed and the settings in force."""

from __future__ import annotations

from typing import Annotated

import typer

from assistant import __version__
from assistant.config import example_toml, settings_toml, source_of


def version() -> None:
    """Print the version."""
    typer.echo(f"assistant {__version__}")


def show_config(
    ctx: typer.Context,
    example: Annotated[
        bool, typer.Option("--example", help="Print a commented file with every default")
    ] = False,
) -> None:
    """Print the settings in force as TOML, and which config file they were read from."""
    if example:
        typer.echo(example_toml(), nl=False)
        return
    source = source_of(ctx)
    settings = source.settings
    typer.echo(settings_toml(settings, source.files_read), nl=False)


def register(app: typer.Typer) -> None:
    """Add ``version`` and ``config``."""
    app.command("version")(version)
    app.command("config")(show_config)
