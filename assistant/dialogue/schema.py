"""The script schema: the step models a session script is made of (format in ``docs/scripts.md``).

Only the shape lives here (pydantic models, the scales and their words); reading a script from
YAML and checking its meaning is :mod:`assistant.dialogue.script`. The engine imports this module,
never the loader, so running a session needs no YAML parser.

A new step kind is a model here (added to :data:`Step` and :data:`STEP_TYPES`, and to
:data:`ANSWER_STEPS` if it keeps answers) plus a handler registered with
:func:`assistant.dialogue.engine.handles`; see ``docs/scripts.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.core.record import CelebrationKind

__all__ = [
    "ANSWER_STEPS",
    "IDEA_FIELDS",
    "JOB_FIELDS",
    "CHOICES_FROM",
    "MAX_CHOICES",
    "MAX_OPTIONS",
    "SCALES",
    "SCALE_SYNONYMS",
    "STEP_TYPES",
    "Agenda",
    "AgreeGoal",
    "AnyStep",
    "Ask",
    "BaseStep",
    "Branch",
    "Celebrate",
    "Choose",
    "Confirm",
    "Consent",
    "FlagKind",
    "ForEachPerson",
    "KeepAs",
    "Kind",
    "NewDate",
    "OpenQuestion",
    "Option",
    "PlanItem",
    "ShareJobs",
    "RaiseFlag",
    "ReadBack",
    "Review",
    "ReviewGoal",
    "ReviewItems",
    "Say",
    "Scale",
    "ScaleName",
    "ScaleSets",
    "Script",
    "Step",
    "Strengths",
    "WhoIsHere",
]

Kind = Literal["group", "one_person", "checkin", "review"]
ScaleName = Literal["like", "feeling", "job", "review", "support", "accept"]
ScaleSets = Literal["nothing", "rating", "mood", "job_status", "job_support", "help_needed"]
KeepAs = Literal["answer", "idea", "goal", "next_meeting", "note", "celebration", "lesson"]
ReviewItems = Literal["jobs", "my_jobs", "ideas", "jobs_not_going_well", "agenda"]
FlagKind = Literal["mood_not_good", "asked_for_help", "needs_a_person", "other"]

MAX_OPTIONS = 4

# Each scale: (value, the words said and heard) from the green end to the red end.
# Green = the yes button, yellow = next, red = no. The same button means the same end everywhere.
SCALES: dict[str, tuple[tuple[str, str], tuple[str, str], tuple[str, str]]] = {
    "like": (("like", "like"), ("not_sure", "not sure"), ("dont_like", "don't like")),
    "feeling": (("good", "good"), ("okay", "okay"), ("not_good", "not good")),
    "job": (("done", "done"), ("partly", "partly done"), ("not_yet", "not yet")),
    "review": (
        ("going_well", "going well"),
        ("sometimes", "sometimes"),
        ("not_going_well", "not going well"),
    ),
    "support": (
        ("myself", "by myself"),
        ("a_little_help", "a little help"),
        ("a_lot_of_help", "a lot of help"),
    ),
    "accept": (("yes", "yes"), ("not_sure", "not sure"), ("no", "no")),
}

# Extra ways people say a scale point (whole utterance only; never a guess).
SCALE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "like": ("i like it", "i like that", "like it"),
    "not_sure": ("not sure", "i'm not sure", "maybe", "don't know"),
    "dont_like": ("don't like", "i don't like it", "don't like it", "do not like"),
    "good": ("good", "i'm good", "i feel good", "great", "fine", "happy"),
    "okay": ("okay", "ok", "alright", "all right", "i'm okay", "so so"),
    "not_good": ("not good", "bad", "i'm not good", "sad", "not great", "not very good"),
    "done": ("done", "i did it", "finished", "all done"),
    "partly": ("partly", "partly done", "a bit", "some of it", "half"),
    "not_yet": ("not yet", "not done", "no not yet"),
    "going_well": ("going well", "well", "good"),
    "sometimes": ("sometimes", "okay"),
    "not_going_well": ("not going well", "not well", "badly", "bad"),
    "myself": ("by myself", "myself", "on my own", "i can do it myself"),
    "a_little_help": ("a little help", "little help", "a bit of help"),
    "a_lot_of_help": ("a lot of help", "lots of help", "lot of help"),
    "yes": ("yes", "yes i can", "i can", "yes please"),
    "no": ("no", "no i can't", "i can't", "no thank you"),
}

# ------------------------------------------------------------------------------ models


class BaseStep(BaseModel):
    """What every step has; each kind of step adds its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    id: str = Field("", description="Unique in the script; answers are kept under it")
    help: str | None = Field(None, description="Extra words said when help is pressed here")
    only_if: str | None = Field(
        None, description="Run this step only when this reference has a value, e.g. next_meeting"
    )
    where: str = Field("", exclude=True, description="Filled in on load: file and step number")


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: str
    label: str
    also: tuple[str, ...] = Field((), description="Other ways of saying it")


