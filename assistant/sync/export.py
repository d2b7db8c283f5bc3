"""No network: copy the sealed bundles and a manifest to a folder (a USB stick).

The stick gets ``assistant-<device>/manifest.json``, ``sessions/<id>.bundle``,
``clips/<sha256>.bundle``, ``consent/<id>.bundle`` (withdrawals of consent) and
``words/<person id>.bundle`` (taught words that changed, with their audio),
``settings/<person id>.bundle`` (a person's own settings that changed): the same sealed
bytes a push would send, so the stick reveals nothing without the hub's private key. Exporting
again adds only what is new. Sessions and withdrawals stay waiting on the device: they are
marked sent only when the hub acknowledges them over the network (the hub answers "already
have it" for what came by stick).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from assistant.errors import SyncError
from assistant.faults import fault_point
from assistant.sync import own_settings, withdrawals, words
from assistant.sync.device import Enrolment, write_atomic
from assistant.sync.outbox import Outbox
from assistant.sync.source import SessionSource

if TYPE_CHECKING:
    from assistant.records.store import RecordStore

MANIFEST = "manifest.json"


@dataclass
class ExportReport:
    folder: Path
    sessions: int
    clips: int
    problems: list[str]
    withdrawals: int = 0
    words: int = 0  # people whose taught words were written


def export(source: SessionSource, data_dir: Path, target: Path) -> ExportReport:
    """Write every session not yet sent (and its clips) under *target*."""
    if not target.is_dir():
        raise SyncError(f"{target} is not a folder: plug in the stick and give its folder.")
    enrolment = Enrolment.load(data_dir)
    folder = target / f"assistant-{enrolment.device_id}"
    manifest_path = folder / MANIFEST
    entries: dict[str, dict[str, object]] = {}
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
            entries = {str(e["name"]): e for e in old.get("files", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            entries = {}
    sessions = clips = consents = taught = 0
    try:
        with Outbox(data_dir) as outbox:
            prepared = outbox.prepare(source, enrolment)
            for w in withdrawals.unsent(source):  # first: the hub then waits for no clip of theirs
                name = f"consent/{w['id']}.bundle"
                if name not in entries or not (folder / name).exists():
                    _write(
                        folder, entries, name, "consent", w["id"], withdrawals.seal(w, enrolment)
                    )
                    consents += 1
            if hasattr(source, "words"):  # taught words, with all their audio (no 424 here)
                for person_id, snap in words.changed(cast("RecordStore", source)):
                    every = {e["sha256"] for e in snap["examples"]}
                    sealed = words.seal(cast("RecordStore", source), snap, every, enrolment)
                    _write(folder, entries, f"words/{person_id}.bundle", "words", person_id, sealed)
                    taught += 1
            if hasattr(source, "words"):  # a person's own settings changed here
                for doc in own_settings.changed(cast("RecordStore", source)):
                    ident = doc["person_id"]
                    sealed = own_settings.seal(doc, enrolment)
                    _write(folder, entries, f"settings/{ident}.bundle", "settings", ident, sealed)
            gone = withdrawals.withdrawn_shas(source)
            for item in outbox.pending():
                for sha in item.clips:
                    if sha in gone:  # deleted for consent: never copied
                        continue
                    src = outbox.ensure_clip_file(sha, source, enrolment)
                    if _copy(src, folder, f"clips/{sha}.bundle", "clip", sha, entries):
                        clips += 1
                if _copy(
                    outbox.session_file(item.session_id),
                    folder,
                    f"sessions/{item.session_id}.bundle",
                    "session",
                    item.session_id,
                    entries,
                ):
                    sessions += 1
                outbox.mark_exported(item.session_id)
                _write_manifest(manifest_path, enrolment, entries)
                fault_point("after_export_file")
            _write_manifest(manifest_path, enrolment, entries)
    except OSError as exc:
        raise SyncError(f"Cannot write to {target}: {exc.strerror or exc}.") from exc
    return ExportReport(folder, sessions, clips, prepared.problems, consents, taught)


def _write(
    folder: Path,
    entries: dict[str, dict[str, object]],
    name: str,
    kind: str,
    ident: str,
    sealed: bytes,
) -> None:
    """Write one sealed bundle onto the stick, atomically, and its manifest entry."""
    write_atomic(folder / name, sealed)
    entries[name] = {
        "name": name,
        "kind": kind,
        "id": ident,
        "sha256": hashlib.sha256(sealed).hexdigest(),
        "size": len(sealed),
    }


def _copy(
    src: Path, folder: Path, name: str, kind: str, ident: str, entries: dict[str, dict[str, object]]
) -> bool:
    data = src.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    dest = folder / name
    if name in entries and dest.exists() and entries[name].get("sha256") == digest:
        return False
    write_atomic(dest, data)
    entries[name] = {"name": name, "kind": kind, "id": ident, "sha256": digest, "size": len(data)}
    return True


def _write_manifest(
    path: Path, enrolment: Enrolment, entries: dict[str, dict[str, object]]
) -> None:
    manifest = {
        "format": "assistant-export/1",
        "device_id": enrolment.device_id,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # withdrawals, then clips, then sessions: an importer going in order meets them so
        "files": sorted(
            entries.values(),
            key=lambda e: (
                {"consent": 0, "words": 1, "clip": 2, "settings": 4}.get(str(e["kind"]), 3),
                str(e["name"]),
            ),
        ),
    }
    write_atomic(path, json.dumps(manifest, indent=1).encode())
