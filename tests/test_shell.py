"""The shell and the scenario driver, with a tiny stand-in engine (the real one: test_simulate)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.fake import MemorySpeaker
from assistant.cli import main
from assistant.dialogue.events import (
    Action,
    ButtonPressed,
    End,
    Event,
    KeepAudio,
    Listen,
    PromptFinished,
    Save,
    Say,
    SilenceTimedOut,
    SpeechHeard,
)
from assistant.dialogue.scenario import load_scenario
from assistant.dialogue.shell import JsonRecordSink, SessionShell, SimpleInputs, VirtualClock
from assistant.dialogue.simulate import (
    ScenarioDriver,
    ScenarioExhausted,
    ScenarioMismatch,
    ScriptedRecognizer,
)
from assistant.errors import ConsentError, ScenarioError
from assistant.records.model import Answer, Consent, Person, SessionRecord
from assistant.voice.fake import FakeVoice


class TwoQuestions:
    """Asks each person one free question; silence repeats; a press answers as a button."""

    def __init__(self, people: list[Person]) -> None:
        self.record = SessionRecord(script="two-questions", people=people)
        self.finished = False
        self.events: list[Event] = []
        self.turn = 0
        self.prompt = 0

    def _ask(self) -> list[Action]:
        self.prompt += 1
        person = self.record.people[self.turn]
        return [
            Say(f"{person.name}, what do you want to do? Take your time.", self.prompt),
            Listen("free", "want", person.id, timeout_s=10.0),
        ]

    def start(self) -> list[Action]:
        return self._ask()

    def handle(self, event: Event) -> list[Action]:
        self.events.append(event)
        if isinstance(event, PromptFinished):
            return []
        person = self.record.people[self.turn]
        if isinstance(event, SilenceTimedOut):
            return self._ask()
        if isinstance(event, ButtonPressed) and event.button == "repeat":
            return self._ask()
        answer = Answer(person_id=person.id, step_id="want", question="What do you want to do?")
        actions: list[Action] = []
        if isinstance(event, SpeechHeard):
            answer.transcript = event.transcript.text
            if event.audio_path and person.consent and person.consent.audio:
                actions.append(KeepAudio(answer.id, event.audio_path))
        else:
            assert isinstance(event, ButtonPressed)
            answer.kind = "button"
            answer.value = event.button
        self.record.answers.append(answer)
        actions.insert(0, Save(self.record))
        self.turn += 1
        if self.turn == len(self.record.people):
            self.finished = True
            self.record.state = "finalised"
            return [*actions, Save(self.record, finished=True), Say("Well done.", 99), End()]
        return actions + self._ask()


def _scenario(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _run(tmp_path: Path, body: str) -> tuple[TwoQuestions, SessionShell, ScenarioDriver]:
    scenario = load_scenario(_scenario(tmp_path, body))
    engine = TwoQuestions(scenario.people())
    clock = VirtualClock()
    voice = FakeVoice()
    rec = ScriptedRecognizer()
    driver = ScenarioDriver(
        scenario,
        speech_voice=voice,
        recognisers={"short": rec, "free": rec},
        clock=clock,
        audio_dir=tmp_path / "turns",
    )
    shell = SessionShell(
        engine,
        voice=voice,
        speaker=MemorySpeaker(clock=clock),
        ears=driver,
        inputs=driver,
        sink=JsonRecordSink(tmp_path / "out.json"),
        clock=clock,
    )
    driver.person_name = shell.person_name
    shell.run()
    return engine, shell, driver


ROSTER = """
script: two-questions
roster:
  - {name: Sam, consent: yes}
  - {name: Priya, consent: no}
