"""The ``assistant`` command's root: its options, its table of contents, and :func:`main`.

Each part of the data path adds its own commands from its own ``cli.py`` (``register(app)``), so
this file stays a table of contents. The root callback puts the settings on the click context
(a :class:`~assistant.config.SettingsSource`, read on first use); command modules find them with
:func:`~assistant.config.settings_of` and never import this module.

Every mistake becomes one plain sentence on stderr and exit status 2, with no traceback
(``--debug`` shows it): our own errors (:class:`AssistantError`), usage errors (a mistyped
command, a missing or extra argument, a bad choice: see :mod:`assistant.cli.usage`), and
anything unexpected.
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click import exceptions as click_errors

from assistant.cli import scripts as scripts_cli
from assistant.cli import settings as settings_cli
from assistant.cli.quiet import quiet_alsa
from assistant.cli.usage import explain_usage, unexpected
from assistant.config import SettingsSource
from assistant.errors import AssistantError, AssistantWarning

app = typer.Typer(
    name="assistant",
    help="An offline, voice-first assistant with big buttons, for co-production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rich's layout marks every flag "<bool>" as if it took a value.
    rich_markup_mode=None,
)

log = logging.getLogger("assistant")


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Our warnings (a fallback, announced once) as one plain line; others only in the log."""
    if issubclass(category, AssistantWarning):
        typer.echo(f"assistant: {message}", err=True)
    else:
        log.debug("%s: %s (%s:%s)", category.__name__, message, filename, lineno)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Config file (TOML)", dir_okay=False)
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks")] = False,
) -> None:
    ctx.obj = SettingsSource(config)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    warnings.showwarning = _show_warning
    warnings.simplefilter("always", AssistantWarning)
    quiet_alsa()


def _register_all() -> None:
    from assistant import models as models_mod
    from assistant.audio import cli as audio_cli
    from assistant.buttons import cli as buttons_cli
    from assistant.dialogue import cli as dialogue_cli
    from assistant.hub import cli as hub_cli
    from assistant.records import cli as records_cli
    from assistant.records import people_cli
    from assistant.stt import cli as stt_cli
    from assistant.sync import cli as sync_cli
    from assistant.voice import cli as voice_cli

    for module in (
        settings_cli,
        audio_cli,
        stt_cli,
        voice_cli,
        buttons_cli,
        dialogue_cli,
        scripts_cli,
        people_cli,
        records_cli,
        sync_cli,
        hub_cli,
        models_mod,
    ):
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turning every mistake into one clear line."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args[: args.index("--")] if "--" in args else "--debug" in args
    try:
        # Without standalone mode, click returns a typer.Exit's code instead of raising it.
        code = app(args=args, prog_name="assistant", standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("assistant: stopped.", err=True)
        return 1
    except click_errors.NoArgsIsHelpError as exc:  # a group with no command: its help
        typer.echo(exc.ctx.get_help() if exc.ctx is not None else "")
        return 0
    except click_errors.UsageError as exc:
        if debug:
            raise
        root = typer.main.get_command(app)
        typer.echo(f"assistant: {explain_usage(exc, root, args)}", err=True)
        return 2
    except AssistantError as exc:
        if debug:
            raise
        typer.echo(f"assistant: {exc}", err=True)
        return 2
    except Exception as exc:
        if debug:
            raise
        sentence, status = unexpected(exc)
        typer.echo(f"assistant: {sentence}", err=True)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
