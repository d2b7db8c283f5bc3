"""``assistant demo``: the README's main job, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from assistant.cli import main

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "record.schema.json"


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    # The data folder's default is read from ASSISTANT_DATA at import time: use a config file.
    config = tmp_path / "config.toml"
    config.write_text(f'[records]\ndata_dir = "{tmp_path / "data"}"\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))


def _check_record(data: dict[str, Any]) -> None:
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert data["state"] == "finalised"
    names = {p["id"]: p["name"] for p in data["people"]}
    assert sorted(names.values()) == ["Aisha", "Priya", "Sam", "Tom"]
    consent = {p["name"]: p["consent"]["audio"] for p in data["people"]}
    assert consent == {"Sam": True, "Priya": False, "Tom": True, "Aisha": False}
    for pid, name in names.items():
        mine = [a for a in data["answers"] if a["person_id"] == pid]
        why = [a for a in mine if a["step_id"] == "why_here" and not a["passed"]]
        assert len(why) == 1 and why[0]["transcript"].strip(), name
        # Priya and Aisha said no: in a group nobody's voice is kept (one microphone hears the
        # room), the words only
        assert not any(a["audio_clip"] for a in mine), name
    tom = [a for a in data["answers"] if names.get(a["person_id"]) == "Tom"]
    assert [a["passed"] for a in tom if a["step_id"] == "why_here"] == [True, False]
    assert len(data["goals"]) == 1 and len(data["jobs"]) == 4 and data["next_meeting"]
    assert {names[j["person_id"]] for j in data["jobs"]} == set(names.values())
    # Aisha uses the buttons only (issue 13): nothing she said was heard, every open question
    # was answered by a choice, and she ends with a job she confirmed at the plan read-back.
    aisha = [a for a in data["answers"] if names.get(a["person_id"]) == "Aisha"]
    assert aisha and all(a["engine"] is None and a["confirmed_by"] != "voice" for a in aisha)
    assert any(a["kind"] == "choice" and a["step_id"] == "why_here" for a in aisha)
    job = next(j for j in data["jobs"] if names[j["person_id"]] == "Aisha")
    assert job["what"] == "Buy what we need" and job["support"]
    plan = [a for a in aisha if a["step_id"] == f"plan/{job['id']}"]
    assert [(a["value"], a["confirmed_by"]) for a in plan] == [("yes", "button")]


def test_demo_with_fake_speech_writes_a_valid_record_in_the_data_folder(tmp_path, capsys):
    assert main(["demo", "--fake-speech"]) == 0
    out = capsys.readouterr().out
    written = sorted((tmp_path / "data" / "demo").glob("demo-*.json"))
    assert len(written) == 1 and written[0].name in out.replace("\n", "")
    _check_record(json.loads(written[0].read_text()))
    assert "Tom, you passed before" in out
    assert "presses yes (during the prompt)" in out.replace("\n", " ")  # barge-in


@pytest.mark.slow
def test_demo_with_the_real_voice_and_recogniser(tmp_path, capsys):
    out_file = tmp_path / "demo.json"
    assert main(["demo", "--record-out", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "piper:" in out and ("Whisper" in out or "Vosk" in out)  # which engines, and why
    data = json.loads(out_file.read_text())
    _check_record(data)
    assert data["engines"]["voice"].startswith("piper:")
    heard = [a for a in data["answers"] if a["engine"]]
    assert heard and all(a["confidence"] is not None for a in heard)


def test_a_virtual_person_not_understood_presses_the_button_next():
    """Tom likes an idea and says so; asked the same again (the recogniser did not understand
    him, as on a noisy day), he presses green rather than saying it for ever."""
    from assistant.core.events import Listen
    from assistant.dialogue.demo import PEOPLE, VirtualGroup

    group = VirtualGroup(PEOPLE)
    tom = next(p for p in PEOPLE if p.name == "Tom")
    listen = Listen(
        role="short",
        step_id="rating",
        person_id="t",
        phrases=("don't like", "not sure", "like", "i like that"),
    )
    said = (
        f"What do you think of {tom.words['want to do']}? For don't like, press red. For like, "
        "press green. For more, press yellow. I'm listening now."
    )
    first = group.decide(listen, said, lambda _pid: "Tom")
    assert not isinstance(first, list) and first.say  # a talker says it first
    again = group.decide(listen, said, lambda _pid: "Tom")
    assert not isinstance(again, list) and again.press == "yes" and not again.say
