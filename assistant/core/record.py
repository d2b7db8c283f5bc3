"""What a session record holds: the shared shape between dialogue, records and sync.

The dialogue shell builds a :class:`SessionRecord` as the session goes; the record store saves it
after every answer; sync seals finished ones into bundles for the hub. ``docs/record.schema.json``
is generated from these models (``assistant records schema``) and exports validate against it.

Identifiers are UUIDs made on the device; times are ISO 8601 in UTC. The dialogue engine gives
every id it makes from its injectable id maker (:mod:`assistant.core.ids`); the defaults here are
for everyone else (the store, staff tools) and come from :class:`~assistant.core.ids.RandomIds`.

This module lives in core (it was ``assistant/records/model.py``, which re-exports it): it needs
only pydantic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.core.ids import RandomIds

__all__ = [
    "RECORD_FORMAT_VERSION",
    "SHA256_PATTERN",
    "Answer",
    "CheckIn",
    "ConfirmedBy",
    "Consent",
    "ConsentMethod",
    "Flag",
    "Goal",
    "Idea",
    "Job",
    "JobEvent",
    "JobStatus",
    "Mood",
    "Person",
    "Rating",
    "RecordExport",
    "SessionRecord",
    "SessionState",
    "Support",
    "new_id",
    "now_utc",
]

RECORD_FORMAT_VERSION = 1
# whole-string patterns (pydantic's Rust regex: "$" is the very end, so no trailing newline)
SHA256_PATTERN = r"^[0-9a-f]{64}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

ConfirmedBy = Literal["voice", "button", "staff", "not_confirmed"]
Support = Literal["myself", "a_little_help", "a_lot_of_help"]
Mood = Literal["good", "okay", "not_good"]
Rating = Literal["like", "not_sure", "dont_like"]
JobStatus = Literal[
    "planned", "done", "partly", "not_yet", "going_well", "sometimes", "not_going_well"
]
SessionState = Literal["draft", "finalised", "sent"]
ConsentMethod = Literal["voice", "button", "staff_recorded", "easy_read_form"]


_random_ids = RandomIds()


def new_id() -> str:
    """A new random id: the default for records made outside the engine."""
    return _random_ids()


def now_utc() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class Consent(_Model):
    """Consent to keep a person's own voice. Asked again at the start of each session."""

    audio: bool
    at: datetime = Field(default_factory=now_utc)
    method: ConsentMethod = "button"
    witnessed_by: str | None = None
    session_id: str | None = None
    withdrawn: bool = Field(
        False, description="This decision withdrew consent; the person's recordings were deleted"
    )


class Person(_Model):
    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    name: str
    name_clip: str | None = Field(
        None, pattern=SHA256_PATTERN, description="sha256 of a recording of their name"
    )
    consent: Consent | None = None
    communication_needs: str | None = None
    repeat_after_s: float | None = Field(None, description="Their own wait before a repeat")
    words_per_minute: float | None = Field(None, description="Their own speaking rate")


class Answer(_Model):
    """One person's answer to one question, in their words."""

    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    person_id: str | None = Field(None, description="None for a whole-group answer")
    step_id: str
    question: str
    kind: Literal["free", "short", "choice", "scale", "button"] = "free"
    value: str | None = Field(None, description="Chosen option, scale point or short answer")
    transcript: str = ""
    confidence: float | None = None
    engine: str | None = None
    audio_clip: str | None = Field(
        None, pattern=SHA256_PATTERN, description="sha256 of the WAV; only with consent"
    )
    confirmed_by: ConfirmedBy = "not_confirmed"
    attempts: int = 1
    passed: bool = Field(False, description="The person chose to pass (next)")
    at: datetime = Field(default_factory=now_utc)
    supersedes: str | None = Field(None, description="Id of the answer this one replaces")


class Idea(_Model):
    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    text: str
    from_answer: str | None = None
    ratings: dict[str, Rating] = Field(default_factory=dict, description="person id -> rating")


class Goal(_Model):
    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    text: str
    from_idea: str | None = None
    agreed: bool = False
    person_id: str | None = Field(None, description="None for the group's goal")


class JobEvent(_Model):
    status: JobStatus
    at: datetime = Field(default_factory=now_utc)
    help_needed: Support | None = None
    note_answer: str | None = None


class Job(_Model):
    """Who will do what, when, with how much support."""

    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    person_id: str = Field(pattern=UUID_PATTERN)
    what: str
    when: str | None = None
    support: Support | None = None
    goal_id: str | None = None
    history: list[JobEvent] = Field(default_factory=list)

    @property
    def status(self) -> JobStatus:
        return self.history[-1].status if self.history else "planned"


class CheckIn(_Model):
    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    person_id: str = Field(pattern=UUID_PATTERN)
    mood: Mood | None = None
    jobs: dict[str, JobStatus] = Field(default_factory=dict, description="job id -> status")
    notes: list[str] = Field(default_factory=list, description="Answer ids of voice notes")
    at: datetime = Field(default_factory=now_utc)


class Flag(_Model):
    """Something a named member of staff should look at."""

    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    person_id: str | None = None
    kind: Literal["mood_not_good", "asked_for_help", "needs_a_person", "hold_help", "other"]
    reason: str
    answer_id: str | None = None
    at: datetime = Field(default_factory=now_utc)
    resolved: bool = False


class SessionRecord(_Model):
    """Everything one session produced."""

    format_version: int = RECORD_FORMAT_VERSION
    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    device_id: str | None = None
    script: str
    script_version: str = "1"
    state: SessionState = "draft"
    started_at: datetime = Field(default_factory=now_utc)
    ended_at: datetime | None = None
    place: str | None = None
    facilitator: str | None = None
    people: list[Person] = Field(default_factory=list, description="Who took part")
    answers: list[Answer] = Field(default_factory=list)
    ideas: list[Idea] = Field(default_factory=list)
    goals: list[Goal] = Field(default_factory=list)
    jobs: list[Job] = Field(default_factory=list)
    checkins: list[CheckIn] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    celebrations: list[str] = Field(default_factory=list, description="Answer ids")
    next_meeting: str | None = None
    engines: dict[str, str] = Field(
        default_factory=dict, description="role -> engine name, e.g. short -> vosk:..."
    )

    def answers_for(self, person_id: str) -> list[Answer]:
        return [a for a in self.answers if a.person_id == person_id]


class RecordExport(_Model):
    """What ``assistant records export`` writes: sessions from one device."""

    format_version: int = RECORD_FORMAT_VERSION
    device_id: str
    exported_at: datetime = Field(default_factory=now_utc)
    sessions: list[SessionRecord] = Field(default_factory=list)
