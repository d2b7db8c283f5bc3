"""Sealed bundles: only the hub opens them; any changed byte is refused."""

from __future__ import annotations

import uuid

import nacl.public
import nacl.signing
import pytest

from assistant.errors import BundleError
from assistant.records.model import Answer, Person, SessionRecord
from assistant.sync import bundle

HUB = nacl.public.PrivateKey.generate()
DEVICE = nacl.signing.SigningKey.generate()
DEVICE_ID = str(uuid.uuid4())


def seal(kind: bundle.BundleKind, ident: str, payload: bytes) -> bytes:
    return bundle.seal(
        kind,
        ident,
        payload,
        device_id=DEVICE_ID,
        hub_public_key=bytes(HUB.public_key),
        signing_key=bytes(DEVICE),
    )


def open_(data: bytes, verify: bytes | None = None) -> bundle.Opened:
    return bundle.open_bundle(
        data,
        hub_private_key=bytes(HUB),
        device_verify_key=verify or bytes(DEVICE.verify_key),
    )


def test_a_session_round_trips_and_its_clips_are_listed() -> None:
    sam = Person(name="Sam", name_clip="a" * 64)
    record = SessionRecord(
        script="daily_checkin",
        people=[sam],
        answers=[
            Answer(person_id=sam.id, step_id="s", question="q", audio_clip="b" * 64),
            Answer(person_id=sam.id, step_id="t", question="q", audio_clip="a" * 64),
        ],
    )
    sealed = seal("session", record.id, bundle.record_payload(record))
    opened = open_(sealed)
    assert bundle.parse_record(opened.payload, record.id) == record
    assert bundle.clips_of(record) == ["a" * 64, "b" * 64]
    # The content is not readable on the stick or the wire. (The plaintext's own form is
    # looked for: three bytes like b"Sam" turn up by chance in random ciphertext.)
    assert b'"name":"Sam"' in bundle.record_payload(record)
    assert b'"name":"Sam"' not in sealed


def test_a_fresh_key_each_time() -> None:
    data = b"the same clip"
    a = seal("clip", bundle.sha256_hex(data), data)
    b = seal("clip", bundle.sha256_hex(data), data)
    assert a != b
    assert open_(a).payload == open_(b).payload == data


@pytest.mark.parametrize("where", ["header", "signature", "sealed_key", "ciphertext", "end"])
def test_any_changed_byte_is_refused(where: str) -> None:
    data = b"x" * 100
    sealed = bytearray(seal("clip", bundle.sha256_hex(data), data))
    head_end = sealed.index(b"\n", len(bundle.MAGIC))
    offsets = {
        "header": sealed.index(b'"size":') + 7,
        "signature": head_end + 10,
        "sealed_key": head_end + 1 + 64 + 5,
        "ciphertext": head_end + 1 + 64 + 80 + 30,
        "end": len(sealed) - 1,
    }
    sealed[offsets[where]] ^= 0x01
    with pytest.raises(BundleError):
        open_(bytes(sealed))


def test_a_changed_header_resigned_by_another_key_is_refused() -> None:
    data = b"clip bytes"
    sealed = seal("clip", bundle.sha256_hex(data), data)
    with pytest.raises(BundleError, match="signature"):
        open_(sealed, verify=bytes(nacl.signing.SigningKey.generate().verify_key))


def test_only_the_hub_key_opens_it() -> None:
    data = b"clip bytes"
    sealed = seal("clip", bundle.sha256_hex(data), data)
    with pytest.raises(BundleError, match="cannot be opened"):
        bundle.open_bundle(
            sealed,
            hub_private_key=bytes(nacl.public.PrivateKey.generate()),
            device_verify_key=bytes(DEVICE.verify_key),
        )


def test_a_clip_must_match_its_hash() -> None:
    with pytest.raises(BundleError, match="hash"):
        seal("clip", "0" * 64, b"not that")


def test_a_session_under_another_id_is_refused() -> None:
    record = SessionRecord(script="s")
    sealed = seal("session", record.id, bundle.record_payload(record))
    with pytest.raises(BundleError, match="different id"):
        bundle.parse_record(open_(sealed).payload, str(uuid.uuid4()))


@pytest.mark.parametrize(
    "junk", [b"", b"hello", bundle.MAGIC + b"{}\n", bundle.MAGIC + b"x" * 5000]
)
def test_junk_is_refused_with_a_clear_message(junk: bytes) -> None:
    with pytest.raises(BundleError):
        open_(junk)
