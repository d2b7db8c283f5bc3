"""Simulation scenarios: a script, a roster and what happens at each listening turn.

A scenario is a small YAML file (format in ``docs/scenario.md``)::

    script: daily-checkin
    roster:
      - {name: Sam, consent: yes}
    turns:
      - press: yes
      - say: "I feel good today"
      - silence: 25
    expect:
      finished: true

:func:`load_scenario` reads and checks it; every error is one :class:`ScenarioError` sentence
that names the file and, for a turn, its number (counted from 1). :func:`check_expectations`
compares a finished record with the ``expect:`` block and returns the failures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.config import Settings
from assistant.errors import ScenarioError
from assistant.records.model import Flag, Person, SessionRecord
from assistant.words import ShortAnswer


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RosterEntry(_Strict):
    """One person who may take part."""

    name: str = Field(min_length=1)
    consent: bool = Field(description="Has agreed to keep recordings of their own voice")
    repeat_after_s: float | None = Field(None, ge=10, le=600)
    words_per_minute: float | None = Field(None, ge=80, le=250)


class JobEntry(_Strict):
    """A job planned at an earlier session (for ``daily-checkin`` and ``review``)."""

    person: str
    what: str = Field(min_length=1)
    when: str | None = None
    support: Literal["myself", "a_little_help", "a_lot_of_help"] | None = None


class Turn(_Strict):
    """What happens at one listening turn: exactly one of press, say, audio, silence."""

    press: ShortAnswer | None = None
    say: str | None = None
    audio: Path | None = None
    silence: float | None = Field(None, gt=0, le=3600)
    during_prompt: bool = False
    held: bool = False
    times: int = Field(
        1, ge=1, le=20, description="Press the button this many times (e.g. to pass by yellow)"
    )
    who: str | None = Field(None, description="Check: the engine is listening to this person")
    step: str | None = Field(None, description="Check: the engine is at this step")

    @model_validator(mode="before")
    @classmethod
    def _yaml_yes_no(cls, data: Any) -> Any:
        # YAML reads a bare yes / no as true / false; "press: yes" means the yes button.
        if isinstance(data, dict) and isinstance(data.get("press"), bool):
            data = {**data, "press": "yes" if data["press"] else "no"}
        return data

    @model_validator(mode="after")
    def _one_input(self) -> Turn:
        given = [k for k in ("press", "say", "audio", "silence") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "needs exactly one of press, say, audio or silence"
                + (f" (has {', '.join(given)})" if given else "")
            )
        if (self.during_prompt or self.held or self.times > 1) and self.press is None:
            raise ValueError("during_prompt, held and times go only with press")
        if self.say is not None and not self.say.strip():
            raise ValueError("say needs some words")
        return self

    @property
    def kind(self) -> str:
        for key in ("press", "say", "audio", "silence"):
            if getattr(self, key) is not None:
                return key
        raise AssertionError("validated turn without input")  # pragma: no cover


class Expect(_Strict):
    """Checks on the finished record; each one named in the report when it fails."""

    finished: bool | None = None
    people: list[str] | None = Field(None, description="Exactly who took part, in any order")
    answers: dict[str, dict[str, str]] | None = Field(
        None, description="person -> step id -> words the kept answer contains (or its value)"
    )
    passed: dict[str, list[str]] | None = Field(
        None, description="person -> steps they passed on (next) and were asked again"
    )
    flags: list[str] | None = Field(
        None, description="Flags raised, as 'kind' or 'person: kind' (exactly these)"
    )
    audio_kept: dict[str, bool] | None = Field(
        None, description="person -> whether any of their answers kept its audio"
    )
    jobs: int | None = Field(None, ge=0, description="Number of jobs in the record")
    goals: int | None = Field(None, ge=0, description="Number of goals in the record")
    next_meeting: bool | None = Field(None, description="A next meeting was set")


class Scenario(_Strict):
    script: str
    roster: list[RosterEntry] = Field(
        default_factory=list,
        min_length=1,
        description="Who may take part; left out: the people in the device's record store",
    )
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    jobs: list[JobEntry] = Field(
        default_factory=list,
        description="Open jobs from earlier sessions; left out: the record store's open jobs",
    )
    facilitator: str | None = None
    next_meeting: str | None = None
    seed: int = 0
    turns: list[Turn] = Field(default_factory=list)
    expect: Expect | None = None

    path: Path | None = Field(None, exclude=True)
    """The file it came from (set by :func:`load_scenario`)."""

    @model_validator(mode="after")
    def _names(self) -> Scenario:
        names = [p.name for p in self.roster]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"the roster names {', '.join(dupes)} more than once")
        if not self.has_roster:
            return self  # the jobs' people are looked up in the record store when it runs
        for job in self.jobs:
            if job.person not in names:
                raise ValueError(f"job {job.what!r} is for {job.person}, who is not in the roster")
        return self

    @property
    def has_roster(self) -> bool:
        """The scenario names its people (else they come from the device's record store)."""
        return "roster" in self.model_fields_set

    @property
    def has_jobs(self) -> bool:
        """The scenario lists its open jobs, even none (else the record store's open jobs)."""
        return "jobs" in self.model_fields_set

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def script_ref(self) -> str:
        """The script name, or a path made absolute against the scenario's folder."""
        if self.script.endswith((".yaml", ".yml")) or "/" in self.script:
            return str((self.folder / self.script).resolve())
        return self.script

    def audio_path(self, turn: Turn) -> Path:
        assert turn.audio is not None
        return turn.audio if turn.audio.is_absolute() else self.folder / turn.audio

    def apply_settings(self, base: Settings) -> Settings:
        """*base* with this scenario's overrides (a bad key names the scenario file)."""
        data = base.model_dump()
        for section, values in self.settings.items():
            if section not in data or not isinstance(data[section], dict):
                raise ScenarioError(f"{self._where()}: settings has no section {section!r}.")
            data[section].update(values)
        try:
            return Settings.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ScenarioError(f"{self._where()}: settings [{where}] {err['msg']}.") from exc

    def people(self) -> list[Person]:
        """The roster as record people (consent as recorded by staff before the session)."""
        from assistant.records.model import Consent

        return [
            Person(
                name=p.name,
                consent=Consent(audio=p.consent, method="staff_recorded"),
                repeat_after_s=p.repeat_after_s,
                words_per_minute=p.words_per_minute,
            )
            for p in self.roster
        ]

    def _where(self) -> str:
        return str(self.path) if self.path is not None else "scenario"


def _explain(exc: ValidationError, path: Path) -> str:
    err = exc.errors()[0]
    loc = list(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    where = str(path)
    if len(loc) >= 2 and loc[0] == "turns" and isinstance(loc[1], int):
        where += f": turn {loc[1] + 1}"
        loc = loc[2:]
    elif len(loc) >= 2 and loc[0] in ("roster", "jobs") and isinstance(loc[1], int):
        where += f": {loc[0]} entry {loc[1] + 1}"
        loc = loc[2:]
    if err["type"] == "extra_forbidden":
        msg = f"unknown key {loc[-1]!r}"
        loc = loc[:-1]
    elif err["type"] == "missing":
        msg = f"{loc[-1]} is missing"
        loc = loc[:-1]
    if loc:
        where += f": {'.'.join(str(p) for p in loc)}"
    return f"{where}: {msg}."


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"Scenario file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"Cannot read scenario file {path}: {exc}.") from exc
    if len(text) > 1024 * 1024:
        raise ScenarioError(f"{path}: the file is too large for a scenario (over 1 MB).")
    try:
        data = yaml.safe_load(text)
    except RecursionError as exc:
        raise ScenarioError(f"{path}: it is nested too deeply to be a scenario.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}: not valid YAML{line}.") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario must be a mapping with script, roster and turns.")
    if isinstance(data.get("turns"), list):
        for i, entry in enumerate(data["turns"], 1):
            if not isinstance(entry, dict):
                raise ScenarioError(f"{path}: turn {i}: must be a mapping such as 'press: yes'.")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_explain(exc, path)) from exc
    scenario.path = path
    for i, turn in enumerate(scenario.turns, 1):
        if turn.audio is not None and not scenario.audio_path(turn).is_file():
            raise ScenarioError(
                f"{path}: turn {i}: audio file {scenario.audio_path(turn)} does not exist."
            )
    return scenario


# ---------------------------------------------------------------- expectations


def _flag_text(flag: Flag, names: dict[str, str]) -> str:
    if flag.person_id is None:
        return flag.kind
    return f"{names.get(flag.person_id, flag.person_id)}: {flag.kind}"


def _at(answer_step: str, step: str) -> bool:
    """An answer is at *step* when its step id is that, or that inside a loop (``step/<id>``)."""
    return answer_step == step or answer_step.split("/")[0] == step


def check_expectations(expect: Expect | None, record: SessionRecord, finished: bool) -> list[str]:
    """Each expectation the record does not meet, as one sentence (empty: all met)."""
    if expect is None:
        return []
    failures: list[str] = []
    names = {p.id: p.name for p in record.people}
    ids = {p.name: p.id for p in record.people}

    if expect.finished is not None and expect.finished != finished:
        failures.append(
            "the session should have finished" if expect.finished else "the session finished"
        )
    if expect.people is not None and sorted(expect.people) != sorted(names.values()):
        failures.append(
            f"people taking part: expected {sorted(expect.people)}, got {sorted(names.values())}"
        )
    for name, steps in (expect.answers or {}).items():
        if name not in ids:
            failures.append(f"answers: {name} is not in the record")
            continue
        for step, words in steps.items():
            given = [
                a for a in record.answers_for(ids[name]) if _at(a.step_id, step) and not a.passed
            ]
            texts = [f"{a.transcript} {a.value or ''}".lower() for a in given]
            if not any(words.lower() in t for t in texts):
                got = "; ".join(repr(t.strip()) for t in texts) or "no answer"
                failures.append(f"{name}'s answer at {step} should contain {words!r} (got {got})")
    for name, passed_steps in (expect.passed or {}).items():
        if name not in ids:
            failures.append(f"passed: {name} is not in the record")
            continue
        for step in passed_steps:
            theirs = record.answers_for(ids[name])
            mine = [a for a in theirs if _at(a.step_id, step)]
            first = next((i for i, a in enumerate(theirs) if _at(a.step_id, step) and a.passed), 0)
            # After two passes a person is not asked again in front of the group.
            before = sum(1 for a in theirs[:first] if a.passed)
            if not any(a.passed for a in mine):
                failures.append(f"{name} should have passed at {step}")
            elif len(mine) < 2 and before < 2:
                failures.append(f"{name} passed at {step} but was not asked again")
    if expect.flags is not None:
        got_flags = sorted(_flag_text(f, names) for f in record.flags)
        unmatched = list(got_flags)
        missing: list[str] = []
        for want in expect.flags:
            hit = next((g for g in unmatched if g == want or g.split(": ")[-1] == want), None)
            if hit is None:
                missing.append(want)
            else:
                unmatched.remove(hit)
        if missing or unmatched:
            failures.append(f"flags: expected {sorted(expect.flags)}, got {got_flags}")
    for name, kept in (expect.audio_kept or {}).items():
        if name not in ids:
            failures.append(f"audio_kept: {name} is not in the record")
            continue
        has = any(a.audio_clip for a in record.answers_for(ids[name]))
        if has != kept:
            failures.append(f"{name}'s audio should {'' if kept else 'not '}have been kept")
    if expect.jobs is not None and len(record.jobs) != expect.jobs:
        failures.append(f"jobs: expected {expect.jobs}, got {len(record.jobs)}")
    if expect.goals is not None and len(record.goals) != expect.goals:
        failures.append(f"goals: expected {expect.goals}, got {len(record.goals)}")
    if expect.next_meeting is not None and bool(record.next_meeting) != expect.next_meeting:
        failures.append(f"next meeting should {'' if expect.next_meeting else 'not '}be set")
    return failures
