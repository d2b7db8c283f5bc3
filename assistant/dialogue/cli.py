"""Commands for guided sessions: ``demo``, ``simulate`` and ``run`` (``scripts`` is in
:mod:`assistant.cli.scripts`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.config import Settings, settings_of
from assistant.records.model import SessionRecord


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
) -> None:
    """Run a scenario through the real engine on a virtual clock; write the session record."""
    from rich.console import Console

    from assistant.dialogue.scenario import load_scenario
    from assistant.dialogue.simulate import (
        ConsoleNarrator,
        fake_speech_kit,
        real_speech_kit,
        run_scenario,
    )

    console = Console(highlight=False)
    loaded = load_scenario(scenario)
    settings = loaded.apply_settings(_settings())
    kit = fake_speech_kit() if fake_speech else real_speech_kit(settings)
    console.print(f"[bold]Scenario[/bold] {scenario} (script {loaded.script})")
    for reason in kit.reasons:
        console.print(f"  [dim]{reason}[/dim]")
    result = run_scenario(
        loaded,
        settings,
        kit,
        record_out=record_out,
        narrator=None if quiet else ConsoleNarrator(console),
    )
    state = "finished" if result.finished else "not finished"
    console.print(
        f"\nSession {state}: {result.turns_used} of {result.turns_total} turns used, "
        f"{result.prompts} prompts, {result.barge_ins} cut short, "
        f"{result.virtual_s / 60:.1f} min on the virtual clock, {result.wall_s:.1f} s to run."
    )
    console.print(f"Record: {result.record_path}")
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
) -> None:
    """A co-production group session with four virtual people, no audio hardware needed."""
    from assistant.dialogue.demo import run_demo

    failures = run_demo(_settings(), fake_speech=fake_speech, record_out=record_out)
    if failures:
        raise typer.Exit(1)


def run(
    script: Annotated[
        str | None, typer.Argument(help="Script name or file; none = choose by voice")
    ] = None,
) -> None:
    """Run a session on this device: microphone, speaker and buttons."""
    _run_device(_settings(), script)


def _run_device(settings: Settings, script_name: str | None) -> None:
    """Open the real microphone, speaker, buttons, lights and record store; run one session."""
    import logging

    from assistant.audio import open_microphone, open_speaker
    from assistant.buttons.base import InputStream
    from assistant.buttons.select import open_buttons
    from assistant.dialogue.shell import RealClock
    from assistant.dialogue.simulate import real_speech_kit
    from assistant.records.store import RecordStore

    log = logging.getLogger("assistant.dialogue")
    kit = real_speech_kit(settings)
    for reason in kit.reasons:
        typer.echo(reason)
    mic = open_microphone(settings.audio)
    speaker = open_speaker(settings.audio)
    inputs = InputStream()
    buttons = open_buttons(settings.buttons, inputs)
    typer.echo(f"buttons: {buttons.name}")
    lights = None
    try:
        from assistant.buttons.lights import open_lights

        lights = open_lights(settings.buttons, settings.buttons.backend)
    except Exception as exc:  # lights are a help, never a reason to stop
        log.warning("No button lights: %s", exc)
    store = RecordStore.open(settings)
    try:
        record = run_on_device(
            settings,
            script_name,
            kit=kit,
            mic=mic,
            speaker=speaker,
            inputs=inputs,
            store=store,
            lights=lights,
            clock=RealClock(),
        )
    finally:
        buttons.close()
        if lights is not None:
            lights.close()
        store.close()
        mic.stop()
        close = getattr(speaker, "close", None)  # an open PortAudio stream at exit can crash
        if close is not None:
            close()
    typer.echo(f"Session {record.id} saved in {settings.data_dir}.")


def run_on_device(
    settings: Settings,
    script_name: str | None,
    *,
    kit: Any,
    mic: Any,
    speaker: Any,
    inputs: Any,
    store: Any,
    lights: Any = None,
    clock: Any,
) -> SessionRecord:
    """One session with the given edges: carry on an unfinished one, or choose a script by
    voice (when none is named), then run it to the end, saving into the record store."""
    import logging
    import random

    from assistant.dialogue.engine import Engine
    from assistant.dialogue.script import load_script
    from assistant.dialogue.shell import (
        MicrophoneEars,
        SessionShell,
        StoreSink,
        ask_yes_no,
        choose_script,
        engines_line,
    )
    from assistant.dialogue.simulate import _earcons

    log = logging.getLogger("assistant.dialogue")
    inputs.set_barge_in(speaker.stop)
    turns = settings.data_dir / "audio" / "turns"
    for left in turns.glob("*.wav"):  # from a session that stopped part way: never kept
        left.unlink(missing_ok=True)
    dirs = [settings.scripts_dir]
    record = None
    unfinished = store.unfinished_session()
    if unfinished is not None and (script_name is None or script_name == unfinished.script):
        question = "A session stopped before the end. Shall we carry on with it?"
        if ask_yes_no(kit.voice, speaker, inputs, question, settings.dialogue.repeat_after_s):
            record, script_name = unfinished, unfinished.script
    if script_name is None:
        script_name = choose_script(kit.voice, speaker, inputs, dirs, settings)
    script = load_script(script_name, dirs)
    engines: dict[str, str] = {role: rec.name for role, rec in kit.recognisers.items()}
    engines["voice"] = kit.voice.name
    log.info("engines: %s", engines_line(engines))
    engine = Engine(
        script,
        record.people if record is not None else store.people(),
        settings=settings.dialogue,
        clock=clock,
        rng=random.Random(),
        jobs=[] if record is not None else store.open_jobs(),
        record=record,
        engines=engines,
    )
    shell = SessionShell(
        engine,
        voice=kit.voice,
        speaker=speaker,
        ears=MicrophoneEars(mic, kit.recognisers, inputs, settings.audio, turns),
        inputs=inputs,
        sink=StoreSink(store),
        clock=clock,
        earcons=_earcons(),
        lights=lights,
    )
    return shell.run()


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``assistant`` command."""
    app.command("demo")(demo)
    app.command("simulate")(simulate)
    app.command("run")(run)
