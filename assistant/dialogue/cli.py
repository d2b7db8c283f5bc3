"""Commands for guided sessions: ``demo``, ``simulate`` and ``run`` (``scripts`` is in
:mod:`assistant.cli.scripts`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assistant.config import Settings, settings_of

if TYPE_CHECKING:
    from assistant.dialogue.simulate import SpeechKit
    from assistant.records.store import RecordStore


def _settings() -> Settings:
    """The settings in force, from the command's context (put there by the root)."""
    return settings_of()


def simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML)", dir_okay=False)],
    record_out: Annotated[
        Path | None, typer.Option("--record-out", "-o", help="Write the session record here")
    ] = None,
    fake_speech: Annotated[
        bool,
        typer.Option("--fake-speech", help="Fast fake voice and recogniser instead of the models"),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary")] = False,
    save: Annotated[
        bool,
        typer.Option("--save", help="Save the finished session into this device's record store"),
    ] = False,
) -> None:
    """Run a scenario through the real engine on a virtual clock; write the session record.

    A scenario without roster: or jobs: takes the people and open jobs of this device's
    record store (as a session on the device does)."""
    from rich.console import Console

    from assistant.dialogue.scenario import load_scenario
    from assistant.dialogue.simulate import ConsoleNarrator, run_scenario

    console = Console(highlight=False)
    loaded = load_scenario(scenario)
    settings = loaded.apply_settings(_settings())
    store = _open_store(settings, save or not loaded.has_roster or not loaded.has_jobs)
    try:
        kit = _speech_kit(settings, fake_speech)
        console.print(f"[bold]Scenario[/bold] {scenario} (script {loaded.script})")
        for reason in kit.reasons:
            console.print(f"  [dim]{reason}[/dim]")
        result = run_scenario(
            loaded,
            settings,
            kit,
            record_out=record_out,
            narrator=None if quiet else ConsoleNarrator(console),
            store=store,
            save_to=store if save else None,
        )
    finally:
        if store is not None:
            store.close()
    state = "finished" if result.finished else "not finished"
    console.print(
        f"\nSession {state}: {result.turns_used} of {result.turns_total} turns used, "
        f"{result.prompts} prompts, {result.barge_ins} cut short, "
        f"{result.virtual_s / 60:.1f} min on the virtual clock, {result.wall_s:.1f} s to run."
    )
    console.print(f"Record: {result.record_path}")
    if save:
        from assistant.dialogue.simulate import saved_line

        console.print(saved_line(result.saved, settings))
    if result.failures:
        for failure in result.failures:
            console.print(f"[bold red]expectation not met:[/bold red] {failure}")
        raise typer.Exit(1)
    if loaded.expect is not None:
        console.print("[green]All expectations met.[/green]")


def demo(
    fake_speech: Annotated[
        bool,
        typer.Option("--fake-speech", help="Fast fake voice and recogniser instead of the models"),
    ] = False,
    record_out: Annotated[
        Path | None, typer.Option("--record-out", "-o", help="Write the session record here")
    ] = None,
    save: Annotated[
        bool,
        typer.Option("--save", help="Save the finished session into this device's record store"),
    ] = False,
) -> None:
    """A co-production group session with four virtual people, no audio hardware needed."""
    from assistant.dialogue.demo import run_demo

    settings = _settings()
    store = _open_store(settings, save)
    try:
        failures = run_demo(
            settings,
            kit=lambda: _speech_kit(settings, fake_speech),
            record_out=record_out,
            save_to=store,
        )
    finally:
        if store is not None:
            store.close()
    if failures:
        raise typer.Exit(1)


def _open_store(settings: Settings, wanted: bool) -> RecordStore | None:
    """The device's record store, when the command needs it."""
    if not wanted:
        return None
    from assistant.records.store import RecordStore

    return RecordStore.open(settings)


def run(
    script: Annotated[
        str | None, typer.Argument(help="Script name or file; none = choose by voice")
    ] = None,
) -> None:
    """Run a session on this device: microphone, speaker and buttons."""
    from assistant.app import run_device

    run_device(_settings(), script, out=typer.echo)


def _speech_kit(settings: Settings, fake_speech: bool) -> SpeechKit:
    """The voice and recognisers of a simulation, from the device builder (no audio
    devices, buttons or store)."""
    from assistant.app import build_device

    device = build_device(
        settings,
        speech="fake" if fake_speech else "real",
        audio="none",
        buttons=False,
        store=False,
        virtual=True,
    )
    return device.speech_kit()


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``assistant`` command."""
    app.command("demo")(demo)
    app.command("simulate")(simulate)
    app.command("run")(run)