class Say(BaseStep):
    type: Literal["say"]
    text: str


class Celebrate(BaseStep):
    """Celebrate something true: with ``needs``, only when it happened (else ``otherwise``)."""

    type: Literal["celebrate"]
    text: str
    needs: Literal["jobs", "goal", "jobs_going_well"] | None = Field(
        None, description="Celebrate only when there are jobs / an agreed goal / jobs going well"
    )
    otherwise: str | None = Field(None, description="Said instead when it did not happen")
    kind: CelebrationKind = Field("other", description="What is celebrated, for the record")


MAX_CHOICES = MAX_OPTIONS - 1
"""Choices an open question offers at most; "My supporter will answer with me" is the last."""

CHOICES_FROM = ("ideas", "jobs", "strengths")
"""What ``choices_from`` can name besides an earlier open question's id."""


class OpenQuestion(BaseStep):
    """A question answered in the person's own words, or, without speaking, by a choice."""

    choices: tuple[Option, ...] = Field(
        (), description="Offered one at a time after yellow (at most 3; strings or options)"
    )
    choices_from: str | None = Field(
        None,
        description="Earlier answers of this session offered as choices: ideas, jobs, "
        "strengths, or the id of an earlier question",
    )


class Ask(OpenQuestion):
    """A free answer in the person's own words; the recording is kept with consent."""

    type: Literal["ask"]
    text: str
    read_back: bool = Field(True, description='"I heard: ... Is that right?"')
    keep_as: KeepAs = "answer"


class Confirm(BaseStep):
    """A yes/no question: only to confirm or check a fact, never to find a preference."""

    type: Literal["confirm"]
    text: str


class Choose(BaseStep):
    type: Literal["choose"]
    text: str
    options: tuple[Option, ...]
    shuffle: bool = True


class Scale(BaseStep):
    type: Literal["scale"]
    text: str
    scale: ScaleName
    sets: ScaleSets = "nothing"
    shuffle: bool = Field(True, description="Vary the order the points are read in")


class Consent(BaseStep):
    """Ask each person present whether their voice may be kept."""

    type: Literal["consent"]
    text: str | None = None


class WhoIsHere(BaseStep):
    """Read the roster's names one at a time; each person presses yes at their name."""

    type: Literal["who_is_here"]
    mode: Literal["group", "one"] = "group"
    new_person: bool = True


class ForEachPerson(BaseStep):
    type: Literal["for_each_person"]
    steps: tuple[Step, ...]
    rotate: bool = Field(True, description="Start with a different person each round")
    ask_passes_again: bool = True


class Branch(BaseStep):
    type: Literal["branch"]
    on_answer: str = Field(description="The id of an earlier question with fixed answers")
    cases: dict[str, tuple[Step, ...]]
    otherwise: tuple[Step, ...] = ()


