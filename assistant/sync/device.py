"""What a device keeps about its hub: the token, the hub's public key, its own signing key.

Everything lives in ``<data_dir>/sync/`` and the enrolment file is readable by its owner only
(mode 0600); its token and signing key are sealed with the device's key
(:mod:`assistant.records.keys`), by :func:`write_enrolment_file` / :func:`read_enrolment_file`
below, apart from the fields themselves. The device holds the hub's *public* key: it can seal
bundles but never open them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.errors import EnrolmentError

ENROLMENT_FILE = "device.json"


def sync_dir(data_dir: Path) -> Path:
    return data_dir / "sync"


def write_private(path: Path, data: bytes) -> None:
    """Write *data* atomically to *path*, readable and writable by the owner only."""
    _write(path, data, private=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write *data* to *path* so a crash leaves either the old file or the whole new one.

    On any failure (a full disk, say) the temporary file is removed and the old file, if any,
    is left as it was."""
    _write(path, data, private=False)


def _write(path: Path, data: bytes, *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
    try:
        try:
            if private:
                os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


SECRET_FIELDS = ("token", "signing_key")
"""The fields of ``device.json`` that are sealed with the device's key; the rest (the hub's
address and public key, the device id, when) stay readable, and fields added later pass through
untouched."""
SEALED_FIELD = "sealed"


def write_enrolment_file(path: Path, fields: dict[str, Any], data_dir: Path) -> None:
    """Write *fields* to *path* (0600) with :data:`SECRET_FIELDS` sealed by the device's key."""
    from assistant.records.keys import resolve

    key = resolve(data_dir)
    secrets = {k: fields[k] for k in SECRET_FIELDS if k in fields}
    body = {k: v for k, v in fields.items() if k not in SECRET_FIELDS}
    body[SEALED_FIELD] = _b64(key.seal("device.json", json.dumps(secrets).encode()))
    write_private(path, json.dumps(body, indent=2).encode())


def read_enrolment_file(path: Path, data_dir: Path) -> tuple[dict[str, Any], bool]:
    """The fields in *path*, secrets opened; and True if it was a plaintext file from before.

    A wrong or missing key is one :class:`~assistant.errors.KeyProblem` sentence."""
    raw = json.loads(path.read_text())
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    if SEALED_FIELD not in raw:
        return raw, True
    from assistant.records.keys import resolve

    key = resolve(data_dir)
    opened = json.loads(
        key.open("device.json", _unb64(str(raw.pop(SEALED_FIELD))), f"The enrolment file {path}")
    )
    if not isinstance(opened, dict):
        raise ValueError("sealed part is not an object")
    return {**raw, **opened}, False


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


@dataclass(frozen=True)
class Enrolment:
    """This device's membership of one hub."""

    hub_url: str
    device_id: str
    token: str
    hub_public_key: str  # base64
    signing_key: str  # base64, this device's Ed25519 seed
    enrolled_at: str
    # hex, the public half of the hub's Ed25519 signing key: what the hub sends this device
    # (assistant/sync/downstream.py) must be signed by it. Empty in enrolments made before the
    # hub signed anything; the device learns it at its next ping.
    hub_verify_key: str = ""

    @property
    def hub_verify(self) -> bytes | None:
        return bytes.fromhex(self.hub_verify_key) if self.hub_verify_key else None

    @property
    def hub_key(self) -> bytes:
        return _unb64(self.hub_public_key)

    @property
    def signing_seed(self) -> bytes:
        return _unb64(self.signing_key)

    def save(self, data_dir: Path) -> Path:
        path = sync_dir(data_dir) / ENROLMENT_FILE
        write_enrolment_file(path, asdict(self), data_dir)
        return path

    @classmethod
    def load(cls, data_dir: Path) -> Enrolment:
        path = sync_dir(data_dir) / ENROLMENT_FILE
        try:
            raw, was_plain = read_enrolment_file(path, data_dir)
            optional = {"hub_verify_key"}  # enrolments made before the hub signed its updates
            enrolment = cls(
                **{
                    k: str(raw[k])
                    for k in cls.__dataclass_fields__
                    if k not in optional or raw.get(k)
                }
            )
        except FileNotFoundError as exc:
            raise EnrolmentError(
                "This device is not enrolled with a hub yet: run 'assistant sync enrol URL CODE'."
            ) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise EnrolmentError(f"The enrolment file {path} is damaged: enrol again.") from exc
        if was_plain:  # written before encryption: its secrets are locked now
            write_enrolment_file(path, raw, data_dir)
        return enrolment

    @classmethod
    def exists(cls, data_dir: Path) -> bool:
        return (sync_dir(data_dir) / ENROLMENT_FILE).exists()


def b64(data: bytes) -> str:
    return _b64(data)


def unb64(text: str) -> bytes:
    return _unb64(text)
