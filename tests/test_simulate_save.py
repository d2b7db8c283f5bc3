"""``assistant simulate --save`` and ``assistant demo --save``: a simulated session saved in the
device's record store as a session on the device is, and scenarios that take their people and
jobs from the store. Real engine, real scripts, real record store (fake speech: fast)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from assistant.audio.wav import write_wav
from assistant.cli import main
from assistant.config import Settings
from assistant.dialogue.scenario import load_scenario
from assistant.dialogue.simulate import ScriptedRecognizer, fake_speech_kit, run_scenario
from assistant.records.model import Consent
from assistant.records.store import RecordStore
from assistant.stt.base import Transcript

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"

CHECKIN_FROM_STORE = {
    "script": "daily-checkin",
    "turns": [
        {"press": "yes", "step": "who"},
        {"press": "yes", "step": "who"},
        {"press": "yes", "who": "Sam", "step": "consent"},
        {"press": "yes", "who": "Sam", "step": "mood"},
        {"press": "yes", "who": "Sam", "step": "job_status"},
        {"press": "next", "times": 6, "who": "Sam", "step": "news"},
    ],
    "expect": {"finished": True, "people": ["Sam"]},
}


def use_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    """Point the command at the data folder *name* (a device of its own)."""
    data = tmp_path / name
    config = tmp_path / f"{name}.toml"
    config.write_text(f'[records]\ndata_dir = "{data}"\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    return data


def write_scenario(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_group_saved_then_checkin_without_roster_or_jobs_asks_about_the_job(
    tmp_path, monkeypatch, capsys
):
    data = use_data(tmp_path, monkeypatch, "a")
    group = SCENARIOS / "coproduction-group-mixed.yaml"
    assert main(["simulate", str(group), "--fake-speech", "-q", "--save"]) == 0
    assert "Saved in the record store" in capsys.readouterr().out
    with RecordStore(data) as store:
        sam = store.find_person("Sam")
        assert sam is not None and sam.consent is not None and sam.consent.audio
        (job,) = store.jobs_for(sam.id)
        assert "posters" in job.what and job.status == "planned"
        (saved,) = store.sessions()
        assert saved.state == "finalised" and saved.device_id == store.device_id()
        assert {p.name for p in saved.people} == {"Sam", "Priya"}
        # fake speech: the answers' audio is tones, nobody's voice, so no clip is kept
        assert not any(a.audio_clip for a in saved.answers)

    checkin = write_scenario(tmp_path, "checkin", CHECKIN_FROM_STORE)
    out = tmp_path / "checkin.json"
    assert main(["simulate", str(checkin), "--fake-speech", "--save", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Your job: I will make the posters." in " ".join(said.split())
    record = json.loads(out.read_text())
    assert [p["id"] for p in record["people"]] == [sam.id]  # the store's Sam, not a new one
    with RecordStore(data) as store:
        assert len(store.people()) == 2  # no second Sam
        (job,) = store.jobs_for(sam.id)
        assert job.status == "done"  # the check-in's update is in the store
        assert len(store.sessions()) == 2
        assert {s.script for s in store.sessions()} == {"coproduction-group", "daily-checkin"}


def test_saving_the_same_scenario_twice_makes_two_sessions(tmp_path, monkeypatch):
    data = use_data(tmp_path, monkeypatch, "a")
    group = SCENARIOS / "coproduction-group-buttons.yaml"
    for _ in range(2):
        assert main(["simulate", str(group), "--fake-speech", "-q", "--save"]) == 0
    with RecordStore(data) as store:
        assert len(store.sessions()) == 2  # fresh ids each time, as on the device
        assert sorted(p.name for p in store.people()) == ["Priya", "Sam"]  # the same people


def test_no_roster_and_an_empty_store_says_how_to_fix_it(tmp_path, monkeypatch, capsys):
    data = use_data(tmp_path, monkeypatch, "empty")
    checkin = write_scenario(tmp_path, "checkin", CHECKIN_FROM_STORE)
    assert main(["simulate", str(checkin), "--fake-speech", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "there is no roster: in the scenario and no one in the record store in" in err
    assert str(data) in err and "assistant people add" in err


def test_no_roster_takes_people_added_by_hand_and_jobs_in_the_scenario_name_them(
    tmp_path, monkeypatch, capsys
):
    data = use_data(tmp_path, monkeypatch, "b")
    with RecordStore(data) as store:
        store.add_person("Sam", consent=Consent(audio=False, method="staff_recorded"))
    one = CHECKIN_FROM_STORE["turns"][1:]  # one person: no "You are Sam. Is that right?"
    scenario = dict(CHECKIN_FROM_STORE, turns=one, jobs=[{"person": "Sam", "what": "Feed the cat"}])
    assert main(["simulate", str(write_scenario(tmp_path, "c", scenario)), "--fake-speech"]) == 0
    assert "Your job: Feed the cat." in " ".join(capsys.readouterr().out.split())
    bad = dict(CHECKIN_FROM_STORE, jobs=[{"person": "Tom", "what": "Feed the cat"}])
    assert main(["simulate", str(write_scenario(tmp_path, "d", bad)), "--fake-speech"]) == 2
    assert "job 'Feed the cat' is for Tom, who is not in the record store" in (
        capsys.readouterr().err
    )


def test_a_scenario_that_stops_part_way_leaves_no_draft_in_the_store(tmp_path, monkeypatch, capsys):
    data = use_data(tmp_path, monkeypatch, "a")
    scenario = yaml.safe_load((SCENARIOS / "daily-checkin-buttons.yaml").read_text())
    scenario["turns"] = scenario["turns"][:4]
    path = write_scenario(tmp_path, "short", scenario)
    assert main(["simulate", str(path), "--fake-speech", "-q", "--save"]) == 2
    with RecordStore(data) as store:
        assert store.sessions() == [] and store.unfinished_session() is None


class HearsNews(ScriptedRecognizer):
    """The fake recogniser, hearing a recording (an ``audio:`` turn) as some news."""

    def transcribe(self, pcm: np.ndarray, allowed: Any = None, phrases: Any = ()) -> Transcript:
        return Transcript(text="I went to the shops", confidence=0.9, engine="script")


@pytest.mark.parametrize("consent", [True, False])
def test_a_recording_in_the_scenario_is_kept_as_a_clip_only_with_consent(tmp_path, consent):
    wav = tmp_path / "news.wav"
    tone = (np.sin(np.linspace(0, 400 * np.pi, 16000)) * 8000).astype(np.int16)
    write_wav(wav, tone, 16000)
    scenario = {
        "script": "daily-checkin",
        "roster": [{"name": "Sam", "consent": consent}],
        "jobs": [],
        "turns": [
            {"press": "yes", "step": "who"},
            {"press": "yes" if consent else "no", "step": "consent"},
            {"say": "I feel good", "step": "mood"},
            {"audio": "news.wav", "step": "news"},
            {"press": "yes", "step": "news"},
        ],
    }
    kit = fake_speech_kit()
    kit.recognisers["free"] = HearsNews()
    settings = Settings.model_validate({"records": {"data_dir": str(tmp_path / "data")}})
    with RecordStore(settings.data_dir) as store:
        result = run_scenario(
            load_scenario(write_scenario(tmp_path, "news", scenario)),
            settings,
            kit,
            store=store,
            save_to=store,
        )
        assert result.finished and result.saved is not None
        saved = store.get_session(result.saved)
        news = [a for a in saved.answers if a.step_id == "news" and a.transcript]
        assert news and news[-1].transcript == "I went to the shops"
        kept = [a.audio_clip for a in saved.answers if a.audio_clip]
        if consent:
            assert kept == [news[-1].audio_clip]  # the recording; not the voice's "I feel good"
            assert store.clip_path(kept[0]).is_file()
        else:
            assert kept == []
            assert not list(store.clips_dir.glob("*.wav"))


def test_demo_save_puts_the_group_session_in_the_store(tmp_path, monkeypatch, capsys):
    data = use_data(tmp_path, monkeypatch, "demo")
    assert main(["demo", "--fake-speech", "--save"]) == 0
    assert "Saved in the record store" in capsys.readouterr().out
    with RecordStore(data) as store:
        (saved,) = store.sessions()
        assert saved.state == "finalised" and saved.script == "coproduction-group"
        assert sorted(p.name for p in store.people()) == ["Aisha", "Priya", "Sam", "Tom"]
        assert store.open_jobs()  # the jobs the group agreed, for the next check-ins
        priya = store.find_person("Priya")
        assert priya is not None and priya.consent is not None and not priya.consent.audio


REVIEW_FROM_STORE = {
    "script": "review",
    "turns": [
        {"press": "yes", "step": "who"},
        {"press": "yes", "step": "who"},
        {"press": "yes", "step": "who"},
        {"press": "yes", "step": "who"},
        {"press": "no", "step": "who"},
        {"press": "yes", "who": "Priya", "step": "consent"},
        {"press": "yes", "who": "Sam", "step": "consent"},
        {"press": "next", "step": "goal_review"},
        {"press": "next", "step": "goal_review"},
        {"press": "yes", "step": "goal_review"},
    ],
    "expect": {"finished": True, "people": ["Priya", "Sam"]},
}


def test_a_review_looks_again_at_the_goal_agreed_at_an_earlier_meeting(
    tmp_path, monkeypatch, capsys
):
    from datetime import UTC, datetime, timedelta

    from assistant.records.model import Goal, Person, SessionRecord

    data = use_data(tmp_path, monkeypatch, "a")
    with RecordStore(data) as store:
        people = [store.add_person(n) for n in ("Priya", "Sam")]
        at = datetime.now(UTC) - timedelta(days=7)
        older = Goal(text="go swimming", agreed=True)
        changed = Goal(text="go bowling", agreed=True, replaces=older.id)
        idea = Goal(text="go to the moon", agreed=False)  # put to the group, never agreed
        for goals, when in (([older], at), ([changed, idea], at + timedelta(days=1))):
            record = SessionRecord(
                script="coproduction-group",
                started_at=when,
                ended_at=when + timedelta(minutes=30),
                people=[Person(id=p.id, name=p.name) for p in people],
                goals=goals,
            )
            store.save_session(record)
            store.finish_session(record.id)
        assert [g.text for g in store.current_goals()] == ["go bowling"]

    review = write_scenario(tmp_path, "review", REVIEW_FROM_STORE)
    out = tmp_path / "review.json"
    assert main(["simulate", str(review), "--fake-speech", "--save", "-o", str(out)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "Let's look at our goal: go bowling. How is it going?" in said
    record = json.loads(out.read_text())
    (goal,) = [g for g in record["goals"] if g["id"] == changed.id]
    assert goal["status"] == "done"
    assert [c["goal_id"] for c in record["celebrated"] if c["kind"] == "goal_done"] == [changed.id]
    with RecordStore(data) as store:
        assert store.current_goals() == []  # done and celebrated: nothing left to review


def test_where_two_groups_meet_a_review_looks_at_the_goal_of_the_group_in_the_room(
    tmp_path, monkeypatch, capsys
):
    """The garden group (Priya, Sam) agreed a goal; later the cafe group (Tom, Lee) agreed
    theirs on the same device. Priya and Sam's review looks at the garden goal, not the
    latest one; the cafe goal stays in force for the cafe group."""
    from datetime import UTC, datetime, timedelta

    from assistant.records.model import Goal, Person, SessionRecord

    data = use_data(tmp_path, monkeypatch, "a")
    with RecordStore(data) as store:
        priya, sam, tom, lee = (store.add_person(n) for n in ("Priya", "Sam", "Tom", "Lee"))
        at = datetime.now(UTC) - timedelta(days=7)
        garden = Goal(text="grow tomatoes", agreed=True,
                      acceptance={priya.id: "yes", sam.id: "yes"})  # fmt: skip
        cafe = Goal(text="bake a cake", agreed=True, acceptance={tom.id: "yes", lee.id: "yes"})
        later = at + timedelta(days=1)
        for group, goal, when in (((priya, sam), garden, at), ((tom, lee), cafe, later)):
            record = SessionRecord(
                script="coproduction-group", started_at=when, ended_at=when + timedelta(minutes=30),
                people=[Person(id=p.id, name=p.name) for p in group], goals=[goal],
            )  # fmt: skip
            store.save_session(record)
            store.finish_session(record.id)
        assert {g.text for g in store.current_goals()} == {"grow tomatoes", "bake a cake"}

    scenario = {
        **REVIEW_FROM_STORE,
        "turns": [
            {"press": "yes", "step": "who"},
            {"press": "yes", "step": "who"},
            {"press": "yes", "step": "who"},
            {"press": "yes", "step": "who"},
            {"press": "next", "step": "who"},
            {"press": "next", "step": "who"},
            {"press": "no", "step": "who"},
            *REVIEW_FROM_STORE["turns"][5:],
        ],
    }
    review = write_scenario(tmp_path, "review", scenario)
    out = tmp_path / "review.json"
    assert main(["simulate", str(review), "--fake-speech", "--save", "-o", str(out)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "Let's look at our goal: grow tomatoes. How is it going?" in said, said
    assert "bake a cake" not in said
    with RecordStore(data) as store:
        assert [g.text for g in store.current_goals()] == ["bake a cake"]  # garden: done
