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
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import BundleError, SyncError
from assistant.hub import db
from assistant.hub.errors import MissingClips
from assistant.hub.service import Hub
from assistant.sync.device import write_atomic
from assistant.sync.safe_files import file_kind as _kind
from assistant.sync.safe_files import read_regular

SESSION_NAME_RE = re.compile(
    r"sessions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.bundle"
)  # used with fullmatch only
CLIP_NAME_RE = re.compile(r"clips/[0-9a-f]{64}\.bundle")
CONSENT_NAME_RE = re.compile(
    r"consent/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.bundle"
)
WORDS_NAME_RE = re.compile(
    r"words/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.bundle"
)
SETTINGS_NAME_RE = re.compile(
    r"settings/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.bundle"
)
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


@dataclass
class ImportReport:
    sessions_added: int = 0
    clips_added: int = 0
    withdrawals_added: int = 0
    words_added: int = 0  # people whose taught words changed
    settings_added: int = 0  # people whose own settings changed (outside sessions)
    already_here: int = 0
    refused: list[str] = field(default_factory=list)
    enrolled: list[str] = field(default_factory=list)
    """Names of the devices enrolled from requests left on the stick."""
    devices: dict[str, Path] = field(default_factory=dict)
    """Device id -> the stick folder holding its ``assistant-<id>`` folder, for each export
    found: where the hub's updates for that device go back (:func:`write_updates`)."""


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
    enrol_from_stick(hub, path, report)  # first: their sessions on the stick then open
    if not manifests and not report.enrolled:
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
    device_id = doc.get("device_id") if isinstance(doc, dict) else None
    if isinstance(device_id, str) and folder.name == f"assistant-{device_id}":
        report.devices[device_id] = folder.parent
    entries = [e for e in files if isinstance(e, dict)]
    # withdrawals first (the hub then waits for no clip they cover), then clips, sessions,
    # and a person's own settings last (a session may be what makes the person known)
    order = {"consent/": 0, "words/": 1, "clips/": 2, "settings/": 4}
    entries.sort(key=lambda e: order.get(str(e.get("name", "")).split("/")[0] + "/", 3))
    for entry in entries:
        name = str(entry.get("name", ""))
        names = (CLIP_NAME_RE, SESSION_NAME_RE, CONSENT_NAME_RE, WORDS_NAME_RE, SETTINGS_NAME_RE)
        if not any(r.fullmatch(name) for r in names):
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
            elif name.startswith("words/"):
                from assistant.hub.words import store_words

                added = store_words(hub, ident, data, device_id=None)
                report.words_added += int(added)
            elif name.startswith("settings/"):
                from assistant.hub.own_settings import store_settings

                known, added = store_settings(hub, ident, data, device_id=None)
                report.settings_added += int(added)
                if not known:  # not on the hub yet: their first session carries them
                    continue
            else:
                added = hub.put_session(ident, data, device_id=None, via="import")
                report.sessions_added += int(added)
            if not added:
                report.already_here += 1
        except MissingClips as exc:
            report.refused.append(f"{name}: {len(exc.missing)} of its clips are missing.")
        except (BundleError, SyncError) as exc:
            report.refused.append(f"{name}: {exc}")


@dataclass
class UpdatesWritten:
    devices: list[str] = field(default_factory=list)
    """Names of the devices whose updates were written."""
    skipped: list[str] = field(default_factory=list)
    """One line per device given that gets nothing (revoked, not enrolled)."""


def write_updates(hub: Hub, target: Path, device_ids: list[str], by: str) -> UpdatesWritten:
    """Write, for each device, the hub's updates onto the stick at *target*:
    ``assistant-<device id>/from-hub/scripts.update`` (every publication it should hold) and
    ``people.update`` (its people and their jobs): the same sealed, signed updates the network
    sends (:mod:`assistant.sync.stick` reads them on the device). A revoked device gets
    nothing. Needs the hub's signing key (an unlocked hub)."""
    from assistant.hub.people import updates_for
    from assistant.hub.publish import update_for
    from assistant.hub.words import example_for_device, examples_of_device
    from assistant.sync.stick import FILES, FROM_HUB, WORDS_FOLDER, device_folder

    if not target.is_dir():
        raise SyncError(f"{target} is not a folder: plug in the stick and give its folder.")
    out = UpdatesWritten()
    for device_id in dict.fromkeys(device_ids):
        with hub.tx() as s:
            device = s.get(db.Device, device_id)
            name = device.name if device is not None else device_id[:8]
            revoked = device is not None and device.revoked_at is not None
        if device is None:
            out.skipped.append(f"{device_id[:8]}: not enrolled on this hub, so nothing for it.")
            continue
        if revoked:
            out.skipped.append(f"{name}: revoked, so it gets nothing from the hub.")
            continue
        folder = device_folder(target, device_id)
        if _kind(folder) not in ("folder", "missing") or _kind(folder / FROM_HUB) not in (
            "folder",
            "missing",
        ):
            out.skipped.append(f"{name}: its folder on the stick is a link, so nothing written.")
            continue
        try:
            write_atomic(folder / FROM_HUB / FILES["scripts"], update_for(hub, device_id, []))
            write_atomic(folder / FROM_HUB / FILES["people"], updates_for(hub, device_id))
            taught = folder / FROM_HUB / WORDS_FOLDER
            for sha in examples_of_device(hub, device_id):  # the stick cannot ask: all of them
                if _kind(taught) not in ("folder", "missing"):
                    out.skipped.append(f"{name}: its words folder on the stick is a link.")
                    break
                if _kind(taught / f"{sha}.update") == "missing":
                    write_atomic(taught / f"{sha}.update", example_for_device(hub, device_id, sha))
        except OSError as exc:
            raise SyncError(f"Cannot write to {target}: {exc.strerror or exc}.") from exc
        out.devices.append(name)
    if out.devices:
        hub.audit(by, "wrote updates to a stick", str(target)[:200], ", ".join(out.devices))
    return out


