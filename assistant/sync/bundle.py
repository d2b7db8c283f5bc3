"""Sealed bundles: what travels from a device to the hub, by network or on a USB stick.

A bundle holds one thing: a finished session (its record as JSON), one audio clip (a WAV,
named by the sha256 of its bytes), or one withdrawal of consent (``consent``, a UUID:
:mod:`assistant.sync.withdrawals`). Clips travel as their own bundles so that an upload is
idempotent by hash, a clip shared by two sessions goes once, and a broken upload resumes at the
clip it stopped on rather than from zero.

Layout (bytes)::

    MAGIC                      b"ASSISTANT-BUNDLE/1\\n"
    header                     canonical JSON, one line, then b"\\n"
    signature                  64 bytes, Ed25519 by the device over everything after it and
                               MAGIC + header
    sealed key                 80 bytes: a fresh 32-byte SecretBox key sealed to the hub's
                               public key (SealedBox: only the hub's private key opens it)
    ciphertext                 SecretBox(sha256(header line) + payload)

The header says what the bundle is (kind, id, device, time) so the hub can route it without
decrypting. It is covered twice: by the device's signature and by its hash inside the ciphertext.
A bundle whose header, key or ciphertext was changed is refused; so is a clip whose bytes do not
hash to its name. A device keeps no key that opens its own bundles once they are sealed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import nacl.exceptions
import nacl.public
import nacl.secret
import nacl.signing
import nacl.utils

from assistant.core import ids_check
from assistant.errors import BundleError
from assistant.records.model import SessionRecord

MAGIC = b"ASSISTANT-BUNDLE/1\n"
SIGNATURE_BYTES = 64
SEALED_KEY_BYTES = 32 + 48  # a SecretBox key, plus SealedBox overhead (ephemeral key + MAC)
MAX_HEADER_BYTES = 4096
BundleKind = Literal["session", "clip", "consent", "words", "settings"]
# bundles named by a UUID (a clip: by its sha256; a person's words and settings: by their id)
UUID_KINDS = ("session", "consent", "words", "settings")

SHA256_RE = ids_check.SHA256_RE
UUID_RE = ids_check.UUID_RE


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_sha256(text: str) -> bool:
    """Exactly 64 lower-case hex digits (a whole-string match: no trailing newline)."""
    return ids_check.is_sha256(text)


def is_uuid(text: str) -> bool:
    """Exactly a lower-case UUID (a whole-string match: no trailing newline)."""
    return ids_check.is_uuid(text)


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_payload(record: SessionRecord) -> bytes:
    """The exact bytes that stand for a session record (canonical JSON)."""
    return _canonical(record.model_dump(mode="json"))


def clips_of(record: SessionRecord) -> list[str]:
    """The sha256 of every audio clip a session refers to, each once, in a stable order."""
    seen: dict[str, None] = {}
    for person in record.people:
        if person.name_clip:
            seen[person.name_clip] = None
    for answer in record.answers:
        if answer.audio_clip:
            seen[answer.audio_clip] = None
    return list(seen)


@dataclass(frozen=True)
class Header:
    kind: BundleKind
    id: str
    device_id: str
    created_at: str
    size: int

    def line(self) -> bytes:
        return _canonical(
            {
                "format": 1,
                "kind": self.kind,
                "id": self.id,
                "device_id": self.device_id,
                "created_at": self.created_at,
                "size": self.size,
            }
        )


@dataclass(frozen=True)
class Opened:
    header: Header
    payload: bytes


def seal(
    kind: BundleKind,
    item_id: str,
    payload: bytes,
    *,
    device_id: str,
    hub_public_key: bytes,
    signing_key: bytes,
) -> bytes:
    """Seal *payload* into a bundle only the hub can open, signed by the device."""
    if kind == "clip" and sha256_hex(payload) != item_id:
        raise BundleError(f"Clip {item_id[:12]} does not match its own hash.")
    if kind in UUID_KINDS and not is_uuid(item_id):
        raise BundleError(f"The {kind} id {item_id!r} is not a UUID.")
    header = Header(
        kind=kind,
        id=item_id,
        device_id=device_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        size=len(payload),
    )
    line = header.line()
    key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    sealed_key = nacl.public.SealedBox(nacl.public.PublicKey(hub_public_key)).encrypt(key)
    ciphertext = bytes(nacl.secret.SecretBox(key).encrypt(hashlib.sha256(line).digest() + payload))
    del key
    body = bytes(sealed_key) + ciphertext
    signature = nacl.signing.SigningKey(signing_key).sign(MAGIC + line + b"\n" + body).signature
    return MAGIC + line + b"\n" + signature + body


def read_header(data: bytes) -> Header:
    """The bundle's header, without checking or decrypting anything else."""
    if not data.startswith(MAGIC):
        raise BundleError("This is not an assistant bundle (wrong start).")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise BundleError("The bundle header is missing or too long.")
    try:
        raw = json.loads(data[len(MAGIC) : end])
        header = Header(
            kind=raw["kind"],
            id=str(raw["id"]),
            device_id=str(raw["device_id"]),
            created_at=str(raw["created_at"]),
            size=int(raw["size"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError("The bundle header is not readable.") from exc
    if raw.get("format") != 1 or header.kind not in get_args(BundleKind):
        raise BundleError("The bundle is in a format this hub does not know.")
    if header.line() != data[len(MAGIC) : end]:
        raise BundleError("The bundle header was altered.")
    if header.kind == "clip" and not is_sha256(header.id):
        raise BundleError("The bundle names a clip with a bad hash.")
    if header.kind in UUID_KINDS and not is_uuid(header.id):
        raise BundleError(f"The bundle names a {header.kind} with a bad id.")
    if not is_uuid(header.device_id):
        raise BundleError("The bundle names a device with a bad id.")
    return header


def open_bundle(data: bytes, *, hub_private_key: bytes, device_verify_key: bytes) -> Opened:
    """Check and decrypt a bundle. Any change to any byte is a :class:`BundleError`."""
    header = read_header(data)
    line = header.line()
    start = len(MAGIC) + len(line) + 1
    signature = data[start : start + SIGNATURE_BYTES]
    body = data[start + SIGNATURE_BYTES :]
    if len(signature) != SIGNATURE_BYTES or len(body) <= SEALED_KEY_BYTES:
        raise BundleError(f"The bundle for {header.kind} {header.id[:12]} is cut short.")
    try:
        nacl.signing.VerifyKey(device_verify_key).verify(MAGIC + line + b"\n" + body, signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise BundleError(
            f"The bundle for {header.kind} {header.id[:12]} was altered: its signature is wrong."
        ) from exc
    try:
        private = nacl.public.PrivateKey(hub_private_key)
        key = nacl.public.SealedBox(private).decrypt(body[:SEALED_KEY_BYTES])
        plain = nacl.secret.SecretBox(key).decrypt(body[SEALED_KEY_BYTES:])
    except nacl.exceptions.CryptoError as exc:
        raise BundleError(
            f"The bundle for {header.kind} {header.id[:12]} cannot be opened with this hub's key."
        ) from exc
    if plain[:32] != hashlib.sha256(line).digest():
        raise BundleError(f"The bundle for {header.kind} {header.id[:12]} was altered.")
    payload = plain[32:]
    if len(payload) != header.size:
        raise BundleError(f"The bundle for {header.kind} {header.id[:12]} has the wrong size.")
    if header.kind == "clip" and sha256_hex(payload) != header.id:
        raise BundleError(f"Clip {header.id[:12]} does not match its hash.")
    return Opened(header=header, payload=payload)


def parse_record(payload: bytes, expected_id: str) -> SessionRecord:
    """The session record inside a session bundle, checked against the id it was sent under."""
    try:
        record = SessionRecord.model_validate_json(payload)
    except ValueError as exc:
        raise BundleError(f"Session {expected_id[:12]} is not a valid session record.") from exc
    if record.id != expected_id:
        raise BundleError(f"Session {expected_id[:12]} holds a record with a different id.")
    bad = record_id_problems(record)
    if bad:
        raise BundleError(
            f"Session {expected_id[:12]} has ids that are not UUIDs: {', '.join(bad[:5])}."
        )
    return record


def record_id_problems(record: SessionRecord) -> list[str]:
    """Where a record holds an id that is not exactly a UUID (or a clip that is not a sha256)."""
    pairs: list[tuple[str, object]] = [("session", record.id)]
    refs: list[tuple[str, object]] = []
    pairs += [(f"person {i}", p.id) for i, p in enumerate(record.people)]
    pairs += [(f"answer {i}", a.id) for i, a in enumerate(record.answers)]
    refs += [(f"answer {i} person", a.person_id) for i, a in enumerate(record.answers)]
    refs += [(f"answer {i} supersedes", a.supersedes) for i, a in enumerate(record.answers)]
    pairs += [(f"flag {i}", f.id) for i, f in enumerate(record.flags)]
    refs += [(f"flag {i} person", f.person_id) for i, f in enumerate(record.flags)]
    refs += [(f"flag {i} answer", f.answer_id) for i, f in enumerate(record.flags)]
    pairs += [(f"job {i}", j.id) for i, j in enumerate(record.jobs)]
    pairs += [(f"job {i} person", j.person_id) for i, j in enumerate(record.jobs)]
    pairs += [(f"check-in {i}", c.id) for i, c in enumerate(record.checkins)]
    pairs += [(f"check-in {i} person", c.person_id) for i, c in enumerate(record.checkins)]
    pairs += [(f"idea {i}", d.id) for i, d in enumerate(record.ideas)]
    pairs += [(f"goal {i}", g.id) for i, g in enumerate(record.goals)]
    refs += [(f"goal {i} person", g.person_id) for i, g in enumerate(record.goals)]
    if record.device_id is not None:
        pairs.append(("device", record.device_id))
    bad = ids_check.bad_ids(pairs) + ids_check.bad_ids(refs, optional=True)
    clips = [("clip", c) for c in clips_of(record)]
    bad += [f"clip {str(v)[:12]!r}" for _n, v in clips if not ids_check.is_sha256(v)]
    return bad
