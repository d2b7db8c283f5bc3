"""The one object that owns the session record: every change to it goes through here.

Handlers read the record freely (``log.record``) but never write it: they call a method of
:class:`SessionLog` (``answer``, ``flag``, ``add_job``, ``set_mood``, ...). Every id comes from
the engine's id maker and every time from its clock, so a session on a fake clock with seeded
ids is the same record each run. :meth:`SessionLog.save` emits a :class:`Save` of the record
as it stands; the handlers say when (after every answer, as before).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from assistant.core.events import KeepAudio, Save
from assistant.core.ids import IdMaker
from assistant.core.record import (
    Answer,
    CheckIn,
    ConfirmedBy,
    Consent,
    Flag,
    Goal,
    Idea,
    Job,
    JobEvent,
    Person,
    SessionRecord,
)
from assistant.dialogue.engine.base import Reply, Turn, question_of

AnswerKind = Literal["free", "short", "choice", "scale", "button"]


class SessionLog:
    """The session record and the only ways to change it."""

    def __init__(
        self,
        record: SessionRecord,
        roster: Sequence[Person],
        *,
        ids: IdMaker,
        now: Callable[[], datetime],
        emit: Callable[..., None],
    ) -> None:
        self._record = record
        self.roster = list(roster)
        """Everyone who might be here (deep copies); the record's ``people`` are who is."""
        self._ids = ids
        self._now = now
        self._emit = emit

    @classmethod
    def open(
        cls,
        *,
        script: str,
        script_version: str,
        people: Sequence[Person],
        record: SessionRecord | None,
        jobs: Sequence[Job],
        engines: dict[str, str] | None,
        facilitator: str | None,
        next_meeting: str | None,
        roll_call: bool,
        ids: IdMaker,
        now: Callable[[], datetime],
        emit: Callable[..., None],
    ) -> SessionLog:
        """A new session's record, or a copy of an unfinished one to carry on with."""
        roster = [p.model_copy(deep=True) for p in people]
        if record is None:
            record = SessionRecord(
                id=ids(),
                script=script,
                script_version=script_version,
                started_at=now(),
                facilitator=facilitator,
                engines=dict(engines or {}),
                next_meeting=next_meeting,
                jobs=[j.model_copy(deep=True) for j in jobs],
            )
        else:
            record = record.model_copy(deep=True)
            if engines:
                record.engines.update(engines)
        if not record.people and not roll_call:
            record.people = [p.model_copy(deep=True) for p in roster]
        return cls(record, roster, ids=ids, now=now, emit=emit)

    @property
    def record(self) -> SessionRecord:
        """The record, to read. Change it only through this object's methods."""
        return self._record

    # ------------------------------------------------------------------ reading

    def latest(self, key: str, person: Person | None) -> Answer | None:
        pid = person.id if person else None
        found = [a for a in self._record.answers if a.step_id == key and a.person_id == pid]
        return found[-1] if found else None

    def answers_to(self, key: str, person: Person | None) -> list[Answer]:
        pid = person.id if person else None
        return [a for a in self._record.answers if a.step_id == key and a.person_id == pid]

    def answered(self, key: str, person: Person | None) -> bool:
        return bool(self.answers_to(key, person))

    def answer_by_id(self, answer_id: str | None) -> Answer | None:
        return next((a for a in self._record.answers if a.id == answer_id), None)

    def person(self, person_id: str | None) -> Person | None:
        for p in [*self._record.people, *self.roster]:
            if p.id == person_id:
                return p
        return None

    def group_goal(self) -> Goal | None:
        agreed = [g for g in self._record.goals if g.person_id is None and g.agreed]
        return agreed[-1] if agreed else None

    def goal_for(self, person: Person | None) -> Goal | None:
        if person is not None:
            own = [g for g in self._record.goals if g.person_id == person.id]
            if own:
                return own[-1]
        return self.group_goal()

    # ------------------------------------------------------------------ saving

    def save(self, *, finished: bool = False) -> None:
        """Emit a :class:`Save` of the record as it stands."""
        self._emit(Save(self._record.model_copy(deep=True), finished=finished))

    def finish(self) -> None:
        self._record.ended_at = self._now()

    # ------------------------------------------------------------------ answers and flags

    def answer(
        self,
        key: str,
        t: Turn,
        kind: AnswerKind,
        reply: Reply | None,
        *,
        value: str | None = None,
        passed: bool = False,
        attempts: int = 1,
        supersedes: str | None = None,
        person: Person | None = None,
    ) -> Answer:
        """Keep one answer to turn *t* (superseding the person's earlier one), and save."""
        person = person if person is not None else t.person
        if supersedes is None:
            earlier = self.latest(key, person)
            supersedes = earlier.id if earlier is not None else None
        heard = reply.heard if reply is not None else None
        tr = heard.transcript if heard is not None else None
        confirmed: ConfirmedBy = "not_confirmed"
        if kind != "free" and reply is not None and reply.by != "none":
            confirmed = reply.by
        answer = Answer(
            id=self._ids(),
            person_id=person.id if person else None,
            step_id=key,
            question=question_of(t.text),
            kind=kind,
            value=value,
            transcript=tr.text if tr is not None else "",
            confidence=tr.confidence if tr is not None else None,
            engine=tr.engine if tr is not None else None,
            confirmed_by=confirmed,
            attempts=attempts,
            passed=passed,
            at=self._now(),
            supersedes=supersedes,
        )
        self._record.answers.append(answer)
        if (
            heard is not None
            and heard.audio_path
            and person is not None
            and person.consent is not None
            and person.consent.audio
        ):
            self._emit(KeepAudio(answer.id, heard.audio_path))
        self.save()
        return answer

    def confirm(self, answer: Answer, by: Literal["voice", "button"]) -> None:
        """The person said the read-back was right; save."""
        answer.confirmed_by = by
        self.save()

    def flag(
        self, kind: str, reason: str, person: Person | None, answer_id: str | None = None
    ) -> None:
        """Something for a member of staff to look at; save."""
        self._record.flags.append(
            Flag(
                id=self._ids(),
                person_id=person.id if person else None,
                kind=kind,
                reason=reason,
                answer_id=answer_id,
                at=self._now(),
            )
        )
        self.save()

    # ------------------------------------------------------------------ people

    def add_person(self, person: Person) -> None:
        """*person* (from the roster) is here."""
        self._record.people.append(person)

    def new_person(self, name: str) -> Person:
        """Someone not on the roster joins, under a placeholder name until they say theirs."""
        person = Person(id=self._ids(), name=name)
        self._record.people.append(person)
        return person

    def rename(self, person: Person, name: str) -> None:
        person.name = name

    def set_consent(self, person: Person, audio: bool, method: Literal["voice", "button"]) -> None:
        person.consent = Consent(
            audio=audio, at=self._now(), method=method, session_id=self._record.id
        )

    # ------------------------------------------------------------------ check-ins

    def _checkin(self, person: Person) -> CheckIn:
        for c in self._record.checkins:
            if c.person_id == person.id:
                return c
        c = CheckIn(id=self._ids(), person_id=person.id, at=self._now())
        self._record.checkins.append(c)
        return c

    def add_note(self, person: Person, answer_id: str) -> None:
        self._checkin(person).notes.append(answer_id)

    def set_mood(self, person: Person, mood: str) -> None:
        self._checkin(person).mood = mood  # type: ignore[assignment]

    # ------------------------------------------------------------------ ideas and goals

    def add_idea(self, text: str, from_answer: str) -> None:
        self._record.ideas.append(Idea(id=self._ids(), text=text, from_answer=from_answer))

    def rate(self, idea: Idea, person: Person, rating: str) -> None:
        idea.ratings[person.id] = rating  # type: ignore[assignment]

    def add_goal(
        self, text: str, *, person: Person | None, agreed: bool, from_idea: str | None = None
    ) -> None:
        self._record.goals.append(
            Goal(
                id=self._ids(),
                text=text,
                from_idea=from_idea,
                agreed=agreed,
                person_id=person.id if person else None,
            )
        )

    def set_next_meeting(self, text: str) -> None:
        self._record.next_meeting = text

    def add_celebration(self, answer_id: str) -> None:
        self._record.celebrations.append(answer_id)

    # ------------------------------------------------------------------ jobs

    def add_job(self, person: Person, what: str, goal_id: str | None) -> Job:
        job = Job(id=self._ids(), person_id=person.id, what=what, goal_id=goal_id)
        self._record.jobs.append(job)
        return job

    def set_job_when(self, job: Job, when: str) -> None:
        job.when = when

    def set_job_support(self, job: Job, support: str) -> None:
        job.support = support  # type: ignore[assignment]

    def set_job_status(self, job: Job, status: str, answer_id: str, *, checkin: bool) -> None:
        """How the job went; on a check-in, also in its owner's check-in."""
        job.history.append(JobEvent(status=status, at=self._now(), note_answer=answer_id))
        owner = self.person(job.person_id)
        if checkin and owner is not None:
            self._checkin(owner).jobs[job.id] = status  # type: ignore[assignment]

    def set_help_needed(self, job: Job, support: str) -> None:
        if job.history:
            job.history[-1].help_needed = support  # type: ignore[assignment]
        else:
            job.history.append(JobEvent(status=job.status, at=self._now(), help_needed=support))
