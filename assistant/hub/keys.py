"""The hub's keys. The private halves live only on the hub, locked by a passphrase.

``hub.key`` holds two key pairs: an X25519 box key (devices seal their bundles to it) and an
Ed25519 signing key (the hub signs what it sends devices: :mod:`assistant.sync.downstream`). The
public halves are in the clear; the private halves are encrypted with one SecretBox key derived
from the passphrase by Argon2id (``nacl.pwhash``). Devices get only the public halves. A key file
made before the signing key existed gains one the next time it is unlocked.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.public
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils

from assistant.errors import SyncError
from assistant.sync.device import b64, unb64, write_private

KEY_FILE = "hub.key"
PASSPHRASE_ENV = "ASSISTANT_HUB_PASSPHRASE"
MIN_PASSPHRASE = 10

KDF_LEVELS = {
    "moderate": (nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "interactive": (
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    ),
    # only for tests and benchmarks: fast, and weak against guessing
    "minimum": (nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN),
}


class KeyLocked(SyncError, PermissionError):
    """The hub's private key could not be unlocked (wrong passphrase or damaged key file)."""


@dataclass(frozen=True)
class HubKeys:
    public_key: bytes
    private_key: bytes | None  # None while locked
    verify_key: bytes | None = None  # the public half of the hub's Ed25519 signing key
    signing_key: bytes | None = None  # its 32-byte seed; None while locked


def create_keys(home: Path, passphrase: str, *, kdf: str = "moderate") -> bytes:
    """Make a new key pair in *home*; refuse to overwrite one. Returns the public key."""
    path = home / KEY_FILE
    if path.exists():
        raise SyncError(f"The hub already has a key in {path}; it is never replaced.")
    if len(passphrase) < MIN_PASSPHRASE:
        raise SyncError(f"The passphrase must be at least {MIN_PASSPHRASE} characters long.")
    ops, mem = KDF_LEVELS[kdf]
    private = nacl.public.PrivateKey.generate()
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    key = nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt, opslimit=ops, memlimit=mem
    )
    locked = nacl.secret.SecretBox(key).encrypt(bytes(private))
    doc: dict[str, object] = {
        "format": 1,
        "public_key": b64(bytes(private.public_key)),
        "kdf": "argon2id",
        "salt": b64(salt),
        "opslimit": ops,
        "memlimit": mem,
        "private_key_locked": b64(bytes(locked)),
    }
    _add_signing_key(doc, key)
    write_private(path, json.dumps(doc, indent=2).encode())
    return bytes(private.public_key)


def _add_signing_key(doc: dict[str, object], box_key: bytes) -> bytes:
    """Give *doc* a new Ed25519 signing key, its seed locked by *box_key*. Returns the seed."""
    signing = nacl.signing.SigningKey.generate()
    doc["verify_key"] = b64(bytes(signing.verify_key))
    doc["signing_key_locked"] = b64(bytes(nacl.secret.SecretBox(box_key).encrypt(bytes(signing))))
    return bytes(signing)


def _read(home: Path) -> dict[str, object]:
    path = home / KEY_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise SyncError(f"The hub has no key yet in {home}: run 'assistant hub init'.") from exc
    except ValueError as exc:
        raise SyncError(f"The hub key file {path} is damaged.") from exc
    if not isinstance(doc, dict):
        raise SyncError(f"The hub key file {path} is damaged.")
    return doc


def public_key(home: Path) -> bytes:
    return unb64(str(_read(home)["public_key"]))


def verify_key(home: Path) -> bytes | None:
    """The public half of the hub's signing key (None for a key file not unlocked since the
    signing key was added: it gains one at the next unlock)."""
    raw = _read(home).get("verify_key")
    return unb64(str(raw)) if raw else None


def has_signing_key(home: Path) -> bool:
    return verify_key(home) is not None


def unlock(home: Path, passphrase: str) -> HubKeys:
    """The key pair, with the private key unlocked by *passphrase*."""
    doc = _read(home)
    try:
        key = nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            passphrase.encode(),
            unb64(str(doc["salt"])),
            opslimit=int(str(doc["opslimit"])),
            memlimit=int(str(doc["memlimit"])),
        )
        private = nacl.secret.SecretBox(key).decrypt(unb64(str(doc["private_key_locked"])))
    except nacl.exceptions.CryptoError as exc:
        raise KeyLocked("The passphrase does not unlock the hub's key.") from exc
    except (KeyError, ValueError) as exc:
        raise KeyLocked("The hub key file is damaged.") from exc
    public = unb64(str(doc["public_key"]))
    if bytes(nacl.public.PrivateKey(private).public_key) != public:
        raise KeyLocked("The hub key file is damaged: the two halves do not match.")
    if not doc.get("signing_key_locked"):  # a key file from before the signing key: add one
        seed = _add_signing_key(doc, key)
        write_private(home / KEY_FILE, json.dumps(doc, indent=2).encode())
    else:
        try:
            seed = nacl.secret.SecretBox(key).decrypt(unb64(str(doc["signing_key_locked"])))
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise KeyLocked("The hub key file is damaged: its signing key does not open.") from exc
    verify = unb64(str(doc["verify_key"]))
    if bytes(nacl.signing.SigningKey(seed).verify_key) != verify:
        raise KeyLocked("The hub key file is damaged: the signing key's halves do not match.")
    return HubKeys(public_key=public, private_key=private, verify_key=verify, signing_key=seed)


def passphrase_from_env() -> str | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value if value else None
