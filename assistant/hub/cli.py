"""``assistant hub ...``: run the charity's hub (needs the ``hub`` extra; the device does not).

Where things are: ``--home`` (or ``$ASSISTANT_HUB_HOME``, default ``<data_dir>/hub``) holds the
key, the clips and the default SQLite database; ``--db`` (or ``$ASSISTANT_HUB_DB``) gives another
database, e.g. ``postgresql+psycopg://hub:secret@localhost/hub``. The passphrase that unlocks the
hub's private key comes from ``$ASSISTANT_HUB_PASSPHRASE`` or is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assistant.config import settings_of
from assistant.errors import AssistantError, SyncError

if TYPE_CHECKING:
    from assistant.hub.service import Hub
    from assistant.hub.stick import UpdatesWritten

hub_app = typer.Typer(
    help="The charity's hub: receive records, staff review.", no_args_is_help=True
)
staff_app = typer.Typer(help="Staff who can log in to the hub.", no_args_is_help=True)
hub_app.add_typer(staff_app, name="staff")
scripts_app = typer.Typer(
    help="Scripts published to devices: publish, list, withdraw.", no_args_is_help=True
)
hub_app.add_typer(scripts_app, name="scripts")
people_app = typer.Typer(
    help="People of the charity: list, assign to a device, unassign.", no_args_is_help=True
)
hub_app.add_typer(people_app, name="people")

HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="Hub folder (key, clips, default database)")
]
DbOpt = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite in the hub folder)")
]


def _home(home: Path | None) -> Path:
    if home is not None:
        return home.expanduser()
    env = os.environ.get("ASSISTANT_HUB_HOME")
    if env:
        return Path(env).expanduser()
    return settings_of().data_dir / "hub"


def _db(db: str | None) -> str | None:
    return db or os.environ.get("ASSISTANT_HUB_DB") or None


def _secret(env: str, prompt: str, *, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def _open(home: Path | None, db: str | None, *, unlock: bool = False, **kw: object) -> Hub:
    try:
        from assistant.hub.keys import PASSPHRASE_ENV
        from assistant.hub.service import Hub
    except ImportError as exc:
        raise SyncError("The hub needs its extra packages: pip install 'assistant[hub]'.") from exc
    passphrase = _secret(PASSPHRASE_ENV, "Hub passphrase") if unlock else None
    os.umask(0o077)  # everything the hub writes (clips, database, temporary files) is private
    try:
        return Hub(_home(home), _db(db), passphrase=passphrase, **kw)  # type: ignore[arg-type]
    except AssistantError:
        raise
    except Exception as exc:  # database unreachable, bad URL
        raise SyncError(f"Cannot open the hub's database: {type(exc).__name__}: {exc}") from exc


PASSPHRASE_RULES = (
    "The hub's key is locked by a passphrase. Choose one of at least {n} characters: a few "
    "words you can remember, such as 'purple kettle on a windy hill', is best. Write it down "
    "and keep it safe, apart from this computer: without it nobody can read the records, "
    "and it cannot be reset."
)


def _new_secret(env: str, prompt: str, minimum: int, what: str) -> str:
    """A new passphrase or password: the length rule is checked after the first entry (and
    for one from *env*), then it is asked again to confirm; three tries."""
    value = os.environ.get(env)
    if value:
        if len(value) < minimum:
            raise SyncError(
                f"The {what} in ${env} is too short: use at least {minimum} characters."
            )
        return value
    for _ in range(3):
        first = str(typer.prompt(prompt, hide_input=True))
        if len(first) < minimum:
            typer.echo(f"That is {len(first)} characters; the {what} needs at least {minimum}.")
            continue
        again = str(typer.prompt("Type it again to check", hide_input=True))
        if again == first:
            return first
        typer.echo(f"The two did not match. Let's start again with the {what}.")
    raise SyncError(f"No {what} was set. Run the command again when you are ready.")


@hub_app.command("init")
def init(
    home: HomeOpt = None,
    db: DbOpt = None,
    admin: Annotated[str, typer.Option(help="Name of the first staff member (an admin)")] = "admin",
    kdf: Annotated[str, typer.Option(hidden=True)] = "moderate",
) -> None:
    """Make the hub's key pair (locked by a passphrase) and its first staff member."""
    from assistant.hub.keys import KEY_FILE, MIN_PASSPHRASE, PASSPHRASE_ENV, create_keys

    where = _home(home)
    os.umask(0o077)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    made_key = False
    if not (where / KEY_FILE).exists():
        if not os.environ.get(PASSPHRASE_ENV):
            typer.echo(PASSPHRASE_RULES.format(n=MIN_PASSPHRASE))
        passphrase = _new_secret(PASSPHRASE_ENV, "New hub passphrase", MIN_PASSPHRASE, "passphrase")
        create_keys(where, passphrase, kdf=kdf)
        made_key = True
        typer.echo(f"Made the hub's key in {where / KEY_FILE} (locked by your passphrase).")
    else:
        typer.echo(f"The hub already has a key in {where / KEY_FILE}.")
        from assistant.hub.keys import has_signing_key, unlock

        if not has_signing_key(where):
            unlock(where, _secret(PASSPHRASE_ENV, "Hub passphrase"))
            typer.echo("Gave the hub a signing key for what it sends devices.")
    hub = _open(home, db)
    if hub.permissions_fixed:
        typer.echo(
            f"Made {hub.permissions_fixed} files or folders in {where} private to this user "
            "(they were readable by others)."
        )
    typer.echo(f"The hub's folder {where} is 0700 and every file in it 0600 (owner only).")
    try:
        from sqlalchemy import select

        from assistant.hub import db as tables

        with hub.tx() as s:
            has_staff = s.scalar(select(tables.Staff.id).limit(1)) is not None
        if not has_staff:
            env = "ASSISTANT_HUB_ADMIN_PASSWORD"
            if not os.environ.get(env):
                typer.echo(
                    f"Now a password for {admin}, who logs in to the hub's pages "
                    "(at least 10 characters)."
                )
            password = _new_secret(env, f"Password for {admin}", 10, "password")
            hub.add_staff(admin, password, admin=True, by="hub init")
            typer.echo(f"Added staff member {admin} (admin).")
        if made_key:
            typer.echo(
                "Back up the key now, and after each week of records: "
                f"assistant hub backup FOLDER --home {where}"
            )
        typer.echo(f"The hub is ready: assistant hub serve --home {where}")
    finally:
        hub.close()


