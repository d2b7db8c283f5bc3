"""The one object that owns the session record: every change to it goes through here.

Handlers read the record freely (``log.record``) but never write it: they call a method of
:class:`SessionLog` (``answer``, ``flag``, ``add_job``, ``set_mood``, ...). Every id comes from
the engine's id maker and every time from its clock, so a session on a fake clock with seeded
ids is the same record each run. :meth:`SessionLog.save` emits a :class:`Save` of the record
as it stands; the handlers say when (after every answer, as before).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Literal

from assistant.core.british import british
from assistant.core.events import KeepAudio, KeepWordExample, Save
from assistant.core.ids import IdMaker
from assistant.core.record import (
    AgendaItem,
    Answer,
    Celebration,
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
    Strength,
)
from assistant.core.words import SHORT_ANSWERS, ShortAnswer
from assistant.dialogue.engine.base import Reply, Turn, question_of
from assistant.dialogue.engine.goback import Checkpoints, standing, stands

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
        self.started_with: set[str] = set()
        """Ids of the jobs and goals the session started with (from earlier sessions)."""
        self.roll_call_open = False
        """The roll call is under way: in a group, who is in the room is not known yet."""
        self.group = False
        """A group session (one microphone for the room): a clip is kept only when everyone
        present agreed to keep their voice (:meth:`audio_allowed`)."""
        self._word_candidates: list[tuple[str, str, ShortAnswer, str]] = []
        """(answer id, person id, word, audio path) of short answers heard with the person's
        taught words: examples to keep if the answer stands (:meth:`word_examples`)."""
        self._back = Checkpoints()
        """Where going back one question returns to (:meth:`go_back`)."""

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
        goals: Sequence[Goal] = (),
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
            record = SessionRecord(id=ids(), script=script, script_version=script_version,
                started_at=now(), facilitator=facilitator, engines=dict(engines or {}),
                next_meeting=next_meeting, jobs=[j.model_copy(deep=True) for j in jobs],
                goals=[g.model_copy(deep=True) for g in goals])  # fmt: skip
        else:
            record = record.model_copy(deep=True)
            record.engines.update(engines or {})
        if not record.people and not roll_call:
            record.people = [p.model_copy(deep=True) for p in roster]
        log = cls(record, roster, ids=ids, now=now, emit=emit)
        log.started_with = {j.id for j in jobs} | {g.id for g in goals}
        return log

    @property
    def record(self) -> SessionRecord:
        """The record, to read. Change it only through this object's methods."""
        return self._record

    # ------------------------------------------------------------------ reading

    def latest(self, key: str, person: Person | None) -> Answer | None:
        found = self.answers_to(key, person)
        return found[-1] if found else None

    def value(self, key: str, person: Person | None) -> str | None:
        """The fixed answer (yes, no, a choice) last given to *key* by *person*, or None."""
        found = self.latest(key, person)
        return found.value if found is not None else None

    def answers_to(self, key: str, person: Person | None) -> list[Answer]:
        """*person*'s answers to *key*, without those taken back by going back."""
        pid = person.id if person else None
        return [
            a
            for a in self._record.answers
            if a.step_id == key and a.person_id == pid and not a.withdrawn
        ]

    def standing(self) -> list[Answer]:
        """Every answer not taken back by going back one question."""
        return standing(self._record)

    # ------------------------------------------------------------------ going back

    def checkpoint(self) -> None:
        """Before a turn: going back one question returns to the record as it is now (if this
        is a question's start). Not within the roll call: going back to it starts it again."""
        if not self.roll_call_open:
            self._back.take(self._record)

    def go_back(self) -> list[Answer] | None:
        """Undo the latest answer and everything made from it (:meth:`Checkpoints.back`);
        None if there is no question to go back to, else the answers undone. Saves."""
        found = self._back.back(self._record)
        if found is None:
            return None
        self._record, undone = found
        self.save()
        return undone

    def answered(self, key: str, person: Person | None) -> bool:
        """Whether *person* answered *key* (a pass counts; a try they said was wrong does not,
        so carrying on or going back asks it again)."""
        return any(stands(a) for a in self.answers_to(key, person))

    def answer_by_id(self, answer_id: str | None) -> Answer | None:
        return next((a for a in self._record.answers if a.id == answer_id), None)

    def person(self, person_id: str | None) -> Person | None:
        for p in [*self._record.people, *self.roster]:
            if p.id == person_id:
                return p
        return None

    def group_goal(self) -> Goal | None:
        return group_goal_of(self._record, self.started_with)

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
        words: str | None = None,
        question: str | None = None,
        with_support: bool = False,
    ) -> Answer:
        """Keep one answer to turn *t* (superseding the person's earlier one), and save.

        *words*: the answer's words when it was chosen rather than said (a choice's label);
        *question*: the question asked, when *t* is one of its choices; *with_support*: given
        with the person's supporter ("My supporter will answer with me")."""
        person = person if person is not None else t.person
        if supersedes is None:
            earlier = self.latest(key, person)
            supersedes = earlier.id if earlier is not None else None
        heard = reply.heard if reply is not None else None
        tr = heard.transcript if heard is not None else None
        # British spelling for the record (and the read-back): "mum", "colour"
        spelt = british(tr.text) if tr is not None else ""
        confirmed: ConfirmedBy = "not_confirmed"
        if kind != "free" and reply is not None and reply.by != "none":
            confirmed = reply.by
        answer = Answer(
            id=self._ids(),
            person_id=person.id if person else None,
            step_id=key,
            question=question_of(question if question is not None else t.text),
            kind=kind,
            value=value,
            transcript=words if words is not None else spelt,
            raw_transcript=tr.text
            if words is None and tr is not None and spelt != tr.text
            else None,
            confidence=tr.confidence if tr is not None else None,
            engine=tr.engine if tr is not None else None,
            decided_by=tr.decided_by if tr is not None else None,  # personal words
            confirmed_by=confirmed,
            attempts=attempts,
            passed=passed,
            with_support=with_support,
            at=self._now(),
            supersedes=supersedes,
        )
        self._record.answers.append(answer)
        if (
            kind != "free"
            and reply is not None
            and reply.by == "voice"
            and heard is not None
            and heard.audio_path
            and person is not None
            and tr is not None
            and tr.decided_by in ("personal", "both", "general")
            and tr.answer in SHORT_ANSWERS
        ):
            self._word_candidates.append((answer.id, person.id, tr.answer, heard.audio_path))
        if (
            heard is not None
            and heard.audio_path
            and person is not None
            and self.audio_allowed(person)
        ):
            self._emit(KeepAudio(answer.id, heard.audio_path))
        self.save()
        return answer

    @contextlib.contextmanager
    def roll_call(self) -> Iterator[None]:
        """While the roll call is under way (who is in the room is not known yet)."""
        self._back.take(self._record)  # going back into the roll call starts it again
        self.roll_call_open = True
        try:
            yield
        finally:
            self.roll_call_open = False

    def audio_allowed(self, person: Person) -> bool:
        """May a clip of *person*'s turn be kept? Only when they agreed and, in a group, when
        everyone present agreed too: the room's microphone hears whoever speaks, so the voice
        of someone who said no would be kept in another's turn. Otherwise the words only."""
        if person.consent is None or not person.consent.audio:
            return False
        if not self.group:
            return True
        if self.roll_call_open:
            return False
        return all(p.consent is not None and p.consent.audio for p in self._record.people)

    def word_examples(self) -> list[KeepWordExample]:
        """The short answers of taught people that stood, as examples to keep
        (``source="confirmed"``): an answer decided by the general recogniser (alone or with
        the person's words) that was not undone (not rejected at a read-back, not superseded
        by a later answer to the same question), or one decided by the person's words alone
        and confirmed at a read-back by button (the matcher's own decision is never kept on
        its own word: it would teach itself its mistakes). The store checks the person's
        words consent and the sound (silent, clipped, too long, a duplicate) and bounds them."""
        superseded = {a.supersedes for a in self._record.answers if a.supersedes}
        out: list[KeepWordExample] = []
        for answer_id, person_id, word, path in self._word_candidates:
            a = self.answer_by_id(answer_id)
            if a is None or a.rejected or a.passed or a.id in superseded:
                continue
            if a.decided_by == "personal" and a.confirmed_by != "button":
                continue
            out.append(KeepWordExample(person_id, word, path, source="confirmed"))
        return out

    def confirm(self, answer: Answer, by: Literal["voice", "button"]) -> None:
        """The person said the read-back was right; save."""
        answer.confirmed_by = by
        self.save()

    def reject(self, answer: Answer) -> None:
        """The person said the read-back was wrong: the answer is kept only as a rejected try;
        save."""
        answer.rejected = True
        answer.confirmed_by = "not_confirmed"
        self.save()

    def flag(
        self, kind: str, reason: str, person: Person | None, answer_id: str | None = None
    ) -> None:
        """Something for a member of staff to look at; save."""
        pid = person.id if person else None
        self._record.flags.append(Flag(id=self._ids(), person_id=pid, kind=kind, reason=reason,
                                       answer_id=answer_id, at=self._now()))  # fmt: skip
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
        self,
        text: str,
        *,
        person: Person | None,
        agreed: bool,
        from_idea: str | None = None,
        acceptance: dict[str, str] | None = None,
        rule: str | None = None,
        summary: str | None = None,
        replaces: str | None = None,
    ) -> Goal:
        goal = Goal(
            id=self._ids(),
            text=text,
            from_idea=from_idea,
            agreed=agreed,
            person_id=person.id if person else None,
            acceptance=dict(acceptance or {}),
            rule=rule,
            summary=summary,
            replaces=replaces,
        )
        if agreed or person is not None:
            self._record.goals.append(goal)
        else:  # put to the group, not agreed: kept apart, so it is never taken as the goal
            self._record.proposed_goals.append(goal)
        return goal

    def add_known_goal(self, goal: Goal) -> Goal:
        """A goal from an earlier session (to review it): kept as it was."""
        copy = goal.model_copy(deep=True)
        self._record.goals.append(copy)
        return copy

    def set_goal_status(self, goal: Goal, status: str) -> None:
        goal.status = status  # type: ignore[assignment]

    def celebrate(
        self,
        kind: str,
        text: str,
        *,
        person: Person | None = None,
        job: Job | None = None,
        goal: Goal | None = None,
    ) -> Celebration:
        """Keep what was celebrated (the words said); save."""
        c = Celebration(
            id=self._ids(),
            kind=kind,
            text=text,
            person_id=person.id if person else None,
            job_id=job.id if job else None,
            goal_id=goal.id if goal else None,
            at=self._now(),
        )
        self._record.celebrated.append(c)
        self.save()
        return c

    def add_agenda_item(self, person: Person | None, text: str, answer_id: str) -> AgendaItem:
        item = AgendaItem(
            id=self._ids(),
            person_id=person.id if person else None,
            text=text,
            answer_id=answer_id,
            at=self._now(),
        )
        self._record.agenda.append(item)
        return item

    def add_strength(self, person: Person, text: str, answer_id: str) -> None:
        self._record.strengths.append(
            Strength(
                id=self._ids(), person_id=person.id, text=text, answer_id=answer_id, at=self._now()
            )
        )

    def strengths_of(self, person: Person) -> list[Strength]:
        return [s for s in self._record.strengths if s.person_id == person.id]

    def set_next_meeting(self, text: str) -> None:
        self._record.next_meeting = text

    def add_celebration(self, answer_id: str) -> None:
        self._record.celebrations.append(answer_id)

    # ------------------------------------------------------------------ jobs

    def add_job(
        self,
        person: Person,
        what: str,
        goal_id: str | None,
        *,
        from_job: str | None = None,
        lesson: str | None = None,
        from_answer: str | None = None,
    ) -> Job:
        job = Job(
            id=self._ids(),
            person_id=person.id,
            what=what,
            goal_id=goal_id,
            from_job=from_job,
            lesson=lesson,
            from_answer=from_answer,
        )
        self._record.jobs.append(job)
        return job

    @property
    def made_jobs(self) -> list[Job]:
        """The jobs made in this session (not those it started with)."""
        return [j for j in self._record.jobs if j.id not in self.started_with]

    def set_job_due(self, job: Job, due: date | None) -> None:
        job.due = due

    def set_job_when(self, job: Job, when: str) -> None:
        job.when = when

    def set_job_support(self, job: Job, support: str) -> None:
        job.support = support  # type: ignore[assignment]

    def set_job_status(
        self,
        job: Job,
        status: str,
        answer_id: str,
        *,
        checkin: bool,
        person: Person | None = None,
    ) -> None:
        """How the job went; on a check-in, also in the check-in of whoever answered (its owner,
        or someone sharing it), else its owner's."""
        job.history.append(JobEvent(status=status, at=self._now(), note_answer=answer_id))
        who = person if person is not None and job.belongs_to(person.id) else None
        owner = who or self.person(job.person_id)
        if checkin and owner is not None:
            self._checkin(owner).jobs[job.id] = status  # type: ignore[assignment]

    def new_job_date(self, job: Job) -> None:
        """Keep the job's (new) when and due with its latest status update, so the new date
        travels with the status history."""
        if not job.history:
            job.history.append(JobEvent(status=job.status, at=self._now()))
        job.history[-1].when, job.history[-1].due = job.when, job.due

    def set_job_helper(self, job: Job, helper: str) -> None:
        job.helper = helper

    def set_job_help_with(self, job: Job, what: str) -> None:
        job.help_with = what

    def share_job(self, job: Job, person: Person) -> None:
        """*person* does this job too (it stays its owner's words)."""
        if not job.belongs_to(person.id):
            job.shared_with.append(person.id)

    def set_help_needed(self, job: Job, support: str) -> None:
        if job.history:
            job.history[-1].help_needed = support  # type: ignore[assignment]
        else:
            job.history.append(JobEvent(status=job.status, at=self._now(), help_needed=support))


def group_goal_of(record: SessionRecord, brought: set[str]) -> Goal | None:
    """The group's goal in a session: the latest agreed in it, if any; else, of the goals in
    force from earlier meetings (*brought*), the one most of the people here were asked to go
    along with, the latest at a tie. A device where two groups meet (the garden group, the
    cafe group) so reviews the goal of the group in the room, not the other group's."""
    agreed = [g for g in record.goals if g.person_id is None and g.agreed]
    new = [g for g in agreed if g.id not in brought]
    if new or not agreed:
        return new[-1] if new else None
    here = {p.id for p in record.people}
    return max(enumerate(agreed), key=lambda ig: (len(here & set(ig[1].acceptance)), ig[0]))[1]