class PlanItem(OpenQuestion):
    """Who will do what, when, with how much support: makes a job."""

    type: Literal["plan_item"]
    what: str
    when: str | None = None
    support: str | None = None
    more: str | None = Field(None, description="Asked after each job: is there another one?")
    max_items: int = Field(1, ge=1, le=5)
    when_choices: bool = Field(
        False, description="Ask when as choices: today, this week, next week, another time"
    )
    lesson: str | None = Field(
        None, description="Id of an earlier ask step (in this review) whose answer the job is from"
    )
    offer_strengths: bool = Field(
        False, description='Before "what", say what the person said they are good at'
    )
    who_helps: str | None = Field(
        None,
        description="Asked when the person needs help (or support is not asked): who will "
        "help? Offers their supporter, others here and staff, one at a time; or a name said",
    )
    help_with: str | None = Field(
        None, description="Asked after who_helps names someone: what will they help with?"
    )


class ShareJobs(BaseStep):
    """Sharing the work: each person here with no job is offered one (a job from ``jobs``
    that nobody has, or to do someone's job with them); then each job from ``jobs`` that
    nobody has is offered to the group ("Will someone take it?")."""

    type: Literal["share_jobs"]
    jobs: tuple[str, ...] = Field((), description="The staff's list of jobs for this goal")
    max_offers: int = Field(3, ge=1, le=4, description="Offers to one person, at most")


class NewDate(BaseStep):
    """A new day for the job being reviewed (a check-in's "not yet"): today, this week, next
    week or another time, chosen or said; passing keeps the old one. The new date is kept with
    the job's latest status, so it travels with the status history to the hub and other
    devices."""

    type: Literal["new_date"]
    text: str = Field(description='The question, e.g. "When will you try again?"')


class Review(BaseStep):
    """Go through earlier items (jobs or ideas) one at a time."""

    type: Literal["review"]
    items: ReviewItems
    steps: tuple[Step, ...]
    intro: str | None = None
    empty: str | None = None


class ReadBack(BaseStep):
    type: Literal["read_back"]
    of: Literal["ideas", "goal", "plan", "my_plan"]
    text: str | None = None
    confirm: bool = True


class AgreeGoal(BaseStep):
    """An honest summary of the ratings; then each person says if they can go along with the
    idea with the most support. ``rule`` decides when that makes it the group's goal."""

    type: Literal["agree_goal"]
    rule: Literal["majority", "everyone", "staff"] = Field(
        "majority",
        description="majority: more than half say yes; everyone: all say yes; staff: staff decide",
    )
    rounds: int = Field(2, ge=1, le=3, description="Tries before deciding next time")


class ReviewGoal(BaseStep):
    """Revisit the group's goal: keep going, change it, or done (and celebrated)."""

    type: Literal["review_goal"]
    rule: Literal["majority", "everyone", "staff"] = "majority"


class Agenda(OpenQuestion):
    """The group's own agenda: each person present adds what they want to talk about (own
    words, or pass); it is read back and kept. A ``review`` of ``agenda`` goes through it."""

    type: Literal["agenda"]
    text: str = Field(description='Asked of each person, e.g. "{person}, what do you want ...?"')
    intro: str | None = None


class Strengths(OpenQuestion):
    """Asks what a person is good at (own words); kept as their strengths, read back, and
    offered when jobs are planned (``plan_item`` with ``offer_strengths``)."""

    type: Literal["strengths"]
    text: str


TaughtWord = Literal["yes", "no", "next", "help", "repeat"]


def _all_words() -> list[TaughtWord]:
    return ["yes", "no", "next", "help", "repeat"]


class TeachWords(BaseStep):
    """Teach the device how the person says their short answers (``assistant/stt/personal.py``):
    their own consent first (asked separately from keeping answers), then each word said
    *examples* times, each example confirmed by button before it is kept."""

    type: Literal["teach_words"]
    words: list[TaughtWord] = Field(default_factory=_all_words)
    examples: int = Field(3, ge=1, le=10)


class RaiseFlag(BaseStep):
    type: Literal["flag"]
    kind: FlagKind
    reason: str
    text: str | None = None


