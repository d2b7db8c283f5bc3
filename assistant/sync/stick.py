"""No network, the other way: the hub's updates for this device, brought on a USB stick.

``assistant hub import`` (after taking a device's sessions) and ``assistant hub export`` write,
for each device, ``assistant-<device id>/from-hub/scripts.update`` and ``people.update``: the
same updates the device would fetch over the network (``GET /v1/scripts``, ``GET /v1/updates``),
encrypted to that device and signed by the hub (:mod:`assistant.sync.downstream`). The stick
reveals nothing, and an altered, unsigned or misdirected file changes nothing here.

:func:`receive` reads them (regular files only, bounded, as the hub reads a stick) and applies
each exactly as a network pull does: published scripts checked again and kept, people and jobs
in one transaction with their cursor. A stick can be older than what the device already has
(it went round by the hub days ago, and the network came back meanwhile): an update made
before the one last applied is not used, and the device says so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import RecordError, SyncError
from assistant.sync.device import Enrolment
from assistant.sync.downstream import UpdateRefused, open_from_hub, read_header
from assistant.sync.safe_files import file_kind, read_regular
from assistant.sync.scripts import (
    ScriptsReport,
    apply_scripts,
    remember_scripts_update,
    scripts_made_at,
)
from assistant.sync.updates import UpdatesReport, apply_update, last_pull

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.records.store import RecordStore

log = logging.getLogger(__name__)

FROM_HUB = "from-hub"
FILES = {"scripts": "scripts.update", "people": "people.update"}
MAX_UPDATE_BYTES = 64 * 1024 * 1024


@dataclass
class StickReceived:
    found: bool = False
    """Whether the stick holds a folder from the hub for this device."""
    scripts: ScriptsReport = field(default_factory=ScriptsReport)
    people: UpdatesReport | None = None
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = self.scripts.lines()
        out += self.people.lines() if self.people else []
        return out

    def all_problems(self) -> list[str]:
        return self.problems + self.scripts.problems + (self.people.problems if self.people else [])


def device_folder(target: Path, device_id: str) -> Path:
    return target / f"assistant-{device_id}"


def _older(made_at: str, last: str) -> bool:
    """ISO times from the same hub clock (UTC, seconds): strictly older is refused."""
    return bool(made_at and last and made_at < last)


def receive(settings: Settings, store: RecordStore, target: Path) -> StickReceived:
    """Apply the hub's updates for this device found under *target* (the stick's folder)."""
    from assistant.dialogue.published import PublishedScripts

    if not target.is_dir():
        raise SyncError(f"{target} is not a folder: plug in the stick and give its folder.")
    enrolment = Enrolment.load(settings.data_dir)
    report = StickReceived()
    folder = device_folder(target, enrolment.device_id) / FROM_HUB
    kind = file_kind(folder)
    if kind == "missing":
        return report
    if kind != "folder":
        report.problems.append(f"{folder}: is not a plain folder (a link?), so it was not read.")
        return report
    report.found = True
    verify = enrolment.hub_verify
    if verify is None:
        report.problems.append(
            "This device does not know its hub's signing key yet, so it cannot trust what the "
            "stick brings: run 'assistant sync' once over the network, or enrol again."
        )
        return report
    for what, name in FILES.items():
        path = folder / name
        if file_kind(path) == "missing":
            continue
        try:
            blob = read_regular(path, MAX_UPDATE_BYTES, reader="this device")
            got, payload = open_from_hub(enrolment.signing_seed, verify, blob)
            if got != what:
                raise UpdateRefused(f"it holds {got!r}, not {what!r}")
            header = read_header(blob)
            body: dict[str, Any] = json.loads(payload)
        except (SyncError, ValueError, TypeError) as exc:
            report.problems.append(f"{path}: {exc} Nothing from it was used.")
            log.warning("an update on the stick was refused: %s", exc)
            continue
        made_at = str(header.get("created_at") or "")
        if what == "scripts":
            last = scripts_made_at(settings)
            if _older(made_at, last):
                report.problems.append(_stale(path, made_at, last))
                continue
            published = PublishedScripts(
                settings.published_scripts_dir, verify, enrolment.device_id
            )
            try:
                apply_scripts(published, body, report.scripts)
            except (KeyError, TypeError, ValueError) as exc:
                report.problems.append(f"{path}: the scripts in it are not readable ({exc}).")
                continue
            remember_scripts_update(settings, made_at, "stick")
        else:
            before = last_pull(store) or {}
            last = str(before.get("made_at") or "")
            if _older(made_at, last):
                report.problems.append(_stale(path, made_at, last))
                continue
            try:
                report.people = apply_update(
                    store, body, str(header.get("cursor") or ""), made_at=made_at, via="stick"
                )
            except (KeyError, TypeError, ValueError, RecordError) as exc:
                report.problems.append(f"{path}: the people and jobs in it were not used ({exc}).")
    return report


def _stale(path: Path, made_at: str, last: str) -> str:
    return (
        f"{path}: the hub made it at {made_at}, before what this device already has (made at "
        f"{last}), so it was not used."
    )
