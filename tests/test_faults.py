"""The one way to inject faults (assistant.faults): named points, from a test or the
environment. The power-loss and sync tests use it to kill processes; these check its rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assistant import faults
from assistant.errors import RecordError
from assistant.records.model import Answer, SessionRecord
from assistant.records.store import RecordStore


class Boom(Exception):
    pass


def boom(name: str) -> None:
    raise Boom(name)


def test_an_unknown_point_is_refused() -> None:
    with pytest.raises(ValueError, match="no fault point called 'save_befor_commit'"):
        faults.set_fault("save_befor_commit")


def test_a_fault_from_a_test_fails_the_store_at_its_boundary(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, min_free_mb=0)
    rec = SessionRecord(script="s")
    rec.answers.append(Answer(step_id="a", question="?", transcript="kept"))
    store.save_session(rec)
    rec.answers.append(Answer(step_id="b", question="?", transcript="lost"))
    with faults.injected("save_before_commit", boom), pytest.raises(Boom):
        store.save_session(rec)
    assert [a.transcript for a in store.get_session(rec.id).answers] == ["kept"]
    store.save_session(rec)  # the fault is gone after the block
    assert len(store.get_session(rec.id).answers) == 2
    with pytest.raises(RecordError):
        store.get_session("no such session")
    store.close()


def test_the_environment_kills_the_process_at_the_point(tmp_path: Path) -> None:
    code = (
        "from assistant.faults import fault_point\n"
        "fault_point('after_seal_clip')\n"
        "print('passed after_seal_clip', flush=True)\n"
        "fault_point('after_seal_session')\n"
        "print('not reached')\n"
    )
    env = {"ASSISTANT_FAULT": "after_seal_session", "PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -9
    assert proc.stdout == "passed after_seal_clip\n"
