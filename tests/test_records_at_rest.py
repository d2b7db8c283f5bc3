"""Data at rest on the device: the store locked with SQLCipher, clips sealed, device.json's
secrets sealed, the key provider chain, and the first-start conversion of a plaintext device
(killed at every step: nothing lost)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_records_support import make_wav

from assistant.errors import KeyProblem, RecordError
from assistant.faults import AT_REST_POINTS
from assistant.records import keys
from assistant.records.encrypt import OLD, connect_raw
from assistant.records.model import Answer, Consent, SessionRecord
from assistant.records.store import RecordStore
from assistant.sync.device import Enrolment

NO_OTP = lambda: (None, "no board key in this test")  # noqa: E731


@pytest.fixture(autouse=True)
def _no_outside_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(keys.ENV_KEY_FILE, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def _fill(store: RecordStore, tmp: Path) -> tuple[SessionRecord, str]:
    sam = store.add_person("Sam", consent=Consent(audio=True, method="button"))
    answer = Answer(person_id=sam.id, step_id="why", question="Why?", transcript="my friends")
    rec = SessionRecord(script="coproduction", people=[sam], answers=[answer])
    store.save_session(rec)
    sha = store.keep_audio(rec.id, answer.id, make_wav(tmp / "turn.wav"))
    assert sha
    store.finish_session(rec.id)
    return rec, sha


def test_the_store_is_unreadable_without_its_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with RecordStore(data, min_free_mb=0) as store:
        _rec, sha = _fill(store, tmp_path)
        assert store.key is not None and store.key.provider == "data-folder"
    raw = (data / "records.sqlite").read_bytes()
    assert not raw.startswith(b"SQLite format 3") and b"my friends" not in raw
    plain = sqlite3.connect(data / "records.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        plain.execute("SELECT * FROM sessions").fetchall()
    plain.close()
    # clips: sealed, no RIFF header, and read back whole through the store
    sealed = data / "clips" / f"{sha}.sealed"
    assert sealed.exists() and not list((data / "clips").glob("*.wav"))
    assert not sealed.read_bytes().startswith(b"RIFF") and b"WAVE" not in sealed.read_bytes()[:64]
    with RecordStore(data, min_free_mb=0) as again:
        wav = again.clip_bytes(sha)
        assert wav.startswith(b"RIFF") and hashlib.sha256(wav).hexdigest() == sha
    assert (data / "records.key").stat().st_mode & 0o077 == 0


def test_a_wrong_or_missing_key_is_one_sentence_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with RecordStore(data, min_free_mb=0) as store:
        _fill(store, tmp_path)
    before = {p.name: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    key_file = data / "records.key"
    good = key_file.read_bytes()
    key_file.write_text("00" * 32 + "\n")
    with pytest.raises(KeyProblem, match="is not the one the records") as err:
        RecordStore(data, min_free_mb=0)
    assert "\n" not in str(err.value)
    key_file.unlink()
    with pytest.raises(KeyProblem, match="is not there"):
        RecordStore(data, min_free_mb=0)
    key_file.write_bytes(good)
    after = {p.name: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    for name, content in before.items():
        if not name.startswith("."):
            assert after[name] == content, f"{name} was changed by a refused open"
    with RecordStore(data, min_free_mb=0) as store:
        assert store.sessions()[0].answers[0].transcript == "my friends"


def test_a_key_that_does_not_open_the_file_is_refused(tmp_path: Path) -> None:
    """No note of the key (at-rest.json lost) and a different key file: the store refuses."""
    data = tmp_path / "data"
    RecordStore(data, min_free_mb=0).close()
    (data / keys.MARKER).unlink()
    (data / "records.key").write_text("11" * 32)
    with pytest.raises(KeyProblem, match="cannot be opened with the key"):
        RecordStore(data, min_free_mb=0)


def test_provider_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 3: nothing named, no board key: a key file in the data folder, and said plainly
    d3 = tmp_path / "d3"
    k = keys.resolve(d3, otp=NO_OTP)
    assert k.provider == "data-folder" and k.where == str(d3 / "records.key")
    assert "protects nothing against theft of the card" in k.protects
    assert "protects nothing" in keys.describe(d3, otp=NO_OTP)
    # 1 (board OTP key) when there is one and nothing is named
    d1 = tmp_path / "d1"
    board = lambda: (bytes(range(32)), "test board")  # noqa: E731
    k1 = keys.resolve(d1, otp=board)
    assert k1.provider == "otp" and not (d1 / "records.key").exists()
    assert keys.resolve(d1, otp=board).master == k1.master
    with pytest.raises(KeyProblem, match="another board"):  # the card in a board without it
        keys.resolve(d1, otp=NO_OTP)
    # a named key file wins, even over a board key; made on first use, on the "stick"
    stick = tmp_path / "stick"
    stick.mkdir()
    monkeypatch.setenv(keys.ENV_KEY_FILE, str(stick / "assistant.key"))
    d2 = tmp_path / "d2"
    k2 = keys.resolve(d2, otp=board)
    assert k2.provider == "file" and (stick / "assistant.key").exists()
    assert "key stick" in keys.describe(d2, otp=board)
    monkeypatch.delenv(keys.ENV_KEY_FILE)
    assert keys.resolve(d2, otp=board).master == k2.master  # the note remembers where
    (stick / "assistant.key").rename(stick / "away")  # the stick taken out
    with pytest.raises(KeyProblem, match="key stick plugged in"):
        keys.resolve(d2, otp=board)
    # the setting, and a systemd credential (read, never made)
    d4 = tmp_path / "d4"
    assert keys.resolve(d4, stick / "set.key", otp=NO_OTP).where == str(stick / "set.key")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / keys.CREDENTIAL_NAME).write_text("ab" * 32)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    k5 = keys.resolve(tmp_path / "d5", otp=NO_OTP)
    assert k5.provider == "file" and k5.master == bytes.fromhex("ab" * 32)


def test_no_board_key_on_this_machine_is_detected_not_faked() -> None:
    secret, why = keys.otp_key()
    if secret is None:
        assert why  # one sentence for check
    else:  # a real Raspberry Pi with a programmed key
        assert len(secret) == 32


def test_device_json_secrets_are_sealed_and_old_files_are_locked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    RecordStore(data, min_free_mb=0).close()
    e = Enrolment(
        hub_url="https://hub.example.org",
        device_id="3f2b3c1e-0000-4000-8000-000000000001",
        token="tok-SECRET-123",
        hub_public_key="aHVi",
        signing_key="c2VlZA==",
        enrolled_at="2026-12-03T10:00:00+00:00",
    )
    path = e.save(data)
    text = path.read_text()
    assert "tok-SECRET-123" not in text and "c2VlZA==" not in text
    assert json.loads(text)["hub_url"] == "https://hub.example.org"  # the rest stays readable
    assert Enrolment.load(data) == e
    # a plaintext file from before encryption is read, then written back sealed
    path.write_text(json.dumps(e.__dict__))
    assert Enrolment.load(data) == e
    assert "tok-SECRET-123" not in path.read_text()
    # another key: one sentence, the file untouched
    (data / "records.key").write_text("22" * 32)
    (data / keys.MARKER).unlink()
    before = path.read_bytes()
    with pytest.raises(KeyProblem, match="cannot be opened"):
        Enrolment.load(data)
    assert path.read_bytes() == before


# ------------------------------------------------------------------ converting a plaintext device


def _plaintext_device(tmp_path: Path) -> tuple[Path, SessionRecord, str]:
    data = tmp_path / "data"
    with RecordStore(data, min_free_mb=0, key="plaintext") as store:
        rec, sha = _fill(store, tmp_path)
    assert (data / "records.sqlite").read_bytes().startswith(b"SQLite format 3")
    assert (data / "clips" / f"{sha}.wav").read_bytes().startswith(b"RIFF")
    return data, rec, sha


def _check_converted(data: Path, rec: SessionRecord, sha: str) -> None:
    with RecordStore(data, min_free_mb=0) as store:
        back = store.get_session(rec.id)
        assert back.answers[0].transcript == "my friends" and back.state == "finalised"
        assert back.answers[0].audio_clip == sha
        assert hashlib.sha256(store.clip_bytes(sha)).hexdigest() == sha
        assert store.people()[0].name == "Sam"
    assert not (data / "records.sqlite").read_bytes().startswith(b"SQLite format 3")
    assert not list((data / "clips").glob("*.wav"))
    assert not list(data.glob("records.sqlite.*"))
    conn = connect_raw(data)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_a_plaintext_device_is_locked_on_first_start(tmp_path: Path) -> None:
    data, rec, sha = _plaintext_device(tmp_path)
    _check_converted(data, rec, sha)


CHILD = r"""
import sys
from pathlib import Path
from assistant import faults
from assistant.records.store import RecordStore
faults.set_fault(sys.argv[2])
RecordStore(Path(sys.argv[1]), min_free_mb=0).close()
print("not killed")
"""


@pytest.mark.parametrize("point", AT_REST_POINTS)
def test_conversion_killed_at_any_step_loses_nothing(tmp_path: Path, point: str) -> None:
    data, rec, sha = _plaintext_device(tmp_path)
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(data), point], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == -9, run.stderr  # SIGKILL at the point
    if point in ("encrypt_after_export", "encrypt_after_link"):
        assert (data / "records.sqlite").read_bytes().startswith(b"SQLite format 3")
    if point == "encrypt_after_link":
        assert (data / f"records.sqlite{OLD}").exists()
    _check_converted(data, rec, sha)


def test_the_plaintext_store_is_not_overwritten_when_the_key_is_missing(tmp_path: Path) -> None:
    data, rec, sha = _plaintext_device(tmp_path)
    (data / keys.MARKER).write_text(
        json.dumps({"provider": "file", "where": str(tmp_path / "gone.key"), "fingerprint": "x"})
    )
    before = (data / "records.sqlite").read_bytes()
    with pytest.raises(KeyProblem, match="is not there"):
        RecordStore(data, min_free_mb=0)
    assert (data / "records.sqlite").read_bytes() == before
    assert (data / "clips" / f"{sha}.wav").exists()


def test_a_locked_store_opened_without_a_key_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    RecordStore(data, min_free_mb=0).close()
    with pytest.raises(RecordError, match="locked"):
        RecordStore(data, min_free_mb=0, key="plaintext")
