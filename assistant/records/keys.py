"""The key that locks the records on this device, and where it comes from.

One 32-byte key locks the record store (SQLCipher), the clips (PyNaCl ``SecretBox``) and the
secrets of ``sync/device.json``; each use gets its own subkey (BLAKE2b, keyed, one
personalisation per use). It comes from the first of these that exists when the device's data
are first locked, and from then on from the same one (``<data_dir>/at-rest.json`` notes which,
and a fingerprint of the key, never the key itself):

1. **A key file named outside the data folder**: ``$ASSISTANT_KEY_FILE``, the setting
   ``[records] key_file``, or a systemd credential ``$CREDENTIALS_DIRECTORY/assistant-records-key``.
   Staff chose it, so it comes first: on a key stick kept apart from the device, a device
   stolen without the stick cannot be opened.
2. **The Raspberry Pi's OTP customer key** (``rpi-otp-private-key -b``, else ``vcmailbox``),
   when one has been programmed: a card read in another computer cannot be opened; a whole
   device that starts up can.
3. **A key file in the data folder** (``<data_dir>/records.key``, made the first time): it is on
   the same card as the data, so it protects nothing against theft of the card or the device,
   only against the records file or a clip being copied by itself.

A missing or wrong key is one plain :class:`~assistant.errors.KeyProblem` sentence, and nothing
is changed. :func:`describe` says which key is in force and what it protects against
(``assistant check``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import nacl.exceptions
import nacl.hash
import nacl.secret
from nacl.encoding import RawEncoder

from assistant.errors import KeyProblem

__all__ = [
    "CREDENTIAL_NAME",
    "DATA_KEY_FILE",
    "ENV_KEY_FILE",
    "MARKER",
    "RestKey",
    "describe",
    "otp_key",
    "resolve",
]

MARKER = "at-rest.json"
DATA_KEY_FILE = "records.key"
CREDENTIAL_NAME = "assistant-records-key"
ENV_KEY_FILE = "ASSISTANT_KEY_FILE"
SEAL_MAGIC = b"ASSISTANT-SEALED/1\n"
"""The first bytes of every sealed file (a sealed clip has no RIFF header)."""

Provider = Literal["file", "otp", "data-folder"]

PROTECTS: dict[Provider, str] = {
    "file": (
        "a copy of the data folder alone cannot be opened; kept on a key stick apart from the "
        "device, a device stolen without the stick cannot be opened either (if the key file is "
        "on the same card, taking the card gives both)"
    ),
    "otp": (
        "the key is in this board's one-time-programmable memory: the card read in another "
        "computer, or put in another board, cannot be opened; a whole device that starts up "
        "can, by anyone who can log in on it"
    ),
    "data-folder": (
        "the key is in the data folder on the same card, so this protects nothing against "
        "theft of the card or the device: only against the records file or a clip being "
        "copied by itself"
    ),
}


@dataclass(frozen=True)
class RestKey:
    """The key in force: where it came from and the secret itself (never printed)."""

    provider: Provider
    where: str
    """Where it is: a path, or "this board's OTP memory"."""
    master: bytes = field(repr=False)
    verified: bool = False
    """True when it matched the fingerprint in ``at-rest.json`` (so a file that will not open
    with it is damaged, not locked with another key)."""

    def subkey(self, purpose: str) -> bytes:
        return nacl.hash.blake2b(
            b"", key=self.master, person=purpose.encode()[:16], digest_size=32, encoder=RawEncoder
        )

    @property
    def fingerprint(self) -> str:
        return self.subkey("fingerprint").hex()[:32]

    def sqlcipher_key(self) -> str:
        """The raw key as SQLCipher's ``PRAGMA key`` takes it (no slow passphrase derivation)."""
        return f"x'{self.subkey('records.sqlite').hex()}'"

    def seal(self, purpose: str, data: bytes) -> bytes:
        """*data* locked (XSalsa20-Poly1305 with a random nonce), after :data:`SEAL_MAGIC`."""
        box = nacl.secret.SecretBox(self.subkey(purpose))
        return SEAL_MAGIC + bytes(box.encrypt(data))

    def open(self, purpose: str, blob: bytes, what: str) -> bytes:
        """What :meth:`seal` locked; :class:`KeyProblem` naming *what* if it will not open."""
        if not blob.startswith(SEAL_MAGIC):
            raise KeyProblem(f"{what} is not a sealed file.")
        box = nacl.secret.SecretBox(self.subkey(purpose))
        try:
            return bytes(box.decrypt(blob[len(SEAL_MAGIC) :]))
        except nacl.exceptions.CryptoError as exc:
            raise KeyProblem(
                f"{what} cannot be opened with the key in {self.where}: it was locked with "
                "another key, or it is damaged; nothing was changed."
            ) from exc

    @property
    def protects(self) -> str:
        return PROTECTS[self.provider]