# -- enrolment by stick ---------------------------------------------------------------------------


def write_offer(hub: Hub, target: Path, *, by: str, hours: float, url: str = "") -> Path:
    """A one-time enrolment offer on the stick for one new device (``assistant sync enrol
    --stick``): the code, the hub's public keys and, if given, the address devices use on the
    network. It is as secret as a code on paper: the stick goes to the device and back."""
    from datetime import UTC, datetime, timedelta

    from assistant.sync.device import b64, write_private
    from assistant.sync.stick import ENROL_FOLDER, OFFER

    if not target.is_dir():
        raise SyncError(f"{target} is not a folder: plug in the stick and give its folder.")
    verify = hub.verify_key
    if verify is None:
        raise SyncError("The hub has no signing key yet: run 'assistant hub init' again.")
    if _kind(target / ENROL_FOLDER) not in ("folder", "missing"):
        raise SyncError(f"{target / ENROL_FOLDER} is a link, so nothing was written.")
    code = hub.new_code(by, hours)
    now = datetime.now(UTC)
    offer = {
        "format": "assistant-enrol/1",
        "code": code,
        "hub_url": url.rstrip("/"),
        "hub_public_key": b64(hub.public_key),
        "hub_verify_key": verify.hex(),
        "made_at": now.isoformat(timespec="seconds"),
        "expires_at": (now + timedelta(hours=hours)).isoformat(timespec="seconds"),
    }
    path = target / ENROL_FOLDER / OFFER
    try:
        write_private(path, json.dumps(offer, indent=1).encode())
    except OSError as exc:
        raise SyncError(f"Cannot write to {target}: {exc.strerror or exc}.") from exc
    return path


def enrol_from_stick(hub: Hub, path: Path, report: ImportReport) -> None:
    """Enrol each device that left a request on the stick (its code, id, name and key), and
    write back, sealed to it and signed, the token it needs for the network. A request for a
    device already enrolled with that key (the stick imported twice) changes nothing."""
    from assistant.sync.device import unb64
    from assistant.sync.downstream import seal_for_device
    from assistant.sync.stick import (
        ENROL_FOLDER,
        ENROLMENT_UPDATE,
        FROM_HUB,
        MAX_ENROL_FILE,
        REQUESTS,
        device_folder,
    )

    folder = path / ENROL_FOLDER / REQUESTS
    if _kind(path / ENROL_FOLDER) != "folder" or _kind(folder) != "folder":
        return
    for file in sorted(folder.glob("*.json")):
        try:
            request = json.loads(read_regular(file, MAX_ENROL_FILE))
            device_id, key = str(request["device_id"]), str(request["verify_key"])
            if file.name != f"{device_id}.json":
                raise SyncError("its name does not match the device it is for")
        except (SyncError, ValueError, KeyError, TypeError, AttributeError) as exc:
            report.refused.append(f"{file.name}: not an enrolment request this hub reads ({exc}).")
            continue
        with hub.tx() as s:
            held = s.get(db.Device, device_id)
            if held is not None and held.verify_key == key:
                continue  # enrolled from this stick before
        try:
            token, _public = hub.enrol(
                str(request.get("code") or ""),
                device_id,
                str(request.get("name") or "device"),
                key,
                address="stick",
            )
            sealed = seal_for_device(
                hub.signing_key(),
                unb64(key),
                "enrolment",
                json.dumps({"device_id": device_id, "token": token}).encode(),
                device_id=device_id,
            )
            write_atomic(device_folder(path, device_id) / FROM_HUB / ENROLMENT_UPDATE, sealed)
        except (SyncError, BundleError) as exc:
            report.refused.append(f"{file.name}: the device was not enrolled: {exc}")
            continue
        except OSError as exc:
            raise SyncError(f"Cannot write to {path}: {exc.strerror or exc}.") from exc
        report.enrolled.append(str(request.get("name") or device_id[:8]))
        report.devices.setdefault(device_id, path)
