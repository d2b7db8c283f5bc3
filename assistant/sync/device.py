"""What a device keeps about its hub: the token, the hub's public key, its own signing key.

Everything lives in ``<data_dir>/sync/`` and the enrolment file is readable by its owner only
(mode 0600). The device holds the hub's *public* key: it can seal bundles but never open them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

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

    @property
    def hub_key(self) -> bytes:
        return _unb64(self.hub_public_key)

    @property
    def signing_seed(self) -> bytes:
        return _unb64(self.signing_key)

    def save(self, data_dir: Path) -> Path:
        path = sync_dir(data_dir) / ENROLMENT_FILE
        write_private(path, json.dumps(asdict(self), indent=2).encode())
        return path

    @classmethod
    def load(cls, data_dir: Path) -> Enrolment:
        path = sync_dir(data_dir) / ENROLMENT_FILE
        try:
            raw = json.loads(path.read_text())
            return cls(**{k: str(raw[k]) for k in cls.__dataclass_fields__})
        except FileNotFoundError as exc:
            raise EnrolmentError(
                "This device is not enrolled with a hub yet: run 'assistant sync enrol URL CODE'."
            ) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise EnrolmentError(f"The enrolment file {path} is damaged: enrol again.") from exc

    @classmethod
    def exists(cls, data_dir: Path) -> bool:
        return (sync_dir(data_dir) / ENROLMENT_FILE).exists()


def b64(data: bytes) -> str:
    return _b64(data)


def unb64(text: str) -> bytes:
    return _unb64(text)
