"""``assistant scripts list|show|copy|check``: find the session scripts, copy one, check it.

Three kinds of script, each in its own folder:

- **built-in** scripts ship inside the package (``assistant/dialogue/scripts/``);
- **staff's** scripts are in the scripts folder (``<data folder>/scripts``, or
  ``dialogue.scripts_dir`` in the config): a staff script with a built-in's name is used
  instead of it;
- **published** scripts are the ones the charity's hub sent to this device
  (``<data folder>/published/scripts``).

``scripts copy NAME [NEW]`` puts a copy in the staff folder, ready to edit; ``scripts check``
checks the file (plain advice with the line for a YAML mistake) and then its wording, with the
same rules as the built-in scripts' tests (:mod:`assistant.dialogue.wording`).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from assistant.config import Settings, settings_of
from assistant.dialogue import wording
from assistant.dialogue.schema import Script
from assistant.dialogue.script import builtin_dir, find_script, validate_script_file
from assistant.errors import ScriptError

scripts_app = typer.Typer(
    help="The session scripts: list, show, copy to edit, check.", no_args_is_help=True
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_NAME_LINE = re.compile(r"^name:[^\n]*$", re.MULTILINE)


@dataclass(frozen=True)
class ScriptFile:
    """One script file and where it comes from: "built-in", "staff's" or "published"."""

    name: str
    path: Path
    origin: str


def _folders(settings: Settings) -> list[tuple[str, Path]]:
    """The folders in the order a name is looked up (the first found is used)."""
    return [
        ("staff's", settings.scripts_dir),
        ("published", settings.published_scripts_dir),
        ("built-in", builtin_dir()),
    ]


def catalogue(settings: Settings) -> list[ScriptFile]:
    """Every script file, by folder (staff's, published, built-in), each sorted by name."""
    found: list[ScriptFile] = []
    for origin, folder in _folders(settings):
        if folder.is_dir():
            # published scripts are signed JSON documents (assistant/dialogue/published.py); a
            # bare YAML file in that folder is listed too, as never used (it is not signed)
            kinds = (".json", ".yaml", ".yml") if origin == "published" else (".yaml", ".yml")
            files = sorted(p for p in folder.iterdir() if p.suffix in kinds)
            found += [ScriptFile(p.stem, p, origin) for p in files if p.is_file()]
    return found


def _load(settings: Settings, entry: ScriptFile) -> Script:
    """The script in *entry*; a published one only when its hub signature checks out."""
    if entry.origin == "published":
        from assistant.dialogue.published import PublicationRefused, PublishedScripts

        if entry.path.suffix != ".json":
            raise PublicationRefused(
                f"{entry.path}: a script in the published folder must come signed from the "
                "hub, so this file is never run"
            )
        published = PublishedScripts.of(settings)
        return published.script(published.check(entry.name))
    return validate_script_file(entry.path)


def _lookup(settings: Settings, name: str) -> ScriptFile:
    """The script a name means (staff's first, then published, then built-in), or a file."""
    for entry in catalogue(settings):
        if entry.name == name:
            try:
                _load(settings, entry)
            except ScriptError:
                if entry.origin == "published":  # never used: the one it would replace is
                    continue
            return entry
    path = find_script(name, [settings.scripts_dir])
    return ScriptFile(path.stem, path, "a file")


@scripts_app.command("list")
def scripts_list(ctx: typer.Context) -> None:
    """List every script: its title, whether built-in, staff's or published, and its file."""
    settings = settings_of(ctx)
    entries = catalogue(settings)
    used: dict[str, ScriptFile] = {}
    titles: dict[Path, str] = {}
    for entry in entries:
        try:
            loaded = _load(settings, entry)
            titles[entry.path] = loaded.title
            if loaded.publication is not None:
                titles[entry.path] += f" (published version {loaded.publication})"
        except ScriptError as exc:  # a broken script is listed with its problem
            titles[entry.path] = f"(cannot be used: {exc})"
            if entry.origin == "published":
                continue  # a damaged publication is never used: the next one in line is
        used.setdefault(entry.name, entry)
    for entry in entries:
        used.setdefault(entry.name, entry)
    for entry in sorted(entries, key=lambda e: (e.name, e.origin != used[e.name].origin)):
        title = titles[entry.path]
        winner = used[entry.name]
        note = "" if winner is entry else f"; not used: the {winner.origin} copy is used instead"
        typer.echo(f"{entry.name:22} {title}")
        typer.echo(f"{'':22} {entry.origin}{note}: {entry.path}")
    typer.echo("")
    typer.echo(f"Staff's scripts folder: {settings.scripts_dir}")
    typer.echo("To change a script: assistant scripts copy NAME, then edit it and check it.")


@scripts_app.command("show")
def scripts_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Script name (or file)")],
) -> None:
    """Print a script's file, with where it is."""
    settings = settings_of(ctx)
    entry = _lookup(settings, name)
    if entry.origin == "published":
        loaded = _load(settings, entry)
        typer.echo(f"# {entry.name} (published version {loaded.publication}): {entry.path}")
        from assistant.dialogue.published import PublishedScripts

        text = PublishedScripts.of(settings).check(entry.name).yaml
        typer.echo(text, nl=not text.endswith("\n"))
        return
    try:
        text = entry.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"Cannot read {entry.path}: {exc}.") from exc
    typer.echo(f"# {entry.name} ({entry.origin}): {entry.path}")
    typer.echo(text, nl=not text.endswith("\n"))


