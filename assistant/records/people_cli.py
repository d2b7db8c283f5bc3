"""``assistant people``: the roster, and each person's consent about keeping their voice.

assistant people add Sam --consent yes --witness "Kate (support worker)"
assistant people list
assistant people consent Sam no
assistant people withdraw Sam --by Kate

To add a command: a function under ``@people_app.command("name")`` that opens the store with
:func:`~assistant.records.cli.open_store` and finds the person with
:func:`~assistant.records.cli.resolve_person` (name, any case, or the start of an id).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from assistant.records.cli import consent_text, open_store, resolve_person
from assistant.records.model import Consent, ConsentMethod

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
    app.add_typer(people_app, name="people")
