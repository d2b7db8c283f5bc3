"""``assistant sync ...``: enrol this device, send finished sessions, or write them to a stick.

``assistant sync push`` is what the systemd timer runs. Exit status: 0 sent (or nothing to send),
3 no network or hub down (one quiet line; everything stays waiting), 2 anything else went wrong.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assistant.config import Settings, settings_of
from assistant.errors import EnrolmentError, HubUnreachable, SyncError

if TYPE_CHECKING:
    from assistant.records.store import RecordStore

EXIT_NO_NETWORK = 3

sync_app = typer.Typer(
    help="Exchange with the charity's hub: send finished sessions, receive this device's people, "
    "jobs and published scripts (with no command: both, in one exchange)."
)


@sync_app.callback(invoke_without_command=True)
def sync_both(ctx: typer.Context) -> None:
    """``assistant sync``: push, then pull (the same as ``assistant sync push``)."""
    if ctx.invoked_subcommand is None:
        push_cmd()


def _settings() -> Settings:
    """The settings in force, from the command's context (put there by the root)."""
    return settings_of()


def enrolment_code(parts: list[str]) -> str:
    """The code as the hub writes it (``KMQY-SZFN-7KD7``), however it was typed: in one piece
    or in several, with spaces or hyphens or neither, in any case."""
    letters = "".join(ch for ch in "".join(parts).upper() if ch.isalnum())
    if not letters:
        raise EnrolmentError("Give the one-time code staff made on the hub, e.g. KMQY-SZFN-7KD7.")
    return "-".join(letters[i : i + 4] for i in range(0, len(letters), 4))