@scripts_app.command("copy")
def scripts_copy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The script to copy (name or file)")],
    new: Annotated[
        str | None, typer.Argument(help="Name of the copy; none = the same name")
    ] = None,
) -> None:
    """Copy a script into the staff's scripts folder, ready to edit."""
    settings = settings_of(ctx)
    source = _lookup(settings, name)
    new_name = (new or source.name).strip()
    if not _NAME.match(new_name):
        raise ScriptError(
            f'"{new_name}" cannot be a script name: use lower-case letters, digits and - '
            "(like my-garden)."
        )
    folder = settings.scripts_dir
    target = folder / f"{new_name}.yaml"
    if target.exists():
        raise ScriptError(
            f"There is already a script {target}: give the copy another name "
            f"(assistant scripts copy {name} NEW) or edit that one."
        )
    try:
        if source.origin == "published":
            from assistant.dialogue.published import PublishedScripts

            text = PublishedScripts.of(settings).check(source.name).yaml
        else:
            text = source.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"Cannot read {source.path}: {exc}.") from exc
    text = _NAME_LINE.sub(f"name: {new_name}", text, count=1)
    _write_new(target, text)
    typer.echo(f"Copied {source.name} ({source.origin}) to {target}.")
    if new_name == source.name and source.origin == "built-in":
        typer.echo(f"The copy is used instead of the built-in {source.name}.")
    typer.echo(f"Change it with a text editor, then check it: assistant scripts check {new_name}")


def _write_new(target: Path, text: str) -> None:
    """Write a new file through a temporary one, never over an existing file."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ScriptError(f"Cannot write in {target.parent}: {exc.strerror or exc}.") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.link(tmp, target)  # fails if the file appeared meanwhile: nothing is overwritten
    except FileExistsError as exc:
        raise ScriptError(f"There is already a script {target}.") from exc
    except OSError as exc:
        raise ScriptError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@scripts_app.command("check")
def scripts_check(
    ctx: typer.Context,
    script: Annotated[str, typer.Argument(help="Script name or file (YAML)")],
) -> None:
    """Check a script: the file first, then the wording rules; prints "ok" or each problem."""
    settings = settings_of(ctx)
    entry = _lookup(settings, script)
    loaded = _load(settings, entry)
    problems = wording.check_script(loaded)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        many = len(problems) != 1
        typer.echo(
            f"{len(problems)} thing{'s' if many else ''} to change in the wording "
            "(the rules are in docs/scripts.md, under Writing the words).",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo("ok")


def register(app: typer.Typer) -> None:
    """Add ``assistant scripts ...``."""
    app.add_typer(scripts_app, name="scripts")
