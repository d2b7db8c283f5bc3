"""Receiving published scripts from the hub: :func:`pull_scripts`.

The device tells the hub what it holds (``GET /v1/scripts?have=name:version:sha256,...``);
the hub answers with an update sealed to this device and signed by the hub
(:func:`assistant.sync.downstream.open_from_hub`) holding the publications the device lacks
and the names it should hold. Each publication is checked again (the hub's signature over
its document) before it is kept, and every time it is loaded afterwards
(:mod:`assistant.dialogue.published`). A name the hub no longer publishes to this device
(withdrawn, or the device taken off its targets) is removed, so the device's own script of
that name is used again; so is any file in the folder the hub did not send.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from assistant.dialogue.published import PublishedScripts
from assistant.errors import ScriptError, SyncError
from assistant.sync.device import Enrolment, write_atomic

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.sync.client import HubClient

log = logging.getLogger(__name__)

UPDATE_KIND = "scripts"
SCRIPTS_RECEIVED = "scripts-update.json"
"""Beside the published scripts' folder: when the hub made the scripts update last applied."""


@dataclass
class ScriptsReport:
    installed: list[str] = field(default_factory=list)
    """``name vN`` of each publication received and kept."""
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"Received the published script {n}." for n in self.installed]
        out += [
            f"Removed the published script {n} (the hub no longer sends it)." for n in self.removed
        ]
        return out


def _hub_verify(client: HubClient, data_dir: Any, enrolment: Enrolment) -> bytes | None:
    """The hub's verify key; an enrolment made before the hub signed anything learns it from
    the hub's ping (over the device's authenticated connection) and keeps it."""
    if enrolment.hub_verify:
        return enrolment.hub_verify
    from assistant.sync.client import _check_auth

    ping = client.request("GET", "/v1/ping", attempts=2)
    _check_auth(ping)
    raw = ping.json().get("hub_verify_key") if ping.status_code == 200 else None
    if not raw:
        return None
    key = bytes.fromhex(str(raw))
    if len(key) != 32:
        raise SyncError("The hub's signing key in its answer is not the right length.")
    replace(enrolment, hub_verify_key=key.hex()).save(data_dir)
    return key


def scripts_made_at(settings: Settings) -> str:
    """When the hub made the scripts update this device last applied ('' if never)."""
    path = Path(settings.published_scripts_dir).parent / SCRIPTS_RECEIVED
    try:
        return str(json.loads(path.read_text()).get("made_at") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def remember_scripts_update(settings: Settings, made_at: str, via: str) -> None:
    path = Path(settings.published_scripts_dir).parent / SCRIPTS_RECEIVED
    write_atomic(path, json.dumps({"made_at": made_at, "via": via}).encode())


def pull_scripts(
    settings: Settings,
    *,
    enrolment: Enrolment | None = None,
    client: HubClient | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float | None = None,
    max_attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ScriptsReport:
    """Bring this device's published scripts up to date with the hub. Raises
    :class:`~assistant.errors.HubUnreachable` when offline (nothing is changed then)."""
    from assistant.sync.client import HubClient, _check_auth, _detail
    from assistant.sync.downstream import UpdateRefused, open_from_hub, read_header

    enrolment = enrolment or Enrolment.load(settings.data_dir)
    report = ScriptsReport()
    own = client is None
    if client is None:
        client = HubClient(
            enrolment.hub_url,
            enrolment.token,
            timeout_s=timeout_s or settings.sync.timeout_s,
            max_attempts=max_attempts or settings.sync.max_attempts,
            sleep=sleep,
            transport=transport,
        )
    try:
        verify = _hub_verify(client, settings.data_dir, enrolment)
        if verify is None:
            report.problems.append(
                "The hub has no signing key yet, so no published scripts can be received."
            )
            return report
        published = PublishedScripts(settings.published_scripts_dir, verify, enrolment.device_id)
        have = ",".join(published.have())
        response = client.request("GET", "/v1/scripts", params={"have": have})
        _check_auth(response)
        if response.status_code == 404:  # a hub from before publishing: nothing to receive
            return report
        if response.status_code != 200:
            report.problems.append(f"The hub did not send the scripts: {_detail(response)}")
            return report
        try:
            kind, payload = open_from_hub(enrolment.signing_seed, verify, response.content)
            if kind != UPDATE_KIND:
                raise UpdateRefused(f"The hub sent {kind!r} where scripts were expected.")
            body = json.loads(payload)
            apply_scripts(published, body, report)
            made_at = str(read_header(response.content).get("created_at") or "")
            remember_scripts_update(settings, made_at, "network")
        except (UpdateRefused, ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"The scripts from the hub were not used: {exc}")
            log.warning("published scripts not updated: %s", exc)
            return report
    finally:
        if own:
            client.close()
    return report


def apply_scripts(published: PublishedScripts, body: dict[str, Any], report: ScriptsReport) -> None:
    """Keep each publication the hub sent (checked again), and remove every name it no longer
    sends. *body* is an opened ``scripts`` update: ``current`` (the names this device should
    hold) and ``send`` (signed publications). Raises KeyError/TypeError if it is malformed,
    before anything is changed."""
    current = dict(body["current"])
    sent = list(body["send"])
    held = set(published.have())
    for signed in sent:
        doc = signed.get("publication") if isinstance(signed, dict) else None
        if (
            isinstance(doc, dict)
            and f"{doc.get('name')}:{doc.get('version')}:{doc.get('sha256')}" in held
        ):
            continue  # a stick sends everything: what is here already, checked, stays as it is
        try:
            pub = published.install(signed)
        except ScriptError as exc:
            report.problems.append(str(exc))
            log.warning("a published script was refused: %s", exc)
            continue
        report.installed.append(f"{pub.name} v{pub.version}")
        log.info("received the published script %s", pub.label)
    for name in published.names():
        if name not in current and published.remove(name):
            report.removed.append(name)
            log.info("removed the published script %s (no longer sent by the hub)", name)
