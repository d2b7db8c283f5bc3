"""``assistant records``: the session records (``assistant people`` is in
:mod:`assistant.records.people_cli`; both open the store and find people with the helpers here).

assistant records list
assistant records show 3f2a
assistant records export --format csv --out records.csv
assistant records summary 3f2a --out sam.html
assistant records retention
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from assistant.config import settings_of
from assistant.errors import RecordError
from assistant.records.model import Consent, Person, SessionRecord, SessionState
from assistant.records.store import RecordStore

records_app = typer.Typer(
    help="Session records: list, show, export, easy-read summaries.", no_args_is_help=True
)


class Format(StrEnum):
    json = "json"
    csv = "csv"


class StateOpt(StrEnum):
    draft = "draft"
    finalised = "finalised"
    sent = "sent"


def open_store() -> RecordStore:
    """The record store of the settings in force (from the command's context)."""
    return RecordStore.open(settings_of())


def _write_atomic(path: Path, text: str) -> None:
    """Write *text* to *path* via a temporary file, fsync and rename."""
    path = path.expanduser()
    folder = path.parent
    if not folder.is_dir():
        raise RecordError(f"Cannot write {path}: the folder {folder} does not exist.")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise RecordError(f"Cannot write {path}: {exc.strerror or exc}.") from exc


def resolve_person(store: RecordStore, name_or_id: str) -> Person:
    """A person on the roster by name (any case) or by id (or the start of an id)."""
    found = store.find_person(name_or_id)
    if found is not None:
        return found
    key = name_or_id.strip().lower()
    matches = [p for p in store.people() if p.id == key or p.id.startswith(key)]
    if len(key) >= 4 and len(matches) == 1:
        return matches[0]
    if len(key) >= 4 and len(matches) > 1:
        raise RecordError(f"More than one person's id starts with {name_or_id}; give more of it.")
    raise RecordError(f"There is no one called {name_or_id} on the roster.")


def resolve_session(store: RecordStore, id_or_prefix: str) -> SessionRecord:
    """A session by id, or by the start of its id (at least 4 characters)."""
    key = id_or_prefix.strip().lower()
    with contextlib.suppress(RecordError):
        return store.get_session(key)
    if len(key) < 4:
        raise RecordError(f"There is no session {id_or_prefix}; give at least 4 characters.")
    matches = store.session_ids(prefix=key)
    if not matches:
        raise RecordError(f"There is no session {id_or_prefix}.")
    if len(matches) > 1:
        raise RecordError(f"More than one session starts with {id_or_prefix}; give more of it.")
    return store.get_session(matches[0])


def consent_text(consent: Consent | None) -> str:
    """A person's consent about their voice, in a few words (for lists and records)."""
    if consent is None:
        return "not asked"
    if consent.withdrawn:
        by = f", recorded by {consent.witnessed_by}" if consent.witnessed_by else ""
        return f"withdrawn ({consent.at:%Y-%m-%d}{by})"
    word = "yes" if consent.audio else "no"
    extra = f", witness {consent.witnessed_by}" if consent.witnessed_by else ""
    return f"{word} ({consent.at:%Y-%m-%d}, {consent.method}{extra})"


# ------------------------------------------------------------------------ records


@records_app.command("list")
def records_list(
    state: Annotated[StateOpt | None, typer.Option(help="Only sessions in this state")] = None,
) -> None:
    """List the sessions on this device."""
    with open_store() as store:
        st: SessionState | None = state.value if state else None
        sessions = store.session_list(st)
    if not sessions:
        typer.echo("No sessions yet.")
        return
    for s in sessions:
        names = s["people"] or "nobody named"
        typer.echo(
            f"{s['id'][:8]}  {s['started_at']:%Y-%m-%d %H:%M}  {s['state']:<9}  "
            f"{s['script']:<20}  {s['answers']:>3} answers  {names}"
        )


def _show(s: SessionRecord) -> list[str]:
    names = {p.id: p.name for p in s.people}
    lines = [
        f"Session {s.id}",
        f"  script: {s.script} (version {s.script_version}"
        + (f", published version {s.script_publication}" if s.script_publication else "")
        + (f", sha256 {s.script_sha256[:12]}" if s.script_sha256 else "")
        + f")   state: {s.state}",
        f"  started: {s.started_at:%Y-%m-%d %H:%M} UTC"
        + (f"   ended: {s.ended_at:%H:%M}" if s.ended_at else ""),
    ]
    if s.place:
        lines.append(f"  place: {s.place}")
    if s.facilitator:
        lines.append(f"  facilitator: {s.facilitator}")
    lines.append("  people:")
    for p in s.people:
        lines.append(f"    {p.name}: keep their voice: {consent_text(p.consent)}")
    lines.append("  answers:")
    for a in s.answers:
        who = names.get(a.person_id, a.person_id or "") if a.person_id else "the group"
        # plain words: "a little help", "don't like", not a_little_help
        value = a.value.replace("dont_", "don't_").replace("_", " ") if a.value else None
        said = f'"{a.transcript}"' if a.transcript else (value or "(no words)")
        if a.raw_transcript and a.transcript and not a.passed:
            said += f' (British spelling; the recogniser wrote "{a.raw_transcript}")'
        if a.passed:
            said = "(passed)"
        if a.withdrawn:
            said += " (taken back: the person went back to answer again)"
        elif a.rejected:
            said += " (rejected: the person said this was not right)"
        if a.kind == "choice" and not a.passed:
            said += " (chosen with the buttons)"
        if a.with_support:
            said += " (answered with their supporter)"
        conf = f", confidence {a.confidence:.2f}" if a.confidence is not None else ""
        audio = ", audio kept" if a.audio_clip else ""
        lines.append(f"    [{a.step_id}] {a.question}")
        lines.append(f"      {who}: {said} (confirmed by {a.confirmed_by}{conf}{audio})")
    for g in s.goals:
        lines.append(f"  goal: {g.text}" + (" (agreed)" if g.agreed else ""))
    for j in s.jobs:
        support = j.support.replace("_", " ") if j.support else "support not said"
        when = f", {j.when}" if j.when else ""
        if j.helper:
            support += f", help from {j.helper}" + (f" with {j.help_with}" if j.help_with else "")
        who = " and ".join(names.get(p, p) for p in (j.person_id, *j.shared_with))
        lines.append(f"  job: {who}: {j.what}{when} ({support}; {j.status.replace('_', ' ')})")
    for c in s.checkins:
        mood = f"mood {c.mood.replace('_', ' ')}" if c.mood else "no mood given"
        jobs = ", ".join(f"{jid[:8]} {st.replace('_', ' ')}" for jid, st in c.jobs.items())
        lines.append(
            f"  check-in: {names.get(c.person_id, c.person_id)}: {mood}"
            + (f"; jobs: {jobs}" if jobs else "")
        )
    for f in s.flags:
        lines.append(f"  FLAG ({f.kind}): {f.reason}" + (" (resolved)" if f.resolved else ""))
    if s.next_meeting:
        lines.append(f"  next meeting: {s.next_meeting}")
    return lines


@records_app.command("show")
def records_show(
    session: Annotated[str, typer.Argument(help="Session id (the first 8 characters will do)")],
) -> None:
    """Show one session: who was there, every answer, goals, jobs and flags."""
    with open_store() as store:
        rec = resolve_session(store, session)
        store.log_access("show", rec.id)
    typer.echo("\n".join(_show(rec)))


@records_app.command("export")
def records_export(
    format_: Annotated[Format, typer.Option("--format", help="json or csv")] = Format.json,
    out: Annotated[Path | None, typer.Option(help="File to write; none = print")] = None,
    session: Annotated[str | None, typer.Option(help="Only this session")] = None,
    state: Annotated[StateOpt | None, typer.Option(help="Only sessions in this state")] = None,
) -> None:
    """Export sessions as JSON (valid against `assistant records schema`) or CSV (one row per
    answer)."""
    from assistant.records.export import export_csv, export_json

    with open_store() as store:
        if session:
            sessions = [resolve_session(store, session)]
        else:
            st: SessionState | None = state.value if state else None
            sessions = store.sessions(st)
        text = (
            export_json(store, sessions) if format_ is Format.json else export_csv(store, sessions)
        )
        store.log_access(
            f"export {format_.value}",
            sessions[0].id if session else None,
            f"{len(sessions)} session(s)" + (f" to {out}" if out else ""),
        )
    if out is None:
        typer.echo(text, nl=False)
    else:
        _write_atomic(out, text)
        typer.echo(f"Wrote {len(sessions)} session(s) to {out}.", err=True)


@records_app.command("schema")
def records_schema(
    out: Annotated[Path | None, typer.Option(help="File to write; none = print")] = None,
) -> None:
    """Print the JSON Schema that exports validate against."""
    from assistant.records.export import schema_text

    if out is None:
        typer.echo(schema_text(), nl=False)
    else:
        _write_atomic(out, schema_text())


@records_app.command("summary")
def records_summary(
    session: Annotated[str, typer.Argument(help="Session id (the first 8 characters will do)")],
    out: Annotated[Path | None, typer.Option(help="HTML file; none = summary-<id>.html")] = None,
    person: Annotated[
        str | None, typer.Option(help="Only this person's part (for them and their supporter)")
    ] = None,
    audio: Annotated[
        bool, typer.Option(help="Include the recordings people agreed to keep")
    ] = True,
    audio_files: Annotated[
        bool,
        typer.Option(help="Put recordings in a folder beside the page, not inside it"),
    ] = False,
) -> None:
    """Write an easy-read summary of a session (one HTML file that prints to A4)."""
    from assistant.records.easyread import render_summary

    with open_store() as store:
        rec = resolve_session(store, session)
        pid = resolve_person(store, person).id if person else None
        target = (out or Path(f"summary-{rec.id[:8]}.html")).expanduser()
        if not target.parent.is_dir():
            raise RecordError(f"Cannot write {target}: the folder {target.parent} does not exist.")
        folder = target.with_name(f"{target.stem}-audio") if audio_files else None
        html = render_summary(
            store, rec, person_id=pid, include_audio=audio, audio_files_dir=folder
        )
        store.log_access("summary", rec.id, f"to {target}")
    _write_atomic(target, html)
    typer.echo(f"Wrote the easy-read summary to {target}.")


@records_app.command("retention")
def records_retention(
    days: Annotated[
        int | None, typer.Option(help="Keep sent audio this many days; none = the setting")
    ] = None,
) -> None:
    """Delete audio older than the retention period from sessions already sent to the hub."""
    s = settings_of()
    keep = s.records.keep_synced_audio_days if days is None else days
    if keep < 0:
        raise RecordError("Days must be 0 or more.")
    with RecordStore.open(s) as store:
        n = store.apply_retention(datetime.now(UTC), keep)
    typer.echo(f"Deleted {n} recording(s) older than {keep} days from sent sessions.")


@records_app.command("flags")
def records_flags(
    all_: Annotated[bool, typer.Option("--all", help="Resolved flags too")] = False,
) -> None:
    """List flags for staff (mood not good, asked for help, needs a person)."""
    with open_store() as store:
        flags = store.flags(unresolved_only=not all_)
        names = {p.id: p.name for p in store.people(include_removed=True)}
    if not flags:
        typer.echo("No flags.")
    for f in flags:
        who = names.get(f.person_id, "") if f.person_id else "group"
        done = " (resolved)" if f.resolved else ""
        typer.echo(f"{f.id[:8]}  {f.at:%Y-%m-%d %H:%M}  {f.kind:<15} {who}: {f.reason}{done}")


@records_app.command("clear-flag")
def records_clear_flag(
    flag_id: Annotated[str, typer.Argument(help="The flag's id, or its first characters")],
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who dealt with it (default: the login name of who runs this)"),
    ] = None,
) -> None:
    """Clear a flag staff have dealt with: it is kept, marked resolved (who and when), and
    the device's status light stops blinking purple once no flag is open."""
    if by is None:
        import getpass
        import os

        by = os.environ.get("SUDO_USER") or getpass.getuser()
    if not by.strip():
        raise RecordError("Say who dealt with the flag: --by NAME.")
    with open_store() as store:
        matches = [f for f in store.flags(unresolved_only=False) if f.id.startswith(flag_id)]
        if not flag_id.strip() or not matches:
            raise RecordError(f"There is no flag with an id starting {flag_id!r}.")
        if len(matches) > 1:
            raise RecordError(
                f"{len(matches)} flags have ids starting {flag_id!r}: give more characters."
            )
        flag = matches[0]
        if flag.resolved:
            typer.echo(f"Flag {flag.id[:8]} was already cleared.")
            return
        store.resolve_flag(flag.id, by.strip())
        still = len(store.flags(unresolved_only=True))
    typer.echo(f"Flag {flag.id[:8]} cleared by {by.strip()}. Flags still open: {still}.")


def register(app: typer.Typer) -> None:
    """Add ``assistant records``."""
    app.add_typer(records_app, name="records")