# ------------------------------------------------------------------------------- the providers

OtpReader = Callable[[], tuple[bytes | None, str]]


def _run(cmd: list[str]) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def otp_key() -> tuple[bytes | None, str]:
    """The Raspberry Pi's OTP customer key, or None and why not (one sentence, for check)."""
    tool = shutil.which("rpi-otp-private-key")
    if tool:
        result = _run([tool, "-b"])
        if result is None or result.returncode != 0:
            return None, "rpi-otp-private-key could not read the OTP memory (run as root?)"
        data = result.stdout
        if len(data) >= 32 and any(data):
            return data[:32], "rpi-otp-private-key"
        return None, "no customer key has been programmed into this board's OTP memory"
    vc = shutil.which("vcmailbox")
    if vc:
        # GET_PRIVATE_KEY (0x00030081): offset 0, 8 rows of 32 bits.
        result = _run([vc, "0x00030081", "40", "40", "0", "8"] + ["0"] * 8)
        if result is None or result.returncode != 0:
            return None, "vcmailbox could not read the OTP memory (is /dev/vcio readable?)"
        words = result.stdout.decode("ascii", "replace").split()
        try:
            at = [w.lower() for w in words].index("0x00030081")
            rows = [int(w, 16) for w in words[at + 5 : at + 13]]
        except ValueError:
            return None, "vcmailbox gave an answer that could not be read"
        if len(rows) == 8 and any(rows):
            return b"".join(r.to_bytes(4, "big") for r in rows), "vcmailbox"
        return None, "no customer key has been programmed into this board's OTP memory"
    return None, "this is not a Raspberry Pi with OTP tools (no rpi-otp-private-key, no vcmailbox)"


def configured_file(key_file: Path | None) -> tuple[Path, str] | None:
    """The key file staff named, and how they named it, or None."""
    env = os.environ.get(ENV_KEY_FILE)
    if env:
        return Path(env).expanduser(), f"${ENV_KEY_FILE}"
    if key_file is not None:
        return Path(key_file).expanduser(), "[records] key_file"
    cred = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred and (Path(cred) / CREDENTIAL_NAME).exists():
        return Path(cred) / CREDENTIAL_NAME, "a systemd credential"
    return None


