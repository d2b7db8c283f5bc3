"""``assistant listen`` and ``assistant engines``: try the recognisers on a device."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, get_args

import numpy as np
import typer

from assistant.config import Settings, settings_of
from assistant.errors import BadAudioFile, ConfigError
from assistant.stt.base import Recognizer, Role, Transcript
from assistant.words import ShortAnswer

log = logging.getLogger(__name__)

ALL_ANSWERS: tuple[ShortAnswer, ...] = get_args(ShortAnswer)


def _settings() -> Settings:
    """The settings in force, from the command's context (put there by the root)."""
    return settings_of()


def read_audio(path: Path) -> np.ndarray:
    """A WAV file as 16 kHz mono int16, with one clear error for anything unusable."""
    from assistant.audio.wav import read_wav

    pcm = read_wav(path)
    if not np.any(pcm):
        raise BadAudioFile(f"The audio file {path} holds only silence.")
    return pcm


def _parse_allowed(text: str | None) -> tuple[ShortAnswer, ...]:
    if not text:
        return ALL_ANSWERS
    out: list[ShortAnswer] = []
    for part in text.split(","):
        name = part.strip().lower()
        if name not in ALL_ANSWERS:
            raise ConfigError(
                f"{part.strip()!r} is not a short answer: use {', '.join(ALL_ANSWERS)}."
            )
        out.append(ALL_ANSWERS[ALL_ANSWERS.index(name)])
    return tuple(out)


def _listen_microphone(
    rec: Recognizer,
    role: Role,
    allowed: tuple[ShortAnswer, ...] | None,
    settings: Settings,
) -> tuple[Transcript | None, float]:
    from assistant.audio import open_microphone, record_turn

    audio = settings.audio
    mic = open_microphone(audio)
    trailing = audio.trailing_silence_short_s if role == "short" else audio.trailing_silence_free_s
    typer.echo("Listening... (speak now)", err=True)
    mic.start()
    try:
        turn = record_turn(
            mic,
            wait_for_speech_s=audio.wait_for_speech_s,
            trailing_silence_s=trailing,
            max_answer_s=audio.max_answer_s,
            stream=rec.start(allowed),
            allowed=allowed,
        )
    finally:
        mic.stop()
    if not turn.speech_started:
        return None, turn.listened_s
    return turn.transcript, turn.duration_s


NOT_CAUGHT = "none (Sorry, I didn't catch that)"


def _person_matcher(settings: Settings, name: str) -> tuple[str, Any, list[str]]:
    """The person's name, their personal-words matcher (None when nothing is taught) and a
    line for each damaged example skipped."""
    from assistant.records.cli import resolve_person
    from assistant.records.store import RecordStore

    with RecordStore.open(settings) as store:
        person = resolve_person(store, name)
        pw, problems = store.words.matcher(person.id)
    return person.name, pw, problems