@hub_app.command("backup")
def backup(
    folder: Annotated[Path, typer.Argument(help="A new, empty folder (an encrypted drive)")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Back up the hub's key, database and recordings into a folder (not the passphrase)."""
    from assistant.hub.backup import PASSPHRASE_REMINDER
    from assistant.hub.backup import backup as make_backup

    hub = _open(home, db)
    try:
        report = make_backup(hub.home, hub.engine, folder)
    finally:
        hub.close()
    typer.echo(
        f"Backed up the hub into {report.folder}: the key, {report.sessions} sessions "
        f"({', '.join(report.database_files)}) and {report.clips} recordings."
    )
    typer.echo(PASSPHRASE_REMINDER)
    typer.echo(f"To restore it: assistant hub restore {report.folder} --home NEW_FOLDER")


@hub_app.command("restore")
def restore(
    folder: Annotated[Path, typer.Argument(help="A folder made by 'assistant hub backup'")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Restore a backup into a new hub folder (and an empty database), then check the
    passphrase opens the key."""
    from assistant.hub.backup import read_manifest, restore_files, restore_tables
    from assistant.hub.keys import PASSPHRASE_ENV, unlock

    folder = folder.expanduser()
    read_manifest(folder)
    where = _home(home)
    restore_files(folder, where)
    hub = _open(home, db)
    try:
        counts = restore_tables(folder, hub.engine)
    finally:
        hub.close()
    typer.echo(
        f"Restored the hub into {where}: {counts.get('sessions', 0)} sessions, "
        f"{counts.get('staff', 0)} staff, {counts.get('devices', 0)} devices."
    )
    passphrase = _secret(PASSPHRASE_ENV, "Hub passphrase (to check it opens the key)")
    unlock(where, passphrase)
    typer.echo("The passphrase opens the restored key.")
    typer.echo(f"Start it: assistant hub serve --home {where}")


@hub_app.command("serve")
def serve(
    home: HomeOpt = None,
    db: DbOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload accepted")] = 64.0,
    secure_cookies: Annotated[
        bool, typer.Option(help="Send staff cookies over HTTPS only (behind a TLS proxy)")
    ] = False,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="Address or network of a reverse proxy whose X-Forwarded-For is believed "
            "(repeat for more); from anyone else the header is ignored",
        ),
    ] = None,
) -> None:
    """Run the hub: the device API and the staff pages (migrates the database first)."""
    hub = _open(home, db, unlock=True, max_upload_bytes=int(max_upload_mb * 1024 * 1024))
    import uvicorn

    from assistant.hub.app import create_app

    typer.echo(
        f"Hub listening on http://{host}:{port}/ (database {hub.engine.url.render_as_string()})"
    )
    try:
        app = create_app(hub, secure_cookies=secure_cookies, trusted_proxies=trusted_proxy or [])
    except ValueError as exc:
        hub.close()
        raise SyncError(str(exc)) from exc
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            # the app itself reads X-Forwarded-For, and only from --trusted-proxy
            proxy_headers=False,
            forwarded_allow_ips="",
            h11_max_incomplete_event_size=16 * 1024,
        )
    finally:
        hub.close()


@hub_app.command("code")
def code(
    home: HomeOpt = None,
    db: DbOpt = None,
    hours: Annotated[float, typer.Option(help="How long the code works")] = 24.0,
    by: Annotated[str, typer.Option(help="Who made it (for the audit log)")] = "hub admin",
    replace: Annotated[
        str | None,
        typer.Option(
            "--replace",
            help="Device id (or its start) or name of a lost device: the code lets a device "
            "take over that id, and the old one stops working",
        ),
    ] = None,
    stick: Annotated[
        Path | None,
        typer.Option(
            help="Write the code and the hub's keys to this USB stick folder instead, for a "
            "device with no network ('assistant sync enrol --stick')"
        ),
    ] = None,
    url: Annotated[
        str, typer.Option(help="With --stick: the hub's address, if the device has network later")
    ] = "",
) -> None:
    """Make a one-time enrolment code for a new device (or to replace one)."""
    hub = _open(home, db)
    try:
        if stick is not None:
            from assistant.hub import stick as stick_io

            if replace:
                raise SyncError("--replace works over the network only, not with --stick.")
            path = stick_io.write_offer(hub, stick, by=by, hours=hours, url=url)
            typer.echo(
                f"Wrote a one-time enrolment offer to {path} (works once, for {hours:g} hours)."
            )
            typer.echo(
                f"On the device: assistant sync enrol --stick {stick}; then bring the stick back "
                "to 'assistant hub import'."
            )
            return
        made = hub.new_code(by, hours, replaces=replace)
    finally:
        hub.close()
    typer.echo(made)
    typer.echo(
        f"On the device: assistant sync enrol URL {made}   (works once, for {hours:g} hours)",
        err=True,
    )


@hub_app.command("revoke")
def revoke(
    device: Annotated[str, typer.Argument(help="Device id (or its start) or name")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Stop a device from sending (lost or stolen)."""
    hub = _open(home, db)
    try:
        row = hub.revoke(device, by="hub admin")
    finally:
        hub.close()
    typer.echo(f"Revoked device {row.id} ({row.name}).")


@hub_app.command("devices")
def devices(home: HomeOpt = None, db: DbOpt = None) -> None:
    """List enrolled devices."""
    hub = _open(home, db)
    try:
        rows = hub.devices()
    finally:
        hub.close()
    if not rows:
        typer.echo("No devices are enrolled.")
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        seen = f"last seen {row.last_seen_at:%Y-%m-%d %H:%M}" if row.last_seen_at else "never seen"
        typer.echo(f"{row.id}  {row.name}  {state}  {seen}")


@hub_app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="The stick's folder")],
    updates: Annotated[
        bool,
        typer.Option(
            help="Then write each device's updates (people, jobs, scripts) back onto the stick"
        ),
    ] = True,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Import sessions exported to a USB stick by 'assistant sync export', then write back the
    hub's updates for each device found, for the stick's way home."""
    from assistant.hub import stick

    hub = _open(home, db, unlock=True)
    try:
        report = stick.import_folder(hub, path)
        written = [
            stick.write_updates(hub, root, [device_id], by="hub import")
            for device_id, root in report.devices.items()
            if updates
        ]
    finally:
        hub.close()
    typer.echo(
        f"Imported {report.sessions_added} sessions and {report.clips_added} clips; "
        f"{report.already_here} were here already."
        + (
            f" {report.withdrawals_added} withdrawal(s) of consent applied."
            if report.withdrawals_added
            else ""
        )
        + (
            f" The own settings of {report.settings_added} person(s) taken."
            if report.settings_added
            else ""
        )
    )
    for name in report.enrolled:
        typer.echo(f"Enrolled {name} from the stick (its token goes back on the stick).")
    for w in written:
        _echo_written(w)
    for problem in report.refused:
        typer.echo(f"Not imported: {problem}", err=True)
    if report.refused:
        raise typer.Exit(1)


def _echo_written(w: UpdatesWritten) -> None:
    for name in w.devices:
        typer.echo(f"Wrote the hub's updates for {name} to the stick (people, jobs, scripts).")
    for line in w.skipped:
        typer.echo(f"Not written: {line}", err=True)


@hub_app.command("export")
def export_(
    path: Annotated[Path, typer.Argument(help="The stick's folder")],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="A device: its id, id start or name")
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every device that is not revoked")] = (
        False
    ),
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Write the hub's updates (people, jobs, published scripts) for devices onto a USB stick,
    for devices that have no network: 'assistant sync import' (or 'sync export') reads them."""
    from assistant.hub import stick

    if bool(to) == everyone:
        raise SyncError("Say which devices: --to DEVICE (more than once for several) or --all.")
    hub = _open(home, db, unlock=True)
    try:
        if everyone:
            ids = [d.id for d in hub.devices() if d.revoked_at is None]
        else:
            ids = [hub.find_device(ident).id for ident in to or []]
        written = stick.write_updates(hub, path, ids, by="hub export")
    finally:
        hub.close()
    _echo_written(written)
    if not written.devices:
        raise typer.Exit(1)


@staff_app.command("add")
def staff_add(
    name: Annotated[str, typer.Argument(help="Their name (used to log in)")],
    admin: Annotated[
        bool, typer.Option(help="Can manage the hub (the same as --role admin)")
    ] = False,
    role: Annotated[
        str | None, typer.Option(help="admin, staff (the default) or read-only")
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Add a staff member (password from $ASSISTANT_HUB_STAFF_PASSWORD or asked for)."""
    password = _secret("ASSISTANT_HUB_STAFF_PASSWORD", f"Password for {name}", confirm=True)
    hub = _open(home, db)
    try:
        hub.add_staff(name, password, admin=admin, role=role, by="hub admin")
    finally:
        hub.close()
    typer.echo(f"Added staff member {name}.")


@staff_app.command("list")
def staff_list(home: HomeOpt = None, db: DbOpt = None) -> None:
    """List staff members, their roles, and whether they are disabled."""
    hub = _open(home, db)
    try:
        rows = hub.staff_list()
    finally:
        hub.close()
    if not rows:
        typer.echo("There are no staff members.")
    for row in rows:
        state = "disabled" if row.disabled else "active"
        typer.echo(f"{row.name}  {row.role}  {state}  added {row.created_at:%Y-%m-%d}")


def _staff_change(home: Path | None, db: str | None, change: Callable[[Hub], str]) -> None:
    hub = _open(home, db)
    try:
        message = change(hub)
    finally:
        hub.close()
    typer.echo(message)


@staff_app.command("disable")
def staff_disable(
    name: Annotated[str, typer.Argument(help="Their name")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Stop a staff member logging in; every log-in of theirs ends at once."""
    _staff_change(
        home,
        db,
        lambda hub: (
            f"Disabled {hub.set_disabled(name, True, by='hub admin').name}: "
            "they were logged out everywhere."
        ),
    )


@staff_app.command("enable")
def staff_enable(
    name: Annotated[str, typer.Argument(help="Their name")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Let a disabled staff member log in again."""
    _staff_change(
        home, db, lambda hub: f"Enabled {hub.set_disabled(name, False, by='hub admin').name}."
    )


@staff_app.command("password")
def staff_password(
    name: Annotated[str, typer.Argument(help="Their name")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Set a new password (from $ASSISTANT_HUB_STAFF_PASSWORD or asked for); they log in again."""
    password = _secret("ASSISTANT_HUB_STAFF_PASSWORD", f"New password for {name}", confirm=True)

    def change(hub: Hub) -> str:
        hub.set_password(name, password, by="hub admin")
        return f"Changed the password of {name}: they were logged out everywhere."

    _staff_change(home, db, change)


@staff_app.command("role")
def staff_role(
    name: Annotated[str, typer.Argument(help="Their name")],
    role: Annotated[str, typer.Argument(help="admin, staff or read-only")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Change a staff member's role; they log in again."""
    _staff_change(
        home,
        db,
        lambda hub: f"{name} is now {hub.set_role(name, role, by='hub admin').role}.",
    )


# -- published scripts ---------------------------------------------------------------------------


@scripts_app.command("publish")
def scripts_publish(
    file: Annotated[Path, typer.Argument(help="The script (YAML)", dir_okay=False)],
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="A device (id, or its start, or name); again for more"),
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every device")] = False,
    by: Annotated[str, typer.Option("--by", help="Who is publishing it")] = "hub admin",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Check a script as `assistant scripts check` does, then publish it, signed by the hub, to
    some devices or all (they receive it at their next contact)."""
    from assistant.errors import ScriptError
    from assistant.hub.publish import publish

    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(f"Script file {file} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"Cannot read {file}: {exc}.") from exc
    hub = _open(home, db, unlock=True)
    try:
        row = publish(hub, text, to=list(to or []), everyone=everyone, by=by, label=str(file))
    finally:
        hub.close()
    typer.echo(
        f"Published {row.name} version {row.version} (sha256 {row.sha256[:12]}) to "
        f"{row.targets_text}: each device receives it at its next sync."
    )


@scripts_app.command("list")
def scripts_list(home: HomeOpt = None, db: DbOpt = None) -> None:
    """Every publication: name, version, sha256, to whom, who and when, withdrawn or not."""
    from assistant.hub.publish import publications

    hub = _open(home, db)
    try:
        rows = publications(hub)
    finally:
        hub.close()
    if not rows:
        typer.echo("No scripts are published.")
    for row in rows:
        state = (
            f"withdrawn {row.withdrawn_at:%Y-%m-%d %H:%M} by {row.withdrawn_by}"
            if row.withdrawn_at
            else "live"
        )
        typer.echo(
            f"{row.name:22} v{row.version:<3} {row.sha256[:12]}  to {row.targets_text}  "
            f"published {row.published_at:%Y-%m-%d %H:%M} by {row.published_by}  {state}"
        )


@scripts_app.command("withdraw")
def scripts_withdraw(
    name: Annotated[str, typer.Argument(help="The published script's name")],
    by: Annotated[str, typer.Option("--by", help="Who is withdrawing it")] = "hub admin",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Withdraw a published script: devices remove it at their next contact and use their
    own script of that name again."""
    from assistant.hub.publish import withdraw

    hub = _open(home, db)
    try:
        versions = withdraw(hub, name, by=by)
    finally:
        hub.close()
    typer.echo(
        f"Withdrew {name} (version {', '.join(str(v) for v in versions)}): devices remove it "
        "at their next sync."
    )


@people_app.command("list")
def people_list(home: HomeOpt = None, db: DbOpt = None) -> None:
    """Every person on the hub: id, name, the device that first named them, the devices they
    are assigned to, and any name a device uses that differs from the hub's (a conflict)."""
    from assistant.hub.people import people_rows

    hub = _open(home, db)
    try:
        rows = people_rows(hub)
    finally:
        hub.close()
    if not rows:
        typer.echo("No people on the hub yet.")
    for row in rows:
        assigned = ", ".join(row["assigned"]) or "nobody"
        typer.echo(
            f"{row['id'][:8]}  {row['name']:20} first seen on {row['first_seen']}; "
            f"assigned to {assigned}"
        )
        for device, name in row["conflicts"]:
            typer.echo(f"          conflict: {device} calls them {name!r}")
        for c in row["lost_changes"]:
            typer.echo(
                f"          conflict: {c['what']} changed on {c['device']} at {c['at']} were "
                f"not used (a later change is in force): {c['detail']}"
            )


@people_app.command("assign")
def people_assign(
    person: Annotated[str, typer.Argument(help="The person (id, or its start, or name)")],
    device: Annotated[str, typer.Argument(help="The device (id, or its start, or name)")],
    by: Annotated[str, typer.Option("--by", help="Who is assigning")] = "hub admin",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Assign a person to a device: it receives them and their jobs at its next sync."""
    from assistant.hub.people import assign

    hub = _open(home, db)
    try:
        who, where = assign(hub, person, device, by)
    finally:
        hub.close()
    typer.echo(f"Assigned {who.name} to {where.name}: it receives them at its next sync.")


@people_app.command("unassign")
def people_unassign(
    person: Annotated[str, typer.Argument(help="The person (id, or its start, or name)")],
    device: Annotated[str, typer.Argument(help="The device (id, or its start, or name)")],
    by: Annotated[str, typer.Option("--by", help="Who is unassigning")] = "hub admin",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Stop sending a person to a device (the device keeps what it has: see docs/sync.md)."""
    from assistant.hub.people import unassign

    hub = _open(home, db)
    try:
        who, where = unassign(hub, person, device, by)
    finally:
        hub.close()
    typer.echo(f"{who.name} is no longer assigned to {where.name}.")


@people_app.command("add")
def people_add(
    name: Annotated[str, typer.Argument(help="Their name, as the device should say it")],
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="A device to assign them to (id, its start, or name); repeat"),
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who is adding them")] = "hub admin",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Add a person on the hub (no device has named them yet); with --to, the devices that
    receive them at their next sync."""
    from assistant.hub.merge import add_person

    hub = _open(home, db)
    try:
        who = add_person(hub, name, by, to)
    finally:
        hub.close()
    where = f": {len(to)} device(s) receive them at their next sync" if to else ""
    typer.echo(f"Added {who.name} ({who.id[:8]}){where}.")


@people_app.command("rename")
def people_rename(
    person: Annotated[str, typer.Argument(help="The person (id, or its start, or name)")],
    name: Annotated[str, typer.Argument(help="The name every device should use")],
    by: Annotated[str, typer.Option("--by", help="Who is renaming")] = "hub admin",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Give a person the name every device uses (this decides a name conflict)."""
    from assistant.hub.merge import rename

    hub = _open(home, db)
    try:
        before, who = rename(hub, person, name, by)
    finally:
        hub.close()
    typer.echo(f"{before} is now {who.name} on the hub; devices take it at their next sync.")


@people_app.command("merge")
def people_merge(
    keep: Annotated[str, typer.Argument(help="The record to keep (id, or its start, or name)")],
    other: Annotated[str, typer.Argument(help="The record of the same person, merged into it")],
    by: Annotated[str, typer.Option("--by", help="Who is merging")] = "hub admin",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Two records of one person made one: the second's sessions, jobs, devices and consent
    follow the first, on the hub now and on the devices at their next sync."""
    from assistant.hub.merge import merge

    hub = _open(home, db)
    try:
        who, name, moved = merge(hub, keep, other, by)
    finally:
        hub.close()
    typer.echo(
        f"Merged {name} into {who.name}: {moved['sessions']} session(s), {moved['jobs']} "
        f"job(s) and {moved['links']} device link(s) follow them; devices merge theirs at "
        "their next sync."
    )
    if moved["clips_deleted"]:
        typer.echo(
            f"{moved['clips_deleted']} recording(s) deleted: a withdrawal of consent now "
            "covers both records."
        )


@people_app.command("withdraw")
def people_withdraw(
    person: Annotated[str, typer.Argument(help="The person (id, or its start, or name)")],
    by: Annotated[str, typer.Option("--by", help="Who recorded the withdrawal")] = "hub admin",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """The person withdrew consent to keep their voice (they told staff): delete every clip of
    theirs on the hub now, and on every device that holds them at its next sync. Their words
    are kept."""
    from assistant.hub.people import withdraw_for_staff

    hub = _open(home, db)
    try:
        who, deleted = withdraw_for_staff(hub, person, by)
    finally:
        hub.close()
    typer.echo(
        f"{who.name} withdrew consent; {deleted} recording(s) deleted on the hub, words kept. "
        "Devices delete theirs at their next sync."
    )


@people_app.command("words-withdraw")
def people_words_withdraw(
    person: Annotated[str, typer.Argument(help="The person (id, or its start, or name)")],
    by: Annotated[str, typer.Option("--by", help="Who recorded the withdrawal")] = "hub admin",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """The person withdrew consent to keep examples of their taught words (they told staff):
    delete them on the hub now, and on every device that holds them at its next sync."""
    from assistant.hub.people import find_person
    from assistant.hub.words import withdraw_for_staff

    hub = _open(home, db)
    try:
        who = find_person(hub, person)
        deleted = withdraw_for_staff(hub, who, by)
    finally:
        hub.close()
    typer.echo(
        f"{who.name} withdrew consent to keep examples of their words; {deleted} example(s) "
        "deleted on the hub. Devices delete theirs at their next sync."
    )


def register(app: typer.Typer) -> None:
    """Add ``assistant hub ...`` (heavy imports happen only when a hub command runs)."""
    app.add_typer(hub_app, name="hub")
