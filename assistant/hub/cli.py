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

hub_app = typer.Typer(
    help="The charity's hub: receive records, staff review.", no_args_is_help=True
)
staff_app = typer.Typer(help="Staff who can log in to the hub.", no_args_is_help=True)
hub_app.add_typer(staff_app, name="staff")

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


@hub_app.command("init")
def init(
    home: HomeOpt = None,
    db: DbOpt = None,
    admin: Annotated[str, typer.Option(help="Name of the first staff member (an admin)")] = "admin",
    kdf: Annotated[str, typer.Option(hidden=True)] = "moderate",
) -> None:
    """Make the hub's key pair (locked by a passphrase) and its first staff member."""
    from assistant.hub.keys import KEY_FILE, PASSPHRASE_ENV, create_keys

    where = _home(home)
    os.umask(0o077)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (where / KEY_FILE).exists():
        passphrase = _secret(PASSPHRASE_ENV, "New hub passphrase", confirm=True)
        create_keys(where, passphrase, kdf=kdf)
        typer.echo(f"Made the hub's key in {where / KEY_FILE} (locked by your passphrase).")
    else:
        typer.echo(f"The hub already has a key in {where / KEY_FILE}.")
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
            password = _secret(
                "ASSISTANT_HUB_ADMIN_PASSWORD", f"Password for {admin}", confirm=True
            )
            hub.add_staff(admin, password, admin=True, by="hub init")
            typer.echo(f"Added staff member {admin} (admin).")
        typer.echo(f"The hub is ready: assistant hub serve --home {where}")
    finally:
        hub.close()


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
) -> None:
    """Make a one-time enrolment code for a new device (or to replace one)."""
    hub = _open(home, db)
    try:
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
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Import sessions exported to a USB stick by 'assistant sync export'."""
    hub = _open(home, db, unlock=True)
    try:
        report = hub.import_folder(path)
    finally:
        hub.close()
    typer.echo(
        f"Imported {report.sessions_added} sessions and {report.clips_added} clips; "
        f"{report.already_here} were here already."
    )
    for problem in report.refused:
        typer.echo(f"Not imported: {problem}", err=True)
    if report.refused:
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


def register(app: typer.Typer) -> None:
    """Add ``assistant hub ...`` (heavy imports happen only when a hub command runs)."""
    app.add_typer(hub_app, name="hub")