"""


def test_answers_go_to_the_person_whose_turn_it_was_and_audio_only_with_consent(tmp_path):
    engine, shell, _ = _run(
        tmp_path,
        ROSTER + "turns:\n  - {say: I want to cook, who: Sam}\n  - {say: go bowling, who: Priya}\n",
    )
    data = json.loads((tmp_path / "out.json").read_text())
    names = {p["id"]: p["name"] for p in data["people"]}
    got = {names[a["person_id"]]: a for a in data["answers"]}
    assert got["Sam"]["transcript"] == "I want to cook"
    assert got["Priya"]["transcript"] == "go bowling"
    assert got["Sam"]["audio_clip"] and not got["Priya"]["audio_clip"]
    assert (tmp_path / "out.audio" / f"{got['Sam']['audio_clip']}.wav").is_file()
    assert shell.ended and shell.saved_finished


def test_long_silence_spans_several_listens_on_the_virtual_clock(tmp_path):
    engine, shell, _ = _run(
        tmp_path, ROSTER + "turns:\n  - silence: 25\n  - press: yes\n  - press: no\n"
    )
    silences = [e for e in engine.events if isinstance(e, SilenceTimedOut)]
    assert [s.waited_s for s in silences] == [10.0, 10.0]  # 25 s: two timeouts, then 5 s more
    assert shell.clock.monotonic() >= 25.0
    assert [a.value for a in engine.record.answers] == ["yes", "no"]


def test_press_during_prompt_stops_the_speaker_and_says_so(tmp_path):
    engine, shell, _ = _run(
        tmp_path, ROSTER + "turns:\n  - {press: next, during_prompt: true}\n  - press: yes\n"
    )
    first = next(e for e in engine.events if isinstance(e, ButtonPressed))
    assert first.while_speaking and first.button == "next"
    assert shell.barge_ins == 1
    speaker = shell.speaker
    assert isinstance(speaker, MemorySpeaker) and speaker.stops
    cut = speaker.played[0]
    assert cut.stopped_at is not None and len(cut.heard) < len(cut.pcm)


def test_running_out_of_turns_is_a_clear_error_not_a_hang(tmp_path):
    with pytest.raises(ScenarioExhausted, match=r"ran out of turns after turn 1.*Priya.*'want'"):
        _run(tmp_path, ROSTER + "turns:\n  - press: yes\n")
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["state"] == "draft" and len(saved["answers"]) == 1


def test_who_check_catches_a_scenario_out_of_step(tmp_path):
    with pytest.raises(ScenarioMismatch, match=r"turn 2 is for Sam.*listening to Priya"):
        _run(tmp_path, ROSTER + "turns:\n  - press: yes\n  - {press: yes, who: Sam}\n")


def test_json_sink_checks_consent_again(tmp_path):
    person = Person(name="Priya", consent=Consent(audio=False))
    answer = Answer(person_id=person.id, step_id="x", question="q")
    record = SessionRecord(script="s", people=[person], answers=[answer])
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    with pytest.raises(ConsentError, match="Priya"):
        JsonRecordSink(tmp_path / "r.json").keep_audio(record, answer.id, str(wav))


def test_simple_inputs_barge_in_calls_back_and_marks_the_press():
    inputs = SimpleInputs()
    stopped = []
    inputs.set_barge_in(lambda: stopped.append(True))
    with inputs.prompt():
        inputs.put(ButtonPressed("help"))
        assert not inputs.speaking
    assert stopped == [True]
    assert inputs.get() == ButtonPressed("help", while_speaking=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "script: x\nroster: [{name: A, consent: yes}]\nturns:\n  - {prses: yes}\n",
            r"s\.yaml: turn 1: unknown key 'prses'\.$",
        ),
        (
            "script: x\nroster: [{name: A, consent: yes}]\nturns:\n  - press: maybe\n",
            r"s\.yaml: turn 1: press: Input should be 'yes'",
        ),
        (
            "script: x\nroster: [{name: A, consent: yes}]\nturns:\n  - press: yes\n"
            "  - {press: yes, say: hi}\n",
            r"turn 2: needs exactly one of press, say, audio or silence \(has press, say\)",
        ),
        (
            "script: x\nroster: [{name: A, consent: yes}]\nturns:\n  - {say: hi, held: true}\n",
            r"turn 1: during_prompt, held and times go only with press",
        ),
        (
            "script: x\nroster: [{name: A, consent: yes}]\nturns:\n  - audio: nothere.wav\n",
            r"turn 1: audio file .*nothere\.wav does not exist",
        ),
        ("script: x\nroster: [{name: A}]\n", r"s\.yaml: roster entry 1: consent is missing"),
        (
            "script: x\nroster: [{name: A, consent: yes}, {name: A, consent: no}]\n",
            r"the roster names A more than once",
        ),
        (
            "script: x\nroster: [{name: A, consent: yes}]\nturns:\n  - silence: -3\n",
            r"turn 1: silence: Input should be greater than 0",
        ),
        ("script: x\nturns: [\n", r"s\.yaml: not valid YAML at line \d+\."),
        ("- just a list\n", r"a scenario must be a mapping"),
        (
            "script: x\nroster: [{name: A, consent: yes}]\nturns:\n  - yes\n",
            r"turn 1: must be a mapping such as 'press: yes'",
        ),
    ],
)
def test_malformed_scenarios_name_the_file_and_the_turn(tmp_path, body, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(_scenario(tmp_path, body))


def test_bad_settings_override_names_the_scenario(tmp_path):
    from assistant.config import Settings

    scenario = load_scenario(
        _scenario(
            tmp_path,
            "script: x\nroster: [{name: A, consent: yes}]\n"
            "settings: {dialogue: {repeat_after_s: 2}}\n",
        )
    )
    with pytest.raises(ScenarioError, match=r"s\.yaml: settings \[dialogue.repeat_after_s\]"):
        scenario.apply_settings(Settings())


def test_malformed_scenario_is_one_line_from_the_command(tmp_path, capsys):
    path = _scenario(tmp_path, "script: x\nroster: [{name: A, consent: yes}]\nturns: [{x: 1}]\n")
    assert main(["simulate", str(path), "--fake-speech"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "turn 1: unknown key 'x'" in err and "Traceback" not in err


def test_audio_turn_is_read_resampled_and_recognised(tmp_path):
    from assistant.audio.wav import read_wav, write_wav

    tone = (np.sin(np.arange(22050) / 10) * 8000).astype(np.int16)
    write_wav(tmp_path / "clip.wav", tone, 22050)
    engine, _, _ = _run(tmp_path, ROSTER + "turns:\n  - audio: clip.wav\n  - press: yes\n")
    heard = next(e for e in engine.events if isinstance(e, SpeechHeard))
    sha = engine.record.answers[0].audio_clip  # Sam consented: the clip is kept
    assert sha is not None
    kept = read_wav(tmp_path / "out.audio" / f"{sha}.wav")  # 16 kHz, silence around it
    assert abs(len(kept) - (16000 + 0.9 * 16000)) < 200
    assert heard.audio_path is not None and not Path(heard.audio_path).exists()


def test_turn_recordings_are_not_left_on_disk(tmp_path):
    engine, shell, _ = _run(
        tmp_path, ROSTER + "turns:\n  - say: I want to cook\n  - say: go bowling\n"
    )
    heard = [e for e in engine.events if isinstance(e, SpeechHeard)]
    assert len(heard) == 2 and all(e.audio_path for e in heard)
    assert not any(Path(str(e.audio_path)).exists() for e in heard)  # Priya's too: no consent
    assert not (tmp_path / "turns").exists()
    assert len(list((tmp_path / "out.audio").glob("*.wav"))) == 1  # only Sam's is kept
