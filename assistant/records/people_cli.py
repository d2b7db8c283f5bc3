"""``assistant people``: the roster, and each person's consent about keeping their voice.

assistant people add Sam --consent yes --witness "Kate (support worker)"
assistant people list
assistant people consent Sam no
assistant people set Sam --rate 130 --wait 20 --end-pause 3 --buttons-only --scale two
assistant people show Sam
assistant people withdraw Sam --by Kate

To add a command: a function under ``@people_app.command("name")`` that opens the store with
:func:`~assistant.records.cli.open_store` and finds the person with
:func:`~assistant.records.cli.resolve_person` (name, any case, or the start of an id).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from assistant.errors import RecordError
from assistant.records.cli import consent_text, open_store, resolve_person
from assistant.records.model import Consent, ConsentMethod
from assistant.records.people import settings_lines

people_app = typer.Typer(
    help="The people who use this device, and their consent.", no_args_is_help=True
)


class YesNo(StrEnum):
    yes = "yes"
    no = "no"


class Method(StrEnum):
    voice = "voice"
    button = "button"
    staff_recorded = "staff_recorded"
    easy_read_form = "easy_read_form"


@people_app.command("add")
def people_add(
    name: Annotated[str, typer.Argument(help="Their name, as it will be spoken")],
    consent: Annotated[
        YesNo | None, typer.Option(help="May the device keep recordings of their voice?")
    ] = None,
    witness: Annotated[str | None, typer.Option(help="Who saw them give consent")] = None,
    method: Annotated[Method, typer.Option(help="How consent was given")] = Method.staff_recorded,
    needs: Annotated[str | None, typer.Option(help="Communication needs, in a few words")] = None,
) -> None:
    """Add someone to the roster."""
    with open_store() as store:
        given = None
        if consent is not None:
            m: ConsentMethod = method.value
            given = Consent(audio=consent is YesNo.yes, method=m, witnessed_by=witness)
        person = store.add_person(name, consent=given, communication_needs=needs)
    typer.echo(f"Added {person.name} ({person.id}); keep their voice: {consent_text(given)}.")


@people_app.command("list")
def people_list(
    all_: Annotated[
        bool, typer.Option("--all", help="Include people taken off the roster")
    ] = False,
) -> None:
    """List the roster with each person's consent."""
    with open_store() as store:
        people = store.people(include_removed=all_)
        active = {p.id for p in store.people()}
    if not people:
        typer.echo("No one is on the roster yet. Add someone with: assistant people add NAME")
        return
    width = max(len(p.name) for p in people)
    for p in people:
        off = "" if p.id in active else "  (off the roster)"
        typer.echo(f"{p.name:<{width}}  voice: {consent_text(p.consent):<40}  {p.id}{off}")


class ScalePoints(StrEnum):
    two = "two"
    three = "three"


@people_app.command("set")
def people_set(
    name: Annotated[str, typer.Argument(help="Their name or id")],
    rate: Annotated[
        float | None, typer.Option(help="Their speaking rate, words a minute (80 to 250)")
    ] = None,
    wait: Annotated[
        float | None,
        typer.Option(help="Seconds of silence before the question is said again (10 to 600)"),
    ] = None,
    end_pause: Annotated[
        float | None,
        typer.Option(help="Seconds of quiet that end a spoken answer (0.5 to 10)"),
    ] = None,
    buttons_only: Annotated[
        bool | None,
        typer.Option(
            "--buttons-only/--voice",
            help="Buttons only: the microphone stays closed for them; --voice: voice too",
        ),
    ] = None,
    scale: Annotated[
        ScalePoints | None, typer.Option(help="two: like / don't like; three: with not sure")
    ] = None,
    supporter: Annotated[
        str | None, typer.Option(help="Their supporter's name, told of anything flagged")
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Go back to the device's own settings for them")
    ] = False,
) -> None:
    """Set how the device talks with one person: it uses these whenever they are asked."""
    changes: dict[str, object] = {}
    if default:
        changes = {
            "words_per_minute": None,
            "repeat_after_s": None,
            "end_pause_s": None,
            "buttons_only": False,
            "scale_points": None,
        }
    if rate is not None:
        changes["words_per_minute"] = rate
    if wait is not None:
        changes["repeat_after_s"] = wait
    if end_pause is not None:
        changes["end_pause_s"] = end_pause
    if buttons_only is not None:
        changes["buttons_only"] = buttons_only
    if scale is not None:
        changes["scale_points"] = 2 if scale is ScalePoints.two else None
    if supporter is not None:
        changes["supporter"] = " ".join(supporter.split()) or None
    if not changes:
        raise RecordError(
            "Say what to set, for example: assistant people set Sam --rate 130 --buttons-only"
        )
    with open_store() as store:
        person = resolve_person(store, name)
        person = store.update_person_settings(person.id, **changes)
    typer.echo(f"{person.name}'s settings are kept:")
    for line in settings_lines(person):
        typer.echo(f"  {line}")


@people_app.command("show")
def people_show(
    name: Annotated[str, typer.Argument(help="Their name or id")],
) -> None:
    """One person: their consent and their own settings."""
    with open_store() as store:
        person = resolve_person(store, name)
    typer.echo(f"{person.name} ({person.id})")
    typer.echo(f"  Keep their voice: {consent_text(person.consent)}")
    if person.communication_needs:
        typer.echo(f"  Communication needs: {person.communication_needs}")
    for line in settings_lines(person):
        typer.echo(f"  {line}")


@people_app.command("remove")
def people_remove(
    name_or_id: Annotated[str, typer.Argument(help="Their name or id")],
) -> None:
    """Take someone off the roster (their past answers are kept)."""
    with open_store() as store:
        person = resolve_person(store, name_or_id)
        store.remove_person(person.id)
    typer.echo(f"{person.name} is off the roster; their past answers are kept.")


@people_app.command("consent")
def people_consent(
    name: Annotated[str, typer.Argument(help="Their name or id")],
    answer: Annotated[YesNo, typer.Argument(help="yes: keep their voice; no: words only")],
    witness: Annotated[str | None, typer.Option(help="Who saw them decide")] = None,
    method: Annotated[Method, typer.Option(help="How they decided")] = Method.staff_recorded,
) -> None:
    """Record a consent decision about keeping their voice (no does not delete past clips)."""
    with open_store() as store:
        person = resolve_person(store, name)
        m: ConsentMethod = method.value
        given = Consent(audio=answer is YesNo.yes, method=m, witnessed_by=witness)
        store.set_consent(person.id, given)
    typer.echo(f"{person.name}: keep their voice: {consent_text(given)}.")


@people_app.command("withdraw")
def people_withdraw(
    name: Annotated[str, typer.Argument(help="Their name or id")],
    by: Annotated[str | None, typer.Option(help="Who recorded the withdrawal")] = None,
) -> None:
    """Withdraw consent: delete every recording of their voice, and record that."""
    with open_store() as store:
        person = resolve_person(store, name)
        deleted = store.withdraw_consent(person.id, by=by)
    typer.echo(f"{person.name} withdrew consent; {deleted} recording(s) deleted, words kept.")


def register(app: typer.Typer) -> None:
    """Add ``assistant people``."""
    from assistant.records import words_cli

    words_cli.register(people_app)  # teach / words / forget / words-consent
    app.add_typer(people_app, name="people")