@sync_app.command("enrol")
def enrol_cmd(
    url: Annotated[
        str | None, typer.Argument(help="The hub's address, e.g. https://hub.example.org")
    ] = None,
    code: Annotated[
        list[str] | None,
        typer.Argument(
            help="The one-time code staff made on the hub; spaces, hyphens and case do not matter"
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for this device")] = None,
    stick: Annotated[
        Path | None,
        typer.Option(
            help="No network: enrol from the offer staff wrote on this USB stick folder "
            "('assistant hub code --stick')"
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure", help="Allow a plain http:// hub that is not this machine (not advised)"
        ),
    ] = False,
) -> None:
    """Join a hub: swap a one-time code for this device's token and the hub's public key
    (over the network), or take the hub's offer from a USB stick (--stick)."""
    from assistant.sync.client import enrol, is_loopback_url

    if stick is not None:
        if url or code:
            raise EnrolmentError("Give either the hub's address and code, or --stick, not both.")
        _enrol_by_stick(stick, name)
        return
    if not url or not code:
        raise EnrolmentError(
            "Give the hub's address and the one-time code (assistant sync enrol URL CODE), or "
            "--stick PATH with an offer from the hub."
        )

    if insecure and url.startswith("http://") and not is_loopback_url(url):
        typer.echo(
            "Warning: enrolling over plain http://, so this device's token crosses the network "
            "unprotected.",
            err=True,
        )
    from assistant.sync.source import open_store

    s = _settings()
    store = open_store(s)
    try:
        device_id = store.device_id()
    finally:
        store.close()
    enrolment = enrol(
        url,
        enrolment_code(code),
        s.data_dir,
        device_id=device_id,
        name=name or socket.gethostname(),
        timeout_s=s.sync.timeout_s,
        insecure=insecure,
    )
    typer.echo(f"Enrolled with {enrolment.hub_url} as device {enrolment.device_id}.")


def _by_stick_only(s: Settings) -> None:
    """A device enrolled by stick has no network token until the hub's answer comes back on
    the stick, and none at all without the hub's address: say so, as "no network" (exit 3)."""
    from assistant.sync.device import Enrolment

    if not Enrolment.exists(s.data_dir):
        return  # push says how to enrol
    enrolment = Enrolment.load(s.data_dir)
    if not enrolment.token:
        why = "the hub's answer to its enrolment by USB stick has not come back yet"
    elif not enrolment.hub_url:
        why = "it was enrolled by USB stick without the hub's address"
    else:
        return
    typer.echo(
        f"No network for this device: {why}. Exchange by stick (assistant sync export PATH).",
        err=True,
    )
    raise typer.Exit(EXIT_NO_NETWORK)


def _enrol_by_stick(stick: Path, name: str | None) -> None:
    from assistant.sync.device import Enrolment
    from assistant.sync.source import open_store
    from assistant.sync.stick import enrol_by_stick

    s = _settings()
    if Enrolment.exists(s.data_dir):
        raise EnrolmentError(
            "This device is enrolled already; to move it to another hub, staff revoke it there."
        )
    store = open_store(s)
    try:
        device_id = store.device_id()
    finally:
        store.close()
    enrolment = enrol_by_stick(
        s.data_dir, stick, device_id=device_id, name=name or socket.gethostname()
    )
    typer.echo(
        f"This device ({enrolment.device_id}) left its request on the stick. Take the stick to "
        "the hub for 'assistant hub import': it enrols this device and writes back what it "
        "needs. Sessions can go on the stick already (assistant sync export)."
    )


@sync_app.command("push")
def push_cmd() -> None:
    """Send every finished session (and its audio) to the hub; safe to run at any time."""
    from assistant.sync.client import push
    from assistant.sync.source import open_store

    s = _settings()
    _by_stick_only(s)
    store = open_store(s)
    try:
        report = push(
            store, s.data_dir, timeout_s=s.sync.timeout_s, max_attempts=s.sync.max_attempts
        )
    except HubUnreachable as exc:
        from assistant.sync.outbox import Outbox

        with Outbox(s.data_dir) as outbox:
            waiting = len(outbox.pending())
        typer.echo(
            f"No network: {waiting} session{'s' if waiting != 1 else ''} will wait. {exc}", err=True
        )
        raise typer.Exit(EXIT_NO_NETWORK) from exc
    else:
        if not report.busy:
            from assistant.sync.retention import forget_sent

            forget_sent(store, s)  # the hub has them: the device keeps no more than it needs
    finally:
        store.close()
    if report.busy:
        typer.echo("Another push is already running.")
        return
    _pull_scripts(s)
    _pull_updates(s)
    for problem in report.problems:
        typer.echo(f"Waiting: {problem}", err=True)
    if report.nothing_to_send and not report.problems:
        typer.echo("Nothing to send.")
        return
    if report.withdrawals_sent:
        typer.echo(f"Sent {report.withdrawals_sent} withdrawal(s) of consent.")
    if report.words_sent:
        typer.echo(f"Sent the taught words of {report.words_sent} person(s).")
    if report.settings_sent:
        typer.echo(f"Sent the own settings of {report.settings_sent} person(s).")
    if report.sent:
        typer.echo(f"Sent {len(report.sent)} session{'s' if len(report.sent) != 1 else ''}.")
    if report.refused:
        for sid, why in report.refused.items():
            typer.echo(f"The hub refused session {sid}: {why}", err=True)
        raise SyncError(
            f"The hub refused {len(report.refused)} session(s); see 'assistant sync status'."
        )
    if (
        not report.sent
        and not report.refused
        and not (report.withdrawals_sent or report.words_sent or report.settings_sent)
    ):
        typer.echo("Nothing to send.")


def _pull_scripts(s: Settings) -> None:
    """The scripts the hub publishes to this device (``assistant/sync/scripts.py``)."""
    from assistant.sync.scripts import pull_scripts

    try:
        got = pull_scripts(s)
    except (SyncError, HubUnreachable) as exc:
        typer.echo(f"The published scripts were not checked: {exc}", err=True)
        return
    for line in got.lines():
        typer.echo(line)
    for problem in got.problems:
        typer.echo(f"Published scripts: {problem}", err=True)


def _pull_updates(s: Settings) -> None:
    """This device's people and their jobs from the hub (``assistant/sync/updates.py``)."""
    from assistant.sync.source import open_store
    from assistant.sync.updates import pull_updates

    store = open_store(s)
    try:
        got = pull_updates(s, store)
    except (SyncError, HubUnreachable) as exc:
        typer.echo(f"The people and jobs from the hub were not received: {exc}", err=True)
        return
    finally:
        store.close()
    for line in got.lines():
        typer.echo(line)
    for problem in got.problems:
        typer.echo(f"From the hub: {problem}", err=True)


@sync_app.command("status")
def status_cmd() -> None:
    """What is waiting to be sent, the last attempt and the last error."""
    from assistant.sync.device import Enrolment
    from assistant.sync.outbox import Outbox
    from assistant.sync.source import finalised_sessions, open_store

    s = _settings()
    if Enrolment.exists(s.data_dir):
        e = Enrolment.load(s.data_dir)
        typer.echo(f"Hub: {e.hub_url} (this device is {e.device_id}, enrolled {e.enrolled_at})")
    else:
        typer.echo("Hub: not enrolled yet (assistant sync enrol URL CODE).")
    store = open_store(s)
    try:
        with Outbox(s.data_dir) as outbox:
            unsealed = [r for r in finalised_sessions(store) if not outbox.known(r.id)]
            pending = outbox.pending()
            sent = len(outbox.all_items()) - len(pending)
            waiting = len(unsealed) + len(pending)
            typer.echo(f"Waiting to send: {waiting} session{'s' if waiting != 1 else ''}.")
            exported = sum(1 for i in pending if i.exported_at)
            if exported:
                typer.echo(f"  of which {exported} are also on a USB stick.")
            typer.echo(f"Sent so far: {sent}.")
            last = outbox.last_attempt()
            if last is None:
                typer.echo("Last attempt: never.")
            else:
                typer.echo(
                    f"Last attempt: {last['started_at']}: {last['result']}, sent {last['sent']}."
                )
            error = outbox.last_error()
            typer.echo(f"Last error: {error}" if error else "Last error: none.")
            for item in pending:
                if item.last_error:
                    typer.echo(f"  {item.session_id}: {item.last_error}")
        from assistant.sync.updates import last_pull

        pulled = last_pull(store)
        if pulled is None:
            typer.echo("Last received from the hub: never.")
        else:
            via = " (by USB stick)" if pulled.get("via") == "stick" else ""
            typer.echo(
                f"Last received from the hub{via}: {pulled['at']}: {pulled['people']} people, "
                f"{pulled['jobs']} jobs (cursor {pulled['cursor'][:12]})."
            )
            for problem in pulled.get("problems") or []:
                typer.echo(f"  {problem}")
    finally:
        store.close()


@sync_app.command("export")
def export_cmd(
    path: Annotated[Path, typer.Argument(help="A folder on the USB stick")],
) -> None:
    """Both ways by USB stick: take in what the hub wrote on it for this device (people, jobs,
    published scripts), then write the sealed sessions waiting to be sent, and a manifest."""
    from assistant.sync.export import export
    from assistant.sync.source import open_store

    s = _settings()
    store = open_store(s)
    try:
        received = _receive_stick(s, store, path)
        report = export(store, s.data_dir, path)
    finally:
        store.close()
    for problem in report.problems:
        typer.echo(f"Waiting: {problem}", err=True)
    typer.echo(f"Wrote {report.sessions} new sessions and {report.clips} clips to {report.folder}.")
    if report.withdrawals:
        typer.echo(f"Wrote {report.withdrawals} withdrawal(s) of consent too.")
    sys.stdout.flush()
    if received:
        raise SyncError(f"{received} file(s) the hub wrote on the stick were not used (above).")


@sync_app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="A folder on the USB stick")],
) -> None:
    """Take in what the hub wrote on a USB stick for this device (people, jobs, published
    scripts), checked as a network update is; writes nothing to the stick."""
    from assistant.sync.source import open_store

    s = _settings()
    store = open_store(s)
    try:
        problems = _receive_stick(s, store, path, say_if_none=True)
    finally:
        store.close()
    if problems:
        raise SyncError(f"{problems} file(s) the hub wrote on the stick were not used (above).")


def _receive_stick(s: Settings, store: RecordStore, path: Path, say_if_none: bool = False) -> int:
    """Apply the hub's updates on the stick and say what changed; the number of files refused."""
    from assistant.sync.stick import receive

    got = receive(s, store, path)
    if not got.found and say_if_none:
        typer.echo("Nothing from the hub for this device on the stick.")
    for line in got.lines():
        typer.echo(line)
    for problem in got.all_problems():
        typer.echo(f"From the stick: {problem}", err=True)
    if got.found and not got.all_problems() and not got.lines():
        typer.echo("From the stick: nothing new from the hub.")
    return len(got.problems)  # files refused (the rest are notes about what was applied)


def register(app: typer.Typer) -> None:
    """Add ``assistant sync ...``."""
    app.add_typer(sync_app, name="sync")
