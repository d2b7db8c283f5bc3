"""Goals on the hub: kept from every session, sent to every device holding their people.

A group agrees its goal at a meeting on one device and may review it on another; a person's
own goal is theirs wherever they are. The hub keeps each goal's latest copy by the start of
its session (a review's copy, with its status, wins over the meeting's), with person ids in
hub ids (``hub_goals``), and whom it concerns (``hub_goal_people``: the owner, or the people
of each meeting that agreed or reviewed it). :func:`for_device` is what a device receives in
``GET /v1/updates``, in its own ids; a staff correction of the answer a goal's idea was made
from gives the goal the corrected words. The device joins these with its own sessions' goals
(:func:`assistant.records.goals.current_goals`): the latest copy wins, and goals done,
changed or replaced are not reviewed again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DBSession

from assistant.hub import db
from assistant.records.model import SessionRecord


def _iso(at: datetime) -> str:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def store_goals(s: DBSession, record: SessionRecord, device_id: str) -> None:
    """Keep the session's goals (caller's transaction; after its people are linked)."""

    def hub_person(local: str | None) -> str | None:
        if local is None:
            return None
        link = s.get(db.PersonLink, (device_id, local))
        return link.person_id if link else None

    at = _iso(record.started_at)
    present = {hp for p in record.people if (hp := hub_person(p.id))}
    ideas = {i.id: i for i in record.ideas}
    for goal in record.goals:
        owner = hub_person(goal.person_id)
        if goal.person_id is not None and owner is None:
            continue  # someone this device has no link for: not its to tell
        acceptance = {hp: a for k, a in goal.acceptance.items() if (hp := hub_person(k))}
        data = goal.model_copy(update={"person_id": owner, "acceptance": acceptance})
        idea = ideas.get(goal.from_idea or "")
        answer = idea.from_answer if idea is not None and idea.text == goal.text else None
        row = s.get(db.HubGoal, goal.id)
        if row is None:
            s.add(
                db.HubGoal(
                    id=goal.id,
                    person_id=owner,
                    at=at,
                    session_id=record.id,
                    device_id=device_id,
                    answer_id=answer,
                    data=data.model_dump_json(),
                )
            )
        elif at >= row.at:  # a later copy (a review's status); an older one changes nothing
            row.at, row.session_id, row.data = at, record.id, data.model_dump_json()
            row.answer_id = row.answer_id or answer
        for person in {owner} if owner else present:
            if s.get(db.HubGoalPerson, (goal.id, person)) is None:
                s.add(db.HubGoalPerson(goal_id=goal.id, person_id=person))
        s.flush()


def for_device(
    s: DBSession, local_of: dict[str, str], corrected_words: Callable[[str | None], str | None]
) -> list[dict[str, Any]]:
    """The goals concerning the people a device holds (*local_of*: hub id -> its id), each
    with the time of its copy, in the device's ids; the corrected words where staff corrected
    the answer its idea was made from (*corrected_words*: answer id -> the words or None)."""
    ids = select(db.HubGoalPerson.goal_id).where(db.HubGoalPerson.person_id.in_(list(local_of)))
    out = []
    for row in s.scalars(select(db.HubGoal).where(db.HubGoal.id.in_(ids)).order_by(db.HubGoal.id)):
        goal = json.loads(row.data)
        if goal.get("person_id"):
            goal["person_id"] = local_of.get(goal["person_id"], goal["person_id"])
        goal["acceptance"] = {
            local_of[k]: v for k, v in (goal.get("acceptance") or {}).items() if k in local_of
        }
        corrected = corrected_words(row.answer_id)
        if corrected:
            goal["text"] = corrected
        out.append({"at": row.at, "goal": goal})
    return out


def merge_into(s: DBSession, into: str, away: str) -> None:
    """Staff merged two records of one person: the goals of the other are the kept one's."""
    for row in s.scalars(select(db.HubGoal).where(db.HubGoal.person_id == away)):
        row.person_id = into
        goal = json.loads(row.data)
        goal["person_id"] = into
        row.data = json.dumps(goal)
    for gp in list(s.scalars(select(db.HubGoalPerson).where(db.HubGoalPerson.person_id == away))):
        if s.get(db.HubGoalPerson, (gp.goal_id, into)) is None:
            s.add(db.HubGoalPerson(goal_id=gp.goal_id, person_id=into))
        s.delete(gp)
