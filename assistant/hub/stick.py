"""``assistant hub import``: what a USB stick brings to the hub, read with care.

A stick is hostile until proven otherwise: only regular files (no links, FIFOs or devices) of
bounded size are read, every file's sha256 must match its manifest, and only bundle names this
hub accepts are opened. Withdrawals of consent are taken first (so the hub waits for no clip
they cover), then clips, then sessions; each through the same checks as the network API.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import BundleError, SyncError
from assistant.hub.errors import MissingClips
from assistant.hub.service import Hub

SESSION_NAME_RE = re.compile(
    r"sessions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.bundle"
)  # used with fullmatch only
CLIP_NAME_RE = re.compile(r"clips/[0-9a-f]{64}\.bundle")
CONSENT_NAME_RE = re.compile(
    r"consent/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.bundle"
)
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


@dataclass
class ImportReport:
    sessions_added: int = 0
    clips_added: int = 0
    withdrawals_added: int = 0
    already_here: int = 0
    refused: list[str] = field(default_factory=list)


def import_folder(hub: Hub, path: Path, by: str = "hub import") -> ImportReport:
    """Import every export found in *path* (the stick's folder, or one device's folder)."""
    report = ImportReport()
    if not path.is_dir():
        raise SyncError(f"{path} is not a folder.")
    manifests = [path / "manifest.json"] if os.path.lexists(path / "manifest.json") else []
    manifests += sorted(
        p / "manifest.json"
        for p in path.glob("assistant-*")
        if _kind(p) == "folder" and os.path.lexists(p / "manifest.json")
    )
    manifests += sorted(p for p in path.glob("assistant-*") if _kind(p) == "link")
    if not manifests:
        raise SyncError(f"No assistant export was found in {path}.")
    for manifest in manifests:
        _import_one(hub, manifest, report)
    hub.audit(
        by,
        "imported",
        str(path)[:200],
        f"{report.sessions_added} sessions, {report.clips_added} clips, "
        f"{len(report.refused)} refused",
    )
    return report


def _import_one(hub: Hub, manifest: Path, report: ImportReport) -> None:
    folder = manifest.parent.resolve()
    try:
        raw = read_regular(manifest, MAX_MANIFEST_BYTES)
    except SyncError as exc:
        report.refused.append(str(exc))
        return
    try:
        doc = json.loads(raw)
        files = list(doc["files"])
    except (ValueError, KeyError, TypeError, RecursionError):
        report.refused.append(f"{manifest}: the manifest is not readable.")
        return
    entries = [e for e in files if isinstance(e, dict)]
    # withdrawals first (the hub then waits for no clip they cover), then clips, sessions
    order = {"consent/": 0, "clips/": 1}
    entries.sort(key=lambda e: order.get(str(e.get("name", "")).split("/")[0] + "/", 2))
    for entry in entries:
        name = str(entry.get("name", ""))
        if not any(r.fullmatch(name) for r in (CLIP_NAME_RE, SESSION_NAME_RE, CONSENT_NAME_RE)):
            report.refused.append(f"{name[:80]!r}: not a bundle name this hub accepts.")
            continue
        file = folder / name
        if _kind(file.parent) != "folder":
            report.refused.append(f"{name}: its folder on the stick is a link, so not read.")
            continue
        if not os.path.lexists(file):
            report.refused.append(f"{name}: missing from the stick.")
            continue
        try:
            data = read_regular(file, hub.max_upload_bytes)
        except SyncError as exc:
            report.refused.append(str(exc))
            continue
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            report.refused.append(
                f"{name}: it was changed or damaged after export, so it was not imported."
            )
            continue
        ident = name.split("/", 1)[1].removesuffix(".bundle")
        try:
            if name.startswith("clips/"):
                added = hub.put_blob(ident, data, device_id=None)
                report.clips_added += int(added)
            elif name.startswith("consent/"):
                added = hub.put_consent(ident, data, device_id=None)
                report.withdrawals_added += int(added)
            else:
                added = hub.put_session(ident, data, device_id=None, via="import")
                report.sessions_added += int(added)
            if not added:
                report.already_here += 1
        except MissingClips as exc:
            report.refused.append(f"{name}: {len(exc.missing)} of its clips are missing.")
        except (BundleError, SyncError) as exc:
            report.refused.append(f"{name}: {exc}")


def _kind(path: Path) -> str:
    try:
        st = os.lstat(path)
    except OSError:
        return "missing"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    return "file" if stat.S_ISREG(st.st_mode) else "special"


def read_regular(path: Path, cap: int) -> bytes:
    """The bytes of *path* if it is a regular file (not a link, FIFO or device) of at most *cap*
    bytes; else one plain :class:`SyncError` sentence. Checked with lstat, then again on the
    opened file, so nothing is read from anything else."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise SyncError(f"{path}: cannot be read ({exc.strerror}).") from exc
    if stat.S_ISLNK(st.st_mode):
        raise SyncError(f"{path}: is a link, not a file, so it was not read.")
    if not stat.S_ISREG(st.st_mode):
        raise SyncError(f"{path}: is not a regular file (a device or pipe?), so it was not read.")
    if st.st_size > cap:
        raise SyncError(f"{path}: is larger than this hub accepts ({cap} bytes).")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise SyncError(f"{path}: cannot be read ({exc.strerror}).") from exc
    try:
        st2 = os.fstat(fd)
        if not stat.S_ISREG(st2.st_mode) or (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino):
            raise SyncError(f"{path}: changed while it was being read, so it was not read.")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(cap + 1)
    finally:
        os.close(fd)
    if len(data) > cap:
        raise SyncError(f"{path}: is larger than this hub accepts ({cap} bytes).")
    return data