def listen_personal(
    pcm: np.ndarray,
    name: str,
    rec: Recognizer,
    answers: tuple[ShortAnswer, ...],
    settings: Settings,
) -> None:
    """``listen --person NAME``: the person's own words fused with the general recogniser,
    as the device decides (the matcher alone when it is sure, without waiting for it)."""
    from assistant.stt.personal import MIN_EXAMPLES, fuse

    who, pw, problems = _person_matcher(settings, name)
    for p in problems:
        typer.echo(f"{p} It is skipped.", err=True)
    if pw is None:
        typer.echo(f"{who} has no words taught: the general recogniser decides.")
        tr = rec.transcribe(pcm, answers)
        typer.echo(f"engine: {rec.name}")
        typer.echo(f"answer: {tr.answer or NOT_CAUGHT}")
        typer.echo(f"decided by: general ({rec.name})")
        return
    few = [w for w in ALL_ANSWERS if pw.counts().get(w, 0) < MIN_EXAMPLES]
    if few:
        typer.echo(
            f"{who}: too few examples of {', '.join(few)}: the general recogniser decides those.",
            err=True,
        )
    for w in ALL_ANSWERS:
        if w not in few and pw.why_not(w):
            typer.echo(f"{who}: {w}: {pw.why_not(w)}; the general recogniser decides it.", err=True)
    enc = rec.embedder()
    pw.use_embedder(enc, warm=False)  # (its time is not the decision's)
    m = pw.match(pcm, answers)
    general = heard = None
    is_plain = True
    if m.busy and m.speech:
        compared = (
            f"compared by MFCCs and the {enc.name} (they must agree)"
            if m.compared_by != "mfcc" and enc is not None
            else "compared by MFCCs"
            + ("" if enc is not None else f" ({rec.name} has no encoder to compare by)")
        )
        typer.echo(
            "busy background (talk or noise around the answer): the general recogniser is "
            f"asked too, and a conflict is no answer; {compared}"
        )
    if not m.alone and m.speech:  # not sure alone: ask the general recogniser too
        from assistant.stt.personal_stream import below_bar, plain

        tr = rec.transcribe(pcm, answers)
        general = tr.answer
        is_plain = plain(tr, answers)
        heard = below_bar(tr, answers)
        typer.echo(f"general ({rec.name}): {tr.text or '(nothing)'} -> {tr.answer or 'no answer'}")
    d = fuse(m, general, is_plain, heard)
    near = ", ".join(f"{w} {v:.2f}" for w, v in sorted(m.distances.items(), key=lambda x: x[1]))
    typer.echo(f"personal words of {who}: {m.why}; nearest {near or '-'}; margin {m.margin:.2f}")
    if m.encoded_distances:
        near = ", ".join(
            f"{w} {v:.2f}" for w, v in sorted(m.encoded_distances.items(), key=lambda x: x[1])
        )
        typer.echo(f"  by the encoder: nearest {near}")
    typer.echo(f"answer: {d.answer or NOT_CAUGHT}")
    by = {
        "personal": f"personal words ({who}), sure alone; the general recogniser was not needed",
        "both": f"personal words ({who}) and the general recogniser ({rec.name}) agreed",
        "general": f"general recogniser ({rec.name}); the personal words had no candidate",
        "none": f"nobody ({d.why})",
    }[d.decided_by]
    typer.echo(f"decided by: {by}")
    typer.echo(f"matcher time: {1000 * m.compute_s:.1f} ms of processor time")


def register(app: typer.Typer) -> None:
    """Add ``listen`` and ``engines``."""

    @app.command()
    def listen(
        file: Annotated[
            Path | None,
            typer.Option("--file", "-f", help="A WAV file instead of the microphone"),
        ] = None,
        role: Annotated[
            str, typer.Option("--role", "-r", help="short (yes/no/next/help/repeat) or free")
        ] = "short",
        engine: Annotated[
            str | None,
            typer.Option("--engine", "-e", help="vosk, whisper or pocketsphinx (default: auto)"),
        ] = None,
        allowed: Annotated[
            str | None,
            typer.Option("--allowed", help="Short answers allowed, e.g. yes,no (default: all)"),
        ] = None,
        person: Annotated[
            str | None,
            typer.Option("--person", "-p", help="Use this person's taught words (with --file)"),
        ] = None,
    ) -> None:
        """Hear one answer and print the transcript, confidence, short answer and engine."""
        from assistant.stt.select import choose_engines

        if role not in ("short", "free"):
            raise ConfigError(f"--role must be short or free, not {role!r}.")
        the_role: Role = "short" if role == "short" else "free"
        answers = _parse_allowed(allowed) if the_role == "short" else None
        s = _settings()
        pcm = read_audio(file) if file is not None else None
        if engine is not None:
            engine = engine.strip().lower()
        rec = choose_engines(s, short=engine, free=engine).for_role(the_role)
        if person is not None:
            if pcm is None or answers is None:
                raise ConfigError("--person needs --file and the short role.")
            listen_personal(pcm, person, rec, answers, s)
            return
        if pcm is not None:
            tr: Transcript | None = rec.transcribe(pcm, answers)
            audio_s = len(pcm) / 16_000
        else:
            tr, audio_s = _listen_microphone(rec, the_role, answers, s)
        typer.echo(f"engine: {rec.name}")
        if tr is None:
            typer.echo(f"transcript: (no speech in {audio_s:.1f} s)")
            return
        typer.echo(f"transcript: {tr.text or '(nothing recognised)'}")
        typer.echo(f"confidence: {tr.confidence:.2f}")
        if the_role == "short":
            shown = tr.answer or "none (Sorry, I didn't catch that)"
            typer.echo(f"answer: {shown}")
        typer.echo(f"time: {tr.compute_s:.2f} s for {tr.audio_s or audio_s:.1f} s of audio")

    @app.command()
    def engines() -> None:
        """Say which speech recognisers are active for each role, and why."""
        from assistant.stt.select import choose_engines

        chosen = choose_engines(_settings())
        # One sentence a role: the reason names the engine ("Whisper tiny.en (embedded), ...").
        typer.echo(f"Short answers: {chosen.short_reason.rstrip('.')}.")
        typer.echo(f"Free answers: {chosen.free_reason.rstrip('.')}.")
