"""Shared builders for the records tests (no tests here): WAV files and a full group session."""

from __future__ import annotations

import math
import struct
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

from assistant.records.model import (
    Answer,
    CheckIn,
    Consent,
    Flag,
    Goal,
    Idea,
    Job,
    JobEvent,
    Person,
    SessionRecord,
)
from assistant.records.store import RecordStore

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def make_wav(path: Path, seconds: float = 0.5, freq: float = 440.0, rate: int = 16000) -> Path:
    """A short sine tone; a different *freq* gives different bytes (a different sha256)."""
    n = int(seconds * rate)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n)
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


GROUP = [("Sam", True), ("Priya", False), ("Dev", True), ("Aisha", True)]

WHY = [
    "to see my friends",
    "I want to learn to cook",
    "help with my money",
    "to get out of the house",
]
WANT = [
    "a trip to the seaside",
    "a cooking club on Tuesdays",
    "a walk in the park",
    "a film night",
]


def roster(store: RecordStore, when: datetime = T0) -> list[Person]:
    return [
        store.add_person(name, consent=Consent(audio=ok, at=when, method="button"))
        for name, ok in GROUP
    ]


def group_session(people: list[Person], start: datetime = T0) -> SessionRecord:
    """A full workshop: four people, two open questions each, ratings, a goal, jobs, a flag."""
    rec = SessionRecord(
        script="coproduction",
        script_version="3",
        started_at=start,
        place="Community room, Leeds",
        facilitator="Kate",
        people=[p.model_copy(deep=True) for p in people],
        engines={"short": "vosk:small-en-us", "free": "whisper:tiny"},
    )
    at = start
    for question, step, words in (
        ("Why are you here?", "why", WHY),
        ("What do you want to do?", "want", WANT),
    ):
        for person, text in zip(people, words, strict=True):
            at += timedelta(minutes=1)
            rec.answers.append(
                Answer(
                    person_id=person.id,
                    step_id=step,
                    question=question,
                    transcript=text,
                    confidence=round(0.55 + (len(text) % 10) / 25, 2),
                    engine="whisper:tiny",
                    confirmed_by="button" if person.name != "Dev" else "voice",
                    at=at,
                )
            )
    ideas = [Idea(text=w, from_answer=a.id) for w, a in zip(WANT, rec.answers[4:], strict=True)]
    rec.ideas = ideas
    for person in people:
        for i, idea in enumerate(ideas):
            at += timedelta(seconds=20)
            rating = ("like", "not_sure", "dont_like")[(i + len(person.name)) % 3]
            idea.ratings[person.id] = rating  # type: ignore[assignment]
            rec.answers.append(
                Answer(
                    person_id=person.id,
                    step_id="rate",
                    question=f"Do you like {idea.text}?",
                    kind="scale",
                    value=rating,
                    confirmed_by="button",
                    at=at,
                )
            )
    goal = Goal(text="A trip to the seaside in the summer", from_idea=ideas[0].id, agreed=True)
    rec.goals.append(goal)
    rec.answers.append(
        Answer(
            person_id=None,
            step_id="agree",
            question="Is this our goal?",
            kind="short",
            value="yes",
            confirmed_by="button",
            at=at + timedelta(minutes=1),
        )
    )
    jobs = [
        ("find train times", "by next Monday", "a_little_help"),
        ("ask about the cost", "this week", "a_lot_of_help"),
        ("make a list of what to bring", "before the trip", "myself"),
        ("book the minibus", "by the 20th", "a_little_help"),
    ]
    for person, (what, when, support) in zip(people, jobs, strict=True):
        rec.jobs.append(
            Job(
                person_id=person.id,
                what=what,
                when=when,
                support=support,
                goal_id=goal.id,
                history=[JobEvent(status="planned", at=at + timedelta(minutes=2))],
            )
        )
    rec.answers.append(
        Answer(
            person_id=people[0].id,
            step_id="celebrate",
            question="What went well today?",
            transcript="everyone listened to me",
            confirmed_by="button",
            at=at + timedelta(minutes=3),
        )
    )
    rec.celebrations.append(rec.answers[-1].id)
    rec.flags.append(
        Flag(
            person_id=people[1].id,
            kind="asked_for_help",
            reason="Priya held the help button during the money question.",
            at=at + timedelta(minutes=4),
        )
    )
    rec.checkins.append(CheckIn(person_id=people[2].id, mood="okay", at=at + timedelta(minutes=5)))
    rec.next_meeting = "Tuesday 7 April, 10 o'clock"
    rec.ended_at = at + timedelta(minutes=6)
    return rec