def _read_key_file(path: Path) -> bytes:
    try:
        text = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyProblem(
            f"The key file {path} that locks the records is not there (is the key stick "
            "plugged in?); nothing was changed."
        ) from exc
    except OSError as exc:
        raise KeyProblem(
            f"The key file {path} cannot be read ({exc.strerror or exc}); nothing was changed."
        ) from exc
    try:
        key = bytes.fromhex(text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != 32:
        raise KeyProblem(
            f"The key file {path} does not hold a key (64 hexadecimal characters); "
            "nothing was changed."
        )
    return key


def _make_key_file(path: Path) -> bytes:
    """A new random key in *path* (0600), unless one is there already."""
    if path.exists():
        return _read_key_file(path)
    if not path.parent.is_dir():
        raise KeyProblem(
            f"The folder {path.parent} for the key file is not there (is the key stick "
            "plugged in?); nothing was changed."
        )
    key = secrets.token_bytes(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key.hex().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)  # never replaces a key file another process made meanwhile
    except FileExistsError:
        return _read_key_file(path)
    except OSError as exc:
        raise KeyProblem(
            f"The key file {path} could not be made ({exc.strerror or exc}); nothing was changed."
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    _fsync_dir(path.parent)
    return key


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _from_otp(secret: bytes) -> bytes:
    return nacl.hash.blake2b(secret, person=b"assistant-otp", digest_size=32, encoder=RawEncoder)


# ------------------------------------------------------------------------------- the marker


def read_marker(data_dir: Path) -> dict[str, str] | None:
    path = data_dir / MARKER
    try:
        raw = json.loads(path.read_text())
        return {k: str(raw[k]) for k in ("provider", "where", "fingerprint")}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyProblem(
            f"The note of which key locks the records ({path}) is damaged; nothing was changed."
        ) from exc


def _write_marker(data_dir: Path, key: RestKey) -> None:
    path = data_dir / MARKER
    body = {
        "format": 1,
        "provider": key.provider,
        "where": key.where,
        "fingerprint": key.fingerprint,
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "note": "which key locks the records here; the key itself is never in this file",
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(body, indent=2).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(data_dir)


def locked_data_present(data_dir: Path) -> bool:
    """True when something here is already locked (so a new key must never be made)."""
    from assistant.records.sql import SQLITE_MAGIC

    db = data_dir / "records.sqlite"
    with contextlib.suppress(OSError):
        with db.open("rb") as f:
            head = f.read(16)
        if head and head != SQLITE_MAGIC:
            return True
    clips = data_dir / "clips"
    if clips.is_dir() and next(clips.glob("*.sealed"), None) is not None:
        return True
    with contextlib.suppress(OSError, ValueError):
        return "sealed" in json.loads((data_dir / "sync" / "device.json").read_text())
    return False


@contextlib.contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(data_dir / ".at-rest.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------- resolving


def resolve(data_dir: Path, key_file: Path | None = None, *, otp: OtpReader = otp_key) -> RestKey:
    """The key that locks (or will lock) the records in *data_dir*.

    The first time, it is chosen from the chain (see the module) and noted in ``at-rest.json``;
    after that the noted provider is used, and a key that is not the noted one is refused.
    """
    data_dir = Path(data_dir).expanduser()
    with _lock(data_dir):
        marker = read_marker(data_dir)
        if marker is not None:
            key = _noted(data_dir, marker, key_file, otp)
            if key.fingerprint != marker["fingerprint"]:
                raise KeyProblem(
                    f"The key in {key.where} is not the one the records in {data_dir} were "
                    "locked with; nothing was changed."
                )
            return RestKey(key.provider, key.where, key.master, verified=True)
        existing = locked_data_present(data_dir)
        try:
            key = _choose(data_dir, key_file, otp, create=not existing)
        except KeyProblem as exc:
            if not existing:
                raise
            raise KeyProblem(
                f"The records in {data_dir} ({data_dir / 'records.sqlite'}) are locked or "
                f"damaged, and no key for them is here ({exc}) Nothing was changed."
            ) from exc
        if not existing:
            _write_marker(data_dir, key)
        return key


def _noted(
    data_dir: Path, marker: dict[str, str], key_file: Path | None, otp: OtpReader
) -> RestKey:
    provider = marker["provider"]
    if provider == "otp":
        secret, why = otp()
        if secret is None:
            raise KeyProblem(
                f"The records in {data_dir} were locked with a Raspberry Pi's own OTP key, and "
                f"it cannot be read here ({why}): is this the card from another board? "
                "Nothing was changed."
            )
        return RestKey("otp", "this board's OTP memory", _from_otp(secret))
    if provider == "file":
        named = configured_file(key_file)
        path = named[0] if named else Path(marker["where"])
        return RestKey("file", str(path), _read_key_file(path))
    if provider == "data-folder":
        path = data_dir / DATA_KEY_FILE
        return RestKey("data-folder", str(path), _read_key_file(path))
    raise KeyProblem(f"The note {data_dir / MARKER} names an unknown key ({provider!r}).")


def _choose(data_dir: Path, key_file: Path | None, otp: OtpReader, *, create: bool) -> RestKey:
    named = configured_file(key_file)
    if named is not None:
        path, how = named
        if create and how != "a systemd credential":  # a credential is read-only: never made
            return RestKey("file", str(path), _make_key_file(path))
        return RestKey("file", str(path), _read_key_file(path))
    secret, _why = otp()
    if secret is not None:
        return RestKey("otp", "this board's OTP memory", _from_otp(secret))
    path = data_dir / DATA_KEY_FILE
    if create:
        return RestKey("data-folder", str(path), _make_key_file(path))
    return RestKey("data-folder", str(path), _read_key_file(path))


def describe(data_dir: Path, key_file: Path | None = None, *, otp: OtpReader = otp_key) -> str:
    """One line for ``assistant check``: which key is in force and what it protects against."""
    data_dir = Path(data_dir).expanduser()
    marker = read_marker(data_dir)
    if marker is None:
        named = configured_file(key_file)
        secret, why = otp()
        if named is not None:
            return (
                f"not locked yet; the first start will lock them with the key file {named[0]} "
                f"(from {named[1]}): {PROTECTS['file']}"
            )
        if secret is not None:
            return (
                f"not locked yet; the first start will use this board's OTP key: {PROTECTS['otp']}"
            )
        return (
            f"not locked yet; no key file is named and there is no board key ({why}), so the "
            f"first start will make {data_dir / DATA_KEY_FILE}: {PROTECTS['data-folder']}"
        )
    key = resolve(data_dir, key_file, otp=otp)  # KeyProblem if missing or wrong
    return f"locked (SQLCipher, sealed clips) with the key in {key.where}: {key.protects}"
