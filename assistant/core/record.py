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

from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.core.ids import RandomIds

__all__ = [
    "RECORD_FORMAT_VERSION",
    "SHA256_PATTERN",
    "Acceptance",
    "AgendaItem",
    "AgreementRule",
    "Answer",
    "Celebration",
    "CelebrationKind",
    "GoalStatus",
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
    "Strength",
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
Acceptance = Literal["yes", "not_sure", "no"]
"""A person's answer to "Can you go along with this goal?"."""
AgreementRule = Literal["majority", "everyone", "staff"]
GoalStatus = Literal["active", "keep_going", "change", "done"]
CelebrationKind = Literal[
    "plan_made", "goal_agreed", "job_going_well", "job_done", "goal_done", "other"
]
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
    """Consent to keep a person's own voice, and their words. Asked again at each session."""

    audio: bool
    words: bool | None = Field(
        None,
        description="May their words be written down (transcripts)? None: not asked (older "
        "records, kept as before). False: only what they chose or confirmed is kept",
    )
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
    end_pause_s: float | None = Field(
        None, description="Their own pause that ends a spoken answer (none: the device's)"
    )
    buttons_only: bool = Field(
        False, description="They answer with the buttons: the microphone stays closed for them"
    )
    scale_points: Literal[2, 3] | None = Field(
        None, description="2: a two-point scale (like / don't like) for them; none: three"
    )
    supporter: str | None = Field(
        None, description="Their named supporter, told of a flag (none: the facilitator)"
    )
    settings_at: datetime | None = Field(
        None,
        description="When their own settings were last changed, on any device: the latest "
        "change is the one every device keeps (none: never changed)",
    )


class Answer(_Model):
    """One person's answer to one question, in their words."""

    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    person_id: str | None = Field(None, description="None for a whole-group answer")
    step_id: str
    question: str
    kind: Literal["free", "short", "choice", "scale", "button"] = "free"
    value: str | None = Field(None, description="Chosen option, scale point or short answer")
    transcript: str = ""
    raw_transcript: str | None = Field(
        None,
        description="What the recogniser wrote, when British spelling changed it (transcript)",
    )
    confidence: float | None = None
    engine: str | None = None
    decided_by: str | None = Field(
        None,
        description="With taught words: personal (their words alone), both, general or none",
    )
    audio_clip: str | None = Field(
        None, pattern=SHA256_PATTERN, description="sha256 of the WAV; only with consent"
    )
    confirmed_by: ConfirmedBy = "not_confirmed"
    attempts: int = 1
    passed: bool = Field(False, description="The person chose to pass (next)")
    rejected: bool = Field(
        False,
        description="The person said no at the read-back: not their answer, kept only as a try",
    )
    withdrawn: bool = Field(
        False,
        description="Taken back: the person went back one question to answer it again "
        "(also rejected; what it made was undone)",
    )
    with_support: bool = Field(
        False,
        description="Given with the person's supporter (they chose \"My supporter will answer "
        'with me")',
    )
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
    acceptance: dict[str, Acceptance] = Field(
        default_factory=dict,
        description='person id -> their answer to "Can you go along with this goal?"',
    )
    rule: AgreementRule | None = Field(
        None, description="The rule the acceptance was judged by (the script's setting)"
    )
    summary: str | None = Field(None, description="The summary of the ratings that was said")
    status: GoalStatus = Field("active", description="Set when a review revisits the goal")
    replaces: str | None = Field(None, description="Id of the goal this one changes")


class JobEvent(_Model):
    status: JobStatus
    at: datetime = Field(default_factory=now_utc)
    help_needed: Support | None = None
    note_answer: str | None = None
    when: str | None = Field(None, description="A new when agreed with this update (not yet)")
    due: date | None = Field(None, description="The date of that new when")


class Job(_Model):
    """Who will do what, when, with how much support."""

    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    person_id: str = Field(pattern=UUID_PATTERN)
    what: str
    when: str | None = None
    support: Support | None = None
    goal_id: str | None = None
    history: list[JobEvent] = Field(default_factory=list)
    due: date | None = Field(None, description="The date meant by when (today, this week, ...)")
    from_job: str | None = Field(None, description="The job whose review led to this one")
    lesson: str | None = Field(None, description="Answer id of the lesson this job comes from")
    from_answer: str | None = Field(
        None,
        description="Answer id of the words the job was made from (a staff correction of that "
        "answer corrects the job)",
    )
    helper: str | None = Field(
        None, description="Who will help: their supporter, someone in the group, or staff"
    )
    help_with: str | None = Field(None, description="What part they will help with, in words")
    shared_with: list[str] = Field(
        default_factory=list, description="Others doing this job too (person ids)"
    )

    def follow_history(self) -> None:
        """Take the latest new date in the status history as the job's when and due: the
        history merges across devices, so the date agreed last, anywhere, wins."""
        for event in reversed(self.history):
            if event.when:
                self.when, self.due = event.when, event.due
                return

    def helper_words(self) -> str | None:
        """Who helps, and with what, as printed ("Help from Jo, with the printing."), or None."""
        if not self.helper:
            return None
        with_what = f", with {self.help_with}" if self.help_with else ""
        return f"Help from {self.helper}{with_what}."

    def belongs_to(self, person_id: str) -> bool:
        """Whether the person does this job: its owner, or someone sharing it."""
        return self.person_id == person_id or person_id in self.shared_with

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


class Celebration(_Model):
    """Something the group celebrated, and the words said."""

    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    kind: CelebrationKind = "other"
    text: str = Field(description="What the device said")
    person_id: str | None = None
    job_id: str | None = None
    goal_id: str | None = None
    at: datetime = Field(default_factory=now_utc)


class AgendaItem(_Model):
    """Something a person (or the group) wants to talk about, in their words."""

    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    person_id: str | None = None
    text: str
    answer_id: str | None = None
    at: datetime = Field(default_factory=now_utc)


class Strength(_Model):
    """What a person said they are good at (offered when jobs are planned)."""

    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    person_id: str = Field(pattern=UUID_PATTERN)
    text: str
    answer_id: str | None = None
    at: datetime = Field(default_factory=now_utc)


class SessionRecord(_Model):
    """Everything one session produced."""

    format_version: int = RECORD_FORMAT_VERSION
    id: str = Field(default_factory=new_id, pattern=UUID_PATTERN)
    device_id: str | None = None
    script: str
    script_version: str = "1"
    script_sha256: str | None = Field(
        None, description="sha256 of the script's YAML text that ran (records from 2026-12)"
    )
    script_publication: int | None = Field(
        None, description="The hub's publication version of the script, when it was published"
    )
    state: SessionState = "draft"
    started_at: datetime = Field(default_factory=now_utc)
    ended_at: datetime | None = None
    place: str | None = None
    facilitator: str | None = None
    people: list[Person] = Field(default_factory=list, description="Who took part")
    answers: list[Answer] = Field(default_factory=list)
    ideas: list[Idea] = Field(default_factory=list)
    goals: list[Goal] = Field(default_factory=list)
    proposed_goals: list[Goal] = Field(
        default_factory=list,
        description="Goals put to the group that it did not (yet) agree, with each answer",
    )
    jobs: list[Job] = Field(default_factory=list)
    checkins: list[CheckIn] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    celebrations: list[str] = Field(default_factory=list, description="Answer ids")
    agenda: list[AgendaItem] = Field(
        default_factory=list, description="What the group wants to talk about, in order"
    )
    strengths: list[Strength] = Field(
        default_factory=list, description="What each person said they are good at"
    )
    celebrated: list[Celebration] = Field(
        default_factory=list, description="What was celebrated (only what is true)"
    )
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
