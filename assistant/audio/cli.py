"""Commands for this part of the data path: ``assistant devices``."""

from __future__ import annotations

import os

import typer

from assistant.audio.devices import DeviceInfo, find_device, list_devices
from assistant.config import settings_of
from assistant.errors import AudioError


def _configured(spec: str | int | None, kind: str) -> DeviceInfo | None:
    try:
        return find_device(spec, "input" if kind == "input" else "output")
    except AudioError:
        return None


def devices() -> None:
    """List the microphones and speakers, marking the ones the assistant will use."""
    audio = settings_of().audio
    found = list_devices()
    if not found:
        raise AudioError(
            "PortAudio sees no audio devices (is a sound card plugged in, or PulseAudio running?)."
        )
    for kind, title, spec in (
        ("input", "Microphones", audio.input_device),
        ("output", "Speakers", audio.output_device),
    ):
        chosen = _configured(spec, kind)
        typer.echo(f"{title}:")
        usable = [d for d in found if d.channels("input" if kind == "input" else "output") > 0]
        if not usable:
            typer.echo("  (none)")
        for d in usable:
            marks = []
            if chosen is not None and d.index == chosen.index:
                marks.append("in use" if spec is not None else "in use (default)")
            elif d.default_input if kind == "input" else d.default_output:
                marks.append("default")
            chans = d.input_channels if kind == "input" else d.output_channels
            mark = f"  <- {', '.join(marks)}" if marks else ""
            typer.echo(
                f"  {d.index:>3}  {d.name}  ({chans} ch, {d.default_rate:g} Hz, {d.hostapi}){mark}"
            )
        if spec is not None and chosen is None:
            typer.echo(f"  (the configured {kind}_device {spec!r} is not there)")
        typer.echo("")
    for var in ("PULSE_SOURCE", "PULSE_SINK"):
        if os.environ.get(var):
            typer.echo(f"{var}={os.environ[var]} (PulseAudio's 'pulse' device uses it)")
    # a configured device that is missing ends the command with its one-line error
    find_device(audio.input_device, "input")
    find_device(audio.output_device, "output")


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``assistant`` command."""
    app.command("devices")(devices)
