"""``assistant say``: speak a text with the configured voice, to the speaker or to a WAV file."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import wave
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from assistant.config import settings_of
from assistant.errors import AudioError


def write_wav_atomic(path: Path, chunks: Iterable[np.ndarray], sample_rate: int) -> float:
    """Write int16 mono *chunks* to *path* (temporary file, fsync, rename); seconds written."""
    path = path.expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise AudioError(f"Cannot write {path}: the folder {folder} does not exist.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise AudioError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    frames = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            with wave.open(fh, "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(sample_rate)
                for chunk in chunks:
                    wav.writeframes(np.ascontiguousarray(chunk, dtype="<i2").tobytes())
                    frames += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file, not mkstemp's private one
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise AudioError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return frames / sample_rate


def say(
    text: Annotated[str, typer.Argument(help="What to say")],
    to_file: Annotated[
        Path | None,
        typer.Option("--to-file", "-o", help="Write a WAV file instead of playing", dir_okay=False),
    ] = None,
    voice: Annotated[
        str | None,
        typer.Option("--voice", help="Piper voice: a name in the models folder or a path"),
    ] = None,
    wpm: Annotated[
        float | None,
        typer.Option("--wpm", min=80, max=250, help="Speaking rate in words a minute"),
    ] = None,
    volume: Annotated[
        float | None, typer.Option("--volume", min=0.0, max=2.0, help="Loudness multiplier")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the prompt cache")] = (
        False
    ),
) -> None:
    """Say TEXT with the configured voice (to the speaker, or --to-file out.wav)."""
    from assistant.voice import open_voice
    from assistant.voice.piper import PiperVoice

    if not text.strip():
        raise typer.BadParameter("Give some words to say.", param_hint="TEXT")
    s = settings_of()
    active = open_voice(s, voice=voice, words_per_minute=wpm, volume=volume, cache=not no_cache)
    inner = getattr(active, "voice", active)
    about = inner.describe() if isinstance(inner, PiperVoice) else inner.name
    typer.echo(f"Voice: {about}")
    started = time.perf_counter()
    if to_file is not None:
        seconds = write_wav_atomic(to_file, active.synthesize(text), active.sample_rate)
        if seconds == 0:
            raise AudioError("The voice produced no sound for that text.")
        typer.echo(f"Wrote {seconds:.1f} s of speech to {to_file}.")
        return

    from assistant.audio import open_speaker  # type: ignore[attr-defined,unused-ignore]

    speaker = open_speaker(s.audio)
    first: float | None = None
    total = 0
    try:
        for pcm in active.synthesize(text):
            if first is None:
                first = time.perf_counter() - started
            speaker.play(pcm, active.sample_rate)
            total += len(pcm)
        speaker.wait(timeout=total / active.sample_rate + 10.0)
    except KeyboardInterrupt:
        speaker.stop()
        raise typer.Abort() from None
    finally:
        close = getattr(speaker, "close", None)
        if callable(close):
            close()
    if first is not None:
        typer.echo(
            f"Said {total / active.sample_rate:.1f} s of speech (first sound after {first:.2f} s)."
        )


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``assistant`` command."""
    app.command("say")(say)
