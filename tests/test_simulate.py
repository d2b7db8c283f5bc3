"""Scenarios run through ``assistant simulate`` with the real engine and scripts.

Fast tests use ``--fake-speech`` (fake voice, the recogniser hears the scenario's text); the slow
ones use the real Piper voice and the real recogniser. Each asserts on the written record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from assistant.cli import main
from assistant.config import Settings
from assistant.dialogue import prompts as P
from assistant.dialogue.events import ButtonPressed
from assistant.dialogue.scenario import Scenario, Turn, load_scenario
from assistant.dialogue.simulate import fake_speech_kit, run_scenario
from assistant.records.model import SessionRecord
from assistant.stt.base import Transcript

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
SCHEMA = ROOT / "docs" / "record.schema.json"
ALL = sorted(SCENARIOS.glob("*.yaml"))


def schema_text() -> str:
    return json.dumps(SessionRecord.model_json_schema(), indent=2, sort_keys=True) + "\n"


@pytest.fixture(scope="session")
def shared_data(tmp_path_factory):
    """One data folder for these tests, so the prompt cache is filled once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch, shared_data):
    # The data folder's default is read from ASSISTANT_DATA at import time: use a config file.
    config = tmp_path / "config.toml"
    config.write_text(f'[records]\ndata_dir = "{shared_data}"\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))


def simulate(path: Path, out: Path, *extra: str) -> dict[str, Any]:
    code = main(["simulate", str(path), "-q", "--record-out", str(out), *extra])
    assert code == 0, f"{path.name} exited with {code}"
    data: dict[str, Any] = json.loads(out.read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    return data


def by_name(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    names = {p["id"]: p["name"] for p in data["people"]}
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names.values()}
    for a in data["answers"]:
        if a["person_id"] is not None:
            out[names[a["person_id"]]].append(a)
    return out


def test_committed_schema_is_the_generated_one():
    assert SCHEMA.read_text() == schema_text(), "regenerate docs/record.schema.json"


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_every_scenario_meets_its_expectations(path, tmp_path):
    data = simulate(path, tmp_path / "out.json", "--fake-speech")
    assert data["state"] == "finalised"
    assert data["ended_at"] is not None
    assert data["engines"]["short"] == "script"


def test_group_of_four_answers_are_kept_against_the_person_whose_turn_it_was(tmp_path):
    data = simulate(SCENARIOS / "group-of-four-passes.yaml", tmp_path / "out.json", "--fake-speech")
    answers = by_name(data)
    own_words = {
        "Sam": "meet new people",
        "Priya": "the people here",
        "Tom": "have a say",
        "Aisha": "friends come here",
    }
    for name, words in own_words.items():
        why = [a for a in answers[name] if a["step_id"] == "why_here" and not a["passed"]]
        assert len(why) == 1 and words in why[0]["transcript"], name
    # Tom passed on why_here: his answer comes after everyone else's first go.
    order = [(a["person_id"], a["passed"]) for a in data["answers"] if a["step_id"] == "why_here"]
    names = {p["id"]: p["name"] for p in data["people"]}
    assert [(names[pid], passed) for pid, passed in order] == [
        ("Sam", False),
        ("Priya", False),
        ("Tom", True),
        ("Aisha", False),
        ("Tom", False),
    ]
    # Turn order rotates between questions: the second round does not start with Sam.
    want = [names[a["person_id"]] for a in data["answers"] if a["step_id"] == "want_to_do"]
    assert want[0] != "Sam"
    # Everyone rated every idea; only people who consented have audio.
    assert all(len(idea["ratings"]) == 4 for idea in data["ideas"]) and len(data["ideas"]) == 4
    # Priya and Aisha said no: in a group nobody's voice is kept then (one microphone hears
    # the room), only the words.
    for name in ("Sam", "Priya", "Tom", "Aisha"):
        assert not [a for a in answers[name] if a["audio_clip"]], name
        assert [a for a in answers[name] if a["transcript"]], name  # the words are kept
    assert not list((tmp_path / "out.audio").glob("*.wav"))
    jobs = {names[j["person_id"]]: j for j in data["jobs"]}
    assert "bus company" in jobs["Tom"]["what"] and jobs["Sam"]["support"] == "myself"


class Recorder:
    """A narrator that keeps what was said and pressed."""

    def __init__(self) -> None:
        self.said_texts: list[str] = []
        self.presses: list[ButtonPressed] = []
        self.silences: list[float] = []

    def said(self, text: str, interrupted: bool) -> None:
        self.said_texts.append(text)

    def pressed(self, who: str | None, event: ButtonPressed) -> None:
        self.presses.append(event)

    def heard(self, who: str | None, transcript: Transcript) -> None:
        pass

    def silent(self, who: str | None, seconds: float) -> None:
        self.silences.append(seconds)


def _run(scenario: Scenario, tmp_path: Path) -> tuple[Any, Recorder]:
    seen = Recorder()
    result = run_scenario(
        scenario, Settings(), fake_speech_kit(), record_out=tmp_path / "r.json", narrator=seen
    )
    return result, seen


def test_long_silence_repeats_the_same_words_then_waits_with_a_reminder(tmp_path):
    result, seen = _run(load_scenario(SCENARIOS / "daily-checkin-silences.yaml"), tmp_path)
    said = seen.said_texts
    mood = [s for s in said if "How are you feeling today?" in s]
    assert len(mood) == 3 and len(set(mood)) == 1  # asked, then twice again in the same words
    job = [s for s in said if "Water the plants" in s and "How did it go?" in s]
    assert len(job) == 4 and job[0] == job[1] == job[2] == job[3]  # asked, repeated twice...
    reminder = len(said) - 1 - said[::-1].index(job[3])
    assert said[reminder - 1] == P.REMINDER  # ...a gentle reminder (its own utterance) first
    assert result.finished and result.virtual_s >= 25 + 95
    assert not result.failures


def test_barge_in_cuts_the_prompt_and_the_press_counts(tmp_path):
    result, seen = _run(load_scenario(SCENARIOS / "daily-checkin-barge-in.yaml"), tmp_path)
    assert result.barge_ins == 5
    assert [p.while_speaking for p in seen.presses[:6]] == [False, True, True, True, True, True]
    assert not result.failures


@pytest.mark.parametrize(
    "name",
    ["coproduction-group-buttons", "my-goals-buttons", "daily-checkin-buttons", "review-buttons"],
)
def test_help_and_repeat_work_at_every_listening_step(name, tmp_path):
    plain = load_scenario(SCENARIOS / f"{name}.yaml")
    before, _ = _run(plain, tmp_path)
    turns: list[Turn] = []
    for turn in plain.turns:
        turns += [Turn(press="help"), Turn(press="repeat"), turn.model_copy(update={"who": None})]
    noisy = plain.model_copy(update={"turns": turns, "expect": None})
    after, _ = _run(noisy, tmp_path)
    assert after.finished and after.turns_used == 3 * len(plain.turns)
    assert [a.value for a in after.record.answers] == [a.value for a in before.record.answers]
    assert [a.step_id.split("/")[0] for a in after.record.answers] == [
        a.step_id.split("/")[0] for a in before.record.answers
    ]
    assert after.prompts > before.prompts + len(plain.turns)  # help and the question again


def test_scenario_that_stops_early_fails_clearly_and_keeps_the_draft(tmp_path, capsys):
    text = (SCENARIOS / "daily-checkin-buttons.yaml").read_text()
    data = yaml.safe_load(text)
    data["turns"] = data["turns"][:4]  # who, "You are Sam. Is that right?", consent, mood
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["simulate", str(path), "--fake-speech", "-q", "-o", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert "ran out of turns after turn 4" in err and "step 'job_status'" in err
    draft = json.loads((tmp_path / "o.json").read_text())
    assert draft["state"] == "draft" and len(draft["answers"]) == 3


def test_expectation_not_met_exits_1_and_names_it(tmp_path, capsys):
    data = yaml.safe_load((SCENARIOS / "daily-checkin-buttons.yaml").read_text())
    data["expect"] = {"answers": {"Sam": {"mood": "not_good"}}, "flags": []}
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["simulate", str(path), "--fake-speech", "-q", "-o", str(tmp_path / "o.json")]) == 1
    out = capsys.readouterr().out
    assert "Sam's answer at mood should contain 'not_good'" in out
    assert "flags: expected [], got ['Sam: asked_for_help']" in out


def test_scripts_check_and_list(tmp_path, capsys):
    assert main(["scripts", "check", str(ROOT / "assistant/dialogue/scripts/review.yaml")]) == 0
    assert capsys.readouterr().out.strip() == "ok"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntitle: Bad\nkind: group\nsteps:\n  - {id: a, type: nonsense}\n")
    assert main(["scripts", "check", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.yaml" in err and "\n" not in err
    assert main(["scripts", "list"]) == 0
    listed = capsys.readouterr().out
    for name in ("coproduction-group", "daily-checkin", "my-goals", "review"):
        assert name in listed


# ---------------------------------------------------------------- real voice, real recogniser

REAL = ["daily-checkin-voice", "review-voice", "my-goals-voice", "coproduction-group-voice"]


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_voice_scenarios_with_real_piper_and_recogniser(name, tmp_path):
    data = simulate(SCENARIOS / f"{name}.yaml", tmp_path / "out.json")
    assert data["engines"]["voice"].startswith("piper:")
    heard = [a for a in data["answers"] if a["engine"]]
    assert heard and all(a["engine"] != "script" for a in heard)
    assert all(a["confidence"] is not None for a in heard)


def test_own_script_beside_the_scenario_and_settings_overrides(tmp_path):
    script = (ROOT / "assistant/dialogue/scripts/daily-checkin.yaml").read_text()
    (tmp_path / "my-checkin.yaml").write_text(script.replace("name: daily-checkin", "name: mine"))
    data = yaml.safe_load((SCENARIOS / "daily-checkin-silences.yaml").read_text())
    data["script"] = "my-checkin.yaml"  # relative to the scenario file
    data["settings"] = {"dialogue": {"repeat_after_s": 20}}
    data["turns"][2] = {"silence": 45}  # 20 s, said again, 20 s, said again, 5 s, then yes
    del data["expect"]
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    result, seen = _run(load_scenario(path), tmp_path)
    assert result.finished and result.record.script == "mine"
    mood = [s for s in seen.said_texts if "How are you feeling today?" in s]
    assert len(mood) == 3
    assert seen.silences[:2] == [20.0, 20.0]  # the scenario's own wait, not the default 10 s