Step = Annotated[
    Say
    | Celebrate
    | Ask
    | Confirm
    | Choose
    | Scale
    | Consent
    | WhoIsHere
    | ForEachPerson
    | Branch
    | PlanItem
    | ShareJobs
    | NewDate
    | Review
    | ReadBack
    | AgreeGoal
    | ReviewGoal
    | Strengths
    | Agenda
    | TeachWords
    | RaiseFlag,
    Field(discriminator="type"),
]

STEP_TYPES: dict[str, type[BaseStep]] = {
    "say": Say,
    "celebrate": Celebrate,
    "ask": Ask,
    "confirm": Confirm,
    "choose": Choose,
    "scale": Scale,
    "consent": Consent,
    "who_is_here": WhoIsHere,
    "for_each_person": ForEachPerson,
    "branch": Branch,
    "plan_item": PlanItem,
    "share_jobs": ShareJobs,
    "new_date": NewDate,
    "review": Review,
    "read_back": ReadBack,
    "agree_goal": AgreeGoal,
    "review_goal": ReviewGoal,
    "strengths": Strengths,
    "agenda": Agenda,
    "flag": RaiseFlag,
    "teach_words": TeachWords,
}
# Steps that keep an answer, so they need an id.
ANSWER_STEPS = (
    "ask",
    "confirm",
    "choose",
    "scale",
    "consent",
    "who_is_here",
    "plan_item",
    "new_date",
    "agree_goal",
    "review_goal",
    "strengths",
    "agenda",
)
for _model in (ForEachPerson, Branch, Review):
    _model.model_rebuild()


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str = "1"
    title: str
    description: str = ""
    kind: Kind
    steps: tuple[Step, ...]
    source: str = Field("", exclude=True, description="Where it was loaded from")
    sha256: str | None = Field(None, exclude=True, description="sha256 of its YAML text")
    publication: int | None = Field(
        None, exclude=True, description="Its publication version, when the hub published it"
    )

    @property
    def one_person(self) -> bool:
        """One person at a time (my goals, a check-in), rather than a group sharing the device."""
        return self.kind in ("one_person", "checkin")

    def walk(self) -> Iterator[BaseStep]:
        """Every step, parents before children, in file order."""
        yield from _walk(self.steps)

    def step(self, step_id: str) -> BaseStep | None:
        return next((s for s in self.walk() if s.id == step_id), None)

    @property
    def reviews_goal(self) -> bool:
        """Whether it looks at a goal agreed at an earlier meeting (a ``review_goal`` step):
        such a session starts from the goals in force (``RecordStore.current_goals``)."""
        return any(isinstance(s, ReviewGoal) for s in self.walk())


def _children(step: BaseStep) -> list[tuple[Step, ...]]:
    if isinstance(step, ForEachPerson | Review):
        return [step.steps]
    if isinstance(step, Branch):
        return [*step.cases.values(), step.otherwise]
    return []


def _walk(steps: Sequence[BaseStep]) -> Iterator[BaseStep]:
    for s in steps:
        yield s
        for group in _children(s):
            yield from _walk(group)


AnyStep = BaseStep
"""Any step model (the base class), for code that handles steps of every kind."""

JOB_FIELDS = ("what", "when", "person", "support")
IDEA_FIELDS = ("text", "person")


def _texts(step: BaseStep) -> list[str]:
    """Every piece of a step's words that is said (and may hold {references})."""
    out: list[str] = []
    for name in (
        "text",
        "help",
        "what",
        "when",
        "support",
        "who_helps",
        "help_with",
        "more",
        "intro",
        "empty",
        "reason",
        "otherwise",
    ):
        value = getattr(step, name, None)
        if isinstance(value, str):
            out.append(value)
    if isinstance(step, Choose):
        out += [o.label for o in step.options]
    if isinstance(step, OpenQuestion):
        out += [o.label for o in step.choices]
    return out


def _values(step: BaseStep) -> list[str] | None:
    """The fixed answers a step can have (what a branch may test), or None."""
    if isinstance(step, Scale):
        return [v for v, _ in SCALES[step.scale]]
    if isinstance(step, Choose):
        return [o.value for o in step.options]
    if isinstance(step, Confirm | Consent):
        return ["yes", "no"]
    return None
