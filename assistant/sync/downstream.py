"""Sealed updates: what the hub sends one device (people, plans, corrections, scripts).

The mirror of :mod:`assistant.sync.bundle`: a bundle goes up, sealed to the hub and signed by the
device; an update comes down, **encrypted to one device** and **signed by the hub**.

Layout (bytes)::

    MAGIC                      b"ASSISTANT-UPDATE/1\\n"
    header                     canonical JSON, one line, then b"\\n":
                               format, kind, device_id, to, cursor, created_at, size
    signature                  64 bytes, Ed25519 by the hub over MAGIC + header line + b"\\n"
                               + ciphertext
    ciphertext                 SealedBox(sha256(header line) + payload), to the device's
                               Curve25519 key

The device's encryption key is derived from its Ed25519 signing key (libsodium's
``crypto_sign_ed25519_pk_to_curve25519`` / ``_sk_to_curve25519``), so every device already
enrolled can receive updates without enrolling again: the hub holds each device's verify key
from enrolment, and that is all it needs. ``to`` is the first 16 bytes (hex) of the sha256 of
the device's verify key: a device refuses an update meant for another one before it tries to
decrypt it. The header is covered twice: by the hub's signature and by its hash inside the
ciphertext.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from assistant.errors import BundleError

MAGIC = b"ASSISTANT-UPDATE/1\n"
FORMAT = 1
SIGNATURE_BYTES = 64
MAX_HEADER_BYTES = 4096

KeyLike = bytes | nacl.signing.SigningKey


class UpdateRefused(BundleError):
    """An update from the hub was altered, unsigned, damaged or meant for another device."""


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _signing(key: KeyLike) -> nacl.signing.SigningKey:
    return key if isinstance(key, nacl.signing.SigningKey) else nacl.signing.SigningKey(key)


def fingerprint(device_verify_key: bytes) -> str:
    """Who an update is for: 16 bytes (hex) of the sha256 of the device's verify key."""
    return hashlib.sha256(bytes(device_verify_key)).hexdigest()[:32]


def seal_for_device(
    hub_signing_key: KeyLike,
    device_verify_key: bytes,
    kind: str,
    payload: bytes,
    *,
    device_id: str = "",
    cursor: str = "",
) -> bytes:
    """Encrypt *payload* to one device and sign it as the hub."""
    if not kind or len(kind) > 40:
        raise UpdateRefused("An update needs a short kind.")
    header = _canonical(
        {
            "format": FORMAT,
            "kind": kind,
            "device_id": device_id,
            "to": fingerprint(device_verify_key),
            "cursor": cursor,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "size": len(payload),
        }
    )
    box_key = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(bytes(device_verify_key))
    ciphertext = nacl.public.SealedBox(nacl.public.PublicKey(box_key)).encrypt(
        hashlib.sha256(header).digest() + payload
    )
    signed = MAGIC + header + b"\n" + bytes(ciphertext)
    signature = _signing(hub_signing_key).sign(signed).signature
    return MAGIC + header + b"\n" + signature + bytes(ciphertext)


def read_header(blob: bytes) -> dict[str, Any]:
    """The update's header (kind, device_id, to, cursor, created_at, size), unchecked."""
    if not blob.startswith(MAGIC):
        raise UpdateRefused("This is not an update from the hub (it does not start right).")
    end = blob.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise UpdateRefused("The update's header is missing or too long.")
    line = blob[len(MAGIC) : end]
    try:
        header = json.loads(line)
    except ValueError as exc:
        raise UpdateRefused("The update's header is not readable.") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UpdateRefused("The update is in a format this device does not know.")
    if _canonical(header) != line:
        raise UpdateRefused("The update's header was altered.")
    return header


def open_from_hub(
    device_signing_key: KeyLike, hub_verify_key: bytes, blob: bytes
) -> tuple[str, bytes]:
    """Check the hub's signature, then decrypt. Returns (kind, payload).

    Refuses, with one plain sentence, an update that is not signed by this device's hub, was
    altered in any byte, or was sealed for another device."""
    if not hub_verify_key:
        raise UpdateRefused(
            "This device does not know its hub's signing key yet, so it cannot trust updates: "
            "run 'assistant sync' once over the network, or enrol again."
        )
    header = read_header(blob)
    line = _canonical(header)
    start = len(MAGIC) + len(line) + 1
    signature = blob[start : start + SIGNATURE_BYTES]
    ciphertext = blob[start + SIGNATURE_BYTES :]
    if len(signature) != SIGNATURE_BYTES or not ciphertext:
        raise UpdateRefused("The update from the hub is cut short.")
    try:
        nacl.signing.VerifyKey(bytes(hub_verify_key)).verify(
            MAGIC + line + b"\n" + ciphertext, signature
        )
    except nacl.exceptions.BadSignatureError as exc:
        raise UpdateRefused(
            "The update is not signed by this device's hub, or was altered, so it was not used."
        ) from exc
    signing = _signing(device_signing_key)
    if header.get("to") != fingerprint(bytes(signing.verify_key)):
        raise UpdateRefused("The update was sealed for another device, so it was not used.")
    secret = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(
        bytes(signing) + bytes(signing.verify_key)
    )
    try:
        plain = nacl.public.SealedBox(nacl.public.PrivateKey(secret)).decrypt(ciphertext)
    except nacl.exceptions.CryptoError as exc:
        raise UpdateRefused("The update cannot be opened with this device's key.") from exc
    if plain[:32] != hashlib.sha256(line).digest():
        raise UpdateRefused("The update's header was altered.")
    payload = plain[32:]
    if len(payload) != header.get("size"):
        raise UpdateRefused("The update has the wrong size.")
    return str(header["kind"]), payload
