"""The ``assistant`` command.

Each part of the data path adds its own commands from its own ``cli.py`` (``register(app)``), so
this file stays a table of contents. Any :class:`AssistantError` becomes one clear sentence on
stderr and exit status 2, with no traceback (``--debug`` shows it).
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from assistant import __version__
from assistant.config import Settings, load_settings
from assistant.errors import AssistantError, AssistantWarning

app = typer.Typer(
    name="assistant",
    help="An offline, voice-first assistant with big buttons, for co-production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state: dict[str, object] = {"config": None, "debug": False}


def settings() -> Settings:
    """The settings in force for this command (loaded once)."""
    cached = _state.get("settings")
    if isinstance(cached, Settings):
        return cached
    loaded = load_settings(_state["config"] if isinstance(_state["config"], Path) else None)
    _state["settings"] = loaded
    return loaded


@app.callback()
def _root(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Config file (TOML)", dir_okay=False)
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks")] = False,
) -> None:
    _state["config"] = config
    _state["debug"] = debug
    _state.pop("settings", None)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)
    warnings.simplefilter("always", AssistantWarning)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"assistant {__version__}")


@app.command("config")
def show_config(
    example: Annotated[
        bool, typer.Option("--example", help="Print a commented file with every default")
    ] = False,
) -> None:
    """Print the settings in force."""
    if example:
        from assistant.config import example_toml

        typer.echo(example_toml(), nl=False)
        return
    s = settings()
    for section, model in s:
        typer.echo(f"[{section}]")
        for key, value in model:
            typer.echo(f"{key} = {value!r}")
        typer.echo("")


def _register_all() -> None:
    from assistant import models as models_mod
    from assistant.audio import cli as audio_cli
    from assistant.buttons import cli as buttons_cli
    from assistant.dialogue import cli as dialogue_cli
    from assistant.hub import cli as hub_cli
    from assistant.records import cli as records_cli
    from assistant.stt import cli as stt_cli
    from assistant.sync import cli as sync_cli
    from assistant.voice import cli as voice_cli

    for module in (
        audio_cli,
        stt_cli,
        voice_cli,
        buttons_cli,
        dialogue_cli,
        records_cli,
        sync_cli,
        hub_cli,
        models_mod,
    ):
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turning our errors into one clear line."""
    try:
        # Without standalone mode, click returns a typer.Exit's code instead of raising it.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except AssistantError as exc:
        if _state.get("debug"):
            raise
        typer.echo(f"assistant: {exc}", err=True)
        return 2
    except typer.Abort:
        typer.echo("assistant: stopped.", err=True)
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
