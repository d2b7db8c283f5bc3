"""The goals in force: what a later meeting reviews (keep going, change it, or done).

A goal is agreed in a session and kept in its record; a review copies it into its own record
with the status it gave (``keep_going``, ``change``, ``done``), and a changed goal is replaced
by the new one it agreed (``replaces``). So the goals in force are, over every finished
session in time order, the latest copy of each goal, leaving out goals done, changed or
replaced, and group ideas never agreed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from assistant.records.db import Database, iso
from assistant.records.model import Goal, SessionRecord

ENDED = ("done", "change")


def goal_copies(database: Database) -> list[Goal]:
    """Every copy of every goal this device knows, in time order: its finished sessions' (by
    their start) and the hub's (by the start of the session of its copy). A copy of the same
    time from the hub comes after the device's own: it may hold staff's corrected words."""
    copies: list[tuple[str, int, Goal]] = []
    for r in database.read(
        "SELECT data FROM sessions WHERE state != 'draft' AND data LIKE '%\"goals\":[{%'"
    ):
        record = SessionRecord.model_validate_json(r["data"])
        copies += [(iso(record.started_at), 0, g) for g in record.goals]
    for r in database.read("SELECT at, data FROM received_goals"):
        copies.append(
            (iso(datetime.fromisoformat(r["at"])), 1, Goal.model_validate_json(r["data"]))
        )
    copies.sort(key=lambda c: (c[0], c[1]))
    return [g for _, _, g in copies]


def current_goals(copies: Iterable[Goal]) -> list[Goal]:
    """The goals in force, oldest first (the group's goal is the last agreed one), from every
    copy of each goal in time order (:func:`goal_copies`): a later copy (a review's) wins."""
    latest: dict[str, Goal] = {}
    for goal in copies:
        latest.pop(goal.id, None)
        latest[goal.id] = goal
    replaced = {g.replaces for g in latest.values() if g.replaces and g.agreed}
    return [
        g
        for g in latest.values()
        if g.status not in ENDED and g.id not in replaced and (g.agreed or g.person_id)
    ]


def goals_for(goals: Iterable[Goal], people: Iterable[str]) -> list[Goal]:
    """The group's goals, and the own goals of the people given (by id)."""
    ids = set(people)
    return [g for g in goals if g.person_id is None or g.person_id in ids]
