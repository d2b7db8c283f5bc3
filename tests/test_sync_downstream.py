"""The hub's signing key and sealed updates (hub -> device): sealed to one device, signed by
the hub; altered, unsigned and wrong-device updates are refused with one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import nacl.signing
import pytest

from assistant.sync.downstream import UpdateRefused, open_from_hub, read_header, seal_for_device

HUB = nacl.signing.SigningKey.generate()
DEV = nacl.signing.SigningKey.generate()
OTHER = nacl.signing.SigningKey.generate()


def _seal(payload: bytes = b'{"people": []}', kind: str = "updates") -> bytes:
    return seal_for_device(
        bytes(HUB), bytes(DEV.verify_key), kind, payload, device_id="d" * 8, cursor="12"
    )


def test_round_trip_and_header() -> None:
    blob = _seal()
    assert open_from_hub(bytes(DEV), bytes(HUB.verify_key), blob) == ("updates", b'{"people": []}')
    assert open_from_hub(DEV, bytes(HUB.verify_key), blob)[0] == "updates"  # a SigningKey too
    header = read_header(blob)
    assert header["cursor"] == "12" and header["device_id"] == "d" * 8
    assert b"people" not in blob  # encrypted


def test_every_altered_byte_is_refused() -> None:
    blob = _seal()
    for i in range(0, len(blob), 7):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(UpdateRefused):
            open_from_hub(bytes(DEV), bytes(HUB.verify_key), bytes(bad))


def test_unsigned_wrong_signer_and_wrong_device_are_refused() -> None:
    blob = _seal()
    with pytest.raises(UpdateRefused, match="not signed by this device's hub"):
        open_from_hub(bytes(DEV), bytes(OTHER.verify_key), blob)  # another hub's key
    forged = seal_for_device(bytes(OTHER), bytes(DEV.verify_key), "updates", b"{}")
    with pytest.raises(UpdateRefused, match="not signed by this device's hub"):
        open_from_hub(bytes(DEV), bytes(HUB.verify_key), forged)
    with pytest.raises(UpdateRefused, match="sealed for another device"):
        open_from_hub(bytes(OTHER), bytes(HUB.verify_key), blob)
    with pytest.raises(UpdateRefused, match="does not know its hub's signing key"):
        open_from_hub(bytes(DEV), b"", blob)
    with pytest.raises(UpdateRefused, match="cut short"):
        open_from_hub(bytes(DEV), bytes(HUB.verify_key), blob[: blob.index(b"}\n") + 2])
    # a header changed and re-signed by someone else is still refused
    with pytest.raises(UpdateRefused):
        open_from_hub(bytes(DEV), bytes(HUB.verify_key), blob.replace(b'"12"', b'"99"'))
    with pytest.raises(UpdateRefused, match="not an update"):
        open_from_hub(bytes(DEV), bytes(HUB.verify_key), b"hello")


def test_hub_key_gains_signing_key_and_keeps_it(tmp_path: Path) -> None:
    from assistant.hub.keys import create_keys, unlock, verify_key

    home = tmp_path / "hub"
    home.mkdir()
    create_keys(home, "correct horse battery staple", kdf="minimum")
    doc = json.loads((home / "hub.key").read_text())
    assert doc["verify_key"] and doc["signing_key_locked"]
    keys = unlock(home, "correct horse battery staple")
    assert keys.signing_key and keys.verify_key == verify_key(home)
    # an old key file (before the signing key) gains one at the next unlock, then keeps it
    del doc["verify_key"], doc["signing_key_locked"]
    (home / "hub.key").write_text(json.dumps(doc))
    assert verify_key(home) is None
    first = unlock(home, "correct horse battery staple")
    assert first.verify_key and verify_key(home) == first.verify_key
    again = unlock(home, "correct horse battery staple")
    assert again.signing_key == first.signing_key and again.public_key == keys.public_key
    assert "signing_key_locked" in json.loads((home / "hub.key").read_text())


def test_enrolment_gives_the_hub_verify_key(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from assistant.hub.backup import backup
    from assistant.hub.keys import unlock
    from assistant.sync.device import Enrolment
    from tests.test_sync_support import PASSPHRASE, ThreadHub, enrol_device, new_store, open_hub

    hub = open_hub(tmp_path / "hub", None)
    store = new_store(tmp_path / "dev")
    try:
        with ThreadHub(hub) as th:
            enrolment = enrol_device(hub, th.url, tmp_path / "dev", store)
        assert hub.verify_key and enrolment.hub_verify == hub.verify_key
        assert Enrolment.load(tmp_path / "dev").hub_verify_key == hub.verify_key.hex()
        blob = seal_for_device(
            hub.signing_key(),
            bytes(nacl.signing.SigningKey(enrolment.signing_seed).verify_key),
            "updates",
            b"hello",
        )
        assert (
            open_from_hub(enrolment.signing_seed, enrolment.hub_verify or b"", blob)[1] == b"hello"
        )
        backup(hub.home, hub.engine, tmp_path / "backup")
        assert unlock(tmp_path / "backup", PASSPHRASE).verify_key == hub.verify_key
    finally:
        store.close()
        hub.close()


def test_old_enrolment_file_still_loads(tmp_path: Path) -> None:
    from assistant.sync.device import Enrolment

    folder = tmp_path / "sync"
    folder.mkdir()
    old = {
        "hub_url": "http://127.0.0.1:1",
        "device_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12,
        "token": "t",
        "hub_public_key": "AAAA",
        "signing_key": "AAAA",
        "enrolled_at": "2026-01-01T00:00:00+00:00",
    }
    (folder / "device.json").write_text(json.dumps(old))
    assert Enrolment.load(tmp_path).hub_verify is None
