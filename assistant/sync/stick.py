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
WORDS_FOLDER = "words"  # from-hub/words/<sha256>.update: one example of a taught word each
MAX_UPDATE_BYTES = 64 * 1024 * 1024


@dataclass
class StickReceived:
    found: bool = False
    """Whether the stick holds a folder from the hub for this device."""
    scripts: ScriptsReport = field(default_factory=ScriptsReport)
    people: UpdatesReport | None = None
    problems: list[str] = field(default_factory=list)
    enrolled: bool = False
    """The hub enrolled this device from the stick, and sent its token for the network."""

    def lines(self) -> list[str]:
        out = (
            ["The hub has enrolled this device: it can also sync over the network now."]
            if self.enrolled
            else []
        )
        out += self.scripts.lines()
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
    _take_token(settings.data_dir, enrolment, folder, report)
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
            _take_examples(store, folder / WORDS_FOLDER, body, enrolment, verify, report)
            try:
                report.people = apply_update(
                    store, body, str(header.get("cursor") or ""), made_at=made_at, via="stick"
                )
            except (KeyError, TypeError, ValueError, RecordError) as exc:
                report.problems.append(f"{path}: the people and jobs in it were not used ({exc}).")
    return report


def _take_examples(
    store: RecordStore,
    folder: Path,
    body: dict[str, Any],
    enrolment: Enrolment,
    verify: bytes,
    report: StickReceived,
) -> None:
    """The examples of taught words the update names and this device lacks, from the stick
    (each sealed to this device, signed by the hub, checked against its name)."""
    from assistant.sync.words import EXAMPLE_KIND, keep_example, missing_examples

    for sha in missing_examples(store, body):
        path = folder / f"{sha}.update"
        try:
            if file_kind(folder) != "folder":
                raise SyncError("the folder of taught words is missing or a link.")
            blob = read_regular(path, MAX_UPDATE_BYTES, reader="this device")
            kind, data = open_from_hub(enrolment.signing_seed, verify, blob)
            if kind != EXAMPLE_KIND:
                raise UpdateRefused(f"it holds {kind!r}, not an example")
            keep_example(store, sha, data)
        except (SyncError, RecordError, ValueError) as exc:
            report.problems.append(f"{path}: {exc} That person's taught words wait.")


def _stale(path: Path, made_at: str, last: str) -> str:
    return (
        f"{path}: the hub made it at {made_at}, before what this device already has (made at "
        f"{last}), so it was not used."
    )


# -- enrolment by stick ---------------------------------------------------------------------------

ENROL_FOLDER = "assistant-enrol"
OFFER = "offer.json"
REQUESTS = "requests"
ENROLMENT_UPDATE = "enrolment.update"
MAX_ENROL_FILE = 64 * 1024


def enrol_by_stick(data_dir: Path, target: Path, *, device_id: str, name: str) -> Enrolment:
    """Enrol with no network: take the hub's offer from the stick (``assistant hub code
    --stick``), make this device's keys, leave its request on the stick and use the offer up.
    The device can seal sessions for the hub at once; the hub enrols it when the stick is
    imported, and writes back the token the device needs for the network (taken in by
    :func:`receive`)."""
    import base64
    from datetime import UTC, datetime

    import nacl.signing

    from assistant.errors import EnrolmentError
    from assistant.sync.device import b64, write_private

    offer_path = target / ENROL_FOLDER / OFFER
    if file_kind(target / ENROL_FOLDER) != "folder" or file_kind(offer_path) != "file":
        raise EnrolmentError(
            f"There is no enrolment offer on the stick ({offer_path}): on the hub, run "
            "'assistant hub code --stick PATH' first."
        )
    try:
        offer = json.loads(read_regular(offer_path, MAX_ENROL_FILE, reader="this device"))
        if offer.get("format") != "assistant-enrol/1":
            raise ValueError("not an enrolment offer")
        hub_key = base64.b64decode(str(offer["hub_public_key"]), validate=True)
        hub_verify = bytes.fromhex(str(offer["hub_verify_key"]))
        code = str(offer["code"])
        if len(hub_key) != 32 or len(hub_verify) != 32 or not code:
            raise ValueError("bad key length")
    except (SyncError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EnrolmentError(f"The enrolment offer {offer_path} is damaged ({exc}).") from exc
    signing = nacl.signing.SigningKey.generate()
    request = {
        "format": "assistant-enrol-request/1",
        "code": code,
        "device_id": device_id,
        "name": name,
        "verify_key": b64(bytes(signing.verify_key)),
    }
    enrolment = Enrolment(
        hub_url=str(offer.get("hub_url") or ""),
        device_id=device_id,
        token="",  # the hub sends it back on the stick, once it has enrolled this device
        hub_public_key=b64(hub_key),
        signing_key=b64(bytes(signing)),
        enrolled_at=datetime.now(UTC).isoformat(timespec="seconds"),
        hub_verify_key=hub_verify.hex(),
    )
    try:
        write_private(
            target / ENROL_FOLDER / REQUESTS / f"{device_id}.json", json.dumps(request).encode()
        )
    except OSError as exc:
        raise EnrolmentError(f"Cannot write to {target}: {exc.strerror or exc}.") from exc
    enrolment.save(data_dir)
    offer_path.unlink(missing_ok=True)  # one offer, one device
    return enrolment


def _take_token(data_dir: Path, enrolment: Enrolment, folder: Path, report: StickReceived) -> None:
    """The token the hub made when it enrolled this device from the stick."""
    from dataclasses import replace

    path = folder / ENROLMENT_UPDATE
    if file_kind(path) == "missing" or enrolment.hub_verify is None:
        return
    try:
        blob = read_regular(path, MAX_ENROL_FILE, reader="this device")
        kind, payload = open_from_hub(enrolment.signing_seed, enrolment.hub_verify, blob)
        if kind != "enrolment":
            raise UpdateRefused(f"it holds {kind!r}, not the enrolment")
        body = json.loads(payload)
        token = str(body["token"])
        if body.get("device_id") != enrolment.device_id or not token:
            raise UpdateRefused("it is for another device")
    except (SyncError, ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{path}: {exc} Nothing from it was used.")
        return
    if token != enrolment.token:
        replace(enrolment, token=token).save(data_dir)
        report.enrolled = True
