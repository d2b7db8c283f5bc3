"""``assistant people teach / words / forget / words-consent``: a person's own words.

assistant people words-consent Sam yes --by "Kate (support worker)"
assistant people teach Sam yes yes1.wav yes2.wav yes3.wav
assistant people words Sam
assistant people forget Sam yes
assistant people words-consent Sam no        # withdraws: deletes every example

The examples are recordings of the person's voice, kept only to understand their words (never
to identify anyone by voice), with their own consent, asked separately from keeping answers.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from assistant.errors import BadAudioFile


class Word(StrEnum):
    yes = "yes"
    no = "no"
    next = "next"
    help = "help"
    repeat = "repeat"


class YesNo(StrEnum):
    yes = "yes"
    no = "no"


def _few(word: str, n: int) -> str:
    from assistant.stt.personal import MIN_EXAMPLES

    return (
        f"{word} has {n} example{'s' if n != 1 else ''}: at least {MIN_EXAMPLES} are needed, "
        f"so until then the general recogniser decides {word}."
    )


def register(people_app: typer.Typer) -> None:
    """Add the personal-words commands to ``assistant people``."""

    @people_app.command("words-consent")
    def words_consent(
        name: Annotated[str, typer.Argument(help="Their name or id")],
        answer: Annotated[
            YesNo, typer.Argument(help="yes: keep examples of their words; no: withdraw")
        ],
        by: Annotated[str | None, typer.Option(help="Who saw them decide")] = None,
    ) -> None:
        """Their own consent to keep examples of how they say their words (separate from
        keeping answers). no withdraws it and deletes every example."""
        from assistant.records.cli import open_store, resolve_person

        with open_store() as store:
            person = resolve_person(store, name)
            if answer is YesNo.yes:
                store.words.set_consent(person.id, True, by=by)
                typer.echo(f"{person.name}: examples of their words may be kept.")
                return
            deleted = store.words.withdraw_consent(person.id, by=by)
        typer.echo(
            f"{person.name}: examples of their words are not kept; {deleted} example"
            f"{'s' if deleted != 1 else ''} deleted."
        )

    @people_app.command("teach")
    def teach(
        name: Annotated[str, typer.Argument(help="Their name or id")],
        word: Annotated[Word, typer.Argument(help="yes, no, next, help or repeat")],
        files: Annotated[list[Path], typer.Argument(help="WAV files, one example each")],
    ) -> None:
        """Teach the device how they say WORD: each FILE is one example (any sound may stand
        for the word). Unusable files are named, with why, and not kept."""
        from assistant.records.cli import open_store, resolve_person
        from assistant.records.words_repo import WordProblem
        from assistant.stt.personal import MIN_EXAMPLES

        kept = 0
        with open_store() as store:
            person = resolve_person(store, name)
            for f in files:
                try:
                    store.words.add_example(person.id, word.value, f)
                except WordProblem as exc:
                    typer.echo(str(exc), err=True)
                    if "not agreed" in str(exc):
                        raise typer.Exit(1) from exc
                    continue
                except BadAudioFile as exc:
                    typer.echo(f"{exc} It was skipped.", err=True)
                    continue
                kept += 1
            n = store.words.counts(person.id).get(word.value, 0)
        typer.echo(f"{person.name}: {kept} new example{'s' if kept != 1 else ''} of {word.value}; "
                   f"{n} kept in all.")  # fmt: skip
        if n < MIN_EXAMPLES:
            typer.echo(_few(word.value, n))
        if kept == 0:
            raise typer.Exit(1)

    @people_app.command("words")
    def words(name: Annotated[str, typer.Argument(help="Their name or id")]) -> None:
        """What is taught: examples per word, and which words the general recogniser decides."""
        from assistant.records.cli import open_store, resolve_person
        from assistant.stt.personal import MIN_EXAMPLES, WORDS

        with open_store() as store:
            person = resolve_person(store, name)
            consent = store.words.consent(person.id)
            counts = store.words.counts(person.id)
            pw, problems = store.words.matcher(person.id)
        said = {None: "not asked", True: "yes", False: "no"}[consent]
        typer.echo(f"{person.name}: keep examples of their words: {said}")
        for w in WORDS:
            n = counts.get(w, 0)
            why = pw.why_not(w) if pw is not None and n >= MIN_EXAMPLES else None
            note = (
                "" if n >= MIN_EXAMPLES and why is None else "  (the general recogniser decides it"
            )
            if note and why:
                note += f": {why}"
            note += ")" if note else ""
            typer.echo(f"  {w:<7} {n} example{'s' if n != 1 else ''}{note}")
        for p in problems:
            typer.echo(f"{p} It is skipped.", err=True)

    @people_app.command("forget")
    def forget(
        name: Annotated[str, typer.Argument(help="Their name or id")],
        word: Annotated[Word | None, typer.Argument(help="One word (default: all)")] = None,
    ) -> None:
        """Delete the examples of one word, or of all their words."""
        from assistant.records.cli import open_store, resolve_person

        with open_store() as store:
            person = resolve_person(store, name)
            n = store.words.forget(person.id, word.value if word else None)
        what = f"of {word.value}" if word else "of their words"
        typer.echo(f"{person.name}: {n} example{'s' if n != 1 else ''} {what} deleted.")
