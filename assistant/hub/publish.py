"""Publishing scripts from the hub to devices: versioned, signed, withdrawn.

Staff publish a script (a YAML file, checked here exactly as ``assistant scripts check`` checks
it: the file, then the wording rules) to some devices or all. Each publication is a new version
of its name (1, 2, 3 ...), kept for ever with its sha256, YAML, targets, who and when, and the
hub's Ed25519 signature over its canonical document (:mod:`assistant.dialogue.published`).

What a device is sent: for each script name, the newest publication that is not withdrawn and
whose targets include the device (``all``, or its id). A name with none is removed from the
device at its next contact. The answer to ``GET /v1/scripts`` is sealed to the device and
signed by the hub (:func:`assistant.sync.downstream.seal_for_device`); inside it, each
publication keeps its own signature, which the device checks every time it loads the script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from assistant.dialogue.published import (
    MAX_YAML_BYTES,
    NAME_RE,
    canonical,
    publication_document,
    sign,
)
from assistant.errors import ScriptError, SyncError
from assistant.hub import db

if TYPE_CHECKING:
    from assistant.hub.service import Hub

UPDATE_KIND = "scripts"


class NotPublished(SyncError):
    """There is no such publication to withdraw."""


@dataclass(frozen=True)
class PublicationRow:
    name: str
    version: int
    sha256: str
    targets: str | list[str]
    published_at: datetime
    published_by: str
    withdrawn_at: datetime | None
    withdrawn_by: str | None

    @property
    def targets_text(self) -> str:
        return "all devices" if self.targets == "all" else ", ".join(t[:8] for t in self.targets)


def check_script_text(text: str, label: str) -> Any:
    """The script in *text*, or :class:`ScriptError` with the same sentences as
    ``assistant scripts check`` (a mistake in the file; else every wording problem)."""
    from assistant.dialogue import wording
    from assistant.dialogue.script import parse_script

    if len(text.encode("utf-8")) > MAX_YAML_BYTES:
        raise ScriptError(f"{label}: the file is too large to publish (over 256 KB).")
    script = parse_script(text, label)
    problems = wording.check_script(script)
    if problems:
        lines = "\n".join(str(p) for p in problems)
        many = len(problems) != 1
        raise ScriptError(
            f"{lines}\n{len(problems)} thing{'s' if many else ''} to change in the wording "
            "(the rules are in docs/scripts.md, under Writing the words); not published."
        )
    if not NAME_RE.match(script.name):
        raise ScriptError(
            f"{label}: {script.name!r} cannot be published as a script name: use lower-case "
            "letters, digits, - and _ (up to 64)."
        )
    return script


def _targets(hub: Hub, to: list[str], everyone: bool) -> str | list[str]:
    if everyone and to:
        raise SyncError("Publish either --all or --to some devices, not both.")
    if everyone:
        return "all"
    if not to:
        raise SyncError("Say which devices: --to DEVICE (more than once for several) or --all.")
    ids = []
    for ident in to:
        device = hub.find_device(ident)
        if device.revoked_at is not None:
            raise SyncError(f"The device {device.name} ({device.id[:8]}) is revoked.")
        ids.append(device.id)
    return sorted(set(ids))


def publish(
    hub: Hub, text: str, *, to: list[str], everyone: bool, by: str, label: str = "the script"
) -> PublicationRow:
    """Check, version, sign and keep a publication; who and when go in the audit log."""
    script = check_script_text(text, label)
    targets = _targets(hub, to, everyone)
    signing = hub.signing_key()  # KeyLocked when the hub was started without its passphrase
    now = datetime.now(UTC).replace(microsecond=0)
    with hub.tx() as s:
        latest = s.scalar(
            select(func.max(db.ScriptPublication.version)).where(
                db.ScriptPublication.name == script.name
            )
        )
        version = int(latest or 0) + 1
        doc = publication_document(
            name=script.name,
            version=version,
            yaml_text=text,
            targets=targets,
            published_at=now.isoformat(),
            published_by=by,
        )
        row = db.ScriptPublication(
            name=script.name,
            version=version,
            sha256=doc["sha256"],
            yaml_text=text,
            targets="all" if targets == "all" else json.dumps(targets),
            published_at=now,
            published_by=by,
            signature=sign(doc, signing),
            document=canonical(doc).decode(),
        )
        s.add(row)
        s.add(
            db.Audit(
                actor=by,
                action="published script",
                target=f"{script.name} v{version}",
                detail=f"sha256 {doc['sha256'][:12]}; to "
                + ("all devices" if targets == "all" else ", ".join(targets)),
            )
        )
        s.flush()
        return _row(row)


def withdraw(hub: Hub, name: str, *, by: str) -> list[int]:
    """Withdraw every live publication of *name*; the versions withdrawn."""
    now = datetime.now(UTC)
    with hub.tx() as s:
        rows = list(
            s.scalars(
                select(db.ScriptPublication).where(
                    db.ScriptPublication.name == name, db.ScriptPublication.withdrawn_at.is_(None)
                )
            )
        )
        if not rows:
            raise NotPublished(f"There is no published script called {name!r} to withdraw.")
        for row in rows:
            row.withdrawn_at, row.withdrawn_by = now, by
        versions = sorted(r.version for r in rows)
        s.add(
            db.Audit(
                actor=by,
                action="withdrew script",
                target=name,
                detail="versions " + ", ".join(str(v) for v in versions),
            )
        )
        return versions


def _targets_of(row: db.ScriptPublication) -> str | list[str]:
    return "all" if row.targets == "all" else list(json.loads(row.targets))


def _row(row: db.ScriptPublication) -> PublicationRow:
    return PublicationRow(
        name=row.name,
        version=row.version,
        sha256=row.sha256,
        targets=_targets_of(row),
        published_at=row.published_at,
        published_by=row.published_by,
        withdrawn_at=row.withdrawn_at,
        withdrawn_by=row.withdrawn_by,
    )


def publications(hub: Hub, *, include_withdrawn: bool = True) -> list[PublicationRow]:
    """Every publication, newest first within each name."""
    with hub.tx() as s:
        query = select(db.ScriptPublication).order_by(
            db.ScriptPublication.name, db.ScriptPublication.version.desc()
        )
        if not include_withdrawn:
            query = query.where(db.ScriptPublication.withdrawn_at.is_(None))
        return [_row(r) for r in s.scalars(query)]


def for_device(hub: Hub, device_id: str) -> dict[str, dict[str, Any]]:
    """Name -> the signed publication (``{"publication", "signature"}``) the device should
    hold: the newest live one that targets it."""
    out: dict[str, dict[str, Any]] = {}
    with hub.tx() as s:
        rows = s.scalars(
            select(db.ScriptPublication)
            .where(db.ScriptPublication.withdrawn_at.is_(None))
            .order_by(db.ScriptPublication.name, db.ScriptPublication.version.desc())
        )
        for row in rows:
            if row.name in out:
                continue
            targets = _targets_of(row)
            if targets == "all" or device_id in targets:
                out[row.name] = {
                    "publication": json.loads(row.document),
                    "signature": row.signature,
                }
    return out


def update_for(hub: Hub, device_id: str, have: list[str]) -> bytes:
    """The sealed answer to a device's ``GET /v1/scripts?have=...``: the publications it lacks,
    and the names it should hold (anything else it has is withdrawn)."""
    from assistant.sync.downstream import seal_for_device

    current = for_device(hub, device_id)
    held = set(have)
    send = [
        signed
        for name, signed in current.items()
        if f"{name}:{signed['publication']['version']}:{signed['publication']['sha256']}"
        not in held
    ]
    payload = {
        "format": 1,
        "current": {
            name: {"version": signed["publication"]["version"]} for name, signed in current.items()
        },
        "send": send,
    }
    return seal_for_device(
        hub.signing_key(),
        hub._verify_key(device_id),
        UPDATE_KIND,
        json.dumps(payload, separators=(",", ":")).encode(),
        device_id=device_id,
    )
