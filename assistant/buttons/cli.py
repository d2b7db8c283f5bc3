"""Commands for the device: ``check`` (the self-test), ``service`` (systemd) and ``buttons``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assistant.config import settings_of

if TYPE_CHECKING:
    from assistant.config import Settings


def _settings() -> Settings:
    """The settings in force, from the command's context (put there by the root)."""
    return settings_of()


def check(
    button_timeout: Annotated[
        float, typer.Option("--button-timeout", help="Seconds to wait for each button")
    ] = 20.0,
    record_seconds: Annotated[
        float, typer.Option("--record-seconds", help="How long to record the microphone")
    ] = 3.0,
) -> None:
    """A guided self-test, spoken: lights, buttons, microphone, speaker, engines, disk, clock."""
    from assistant.check import run_check

    ok = run_check(_settings(), button_timeout_s=button_timeout, record_s=record_seconds)
    if not ok:
        raise typer.Exit(1)


def service(
    idle: Annotated[
        bool, typer.Option("--idle", help="Buttons and lights only, no sessions (hardware test)")
    ] = False,
    script: Annotated[
        str | None, typer.Option("--script", help="Session script; none = choose by voice")
    ] = None,
) -> None:
    """Run the device unattended (systemd starts this: ready and watchdog notifications)."""
    from assistant.service import run_service

    code = run_service(_settings(), idle=idle, script=script)
    if code:
        raise typer.Exit(code)


def buttons() -> None:
    """Show each button press as it happens (Ctrl+C to stop); every button light is on."""
    from assistant.buttons import BUTTONS, InputStream, open_buttons, open_lights
    from assistant.buttons.keyboard import HELP_TEXT
    from assistant.dialogue.events import ButtonPressed, SetLights

    settings = _settings()
    stream = InputStream()
    board = open_buttons(settings.buttons, stream)
    lights = open_lights(settings.buttons, board.name)
    typer.echo(f"Buttons: {board.name} ({', '.join(b for b in BUTTONS if b in board.buttons)}).")
    if board.name == "keyboard":
        typer.echo(HELP_TEXT)
    try:
        lights.apply(SetLights(board.buttons, "listening"))
        while True:
            event = stream.get(timeout=1.0)
            if isinstance(event, ButtonPressed):
                typer.echo(f"{event.button}{' (held)' if event.held else ''}")
    except KeyboardInterrupt:
        pass
    finally:
        lights.apply(SetLights())
        lights.close()
        board.close()


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``assistant`` command."""
    app.command("check")(check)
    app.command("service")(service)
    app.command("buttons")(buttons)
